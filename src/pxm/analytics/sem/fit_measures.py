"""Stage 8: fit measures, named as lavaan's fitMeasures() names them.

Incremental indices: Bentler (1990) CFI, Tucker & Lewis (1973) TLI, Bentler & Bonett (1980) NFI, Bollen (1986)
RFI, Bollen (1989) IFI, James, Mulaik & Brett (1982) PNFI. RMSEA: Steiger (1990), CI by inverting the
non-central chi-square. SRMR: Bentler (1995). GFI/AGFI/PGFI: Joreskog & Sorbom (1981), weighted by the
model-implied covariance as lavaan 0.6. Robust CFI/TLI/RMSEA: Brosseau-Liard & Savalei (2014),
Brosseau-Liard, Savalei & Li (2012). Hoelter CN (1983).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from .matrices import Array


def _chi2_sf(x: float, df: int) -> float:
    """scipy.stats.chi2.sf without the distribution machinery (~0.1 ms a call): the same special function."""
    return float(special.chdtrc(df, max(x, 0.0))) if not math.isnan(x) else float("nan")


def _ncp_bound(T: float, df: int, prob: float) -> float:
    """Non-centrality lambda with P(chi2_df(lambda) <= T) = prob (0 when not attainable)."""
    T = max(T, 0.0)
    if df <= 0 or special.chdtr(df, T) < prob:
        return 0.0

    def fn(lam: float) -> float:
        return float(special.chndtr(T, df, lam) - prob) if lam > 0 else float(special.chdtr(df, T) - prob)

    hi = max(T, 1.0)
    while fn(hi) > 0:
        hi *= 2
    return float(optimize.brentq(fn, 0.0, hi, xtol=1e-12, rtol=1e-14, maxiter=500))


def rmsea_block(T: float, df: int, n: int) -> dict[str, float]:
    T = max(T, 0.0)
    if df <= 0:
        nan = float("nan")
        return {"rmsea": 0.0 if df == 0 else nan, "rmsea_ci_lower": nan, "rmsea_ci_upper": nan,
                "rmsea_pvalue": nan, "rmsea_notclose_pvalue": nan}
    lo = _ncp_bound(T, df, 0.95)
    hi = _ncp_bound(T, df, 0.05)
    return {
        "rmsea": math.sqrt(max(0.0, (T - df) / (n * df))),
        "rmsea_ci_lower": math.sqrt(lo / (n * df)),
        "rmsea_ci_upper": math.sqrt(hi / (n * df)),
        "rmsea_pvalue": float(1.0 - special.chndtr(T, df, n * df * 0.05**2)),
        "rmsea_notclose_pvalue": float(special.chndtr(T, df, n * df * 0.08**2)),
    }


def incremental(T: float, df: int, Tb: float, dfb: int) -> dict[str, float]:
    nan = float("nan")
    den = max(T - df, Tb - dfb, 0.0)
    cfi = 1.0 - max(T - df, 0.0) / den if den > 0 else 1.0
    tli = ((Tb / dfb - T / df) / (Tb / dfb - 1.0)) if df > 0 and dfb > 0 else (1.0 if df == 0 else nan)
    nfi = (Tb - T) / Tb if Tb > 0 else nan
    rfi = ((Tb / dfb - T / df) / (Tb / dfb)) if df > 0 and dfb > 0 else nan
    ifi = (Tb - T) / (Tb - df) if Tb != df else nan
    pnfi = (df / dfb) * nfi if dfb > 0 else nan
    return {"cfi": cfi, "tli": tli, "nfi": nfi, "rfi": rfi, "ifi": ifi, "pnfi": pnfi}


def residual_indices(S: Array, sigma: Array) -> dict[str, float]:
    p = S.shape[0]
    r, c = np.triu_indices(p)
    res = S - sigma
    sd = np.sqrt(np.diag(S))
    std_res = res / np.outer(sd, sd)
    rmr = math.sqrt(float(np.mean(res[r, c] ** 2)))
    srmr = math.sqrt(float(np.mean(std_res[r, c] ** 2)))
    sds = np.sqrt(np.diag(sigma))
    cres = S / np.outer(sd, sd) - sigma / np.outer(sds, sds)
    ro, co = np.triu_indices(p, 1)
    crmr = math.sqrt(float(np.mean(cres[ro, co] ** 2))) if len(ro) else 0.0
    dres = (np.diag(S) - np.diag(sigma)) / np.diag(S)
    srmr_mplus = math.sqrt((float(np.sum(cres[ro, co] ** 2)) + float(np.sum(dres**2))) / len(r))
    return {"rmr": rmr, "srmr": srmr, "crmr": crmr, "srmr_mplus": srmr_mplus}


def gfi_block(S: Array, sigma: Array, df: int, nel: int) -> dict[str, float]:
    inv = np.linalg.inv(sigma)
    D = inv @ (S - sigma)
    W = inv @ S
    gfi = 1.0 - float(np.trace(D @ D)) / float(np.trace(W @ W))
    agfi = 1.0 - (nel / df) * (1.0 - gfi) if df > 0 else float("nan")
    return {"gfi": gfi, "agfi": agfi, "pgfi": (df / nel) * gfi}


def ml_fit_measures(*, T: float, df: int, Tb: float, dfb: int, n: int, npar: int, logl: float,
                    logl_h1: float, S: Array, sigma: Array, nel: int) -> dict[str, float]:
    out: dict[str, float] = {"npar": float(npar), "fmin": T / (2 * n), "chisq": T, "df": float(df),
                             "pvalue": _chi2_sf(T, df) if df > 0 else float("nan"),
                             "baseline_chisq": Tb, "baseline_df": float(dfb),
                             "baseline_pvalue": _chi2_sf(Tb, dfb) if dfb > 0 else float("nan")}
    out.update(incremental(T, df, Tb, dfb))
    out["logl"] = logl
    out["unrestricted_logl"] = logl_h1
    out["aic"] = -2 * logl + 2 * npar
    out["bic"] = -2 * logl + npar * math.log(n)
    out["bic2"] = -2 * logl + npar * math.log((n + 2) / 24)
    out.update(rmsea_block(T, df, n))
    out.update(residual_indices(S, sigma))
    out.update(gfi_block(S, sigma, df, nel))
    if df > 0 and T > 0:
        out["cn_05"] = float(special.chdtri(df, 0.05) * n / T + 1)  # chi2.ppf(0.95, df)
        out["cn_01"] = float(special.chdtri(df, 0.01) * n / T + 1)
    out["mfi"] = math.exp(-0.5 * (T - df) / n)
    out["ecvi"] = T / n + 2 * npar / n
    return out


def _rmsea_interval_and_tests(T: float, df: int, c: float, n: int) -> dict[str, float]:
    """The 90% interval and the close-fit / not-close-fit p-values of the scaled and the robust RMSEA, as
    lavaan (0.6-13 and later, ``lav_fit_rmsea_lavobject``) computes them under a mean-scaled test.

    Scaled: the ML statistic ``T`` on ``c * df`` degrees of freedom (the trace of UGamma). Robust
    (Brosseau-Liard, Savalei & Li 2012): the scaled statistic ``T / c`` on ``df``, non-centrality bounds and
    hypothesised non-centralities multiplied / divided by ``c``, so interval = scaled-statistic interval
    times sqrt(c)."""
    keys = ("rmsea_ci_lower", "rmsea_ci_upper", "rmsea_pvalue", "rmsea_notclose_pvalue")
    nan = float("nan")
    if not (df > 0 and c > 0 and math.isfinite(T) and math.isfinite(c)):
        return {f"{k}_{kind}": nan for kind in ("scaled", "robust") for k in keys}
    scaled = rmsea_block(T, c * df, n)  # type: ignore[arg-type]  # a non-integer df is fine here
    out = {f"{k}_scaled": scaled[k] for k in keys}
    Ts = max(T / c, 0.0)
    out["rmsea_ci_lower_robust"] = math.sqrt(c * _ncp_bound(Ts, df, 0.95) / (n * df))
    out["rmsea_ci_upper_robust"] = math.sqrt(c * _ncp_bound(Ts, df, 0.05) / (n * df))
    out["rmsea_pvalue_robust"] = float(1.0 - special.chndtr(Ts, df, n * df * 0.05**2 / c))
    out["rmsea_notclose_pvalue_robust"] = float(special.chndtr(Ts, df, n * df * 0.08**2 / c))
    return out


def robust_fit_measures(*, T: float, df: int, c: float, Tb: float, dfb: int, cb: float,
                        n: int) -> dict[str, float]:
    """MLR: Yuan-Bentler scaled statistic and the scaled/robust incremental indices and RMSEA."""
    nan = float("nan")
    Ts = T / c if c > 0 else nan
    Tbs = Tb / cb if cb > 0 else nan
    out = {"chisq_scaled": Ts, "df_scaled": float(df),
           "pvalue_scaled": _chi2_sf(Ts, df) if df > 0 else nan,
           "chisq_scaling_factor": c, "baseline_chisq_scaled": Tbs, "baseline_df_scaled": float(dfb),
           "baseline_pvalue_scaled": _chi2_sf(Tbs, dfb) if dfb > 0 else nan,
           "baseline_chisq_scaling_factor": cb}
    inc = incremental(Ts, df, Tbs, dfb)
    out["cfi_scaled"] = inc["cfi"]
    out["tli_scaled"] = inc["tli"]
    out["rmsea_scaled"] = math.sqrt(max(0.0, (Ts - df) / (n * df))) if df > 0 else 0.0
    out.update(_rmsea_interval_and_tests(T, df, c, n))
    t1 = max(T - c * df, 0.0)
    t2 = max(T - c * df, Tb - cb * dfb, 0.0)
    out["cfi_robust"] = 1.0 - t1 / t2 if t2 > 0 else 1.0
    if df > 0 and dfb > 0:
        out["tli_robust"] = 1.0 - ((T - c * df) * dfb) / ((Tb - cb * dfb) * df)
        out["rmsea_robust"] = math.sqrt(max(0.0, T / (n * df) - c / n))
    else:
        out["tli_robust"] = 1.0 if df == 0 else nan
        out["rmsea_robust"] = 0.0 if df == 0 else nan
    return out
