"""MLR with missing data (lavaan's estimator = "MLR", missing = "ml"): Huber-White sandwich standard errors
from casewise FIML scores with the observed information as bread, and the Yuan-Bentler (Mplus variant) scaling
factor with the unrestricted (h1) model evaluated at its EM estimates (Yuan & Bentler 2000)."""

from __future__ import annotations

import numpy as np

from .fiml import Pattern, _objective
from .implied import jacobian, moments
from .information import safe_inverse
from .matrices import RAM, Array, build_ram
from .optimize import numeric_hessian
from .partable import Param, ParTable


def casewise_scores_fiml(ram: RAM, theta: Array, X: Array, pats: list[Pattern]) -> Array:
    """Gradient of each case's observed-data log-likelihood w.r.t. theta (N x q)."""
    mom = moments(ram, theta)
    J, Jm = jacobian(ram, mom)
    scores = np.zeros((X.shape[0], ram.q))
    for pt in pats:
        o = pt.obs
        inv = np.linalg.inv(mom.sigma[np.ix_(o, o)])
        D = X[np.ix_(pt.rows, o)] - mom.mu[o]
        U = D @ inv
        Joo = J[:, o][:, :, o]
        tr = np.einsum("ij,kji->k", inv, Joo)
        quad = np.einsum("ni,kij,nj->nk", U, Joo, U, optimize=True)
        scores[pt.rows] = -0.5 * (tr[None, :] - quad) + U @ Jm[:, o].T
    return scores


def _trace(ram: RAM, theta: Array, X: Array, pats: list[Pattern]) -> tuple[float, Array, Array]:
    """tr(A^-1 B) with A the observed information and B the mean outer product of casewise scores."""
    n = X.shape[0]
    H = numeric_hessian(lambda t: _objective(ram, t, pats, n)[1], theta)
    scores = casewise_scores_fiml(ram, theta, X, pats)
    B = scores.T @ scores / n
    Hinv, _ = safe_inverse(H)
    return float(np.trace(Hinv @ B)), Hinv, B


def _reference_model(names: tuple[str, ...], saturated: bool, mean: Array, cov: Array) -> tuple[RAM, Array]:
    rows: list[Param] = []
    values: list[float] = []
    k = 0
    for i, a in enumerate(names):
        for j in range(i, len(names)):
            if j != i and not saturated:
                continue
            k += 1
            rows.append(Param(a, "~~", names[j], "", k, 0.0, False))
            values.append(float(cov[i, j]))
    for i, a in enumerate(names):
        k += 1
        rows.append(Param(a, "~1", "", "", k, 0.0, False))
        values.append(float(mean[i]))
    pt = ParTable(tuple(rows), names, (), ())
    return build_ram(pt), np.array(values)


def robust_fiml(ram: RAM, theta: Array, X: Array, pats: list[Pattern], names: tuple[str, ...],
                em_mean: Array, em_cov: Array, df: int, dfb: int) -> tuple[Array, float, float]:
    """Sandwich vcov for theta, and the scaling factors of the model and baseline chi-squares."""
    n = X.shape[0]
    tr0, Hinv, B = _trace(ram, theta, X, pats)
    vcov = Hinv @ B @ Hinv / n
    ram1, th1 = _reference_model(names, True, em_mean, em_cov)
    tr1, _, _ = _trace(ram1, th1, X, pats)
    avail_mean = np.nanmean(X, axis=0)
    avail_var = np.diag(np.nanvar(X, axis=0))
    ramb, thb = _reference_model(names, False, avail_mean, avail_var)
    trb, _, _ = _trace(ramb, thb, X, pats)
    c = (tr1 - tr0) / df if df > 0 else float("nan")
    cb = (tr1 - trb) / dfb if dfb > 0 else float("nan")
    return vcov, c, cb
