"""Stage 7: information matrices and the covariance matrix of the estimates.

ML: expected information (per case) A = 1/2 Delta' (Sigma^-1 x Sigma^-1) Delta, vcov = A^-1 / N (lavaan's
default with complete data, N convention). MLR: Huber-White sandwich A^-1 B A^-1 / N with B the mean outer
product of casewise scores (lavaan's robust.huber.white with expected information as the bread).
"""

from __future__ import annotations

import numpy as np

from .implied import Moments
from .matrices import Array
from .objective import expected_hessian_from


def safe_inverse(M: Array) -> tuple[Array, bool]:
    """Inverse, or the pseudo-inverse with a flag when M is singular."""
    try:
        w = np.linalg.eigvalsh(0.5 * (M + M.T))
    except np.linalg.LinAlgError:
        return np.full_like(M, np.nan), False
    if w.size and (w[0] <= max(1e-12 * abs(w[-1]), 0.0)):
        return np.linalg.pinv(M), False
    return np.linalg.inv(M), True


def expected_information(J: Array, sigma: Array) -> Array:
    """Per-case expected information for the covariance structure."""
    return 0.5 * expected_hessian_from(J, sigma)


def casewise_scores(J: Array, sigma: Array, X: Array, mean: Array) -> Array:
    """Scores of the casewise log-likelihood w.r.t. theta (N x q), with the means at their saturated values."""
    inv = np.linalg.inv(sigma)
    D = X - mean
    U = D @ inv  # N x p
    tr = np.einsum("ij,kji->k", inv, J)
    quad = np.einsum("ni,kij,nj->nk", U, J, U, optimize=True)
    return -0.5 * (tr[None, :] - quad)


def sandwich(A: Array, scores: Array) -> tuple[Array, bool]:
    n = scores.shape[0]
    B = scores.T @ scores / n
    Ainv, ok = safe_inverse(A)
    return Ainv @ B @ Ainv / n, ok


def vech_indices(p: int) -> tuple[Array, Array]:
    r, c = np.triu_indices(p)
    return r, c


def duplication(p: int) -> Array:
    r, c = vech_indices(p)
    D = np.zeros((p * p, len(r)))
    for k, (i, j) in enumerate(zip(r, c, strict=True)):
        D[i * p + j, k] = 1.0
        D[j * p + i, k] = 1.0
    return D


def gamma_nt_weight(sigma: Array) -> Array:
    """W = 1/2 D'(Sigma^-1 x Sigma^-1)D in vech space."""
    p = sigma.shape[0]
    inv = np.linalg.inv(sigma)
    D = duplication(p)
    return 0.5 * D.T @ np.kron(inv, inv) @ D


def gamma_adf(X: Array, mean: Array) -> Array:
    """Asymptotic covariance of vech(S): mean outer product of centred vech(d d')."""
    p = X.shape[1]
    r, c = vech_indices(p)
    D = X - mean
    Z = D[:, r] * D[:, c]
    Z = Z - Z.mean(axis=0)
    return Z.T @ Z / X.shape[0]


def yuan_bentler_trace(J: Array, sigma: Array, Gamma: Array) -> float:
    """tr(U Gamma) with U = W - W Delta (Delta' W Delta)^-1 Delta' W (Yuan & Bentler, 2000)."""
    p = sigma.shape[0]
    r, c = vech_indices(p)
    Delta = J[:, r, c].T  # p* x q
    W = gamma_nt_weight(sigma)
    WD = W @ Delta
    M, _ = safe_inverse(Delta.T @ WD)
    U = W - WD @ M @ WD.T
    return float(np.sum(U * Gamma.T))


def observed_vcov(H: Array, n: int) -> tuple[Array, bool]:
    """vcov from the Hessian of the mean negative log-likelihood per case."""
    inv, ok = safe_inverse(H)
    return inv / n, ok


def moment_cov_expected(mom: Moments, J: Array, n: int) -> tuple[Array, bool]:
    A = expected_information(J, mom.sigma)
    inv, ok = safe_inverse(A)
    return inv / n, ok
