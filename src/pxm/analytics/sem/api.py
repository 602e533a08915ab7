"""The thin driver: parse -> partable -> matrices -> optimise -> information -> fit -> standardized -> report."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import special

from . import data as data_mod
from .compiled import compile_model, n_stats
from .errors import ModelIdentificationError, SEMError
from .fit_measures import ml_fit_measures, robust_fit_measures
from .implied import jacobian, moments
from .information import (
    casewise_scores,
    expected_information,
    gamma_adf,
    gamma_nt_weight,
    safe_inverse,
    sandwich,
)
from .matrices import RAM, Array
from .modindices import modification_indices, modification_indices_fiml
from .objective import ml_objective, ml_value
from .optimize import OptResult, fit_ml, identification_in_doubt, numeric_hessian, solution_point
from .partable import ParTable
from .reliability import reliability
from .results import SEMResult
from .standardized import (
    defined_function,
    defined_of_theta,
    delta_se,
    delta_se_std,
    latent_correlations,
    r_square,
    row_values,
    standardize,
)


def check_rank(ram: RAM, pt: ParTable, theta0: Array, S: Array) -> None:
    """Local identification: the Jacobian of the implied moments must have full column rank."""
    if ram.q == 0:  # nothing to estimate: a fixed model is evaluated, not identified
        return
    rng = np.random.default_rng(12345)
    p = ram.p
    r, c = np.triu_indices(p)
    deficient = None
    for scale in (0.0, 0.05):
        th = theta0 + scale * rng.standard_normal(ram.q) * np.maximum(np.abs(theta0), 0.1)
        mom = moments(ram, th)
        J, Jm = jacobian(ram, mom)
        D = J[:, r, c].T
        if ram.meanstructure:
            D = np.vstack([D, Jm.T])
        sv = np.linalg.svd(D, compute_uv=False) if D.size else np.zeros(0)
        if sv.size and sv[-1] > 1e-9 * sv[0]:
            return
        deficient = np.linalg.svd(D, full_matrices=False)[2][-1]
    if deficient is None:
        return
    names = [f"{row.lhs} {row.op} {row.rhs}".strip() for row in pt.free_rows()]
    involved = [names[k] for k in np.flatnonzero(np.abs(deficient) > 0.05)]
    raise ModelIdentificationError("the model is not identified: these parameters cannot be separated from "
                                   "each other by the data: " + ", ".join(involved))


def _wald(est: Array, se: Array, z975: float) -> tuple[Array, Array, Array, Array]:
    """Wald z, two-sided p-value and CI limits, elementwise (NaN where the SE is missing or zero)."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    ok = np.isfinite(se) & (se > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(ok, est / np.where(ok, se, 1.0), np.nan)
    pv = np.where(ok, 2 * special.ndtr(-np.abs(np.nan_to_num(z))), np.nan)
    return z, pv, np.where(ok, est - z975 * se, np.nan), np.where(ok, est + z975 * se, np.nan)


def fit(model: str, data: Any = None, estimator: str = "ML", missing: str = "listwise",
        std_lv: bool = False, bootstrap: int = 0, seed: int | None = None, bootstrap_ci: str = "bca", *,
        cov: Any = None, n_obs: int | None = None, sample_names: Sequence[str] | None = None,
        cov_rescale: bool = True, level: float = 0.95,
        progress: Callable[[int, int], None] | None = None) -> SEMResult:
    """Fit a structural equation model written in lavaan syntax.

    ``data`` is a pandas DataFrame; or give ``cov`` (DataFrame, or array plus ``sample_names``) and ``n_obs``.
    A covariance given directly is taken as the unbiased (N-1) one and rescaled by (N-1)/N like lavaan,
    unless ``cov_rescale=False``.
    """
    estimator = estimator.upper()
    if estimator not in ("ML", "MLR"):
        raise SEMError(f"estimator must be 'ML' or 'MLR', not {estimator!r}")
    missing = {"ml": "fiml", "fiml": "fiml", "listwise": "listwise"}.get(str(missing).lower(), str(missing))
    if missing not in ("fiml", "listwise"):
        raise SEMError(f"missing must be 'listwise' or 'fiml', not {missing!r}")
    if not 0.0 < level < 1.0:
        raise SEMError("level must be between 0 and 1 (e.g. 0.95)")
    if int(bootstrap) != bootstrap or bootstrap < 0:
        raise SEMError("bootstrap must be a non-negative whole number of draws")
    if bootstrap_ci not in ("bca", "percentile"):
        raise SEMError("bootstrap_ci must be 'bca' or 'percentile'")
    fiml = missing == "fiml"
    cm = compile_model(model, std_lv=std_lv, meanstructure=fiml, fixed_x=not fiml)  # cached per model text
    pt = cm.pt
    sample = data_mod.load(data, pt.observed, missing=missing, cov=cov, n_obs=n_obs, sample_names=sample_names,
                           cov_rescale=cov_rescale)
    if estimator == "MLR" and sample.X is None:
        raise SEMError("estimator='MLR' needs raw data, not a covariance matrix")
    S = sample.cov
    ram = cm.ram_for(S, sample.mean)
    ntot = cm.n_stats
    df = ntot - ram.q
    if df < 0:
        raise ModelIdentificationError(f"the model is not identified: it has {ram.q} free parameters but only "
                                       f"{ntot} sample moments (df = {df})")
    theta0 = cm.start(S)
    if fiml:
        theta0[ram.m_k] = sample.mean[ram.m_r]
        check_rank(ram, pt, theta0, S)
    warnings: list[str] = []
    if sample.n_dropped:
        warnings.append(f"{sample.n_dropped} rows with missing values were removed ({missing})")

    if fiml:
        from .fiml import fit_fiml

        assert sample.X is not None
        opt, vcov, fitm = fit_fiml(pt, ram, sample, theta0, df, robust=estimator == "MLR")
    else:
        opt = fit_ml(ram, S, theta0)
        # the rank check can only fail where the information at the solution is (nearly) singular or the
        # optimiser did not converge: run it only then (same check, same start values, same verdict)
        if identification_in_doubt(ram, S, opt):
            check_rank(ram, pt, theta0, S)
            if not opt.converged:
                opt = _fallback(ram, S, theta0, opt)
        try:
            vcov, fitm = _ml_inference(pt, ram, opt, sample, df, estimator, warnings)
        except np.linalg.LinAlgError:
            vcov = np.full((ram.q, ram.q), np.nan)
            fitm = {"npar": float(ram.q), "df": float(df), "chisq": sample.n_obs * opt.f}
            warnings.append("standard errors and fit measures could not be computed: the implied covariance "
                            "matrix is not positive definite at the solution")
    return _report(model, pt, ram, opt, vcov, fitm, sample, estimator, missing, warnings, level,
                   bootstrap, seed, bootstrap_ci, progress)


def _fallback(ram: RAM, S: Array, theta0: Array, first: OptResult) -> OptResult:
    """Second attempt for hard problems: scipy BFGS from the start values, then the Fisher/BFGS polish."""
    from scipy import optimize as sopt

    logdet_S = float(np.linalg.slogdet(S)[1])

    def fun(t: Array) -> tuple[float, Array]:
        f, g = ml_objective(ram, t, S, logdet_S)
        if not np.isfinite(f):
            return 1e10, np.zeros_like(t)
        return f, g

    try:
        res = sopt.minimize(fun, theta0, jac=True, method="BFGS", options={"maxiter": 5000, "gtol": 1e-8})
    except (np.linalg.LinAlgError, ValueError):
        return first
    second = fit_ml(ram, S, res.x)
    if second.converged or (np.isfinite(second.f) and (not np.isfinite(first.f) or second.f < first.f)):
        return second
    if not np.isfinite(first.f) and np.isfinite(res.fun) and res.fun < 1e10:
        grad = fun(res.x)[1]
        return OptResult(res.x, float(res.fun), grad, int(res.nit), False, "did not reach a stationary point")
    return first


def _baseline_ml(pt: ParTable, S: Array) -> tuple[float, int]:
    p = S.shape[0]
    xi = [pt.observed.index(v) for v in pt.fixed_x]
    Sb = np.diag(np.diag(S))
    if xi:
        Sb[np.ix_(xi, xi)] = S[np.ix_(xi, xi)]
    Tb_f = ml_value(Sb, S, float(np.linalg.slogdet(S)[1]))
    dfb = n_stats(pt, False) - (p - len(xi))
    return Tb_f, dfb


def _ml_inference(pt: ParTable, ram: RAM, opt: OptResult, sample: data_mod.Sample, df: int, estimator: str,
                  warnings: list[str]) -> tuple[Array, dict[str, float]]:
    N, S = sample.n_obs, sample.cov
    mom = moments(ram, opt.theta)
    prob, point = solution_point(ram, S, opt)
    if point is None:
        raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite")
    A = prob.expected_information(point)
    vcov, ok = safe_inverse(A)
    vcov = vcov / N
    if not ok:
        warnings.append("the information matrix is singular: standard errors may be unreliable "
                        "(the model may not be identified)")
    p = ram.p
    T = N * opt.f
    Tb_f, dfb = _baseline_ml(pt, S)
    Tb = N * Tb_f
    logl_h1 = -0.5 * N * (p * math.log(2 * math.pi) + float(np.linalg.slogdet(S)[1]) + p)
    logl = logl_h1 - 0.5 * T
    nel = p * (p + 1) // 2
    fitm = ml_fit_measures(T=T, df=df, Tb=Tb, dfb=dfb, n=N, npar=ram.q, logl=logl, logl_h1=logl_h1, S=S,
                           sigma=mom.sigma, nel=nel)
    if estimator == "MLR":
        assert sample.X is not None
        J, _ = jacobian(ram, mom)
        vcov, c, cb = _mlr(ram, opt, sample, J, mom, df, dfb)
        fitm.update(robust_fit_measures(T=T, df=df, c=c, Tb=Tb, dfb=dfb, cb=cb, n=N))
    return vcov, fitm


def _mlr(ram: RAM, opt: OptResult, sample: data_mod.Sample, J: Array, mom: Any, df: int,
         dfb: int) -> tuple[Array, float, float]:
    """lavaan's MLR: observed-information bread, Huber-White meat, Yuan-Bentler (Mplus variant) scaling with
    the unrestricted (h1) information evaluated at the sample covariance."""
    assert sample.X is not None
    S, X, p = sample.cov, sample.X, ram.p
    logdet_S = float(np.linalg.slogdet(S)[1])
    A = 0.5 * numeric_hessian(lambda t: ml_objective(ram, t, S, logdet_S)[1], opt.theta)
    scores = casewise_scores(J, mom.sigma, X, sample.mean)
    vcov, _ = sandwich(A, scores)
    tr_h1 = float(np.sum(gamma_adf(X, sample.mean) * gamma_nt_weight(S)))
    B = scores.T @ scores / X.shape[0]
    Ainv, _ = safe_inverse(A)
    c = (tr_h1 - float(np.trace(Ainv @ B))) / df if df > 0 else float("nan")
    Sb = np.diag(np.diag(S))
    Jb = np.zeros((p, p, p))
    Jb[np.arange(p), np.arange(p), np.arange(p)] = 1.0
    sb = casewise_scores(Jb, Sb, X, sample.mean)
    Ab = expected_information(Jb, Sb)
    Abinv, _ = safe_inverse(Ab)
    cb = (tr_h1 - float(np.trace(Abinv @ (sb.T @ sb / X.shape[0])))) / dfb if dfb > 0 else float("nan")
    return vcov, c, cb


def _report(model: str, pt: ParTable, ram: RAM, opt: OptResult, vcov: Array, fitm: dict[str, float],
            sample: data_mod.Sample, estimator: str, missing: str, warnings: list[str], level: float,
            bootstrap: int, seed: int | None, bootstrap_ci: str,
            progress: Callable[[int, int], None] | None) -> SEMResult:
    theta = opt.theta
    S = sample.cov
    if not opt.converged:
        warnings.insert(0, f"the optimizer did not converge ({opt.message}); results are not trustworthy")
    mom = moments(ram, theta)
    vals = row_values(pt, ram, theta)
    std_lv, std_all = standardize(pt, ram, mom, vals)
    nrow = len(pt.rows)
    dfn = defined_function(pt)
    def_vals = dfn(vals)
    derived_se = delta_se_std(pt, ram, mom, vcov)
    if pt.definitions:
        derived_se = np.concatenate([derived_se, delta_se(defined_of_theta(pt, ram), theta, vcov)])
    se_theta = np.sqrt(np.clip(np.diag(vcov), 0, None))
    z975 = float(special.ndtri(0.5 + level / 2))  # stats.norm.ppf, without its ~0.1 ms of argument handling
    boot = None
    if bootstrap > 0:
        from .bootstrap import run_bootstrap

        boot = run_bootstrap(pt, ram, sample, theta, bootstrap, seed, bootstrap_ci, level, progress)
        if boot["n_failed"]:
            warnings.append(f"{boot['n_failed']} of {bootstrap} bootstrap draws failed and were dropped")
    free_idx = np.array([r.free - 1 for r in pt.rows])
    is_free = free_idx >= 0
    se_rows = np.append(se_theta, np.nan)[np.where(is_free, free_idx, -1)]  # fixed rows: NaN (also when q = 0)
    z, pv, lo, hi = _wald(vals, se_rows, z975)
    sa_se = derived_se[nrow:2 * nrow]  # fixed rows too (a fixed marker loading has a standardized SE)
    sz, spv, slo, shi = _wald(std_all, sa_se, z975)
    params: list[dict[str, Any]] = []
    for k, r in enumerate(pt.rows):
        row: dict[str, Any] = {"lhs": r.lhs, "op": r.op, "rhs": r.rhs, "label": r.label, "free": r.free,
                               "est": float(vals[k]), "se": float(se_rows[k]), "z": float(z[k]),
                               "pvalue": float(pv[k]), "ci_lower": float(lo[k]), "ci_upper": float(hi[k]),
                               "std_lv": float(std_lv[k]), "std_all": float(std_all[k]),
                               "std_all_se": float(sa_se[k]), "std_all_z": float(sz[k]),
                               "std_all_pvalue": float(spv[k]), "std_all_ci_lower": float(slo[k]),
                               "std_all_ci_upper": float(shi[k])}
        if boot is not None:
            row.update({"boot_ci_lower": boot["est_lo"][k], "boot_ci_upper": boot["est_hi"][k],
                        "boot_se": boot["est_se"][k], "std_all_boot_ci_lower": boot["std_lo"][k],
                        "std_all_boot_ci_upper": boot["std_hi"][k], "boot_method": bootstrap_ci})
        params.append(row)
    defined: dict[str, dict[str, float]] = {}
    d_se = derived_se[2 * nrow:]
    dz, dpv, dlo, dhi = _wald(def_vals, d_se, z975)
    for i, d in enumerate(pt.definitions):
        row = {"lhs": d.name, "op": ":=", "rhs": d.expr, "label": d.name, "free": 0, "est": float(def_vals[i]),
               "se": float(d_se[i]), "z": float(dz[i]), "pvalue": float(dpv[i]), "ci_lower": float(dlo[i]),
               "ci_upper": float(dhi[i]), "std_lv": float("nan"), "std_all": float("nan")}
        if boot is not None:
            row.update({"boot_ci_lower": boot["def_lo"][i], "boot_ci_upper": boot["def_hi"][i],
                        "boot_se": boot["def_se"][i], "boot_method": bootstrap_ci})
        params.append(row)
        defined[d.name] = {k: row[k] for k in ("est", "se", "z", "pvalue", "ci_lower", "ci_upper",
                                               *(["boot_ci_lower", "boot_ci_upper"] if boot else []))}
    _check_solution(pt, ram, mom, warnings)
    lat_corr = latent_correlations(ram, mom)
    std_map = {(r.lhs, r.op, r.rhs): float(std_all[k]) for k, r in enumerate(pt.rows)}
    rel = reliability(pt, ram, mom.total, mom.S, S, std_map, lat_corr)
    sd_s = np.sqrt(np.diag(S))
    sd_m = np.sqrt(np.clip(np.diag(mom.sigma), 1e-300, None))
    resid_corr = S / np.outer(sd_s, sd_s) - mom.sigma / np.outer(sd_m, sd_m)
    try:
        scaling = fitm.get("chisq_scaling_factor") if estimator == "MLR" else None
        if ram.meanstructure:
            assert sample.X is not None
            mi = modification_indices_fiml(pt, ram, theta, sample.X, scaling)
        else:
            mi = modification_indices(pt, ram, theta, S, sample.n_obs, scaling)
    except (np.linalg.LinAlgError, ValueError):
        mi = []
        warnings.append("modification indices could not be computed")
    boot_info = None
    if boot is not None:
        boot_info = {"draws": boot["n"], "failed": boot["n_failed"], "method": bootstrap_ci, "seed": seed,
                     "level": level, "r2_ci": {k: list(v) for k, v in boot["r2_ci"].items()}}
    return SEMResult(
        converged=bool(opt.converged), n_obs=sample.n_obs, estimator=estimator, missing=missing, model=model,
        fit=fitm, parameters=tuple(params), r2=r_square(ram, mom), reliability=rel,
        modification_indices=tuple(mi), warnings=tuple(warnings), observed_names=tuple(pt.observed),
        latent_names=tuple(pt.latent), latent_correlations=tuple(map(tuple, lat_corr.tolist())),
        residual_correlations=tuple(map(tuple, resid_corr.tolist())), defined=defined,
        iterations=opt.iterations, bootstrap=boot_info,
        extras={"gradient_max": float(np.max(np.abs(opt.grad))) if opt.grad.size else 0.0,
                "vcov": {"names": [f"{r.lhs}{r.op}{r.rhs}" for r in pt.free_rows()], "matrix": vcov.tolist()}},
    )


def _check_solution(pt: ParTable, ram: RAM, mom: Any, warnings: list[str]) -> None:
    for i, v in enumerate(ram.names):
        if mom.S[i, i] < 0:
            kind = "latent variable" if i >= ram.p else "residual"
            warnings.append(f"negative variance (Heywood case): {kind} variance of '{v}' is {mom.S[i, i]:.4g}")
    if pt.latent:
        w = np.linalg.eigvalsh(mom.total[ram.p:, ram.p:])
        if w[0] <= 0:
            warnings.append("the model-implied latent covariance matrix is not positive definite")
    w = np.linalg.eigvalsh(mom.sigma)
    if w[0] <= 0:
        warnings.append("the model-implied covariance matrix of the observed variables is not positive definite")
    p = ram.p
    Theta = mom.S[:p, :p]
    if np.any(np.diag(Theta) > 0) and np.linalg.eigvalsh(Theta)[0] < -1e-12:
        warnings.append("the residual covariance matrix (theta) is not positive definite")
