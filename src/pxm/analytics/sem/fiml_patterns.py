"""Missing-data patterns for full-information ML: rows grouped by pattern and stacked, padded to all p
variables (a pattern's covariance block is embedded in an identity on its missing variables), so one batched
Cholesky/inverse evaluates every pattern at once; case-weighted pattern moments for resampling; the EM
estimates of the unrestricted model (Dempster, Laird & Rubin 1977); and the expected (h1) information of the
normal likelihood summed over patterns (lavaan's structured h1 information with missing = "ml").

Moments are ordered (mu, vech Sigma): the p means, then the upper triangle of Sigma row by row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .information import duplication
from .matrices import Array

LOG2PI = math.log(2 * math.pi)

@dataclass(frozen=True)
class Patterns:
    """Rows grouped by missing-data pattern; every array is padded to all p variables (zero where missing).

    Data are centred at ``center`` (the available-case means) to keep the moment sums accurate."""

    mask: Array  # (K, p) bool: observed variables of each pattern
    n: Array  # (K,) cases (or bootstrap weights) in each pattern
    mean: Array  # (K, p) centred pattern means
    cov: Array  # (K, p, p) biased covariance about the pattern mean
    index: Array  # (N,) pattern of each row
    center: Array  # (p,)

    @property
    def n_total(self) -> float:
        return float(self.n.sum())


@dataclass(frozen=True)
class Resampler:
    """Pattern moments of case-weighted data (bootstrap and jackknife) without regrouping the rows."""

    base: Patterns
    order: Array  # rows sorted by pattern
    starts: Array  # first sorted row of each pattern
    X0: Array  # (N, p) centred data, 0 where missing
    XX: Array  # (N, p*p) outer products of the rows of X0

    def weighted(self, w: Array) -> Patterns:
        b = self.base
        K, p = b.mask.shape
        ws = w[self.order]
        n = np.add.reduceat(ws, self.starts)
        T1 = np.add.reduceat(ws[:, None] * self.X0[self.order], self.starts, axis=0)
        T2 = np.add.reduceat(ws[:, None] * self.XX[self.order], self.starts, axis=0).reshape(K, p, p)
        with np.errstate(invalid="ignore", divide="ignore"):
            safe = np.where(n > 0, n, 1.0)
            mean = T1 / safe[:, None]
            cov = T2 / safe[:, None, None] - mean[:, :, None] * mean[:, None, :]
        both = b.mask[:, :, None] & b.mask[:, None, :]
        return Patterns(b.mask, n, mean * b.mask, np.where(both, cov, 0.0), b.index, b.center)


def patterns(X: Array) -> Patterns:
    mask = ~np.isnan(X)
    keys, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    center = np.nanmean(X, axis=0)
    X0 = np.where(mask, X - center, 0.0)
    K, p = keys.shape
    n = np.bincount(inverse, minlength=K).astype(float)
    mean = np.zeros((K, p))
    np.add.at(mean, inverse, X0)
    mean /= n[:, None]
    D = np.where(mask, X0 - mean[inverse], 0.0)
    cov = np.zeros((K, p, p))
    np.add.at(cov, inverse, D[:, :, None] * D[:, None, :])
    cov /= n[:, None, None]
    return Patterns(keys, n, mean, cov, inverse, center)


def resampler(X: Array) -> Resampler:
    base = patterns(X)
    order = np.argsort(base.index, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(base.index[order]) != 0])
    X0 = np.where(base.mask[base.index], X - base.center, 0.0)
    XX = (X0[:, :, None] * X0[:, None, :]).reshape(X.shape[0], -1)
    return Resampler(base, order, starts, X0, XX)


@dataclass(frozen=True)
class PatternEval:
    f: float  # negative log-likelihood, summed over cases
    G: Array  # (p, p) its derivative w.r.t. Sigma (symmetric form)
    gmu: Array  # (p,) its derivative w.r.t. mu
    W: Array  # (K, p, p) inverse of each pattern's observed block, zero elsewhere


def _logdet_chol(A: Array) -> Array:
    return 2.0 * np.log(np.diagonal(np.linalg.cholesky(A), axis1=-2, axis2=-1)).sum(axis=-1)


def pattern_inverses(mask: Array, sigma: Array) -> tuple[Array, Array] | None:
    """Per pattern the inverse of the observed block of sigma (padded, zero elsewhere) and its log-determinant;
    None when a block is not positive definite.

    Few missing values per row: from the one inverse P = Sigma^-1 by the Schur complement,
    (Sigma_oo)^-1 = P_oo - P_om (P_mm)^-1 P_mo and |Sigma_oo| = |Sigma| |P_mm|, so only the small missing blocks
    are inverted. Otherwise each observed block directly (embedded in an identity on the missing variables)."""
    K, p = mask.shape
    both = mask[:, :, None] & mask[:, None, :]
    nmiss = p - mask.sum(axis=1)
    mmax = int(nmiss.max()) if K else 0
    if 0 < mmax <= p // 3:
        try:
            ld_full = float(_logdet_chol(sigma))
            P = np.linalg.inv(sigma)
            idx = np.argsort(mask, axis=1, kind="stable")[:, :mmax]  # the missing variables come first
            valid = np.arange(mmax)[None, :] < nmiss[:, None]
            Pm = P[:, idx].transpose(1, 0, 2) * valid[:, None, :]  # (K, p, mmax)
            Pmm = np.where(valid[:, :, None] & valid[:, None, :], P[idx[:, :, None], idx[:, None, :]], np.eye(mmax))
            logdet = ld_full + _logdet_chol(Pmm)
            W = (P - np.matmul(Pm, np.linalg.solve(Pmm, Pm.transpose(0, 2, 1)))) * both
            return W, logdet
        except np.linalg.LinAlgError:
            pass  # Sigma itself not positive definite: some observed blocks may still be
    Sp = np.where(both, sigma, np.eye(p))
    try:
        logdet = _logdet_chol(Sp)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(Sp) * both, logdet


def evaluate(pats: Patterns, sigma: Array, mu: Array) -> PatternEval | None:
    """-log L and its derivatives w.r.t. (Sigma, mu); None when a pattern's block is not positive definite."""
    m = pats.mask
    inv = pattern_inverses(m, sigma)
    if inv is None:
        return None
    W, logdet = inv
    d = (pats.mean - (mu - pats.center)) * m
    M = pats.cov + d[:, :, None] * d[:, None, :]
    n = pats.n
    quad = np.einsum("kij,kij->k", W, M)
    f = 0.5 * float(n @ (m.sum(axis=1) * LOG2PI + logdet + quad))
    WM = np.matmul(W, M)
    G = 0.5 * np.einsum("k,kij->ij", n, W - np.matmul(WM, W))
    gmu = -np.einsum("k,kij,kj->i", n, W, d)
    return PatternEval(f, 0.5 * (G + G.T), gmu, W)


def loglik(pats: Patterns, mu: Array, sigma: Array) -> float:
    ev = evaluate(pats, sigma, mu)
    return -math.inf if ev is None else -ev.f


def em_saturated(X: Array, maxiter: int = 5000, tol: float = 1e-11) -> tuple[Array, Array, float]:
    """EM estimates of the unrestricted mean and covariance, and the maximised log-likelihood. E-step for all
    rows at once: with W_k the padded inverse of a pattern's observed block, E[x | x_o] = mu + Sigma W_k (x - mu)
    (equal to x on the observed entries) and Cov[x | x_o] = Sigma - Sigma W_k Sigma (zero on them)."""
    n, p = X.shape
    pats = patterns(X)
    m = pats.mask
    both = m[:, :, None] & m[:, None, :]
    X0 = np.where(m[pats.index], X, 0.0)
    mu = np.nanmean(X, axis=0)
    sigma = np.diag(np.nanvar(X, axis=0))
    prev = -math.inf
    for _ in range(maxiter):
        W = np.linalg.inv(np.where(both, sigma, np.eye(p))) * both
        D = np.where(m[pats.index], X0 - mu, 0.0)
        Xh = mu + np.einsum("nij,nj->ni", W[pats.index], D) @ sigma
        C = sigma - np.matmul(np.matmul(sigma, W), sigma)
        mu = Xh.mean(axis=0)
        T2 = Xh.T @ Xh + np.einsum("k,kij->ij", pats.n, C)
        sigma = T2 / n - np.outer(mu, mu)
        sigma = 0.5 * (sigma + sigma.T)
        ll = loglik(pats, mu, sigma)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    return mu, sigma, loglik(pats, mu, sigma)


def vech_rows(p: int) -> tuple[Array, Array]:
    return np.triu_indices(p)


def delta(J: Array, Jm: Array) -> Array:
    """Rows d(mu, vech Sigma)/d theta_k: the first p columns the means, then the upper triangle of Sigma."""
    r, c = vech_rows(J.shape[1])
    return np.concatenate([Jm, J[:, r, c]], axis=1)


def pair_trace(P: Array, Q: Array, w: Array) -> Array:
    """sum_k w_k tr(dS_r P_k dS_s Q_k) for all pairs of vech elements r, s (dS_r = E_ij + E_ji, or E_ii), with
    P_k, Q_k symmetric (K, p, p). One GEMM over the patterns: T[(i,j),(k,l)] = sum_k w P_jk Q_li, then D' T D."""
    K, p, _ = P.shape
    G = (Q.reshape(K, p * p).T * w) @ P.reshape(K, p * p)  # [(l, i), (j, k)]
    T = G.reshape(p, p, p, p).transpose(1, 2, 3, 0).reshape(p * p, p * p)  # [(i, j), (k, l)]
    D = duplication(p)
    return D.T @ T @ D


def h1_information(pats: Patterns, W: Array) -> Array:
    """Expected information per case for (mu, vech Sigma), summed over patterns (lavaan's structured h1
    information with missing = "ml"): mean block sum_k w_k W_k, covariance block
    1/2 sum_k w_k tr(W_k dS_r W_k dS_s)."""
    p = pats.mask.shape[1]
    wn = pats.n / pats.n_total
    ps = p * (p + 1) // 2
    A = np.zeros((p + ps, p + ps))
    A[:p, :p] = np.einsum("k,kij->ij", wn, W)
    A[p:, p:] = 0.5 * pair_trace(W, W, wn)
    return A


def h1_observed_information(pats: Patterns, mu: Array, sigma: Array) -> Array:
    """Hessian of the FIML -log L per case w.r.t. (mu, vech Sigma) at (mu, sigma), analytic (lavaan's
    lav_mvnorm_missing_information_observed_samplestats)."""
    m = pats.mask
    K, p = m.shape
    both = m[:, :, None] & m[:, None, :]
    W = np.linalg.inv(np.where(both, sigma, np.eye(p))) * both
    d = (pats.mean - (mu - pats.center)) * m
    M = pats.cov + d[:, :, None] * d[:, None, :]
    w = pats.n / pats.n_total
    WMW = np.matmul(np.matmul(W, M), W)
    r, c = vech_rows(p)
    mult = np.where(r == c, 1.0, 2.0)
    out = np.zeros((p + len(r), p + len(r)))
    out[:p, :p] = np.einsum("k,kij->ij", w, W)
    v = np.einsum("kij,kj->ki", W, d)  # W d
    # d/dsigma_r of -n W d: n W dS_r W d
    cross = 0.5 * mult * (np.einsum("k,kir,kr->ir", w, W[:, :, r], v[:, c])
                          + np.einsum("k,kic,kc->ic", w, W[:, :, c], v[:, r]))
    out[:p, p:] = cross
    out[p:, :p] = cross.T
    T = pair_trace(W, WMW, w)
    out[p:, p:] = 0.5 * (T + T.T - pair_trace(W, W, w))
    return 0.5 * (out + out.T)
