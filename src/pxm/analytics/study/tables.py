"""Tables 1-4 of the study and the extras, computed from an SEM result dict and the analysed data.

Every function takes plain values (the engine's ``to_dict()``, a DataFrame of analysed rows, the instrument) and
returns JSON-ready dicts/lists, so the same content feeds the text, HTML and JSON reports.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pxm.analytics.study.instruments import construct_items, outcome_construct, practice_constructs

__all__ = [
    "FIT_RULES",
    "cronbach_alpha",
    "composite_reliability",
    "descriptives",
    "discriminant_table",
    "fit_table",
    "htmt_matrix",
    "hypotheses_table",
    "latent_correlations",
    "measurement_table",
    "modification_table",
    "ranking",
    "standardized_loadings",
]

ALPHA_MIN, CR_MIN, AVE_MIN = 0.70, 0.70, 0.50
HTMT_STRICT, HTMT_LIBERAL = 0.85, 0.90


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _rows(result: dict[str, Any], op: str) -> list[dict[str, Any]]:
    return [r for r in result.get("parameters", []) if r.get("op") == op]


def cronbach_alpha(data: pd.DataFrame) -> float:
    """alpha = k/(k-1) * (1 - sum of item variances / variance of the sum score)."""
    k = data.shape[1]
    cov = np.cov(data.to_numpy(dtype=float), rowvar=False)
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def composite_reliability(loadings: list[float]) -> tuple[float, float]:
    """(CR, AVE) from standardized loadings: CR = (sum l)^2 / ((sum l)^2 + sum(1 - l^2)), AVE = mean l^2."""
    lam = np.asarray(loadings, dtype=float)
    s = lam.sum() ** 2
    return float(s / (s + (1 - lam**2).sum())), float((lam**2).mean())


def standardized_loadings(result: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {(r["lhs"], r["rhs"]): (_num(r.get("std_all")) or float("nan")) for r in _rows(result, "=~")}


def measurement_table(result: dict[str, Any], data: pd.DataFrame, instrument: dict[str, Any]) -> list[dict[str, Any]]:
    """Table 1: per construct, the standardized loading of each item, alpha, CR and AVE with their flags."""
    loads = standardized_loadings(result)
    names = {c["code"]: c["name"]["en"] for c in instrument["constructs"]}
    out = []
    for construct, items in construct_items(instrument).items():
        lam = [loads.get((construct, i), float("nan")) for i in items]
        cr, ave = composite_reliability(lam)
        alpha = cronbach_alpha(data[items])
        flags = []
        if alpha < ALPHA_MIN:
            flags.append(f"alpha {alpha:.3f} below {ALPHA_MIN:.2f}")
        if cr < CR_MIN:
            flags.append(f"CR {cr:.3f} below {CR_MIN:.2f}")
        if ave < AVE_MIN:
            flags.append(f"AVE {ave:.3f} below {AVE_MIN:.2f}")
        item_rows = []
        for i, v in zip(items, lam, strict=True):
            item_rows.append({"item": i, "loading": v, "low": bool(v < 0.70)})
            if v < 0.70:
                flags.append(f"{i} loading {v:.3f} below 0.70")
        out.append({"construct": construct, "name": names[construct], "items": item_rows, "alpha": alpha,
                    "cr": cr, "ave": ave, "flags": flags})
    return out


def latent_correlations(result: dict[str, Any], instrument: dict[str, Any]) -> np.ndarray:
    """Model-implied correlations of the latent variables, constructs in instrument order.

    Taken from the engine's ``implied_latent_correlations`` when it reports them; otherwise:
    Practices: the standardized covariances. Outcome: corr(BP, X_j) = sum_k beta_k corr(X_k, X_j) because BP is
    standardized and its disturbance is uncorrelated with the practices.
    """
    constructs = list(construct_items(instrument))
    idx = {c: i for i, c in enumerate(constructs)}
    implied = result.get("implied_latent_correlations")
    if implied and set(constructs) <= set(implied.get("names", [])):
        order = [implied["names"].index(c) for c in constructs]
        full = np.asarray(implied["matrix"], dtype=float)
        return full[np.ix_(order, order)]
    outcome = outcome_construct(instrument)
    practices = practice_constructs(instrument)
    m = np.eye(len(constructs))
    for r in _rows(result, "~~"):
        if r["lhs"] in idx and r["rhs"] in idx and r["lhs"] != r["rhs"] and outcome not in (r["lhs"], r["rhs"]):
            m[idx[r["lhs"]], idx[r["rhs"]]] = m[idx[r["rhs"]], idx[r["lhs"]]] = float(r["std_all"])
    beta = {r["rhs"]: float(r["std_all"]) for r in _rows(result, "~") if r["lhs"] == outcome}
    o = idx[outcome]
    for p in practices:
        v = sum(beta.get(q, 0.0) * m[idx[q], idx[p]] for q in practices)
        m[o, idx[p]] = m[idx[p], o] = v
    return m


def htmt_matrix(data: pd.DataFrame, instrument: dict[str, Any]) -> np.ndarray:
    """Heterotrait-monotrait ratio (Henseler, Ringle & Sarstedt 2015) from item correlations."""
    groups = construct_items(instrument)
    corr = data.corr().abs()
    names = list(groups)

    def mono(items: list[str]) -> float:
        c = corr.loc[items, items].to_numpy()
        return float(c[np.triu_indices(len(items), 1)].mean())

    m = np.eye(len(names))
    for a in range(len(names)):
        for b in range(a):
            hetero = float(corr.loc[groups[names[a]], groups[names[b]]].to_numpy().mean())
            m[a, b] = m[b, a] = hetero / math.sqrt(mono(groups[names[a]]) * mono(groups[names[b]]))
    return m


def discriminant_table(result: dict[str, Any], data: pd.DataFrame, instrument: dict[str, Any],
                       measurement: list[dict[str, Any]]) -> dict[str, Any]:
    """Table 2: Fornell-Larcker (sqrt AVE on the diagonal, latent correlations below) and HTMT."""
    names = [m["construct"] for m in measurement]
    corr = latent_correlations(result, instrument)
    fl = corr.copy()
    for i, m in enumerate(measurement):
        fl[i, i] = math.sqrt(m["ave"])
    htmt = htmt_matrix(data, instrument)
    problems = []
    for i in range(len(names)):
        for j in range(i):
            if abs(corr[i, j]) >= min(fl[i, i], fl[j, j]):
                problems.append(f"Fornell-Larcker: corr({names[i]}, {names[j]}) = {corr[i, j]:.3f} is not below "
                                f"sqrt(AVE) of both ({fl[i, i]:.3f}, {fl[j, j]:.3f})")
            if htmt[i, j] >= HTMT_STRICT:
                level = "0.90 (liberal)" if htmt[i, j] >= HTMT_LIBERAL else "0.85 (strict)"
                problems.append(f"HTMT({names[i]}, {names[j]}) = {htmt[i, j]:.3f} at or above {level}")

    def lower(m: np.ndarray) -> list[list[float]]:
        return [[float(m[i, j]) for j in range(i + 1)] for i in range(len(names))]

    return {"constructs": names, "fornell_larcker": lower(fl), "htmt": lower(htmt),
            "htmt_thresholds": {"strict": HTMT_STRICT, "liberal": HTMT_LIBERAL}, "problems": problems}


# (key, label, direction, good, acceptable); direction ">" means higher is better.
FIT_RULES: list[tuple[str, str, str, float | None, float | None]] = [
    ("chisq", "Chi-square", "", None, None),
    ("df", "Degrees of freedom", "", None, None),
    ("pvalue", "p-value (chi-square)", ">", 0.05, None),
    ("chisq_df", "Chi-square / df", "<", 3.0, 5.0),
    ("gfi", "GFI", ">", 0.90, None),
    ("agfi", "AGFI", ">", 0.90, 0.80),
    ("cfi", "CFI", ">", 0.95, 0.90),
    ("tli", "TLI", ">", 0.95, 0.90),
    ("rmsea", "RMSEA", "<", 0.06, 0.08),
    ("srmr", "SRMR", "<", 0.08, None),
]


def _verdict(value: float | None, direction: str, good: float | None, ok: float | None) -> str:
    if value is None or not direction or good is None:
        return ""
    if (value >= good) if direction == ">" else (value <= good):
        return "good"
    if ok is not None and ((value >= ok) if direction == ">" else (value <= ok)):
        return "acceptable"
    return "poor"


def fit_table(fit: dict[str, Any]) -> dict[str, Any]:
    """Table 3: each index with its conventional threshold and a verdict."""
    values = {k: _num(fit.get(k)) for k, *_ in FIT_RULES}
    if values["chisq"] is not None and values["df"]:
        values["chisq_df"] = values["chisq"] / values["df"]
    rows = []
    for key, label, direction, good, ok in FIT_RULES:
        thr = "" if good is None else f"{direction} {good:g}" + (f" (acceptable {direction} {ok:g})" if ok else "")
        if key == "pvalue":
            thr = "> 0.05 (rejects almost every model at large n)"
        row: dict[str, Any] = {"index": key, "label": label, "value": values[key], "threshold": thr,
                               "verdict": _verdict(values[key], direction, good, ok)}
        if key == "rmsea":
            row["ci_lower"] = _num(fit.get("rmsea_ci_lower"))
            row["ci_upper"] = _num(fit.get("rmsea_ci_upper"))
        rows.append(row)
    verdicts = [r["verdict"] for r in rows if r["verdict"] and r["index"] != "pvalue"]
    overall = "poor" if "poor" in verdicts else ("acceptable" if "acceptable" in verdicts else "good")
    return {"rows": rows, "values": values, "overall": overall}


def hypotheses_table(result: dict[str, Any], instrument: dict[str, Any], alpha: float = 0.05,
                     boot: dict[str, list[float]] | None = None) -> list[dict[str, Any]]:
    """Table 4: supported = positive, significant and (when bootstrapped) the bootstrap CI excludes 0."""
    outcome = outcome_construct(instrument)
    paths = {r["rhs"]: r for r in _rows(result, "~") if r["lhs"] == outcome}
    names = {c["code"]: c["name"]["en"] for c in instrument["constructs"]}
    out = []
    for h in instrument["hypotheses"]:
        r = paths.get(h["from"], {})
        beta, p = _num(r.get("std_all")), _num(r.get("pvalue"))
        ci = boot.get(h["from"]) if boot else None
        sign_ok = beta is not None and (beta > 0 if h["sign"] == "+" else beta < 0)
        significant = p is not None and p < alpha
        ci_ok = ci is None or (ci[0] > 0 or ci[1] < 0)
        out.append({
            "hypothesis": h["code"], "from": h["from"], "to": h["to"],
            "path": f"{names[h['from']]} -> {names[h['to']]}",
            "beta": beta, "b": _num(r.get("est")), "se": _num(r.get("se")), "z": _num(r.get("z")), "pvalue": p,
            "boot_ci_lower": ci[0] if ci else None, "boot_ci_upper": ci[1] if ci else None,
            "supported": bool(sign_ok and significant and ci_ok),
        })
    return out


def ranking(hypotheses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = sorted((h for h in hypotheses if h["beta"] is not None), key=lambda h: -h["beta"])
    return [{"rank": i + 1, "practice": h["from"], "path": h["path"], "beta": h["beta"],
             "supported": h["supported"]} for i, h in enumerate(rows)]


def descriptives(data: pd.DataFrame, missing_by_item: dict[str, int]) -> list[dict[str, Any]]:
    """Item descriptives over the analysed rows; ``missing`` counts blank answers in the file."""
    out = []
    for item in data.columns:
        s = data[item]
        out.append({"item": item, "n": int(s.count()), "mean": float(s.mean()), "sd": float(s.std()),
                    "min": float(s.min()), "max": float(s.max()), "skew": _num(s.skew()),
                    "kurtosis": _num(s.kurt()), "missing": int(missing_by_item.get(item, 0))})
    return out


def modification_table(result: dict[str, Any], top: int = 10) -> list[dict[str, Any]]:
    rows = []
    for r in result.get("modification_indices") or []:
        mi = _num(r.get("mi"))
        if mi is None:
            continue
        rows.append({"lhs": r.get("lhs"), "op": r.get("op"), "rhs": r.get("rhs"), "mi": mi,
                     "epc": _num(r.get("epc")), "sepc_all": _num(r.get("sepc_all", r.get("sepc.all")))})
    rows.sort(key=lambda r: -r["mi"])
    return rows[:top]
