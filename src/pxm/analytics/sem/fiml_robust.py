"""MLR with missing data (lavaan's estimator = "MLR", missing = "ml"): Huber-White sandwich standard errors
from casewise FIML scores with the observed information as bread, and the Yuan-Bentler (Mplus variant) scaling
factor with the unrestricted (h1) model evaluated at its EM estimates (Yuan & Bentler 2000).

Also the FIML-corrected robust RMSEA/CFI/TLI of Zhang & Savalei (2023, Psychological Methods 28(2), 263-283)
that lavaan reports under missing = "ml" (version V6 for ML, V3 for MLR), and the analytic observed
information of the saturated (h1) model both of them need.

Moments are ordered as in ``fiml.delta``: the p means, then the upper triangle of Sigma row by row.
"""

from __future__ import annotations

import math

import numpy as np

from .fiml import _objective, observed_information
from .fiml_patterns import Patterns, delta, h1_information, h1_observed_information, vech_rows
from .implied import jacobian, moments
from .information import safe_inverse
from .matrices import RAM, Array, build_ram
from .optimize import numeric_hessian
from .partable import Param, ParTable


def casewise_scores_fiml(ram: RAM, theta: Array, X: Array, pats: Patterns) -> Array:
    """Gradient of each case's observed-data log-likelihood w.r.t. theta (N x q)."""
    mom = moments(ram, theta)
    J, Jm = jacobian(ram, mom)
    W, U = _whitened_rows(pats, X, mom.sigma, mom.mu)
    tr = np.einsum("kij,qji->kq", W, J)[pats.index]
    quad = np.einsum("ni,qij,nj->nq", U, J, U, optimize=True)
    return -0.5 * (tr - quad) + U @ Jm.T


def _whitened_rows(pats: Patterns, X: Array, sigma: Array, mu: Array) -> tuple[Array, Array]:
    """Per pattern the inverse observed block W_k (zero elsewhere); per row u_i = W_k (x_i - mu)."""
    m = pats.mask
    both = m[:, :, None] & m[:, None, :]
    W = np.linalg.inv(np.where(both, sigma, np.eye(len(mu)))) * both
    D = np.where(m[pats.index], X - mu, 0.0)
    return W, np.einsum("nij,nj->ni", W[pats.index], D)


def saturated_scores(pats: Patterns, X: Array, mu: Array, sigma: Array) -> Array:
    """Casewise scores of the unrestricted model w.r.t. (mu, vech Sigma): u_i and m_r (u_a u_b - W_ab) / 2."""
    W, U = _whitened_rows(pats, X, sigma, mu)
    r, c = vech_rows(len(mu))
    mult = np.where(r == c, 1.0, 2.0)
    return np.concatenate([U, 0.5 * mult * (U[:, r] * U[:, c] - W[pats.index][:, r, c])], axis=1)


def _trace(ram: RAM, theta: Array, X: Array, pats: Patterns, H: Array | None = None) -> tuple[float, Array, Array]:
    """tr(A^-1 B) with A the observed information and B the mean outer product of casewise scores."""
    n = X.shape[0]
    if H is None:
        H = observed_information(ram, theta, pats)
    if H is None:
        H = numeric_hessian(lambda t: _objective(ram, t, pats, n)[1], theta)
    scores = casewise_scores_fiml(ram, theta, X, pats)
    B = scores.T @ scores / n
    Hinv, _ = safe_inverse(H)
    return float(np.trace(Hinv @ B)), Hinv, B


def _independence_model(names: tuple[str, ...], mean: Array, var: Array) -> tuple[RAM, Array]:
    rows = [Param(a, "~~", a, "", i + 1, 0.0, False) for i, a in enumerate(names)]
    rows += [Param(a, "~1", "", "", len(names) + i + 1, 0.0, False) for i, a in enumerate(names)]
    pt = ParTable(tuple(rows), names, (), ())
    return build_ram(pt), np.concatenate([var, mean])


class H1:
    """The unrestricted model at its EM estimates: observed information ``Wm``, first-order information ``B``."""

    def __init__(self, pats: Patterns, X: Array, mu: Array, sigma: Array) -> None:
        self.mu, self.sigma = mu, sigma
        self.Wm = h1_observed_information(pats, mu, sigma)
        sc = saturated_scores(pats, X, mu, sigma)
        self.B = sc.T @ sc / X.shape[0]
        self.Wm_inv, _ = safe_inverse(self.Wm)
        self.trace = float(np.trace(self.Wm_inv @ self.B))


def robust_fiml(ram: RAM, theta: Array, X: Array, pats: Patterns, names: tuple[str, ...], h1: H1, df: int,
                dfb: int, H: Array | None = None) -> tuple[Array, float, float]:
    """Sandwich vcov for theta, and the scaling factors of the model and baseline chi-squares (``H``: the
    observed information of the model at theta when already computed)."""
    n = X.shape[0]
    tr0, Hinv, B = _trace(ram, theta, X, pats, H)
    vcov = Hinv @ B @ Hinv / n
    ramb, thb = _independence_model(names, np.nanmean(X, axis=0), np.nanvar(X, axis=0))
    trb, _, _ = _trace(ramb, thb, X, pats)
    c = (h1.trace - tr0) / df if df > 0 else float("nan")
    cb = (h1.trace - trb) / dfb if dfb > 0 else float("nan")
    return vcov, c, cb


def _ml_discrepancy(n: int, mean: Array, cov: Array, mu: Array, sigma: Array) -> float:
    """N times the complete-data ML discrepancy of (mu, sigma) from the sample moments (mean, cov)."""
    inv = np.linalg.inv(sigma)
    d = mean - mu
    p = len(mean)
    return n * float(np.linalg.slogdet(sigma)[1] - np.linalg.slogdet(cov)[1] + np.sum(cov * inv) - p + d @ inv @ d)


def fiml_corrected(ram: RAM, theta: Array, X: Array, h1: H1, df: int, robust: bool) -> dict[str, float]:
    """Zhang & Savalei (2023) FIML-corrected chi-squares and scaling constants for the robust RMSEA/CFI/TLI
    (lavaan's lav_fit_fiml_corrected: V3 with MLR, V6 with ML). Returns T, c, Tb, cb on lavaan's scale."""
    n, p = X.shape
    mom = moments(ram, theta)
    T3 = _ml_discrepancy(n, h1.mu, h1.sigma, mom.mu, mom.sigma)
    mb, vb = np.nanmean(X, axis=0), np.nanvar(X, axis=0)
    Tb3 = _ml_discrepancy(n, h1.mu, h1.sigma, mb, np.diag(vb))
    dfb = p * (p - 1) // 2
    # complete-data information at the EM moments ('tilde' sample statistics)
    one = Patterns(np.ones((1, p), dtype=bool), np.ones(1), np.zeros((1, p)), np.zeros((1, p, p)),
                   np.zeros(1, dtype=int), np.zeros(p))
    Wc = h1_information(one, np.linalg.inv(h1.sigma)[None])
    Wm, Wmi = h1.Wm, h1.Wm_inv
    D = delta(*jacobian(ram, mom)).T  # (p + p*) x q
    r, c = vech_rows(p)
    Db = np.zeros((p + len(r), 2 * p))
    Db[np.arange(p), np.arange(p)] = 1.0
    Db[p + np.flatnonzero(r == c), p + np.arange(p)] = 1.0
    Gamma = Wmi @ h1.B @ Wmi
    out: dict[str, float] = {"T": T3, "Tb": Tb3}
    for key, Dk, dfk in (("c", D, df), ("cb", Db, dfb)):
        E, _ = safe_inverse(Dk.T @ Wm @ Dk)
        U = Wm - Wm @ Dk @ E @ Dk.T @ Wm
        if robust:
            k = float(np.trace(U @ Wmi @ Wc @ Wmi @ U @ Gamma))
        else:
            k = float(np.trace(Wc @ Wmi @ U @ Wmi))
        out[key] = k / dfk if dfk > 0 else math.nan
    return out
