"""Reviewer-style consistency checks of the paper's published numbers (``paper.json``) against each other.

Each check computes what the other published numbers imply and compares. Published values are rounded, so an
implied value is computed over the whole rounding box of its inputs (each input +/- half a unit in its last
digit) and the published value must fall inside that range widened by half a unit of its own last digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import product
from typing import Any

import numpy as np

__all__ = ["TOLERANCE", "check_paper", "latent_correlation_matrix"]

TOLERANCE = ("published values carry +/- half a unit in their last digit; an implied value is computed over every "
             "input within its rounding interval, and a published value is inconsistent when it lies outside that "
             "range widened by half a unit of its own last digit")


def _half(x: float) -> float:
    """Half a unit in the last printed digit of a published number."""
    s = repr(float(x))
    digits = len(s.split(".")[1].rstrip("0")) if "." in s else 0
    return 0.5 * 10.0 ** (-max(digits, 0))


def latent_correlation_matrix(paper: dict[str, Any]) -> np.ndarray:
    lower = paper["table2"]["lower"]
    k = len(paper["constructs"])
    m = np.eye(k)
    for i in range(k):
        for j, v in enumerate(lower[i]):
            m[i, j] = m[j, i] = v
    return m


def _range(fn: Callable[[np.ndarray], float], values: list[float], monotone: bool = True) -> tuple[float, float]:
    """Min and max of ``fn`` over the rounding box of ``values`` (corners, or 400 random points if not monotone)."""
    x = np.asarray(values, dtype=float)
    h = np.array([_half(v) for v in values])
    if monotone and len(values) <= 10:
        outs = [fn(x + h * np.array(s)) for s in product((-1, 1), repeat=len(values))]
    else:
        rng = np.random.default_rng(0)
        outs = [fn(x + h * rng.uniform(-1, 1, len(values))) for _ in range(400)]
        outs += [fn(x - h), fn(x + h)]
    outs.append(fn(x))
    return float(min(outs)), float(max(outs))


class _Collector:
    def __init__(self) -> None:
        self.inconsistencies: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []

    def add(self, quantity: str, published: float, implied: float, rng: tuple[float, float], explanation: str,
            *, where: str = "", tol: float | None = None) -> None:
        t = _half(published) if tol is None else tol
        ok = rng[0] - t - 1e-12 <= published <= rng[1] + t + 1e-12
        gap = 0.0 if ok else min(abs(published - rng[0]), abs(published - rng[1])) - t
        row = {"quantity": quantity, "published": published, "implied": round(implied, 4),
               "implied_range": [round(rng[0], 4), round(rng[1], 4)], "tolerance": t, "where": where,
               "difference": round(published - implied, 4),
               "severity": "" if ok else ("minor" if gap < 0.005 * max(1.0, abs(published)) else "major"),
               "explanation": explanation}
        (self.checks if ok else self.inconsistencies).append(row)

    def note(self, quantity: str, published: Any, implied: Any, explanation: str, ok: bool, where: str = "",
             severity: str = "major") -> None:
        row = {"quantity": quantity, "published": published, "implied": implied, "tolerance": 0, "where": where,
               "severity": "" if ok else severity, "explanation": explanation}
        (self.checks if ok else self.inconsistencies).append(row)


def _cr(lam: np.ndarray) -> float:
    s = lam.sum() ** 2
    return float(s / (s + (1 - lam**2).sum()))


def _alpha_std(lam: np.ndarray) -> float:
    r = np.outer(lam, lam)
    np.fill_diagonal(r, 1.0)
    k = len(lam)
    return float(k / (k - 1) * (1 - k / r.sum()))


def check_paper(paper: dict[str, Any], stated_df: int, stated_free: int) -> dict[str, Any]:
    """All consistency checks; returns ``{"inconsistencies": [...], "checks": [...], "tolerance": ...}``."""
    c = _Collector()
    t1, t3, t4 = paper["table1"], paper["table3"], paper["table4"]
    n = paper["n"]["value"]
    constructs = paper["constructs"]
    items = {k: [v for i, v in t1["loadings"].items() if i.rstrip("0123456789") == k] for k in constructs}
    p = len(t1["loadings"])
    moments = p * (p + 1) // 2

    # degrees of freedom of the stated model
    c.note("df (Table 3)", t3["df"], stated_df,
           f"{p} indicators give {moments} moments; the stated model (6 factors, 5 paths to BP, correlated practices) "
           f"has {stated_free} free parameters, so df = {moments} - {stated_free} = {stated_df}. df = {t3['df']} "
           f"needs {moments - t3['df']} free parameters: {moments - t3['df'] - stated_free} unreported ones "
           "(e.g. correlated errors added after modification indices) or a miscount. With df = "
           f"{stated_df}, chi2/df would be {t3['chisq'] / stated_df:.2f} and RMSEA "
           f"{math.sqrt(max(t3['chisq'] - stated_df, 0) / (stated_df * (n - 1))):.3f}.",
           stated_df == t3["df"], where=t3["where"])
    chi, df = t3["chisq"], t3["df"]
    hc = _half(chi)
    c.add("chi2/df (Table 3)", t3["chisq_df"], chi / df, ((chi - hc) / df, (chi + hc) / df),
          f"{chi} / {df} = {chi / df:.4f}", where=t3["where"])

    def rmsea(chi2: float, d: float, nn: float) -> float:
        return math.sqrt(max(chi2 - d, 0.0) / (d * nn))

    lo = min(rmsea(chi - hc, df, n - 1), rmsea(chi - hc, df, n))
    hi = max(rmsea(chi + hc, df, n - 1), rmsea(chi + hc, df, n))
    need = (t3["rmsea"] + _half(t3["rmsea"])) ** 2 * df * (n - 1) + df
    c.add("RMSEA (Table 3)", t3["rmsea"], rmsea(chi, df, n - 1), (lo, hi),
          f"RMSEA = sqrt(max(chi2 - df, 0) / (df (n - 1))) = sqrt(({chi} - {df}) / ({df} x {n - 1})) = "
          f"{rmsea(chi, df, n - 1):.4f} (with n instead of n - 1: {rmsea(chi, df, n):.4f}); {t3['rmsea']} "
          f"would need chi2 <= {need:.1f}", where=t3["where"])
    c.add("AGFI (Table 3)", t3["agfi"], 1 - moments / df * (1 - t3["gfi"]),
          _range(lambda x: 1 - moments / df * (1 - x[0]), [t3["gfi"]]),
          f"AGFI = 1 - (p(p+1)/2 / df)(1 - GFI) = 1 - ({moments}/{df})(1 - {t3['gfi']})", where=t3["where"])
    df0 = moments - p

    def tli_from_cfi(x: np.ndarray) -> float:
        chi0 = (x[0] - df) / (1 - x[1]) + df0
        return float((chi0 / df0 - x[0] / df) / (chi0 / df0 - 1))

    tli = tli_from_cfi(np.array([chi, t3["cfi"]]))
    c.add("TLI (Table 3) given CFI", t3["tli"], tli, _range(tli_from_cfi, [chi, t3["cfi"]]),
          f"CFI = {t3['cfi']} with chi2 = {chi}, df = {df} implies a baseline chi2 of "
          f"{(chi - df) / (1 - t3['cfi']) + df0:.0f} on df0 = {df0}; that baseline gives "
          f"TLI = (chi0/df0 - chi2/df) / (chi0/df0 - 1) = {tli:.4f}", where=t3["where"])

    # measurement model: CR, AVE, alpha and the Fornell-Larcker diagonal from the loadings
    for k in constructs:
        lam = items[k]
        arr = np.asarray(lam)
        c.add(f"CR {k} (Table 1)", t1["cr"][k], _cr(arr), _range(_cr, lam),
              "CR = (sum l)^2 / ((sum l)^2 + sum(1 - l^2)) from the published loadings", where=t1["where"])
        ave = float((arr**2).mean())
        c.add(f"AVE {k} (Table 1)", t1["ave"][k], ave, _range(lambda x: float((x**2).mean()), lam),
              "AVE = mean of squared published loadings", where=t1["where"])
        c.add(f"Cronbach alpha {k} (Table 1)", t1["alpha"][k], _alpha_std(arr), _range(_alpha_std, lam),
              "standardized alpha implied by a one-factor model with the published loadings; with loadings this "
              "even alpha is within 0.001 of CR, so a clearly lower alpha contradicts the loadings (unless item "
              "variances differ widely)", where=t1["where"])
        d = paper["table2"]["diagonal"][k]
        ha = _half(t1["ave"][k])
        c.add(f"Fornell-Larcker diagonal {k} vs published AVE", d, math.sqrt(t1["ave"][k]),
              (math.sqrt(t1["ave"][k] - ha), math.sqrt(t1["ave"][k] + ha)),
              "diagonal = sqrt(AVE of Table 1)", where=paper["table2"]["where"])
        c.add(f"Fornell-Larcker diagonal {k} vs loadings", d, math.sqrt(ave),
              _range(lambda x: math.sqrt(float((x**2).mean())), lam),
              "diagonal = sqrt(mean squared loading); differs because the published AVE does not follow from the "
              "loadings", where=paper["table2"]["where"])

    # discriminant validity and the correlation table
    phi = latent_correlation_matrix(paper)
    eig = np.linalg.eigvalsh(phi)
    c.note("Table 2 correlation matrix positive definite", "yes", f"smallest eigenvalue {eig.min():.3f}",
           "a correlation matrix must be positive definite to be a correlation matrix", bool(eig.min() > 0),
           where=paper["table2"]["where"])
    diag = np.array([paper["table2"]["diagonal"][k] for k in constructs])
    worst = max((abs(phi[i, j]) - min(diag[i], diag[j]), constructs[i], constructs[j])
                for i in range(len(constructs)) for j in range(i))
    c.note("Fornell-Larcker criterion", "met", "met" if worst[0] < 0 else f"fails for {worst[1]}-{worst[2]}",
           "every latent correlation is below the square roots of both AVEs", worst[0] < 0,
           where=paper["table2"]["where"])

    # structural model against the correlation table
    k = len(constructs) - 1
    rxx, rxy = phi[:k, :k], phi[:k, k]
    beta = np.array([row["beta"] for row in t4["paths"]])
    r2_pub = paper["r2"]["value"]
    lower_vals = [v for row in paper["table2"]["lower"] for v in row]

    def rebuild(vals: np.ndarray) -> np.ndarray:
        m = np.eye(k + 1)
        it = iter(vals)
        for i in range(k + 1):
            for j in range(i):
                m[i, j] = m[j, i] = next(it)
        return m

    def r2_from_betas(x: np.ndarray) -> float:
        m = rebuild(x[k:])
        return float(x[:k] @ m[:k, :k] @ x[:k])

    r2b = float(beta @ rxx @ beta)
    c.add("R2 of BP vs published paths", r2_pub, r2b, _range(r2_from_betas, list(beta) + lower_vals, False),
          f"R2 = b' R_xx b with the Table 4 betas and the Table 2 correlations = {r2b:.3f}"
          + (" (above 1: impossible, the paths cannot all be standardized betas of these correlated practices)"
             if r2b > 1 else ""), where=paper["r2"]["where"])

    def implied_b(x: np.ndarray) -> np.ndarray:
        m = rebuild(x)
        return np.linalg.solve(m[:k, :k], m[:k, k])

    b_imp = implied_b(np.asarray(lower_vals))
    r2_imp = float(rxy @ b_imp)
    c.add("R2 of BP vs correlation table", r2_pub, r2_imp,
          _range(lambda x: float(rebuild(x)[:k, k] @ implied_b(x)), lower_vals, False),
          f"R2 = r_xy' R_xx^-1 r_xy from Table 2 = {r2_imp:.3f}", where=paper["r2"]["where"])
    def path_j(j: int) -> Callable[[np.ndarray], float]:
        return lambda x: float(implied_b(x)[j])

    for j, row in enumerate(t4["paths"]):
        c.add(f"beta {row['hypothesis']} {row['from']} -> BP vs correlation table", row["beta"], float(b_imp[j]),
              _range(path_j(j), lower_vals, False),
              f"b = R_xx^-1 r_xy from the Table 2 latent correlations gives {b_imp[j]:.3f}", where=t4["where"])
    for row in t4["paths"]:
        z_lo = (row["beta"] - _half(row["beta"])) / (row["se"] + _half(row["se"]))
        z_hi = (row["beta"] + _half(row["beta"])) / (row["se"] - _half(row["se"]))
        c.add(f"z {row['hypothesis']} = beta/SE", row["z"], row["beta"] / row["se"], (z_lo, z_hi),
              f"{row['beta']} / {row['se']} = {row['beta'] / row['se']:.3f}", where=t4["where"])
        c.note(f"p {row['hypothesis']} < 0.001 given z", row["p"], f"{math.erfc(row['z'] / math.sqrt(2)):.1e}",
               "two-sided normal p-value of the published z", math.erfc(row["z"] / math.sqrt(2)) < 0.001,
               where=t4["where"])

    # claims in the text
    tc = paper["text_claims"]
    supported = sum(1 for r in t4["paths"] if r["beta"] > 0 and r["p"] == "<0.001")
    c.note("number of supported hypotheses (abstract)", tc["supported_hypotheses_abstract"]["value"], supported,
           "the abstract says four of the five practices matter; Table 4 and the findings report all five "
           "significant at p < 0.001", tc["supported_hypotheses_abstract"]["value"] == supported,
           where=tc["supported_hypotheses_abstract"]["where"])
    c.note("AGFI cut-off (text vs Table 3)", tc["agfi_cutoff_text"]["value"], tc["agfi_cutoff_table3"]["value"],
           "the findings apply a 0.90 cut-off to AGFI, Table 3 recommends > 0.80", tc["agfi_cutoff_text"]["value"]
           == tc["agfi_cutoff_table3"]["value"], where=tc["agfi_cutoff_text"]["where"], severity="minor")
    return {"tolerance": TOLERANCE, "inconsistencies": c.inconsistencies, "checks": c.checks,
            "implied_paths": {row["from"]: float(b) for row, b in zip(t4["paths"], b_imp, strict=True)},
            "implied_r2": r2_imp, "phi_min_eigenvalue": float(eig.min())}
