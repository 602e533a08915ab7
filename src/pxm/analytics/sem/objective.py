"""Stage 5: the normal-theory ML discrepancy and its analytic gradient.

F_ML = log|Sigma| - log|S| + tr(S Sigma^-1) - p (Joreskog, 1969); chisq = N * F_ML (lavaan's fmin is F_ML / 2).
dF/dSigma = Sigma^-1 (Sigma - S) Sigma^-1, pushed through the RAM matrices without forming the Jacobian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from .implied import Moments, jacobian, moments
from .matrices import RAM, Array, Layout


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


@dataclass
class Point:
    """One evaluation of F_ML: the objective and what the gradient and Hessian reuse."""

    theta: Array
    f: float
    B: Array  # (I - A)^-1
    K: Array  # S B'
    T: Array  # B S B', implied covariance of all variables
    W: Array  # Sigma^-1
    PW: Array | None = None  # Z'F' W F Z with Z = [I | K]
    PG: Array | None = None  # Z'F' G F Z with G = W - W S W
    g: Array | None = None


class MLProblem:
    """F_ML(theta; S) for one model and one sample covariance, with its closed-form gradient and Hessian.

    All work is on n x n (or 2n x 2n) matrices and gathers of precomputed indices (matrices.Layout): no
    (q, p, p) Jacobian and no per-call numpy.linalg overhead (LAPACK is called directly)."""

    def __init__(self, ram: RAM, S: Array, logdet_S: float | None = None) -> None:
        self.ram = ram
        self.lay: Layout = ram.layout
        self.S = np.ascontiguousarray(S, dtype=float)
        if logdet_S is None:
            L, info = lapack.dpotrf(self.S.T, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError("the sample covariance matrix is not positive definite")
            logdet_S = 2.0 * float(np.log(L.diagonal()).sum())
        self.logdet_S = logdet_S
        self.base = ram.stacked
        self._AS = ram.stacked.copy()  # A and S; every point puts theta in the same places (no copy per call)
        self._A, self._S = self._AS[0], self._AS[1]
        self._const = logdet_S + self.lay.p

    def point(self, theta: Array) -> Point | None:
        """F_ML at theta, or None when the implied covariance is not positive definite."""
        lay = self.lay
        self._AS.put(lay.put_at, theta.take(lay.put_k))
        d = lay.depth
        if d == 2:
            B = lay.eye + self._A
        elif d == 1:
            B = lay.eye
        elif d == 3:
            B = lay.eye + self._A @ (lay.eye + self._A)
        else:
            B = np.linalg.inv(lay.eye - self._A)
        K = self._S @ B.T
        T = B @ K
        p = lay.p
        L, info = lapack.dpotrf(T[:p, :p], lower=1)
        if info != 0:
            return None
        Li, info = lapack.dtrtri(L, lower=1)
        if info != 0:
            return None
        W = Li.T @ Li
        f = 2.0 * math.fsum(np.log(L.diagonal()).tolist()) + float(np.vdot(self.S, W)) - self._const
        if not math.isfinite(f):
            return None
        return Point(theta, f, B, K, T, W)

    def gradient(self, pt: Point) -> Array:
        if pt.g is not None:
            return pt.g
        lay = self.lay
        p = lay.p
        FZ = np.concatenate((pt.B[:p], pt.T[:p]), axis=1)  # F B [I | K]
        Y = pt.W @ FZ
        PW = FZ.T @ Y
        PG = PW - Y.T @ (self.S @ Y)
        ge = PG.take(lay.grad_at) * lay.grad_w
        if lay.direct:
            g = ge
        else:
            g = np.zeros(lay.q)
            g[lay.active] = ge @ lay.agg
        pt.PW, pt.PG, pt.g = PW, PG, g
        return g

    def hessian_terms(self, pt: Point) -> Array:
        """The nine product terms of the Hessian per entry pair (rows: see Layout); gradient() first."""
        lay = self.lay
        assert pt.PW is not None and pt.PG is not None
        n = lay.n
        M = pt.K.T @ pt.PG[:n, :n]
        buf = np.concatenate((pt.PW, pt.PG, pt.B, M, pt.T, _ZERO), axis=None)
        X = buf.take(lay.hess_at)
        return X[0::2] * X[1::2]

    def exact_packed(self, pt: Point) -> Array:
        """The exact Hessian over entries, packed upper: hessian_packed(hessian_terms(pt)) in one pass."""
        lay = self.lay
        assert pt.PW is not None and pt.PG is not None
        n = lay.n
        M = pt.K.T @ pt.PG[:n, :n]
        X = np.concatenate((pt.PW, pt.PG, pt.B, M, pt.T, _ZERO), axis=None).take(lay.hess_at)
        return np.einsum("tk,tk,tk->k", X[0::2], X[1::2], lay.hess_w)

    def expected_packed(self, pt: Point) -> Array:
        """The expected information E[d2 F_ML] over entries, packed upper (only Z'F'WFZ is gathered)."""
        self.gradient(pt)
        assert pt.PW is not None
        X = pt.PW.take(self.lay.fisher_at)
        return np.einsum("tk,tk,tk->k", X[0::2], X[1::2], self.lay.fisher_w)

    def hessian_packed(self, terms: Array, exact: bool = True) -> Array:
        """Hessian over entries (exact, or the expected information with ``exact=False``), packed upper."""
        lay = self.lay
        if exact:
            return np.einsum("tk,tk->k", terms, lay.hess_w)
        return np.einsum("tk,tk->k", terms[:2], lay.hess_w[:2])

    def information_rcond(self, pt: Point) -> float:
        """Reciprocal condition number (LAPACK's 1-norm estimate) of the expected information at pt; 0 when it
        is not positive definite."""
        H = self.full(self.expected_packed(pt))
        L, info = lapack.dpotrf(H, lower=1)
        if info != 0:
            return 0.0
        rcond, info = lapack.dpocon(L, float(np.abs(H).sum(axis=0).max()), uplo="L")
        return float(rcond) if info == 0 else 0.0

    def score_tests(self, pt: Point, cu: Array, cv: Array) -> tuple[Array, Array, Array, Array]:
        """Score-test pieces for candidate parameters that would move T by z_u z_v' + z_v z_u' (cu, cv: indices
        into Z = [I | K]; a path y <- x is (y, n + x), a covariance a ~~ b is (a, b)): the gradient g_c, the
        expected information's diagonal h_cc, its cross block with the free parameters H_cf, and the free block
        H_ff, all of F_ML (Sorbom 1989; the same closed form as the Hessian)."""
        lay = self.lay
        self.gradient(pt)
        assert pt.PW is not None and pt.PG is not None
        PW = pt.PW
        g = 2.0 * pt.PG[cu, cv]
        wuv = PW[cu, cv]
        hcc = 2.0 * (PW[cu, cu] * PW[cv, cv] + wuv * wuv)
        Wu, Wv = PW[cu], PW[cv]  # (candidates, 2n)
        eu, ev = lay.iu, lay.iv
        Hce = (2.0 * lay.c) * (Wu[:, eu] * Wv[:, ev] + Wu[:, ev] * Wv[:, eu])
        Hcf = Hce if lay.direct else Hce @ lay.agg
        Hff = self.full(self.expected_packed(pt))
        return g, hcc, Hcf, Hff

    def expected_information(self, pt: Point) -> Array:
        """Per-case expected information (1/2 E[d2 F_ML]) over all q parameters at pt (zero rows for parameters
        F_ML does not involve, such as intercepts)."""
        H = 0.5 * self.full(self.expected_packed(pt))
        lay = self.lay
        if lay.direct or len(lay.active) == lay.q:
            return H
        out = np.zeros((lay.q, lay.q))
        out[np.ix_(lay.active, lay.active)] = H
        return out

    def full(self, packed: Array) -> Array:
        """Packed entry Hessian -> full matrix over the active parameters (lay.active)."""
        lay = self.lay
        H = packed.take(lay.unpack)
        if lay.direct:
            return H
        return lay.agg.T @ H @ lay.agg


_ZERO = np.zeros(1)
