"""Stage 5: the normal-theory ML discrepancy and its analytic gradient.

F_ML = log|Sigma| - log|S| + tr(S Sigma^-1) - p (Joreskog, 1969); chisq = N * F_ML (lavaan's fmin is F_ML / 2).
dF/dSigma = Sigma^-1 (Sigma - S) Sigma^-1, pushed through the RAM matrices without forming the Jacobian.
"""

from __future__ import annotations

import numpy as np

from .implied import Moments, jacobian, moments
from .matrices import RAM, Array


def logdet_pd(M: Array) -> float | None:
    """log|M| for a positive definite matrix, None otherwise."""
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return None
    return float(2.0 * np.log(np.diag(L)).sum())


def ml_value(sigma: Array, S: Array, logdet_S: float) -> float:
    ld = logdet_pd(sigma)
    if ld is None:
        return float("inf")
    inv = np.linalg.inv(sigma)
    return float(ld + np.sum(S * inv) - logdet_S - sigma.shape[0])


def ml_gradient_from(ram: RAM, mom: Moments, S: Array) -> Array:
    inv = np.linalg.inv(mom.sigma)
    G = inv - inv @ S @ inv
    FB = mom.B[: ram.p, :]
    FG = FB.T @ G  # n x p
    g = np.zeros(ram.q)
    if len(ram.a_k):
        C = mom.B @ mom.S @ FB.T  # n x p
        M = 2.0 * FG @ C.T
        np.add.at(g, ram.a_k, M[ram.a_rc[:, 0], ram.a_rc[:, 1]])
    if len(ram.s_k):
        M = FG @ FB
        r, c = ram.s_rc[:, 0], ram.s_rc[:, 1]
        np.add.at(g, ram.s_k, np.where(r == c, 1.0, 2.0) * M[r, c])
    return g


def ml_objective(ram: RAM, theta: Array, S: Array, logdet_S: float) -> tuple[float, Array]:
    mom = moments(ram, theta)
    f = ml_value(mom.sigma, S, logdet_S)
    if not np.isfinite(f):
        return f, np.full(ram.q, np.nan)
    return f, ml_gradient_from(ram, mom, S)


def expected_hessian(ram: RAM, mom: Moments) -> Array:
    """E[d2 F_ML] = tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l) for the covariance structure."""
    J, _ = jacobian(ram, mom)
    return expected_hessian_from(J, mom.sigma)


def expected_hessian_from(J: Array, sigma: Array) -> Array:
    Kf = whitened(J, sigma)
    return Kf @ Kf.T


def whitened(J: Array, sigma: Array) -> Array:
    """Rows vec(L' J_k L) with L L' = Sigma^-1, so that tr(Sigma^-1 J_k Sigma^-1 J_l) = <row_k, row_l>.

    Two plain GEMMs (J_k symmetric): M = J L, then (M' L) = L' J L."""
    q, p = J.shape[0], J.shape[1]
    L = np.linalg.cholesky(np.linalg.inv(sigma))
    M = (J.reshape(q * p, p) @ L).reshape(q, p, p)
    K = (np.ascontiguousarray(M.transpose(0, 2, 1)).reshape(q * p, p) @ L)
    return K.reshape(q, p * p)
