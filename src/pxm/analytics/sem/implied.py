"""Stage 4: model-implied moments and their derivatives with respect to the free parameters.

Sigma = F B S B' F', mu = F B m, with B = (I - A)^-1 (McArdle & McDonald, 1984, RAM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matrices import RAM, Array


@dataclass(frozen=True)
class Moments:
    sigma: Array  # p x p implied covariance of the observed variables
    mu: Array  # p implied means (zeros without mean structure)
    B: Array  # (I - A)^-1, n x n
    S: Array  # symmetric parameter matrix
    A: Array
    m: Array
    total: Array  # n x n implied covariance of all variables (observed and latent)


def moments(ram: RAM, theta: Array) -> Moments:
    A, S, m = ram.fill(theta)
    B = ram.b_matrix(A)
    total = B @ S @ B.T
    sigma = total[: ram.p, : ram.p]
    sigma = 0.5 * (sigma + sigma.T)
    mu = (B @ m)[: ram.p]
    return Moments(sigma, mu, B, S, A, m, total)


def jacobian(ram: RAM, mom: Moments) -> tuple[Array, Array]:
    """dSigma/dtheta as (q, p, p) and dmu/dtheta as (q, p)."""
    p, q = ram.p, ram.q
    FB = mom.B[:p, :]  # p x n
    C = mom.B @ mom.S @ FB.T  # n x p
    J = np.zeros((q, p, p))
    ks = np.concatenate([ram.a_k, ram.s_k])
    unique = len(np.unique(ks)) == len(ks)

    def put(k: Array, block: Array) -> None:
        if unique:
            J[k] = block
        else:
            np.add.at(J, k, block)

    if len(ram.a_k):
        r, c = ram.a_rc[:, 0], ram.a_rc[:, 1]
        outer = FB[:, r].T[:, :, None] * C[c, :][:, None, :]
        put(ram.a_k, outer + outer.transpose(0, 2, 1))
    if len(ram.s_k):
        r, c = ram.s_rc[:, 0], ram.s_rc[:, 1]
        outer = FB[:, r].T[:, :, None] * FB[:, c].T[:, None, :]
        sym = outer + outer.transpose(0, 2, 1)
        diag = r == c
        sym[diag] *= 0.5
        put(ram.s_k, sym)
    Jm = np.zeros((q, p))
    if ram.meanstructure:
        Bm = mom.B @ mom.m
        if len(ram.a_k):
            r, c = ram.a_rc[:, 0], ram.a_rc[:, 1]
            np.add.at(Jm, ram.a_k, FB[:, r].T * Bm[c][:, None])
        if len(ram.m_k):
            np.add.at(Jm, ram.m_k, FB[:, ram.m_r].T)
    return J, Jm


@dataclass(frozen=True)
class BatchMoments:
    """Moments for a stack of parameter vectors (leading axis K); enough for standardization."""

    A: Array
    S: Array
    m: Array
    total: Array


def moments_batch(ram: RAM, thetas: Array) -> BatchMoments:
    K = thetas.shape[0]
    A = np.empty((K, ram.n, ram.n), dtype=thetas.dtype)
    A[:] = ram.A0
    S = np.empty((K, ram.n, ram.n), dtype=thetas.dtype)
    S[:] = ram.S0
    m = np.empty((K, ram.n), dtype=thetas.dtype)
    m[:] = ram.m0
    A[:, ram.a_rc[:, 0], ram.a_rc[:, 1]] = thetas[:, ram.a_k]
    S[:, ram.s_rc[:, 0], ram.s_rc[:, 1]] = thetas[:, ram.s_k]
    S[:, ram.s_rc[:, 1], ram.s_rc[:, 0]] = thetas[:, ram.s_k]
    m[:, ram.m_r] = thetas[:, ram.m_k]
    B = ram.b_matrix(A)
    total = B @ S @ B.transpose(0, 2, 1)
    return BatchMoments(A, S, m, total)
