"""Stage 3: parameter table -> model matrices (RAM form: A paths, S (co)variances, m intercepts).

Variables are ordered observed first, then latent, so the filter matrix F is the first ``p`` rows.
Loadings ``f =~ x`` sit in ``A[x, f]``, regressions ``y ~ x`` in ``A[y, x]``, ``a ~~ b`` in ``S[a, b]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .partable import ParTable

Array = NDArray[Any]


@dataclass(frozen=True)
class RAM:
    p: int  # observed
    n: int  # observed + latent
    q: int  # free parameters
    names: tuple[str, ...]
    A0: Array
    S0: Array
    m0: Array
    a_rc: NDArray[Any]  # (k, 2) positions of free A entries
    a_k: NDArray[Any]  # parameter index (0-based) of each
    s_rc: NDArray[Any]  # (k, 2) positions (r <= c) of free S entries
    s_k: NDArray[Any]
    m_r: NDArray[Any]  # positions of free intercepts
    m_k: NDArray[Any]
    meanstructure: bool

    def fill(self, theta: Array) -> tuple[Array, Array, Array]:
        A = self.A0.copy()
        S = self.S0.copy()
        m = self.m0.copy()
        A[self.a_rc[:, 0], self.a_rc[:, 1]] = theta[self.a_k]
        S[self.s_rc[:, 0], self.s_rc[:, 1]] = theta[self.s_k]
        S[self.s_rc[:, 1], self.s_rc[:, 0]] = theta[self.s_k]
        m[self.m_r] = theta[self.m_k]
        return A, S, m

    @cached_property
    def layout(self) -> Layout:
        return Layout(self)

    @cached_property
    def stacked(self) -> Array:
        """A0 and S0 as one (2, n, n) array (read-only; the optimiser copies it and puts theta in)."""
        out = np.stack([self.A0, self.S0])
        out.flags.writeable = False
        return out

    @cached_property
    def depth(self) -> int:
        """Nilpotency order of A's pattern (free or fixed non-zero paths): (I - A)^-1 = I + A + ... + A^(d-1);
        0 when the paths form a cycle (non-recursive model)."""
        pattern = self.A0 != 0
        pattern[self.a_rc[:, 0], self.a_rc[:, 1]] = True
        return _nilpotency(pattern)

    def b_matrix(self, A: Array) -> Array:
        """(I - A)^-1 (A may carry leading batch axes): a short power series for recursive models, an inverse
        otherwise."""
        d = self.depth
        n = self.n
        if d == 2:
            return np.eye(n) + A
        if d == 1:
            return np.eye(n)
        if d == 3:
            return np.eye(n) + A @ (np.eye(n) + A)
        return np.linalg.inv(np.eye(n) - A)

    def with_exo(self, exo_cov: Array, exo_mean: Array | None, pt: ParTable) -> RAM:
        """The same model with fixed.x values from another sample; the layout is shared, not rebuilt."""
        fresh = build_ram(pt, exo_cov, exo_mean)
        for shared in ("layout", "depth"):
            if shared in self.__dict__:
                fresh.__dict__[shared] = self.__dict__[shared]
        return fresh


def _nilpotency(pattern: NDArray[Any]) -> int:
    """Smallest d with pattern^d = 0 (so (I - A)^-1 = I + A + ... + A^(d-1)), 0 when A has a cycle."""
    P = pattern.astype(float)  # 0/1 entries: float matmul (BLAS) is exact here and much faster than int
    Pk = P
    d = 1
    while Pk.any():
        if d > len(P):
            return 0
        Pk = ((Pk @ P) > 0).astype(float)
        d += 1
    return d


class Layout:
    """Index structure of a RAM model, computed once per model: where theta goes in A and S, and the gather
    indices behind the closed-form ML gradient and Hessian (see objective.MLProblem).

    Every free A or S entry e ("entry", several entries share a parameter under equality labels) moves the total
    covariance T = B S B' by c_e (z_u z_v' + z_v z_u') with z in the 2n columns of Z = [I | S B']: for
    A[i, j], u = i and v = n + j, c = 1; for S[u, v], u and v, c = 1/2 on the diagonal, else 1."""

    def __init__(self, ram: RAM) -> None:
        n, p, q = ram.n, ram.p, ram.q
        self.n, self.p, self.q = n, p, q
        m = 2 * n
        ai, aj = ram.a_rc[:, 0], ram.a_rc[:, 1]
        su, sv = ram.s_rc[:, 0], ram.s_rc[:, 1]
        # theta -> one (2, n, n) buffer holding A then S
        self.put_at = np.concatenate([ai * n + aj, n * n + su * n + sv, n * n + sv * n + su]).astype(np.intp)
        self.put_k = np.concatenate([ram.a_k, ram.s_k, ram.s_k]).astype(np.intp)
        self.depth = ram.depth
        self.eye = np.eye(n)
        na = len(ai)
        self.na = na
        iu = np.concatenate([ai, su]).astype(np.intp)
        iv = np.concatenate([n + aj, sv]).astype(np.intp)
        c = np.concatenate([np.ones(na), np.where(su == sv, 0.5, 1.0)])
        ek = np.concatenate([ram.a_k, ram.s_k]).astype(np.intp)
        ne = len(ek)
        self.ne = ne
        self.iu, self.iv, self.c = iu, iv, c
        self.grad_at = iu * m + iv  # flat index into Z'F' G F Z
        self.grad_w = 2.0 * c
        # free parameters moved by the covariance structure (means are not: F_ML holds them fixed)
        self.active = np.unique(ek)
        self.direct = bool(ne == q and np.array_equal(ek, np.arange(q)))
        if not self.direct:
            agg = np.zeros((ne, len(self.active)))
            agg[np.arange(ne), np.searchsorted(self.active, ek)] = 1.0
            self.agg = agg
        # Hessian over entry pairs r <= s, in LAPACK's packed upper order (column by column)
        s = np.repeat(np.arange(ne), np.arange(1, ne + 1))
        r = np.arange(len(s)) - s * (s + 1) // 2
        unpack = np.empty((ne, ne), dtype=np.intp)
        unpack[r, s] = unpack[s, r] = np.arange(len(r))
        self.unpack = unpack  # packed -> full symmetric, one gather
        # gather buffer: [Z'F'WFZ | Z'F'GFZ | B | M = B S Gn | T = B S B' | 0]
        off_pg, off_b = m * m, 2 * m * m
        off_m, off_t = off_b + n * n, off_b + 2 * n * n
        zero = off_b + 3 * n * n
        self.buffer_size = zero + 1
        ur, us, vr, vs = iu[r], iu[s], iv[r], iv[s]
        idx = np.full((18, len(r)), zero, dtype=np.intp)
        idx[0], idx[1] = ur * m + vs, us * m + vr  # Wuv o Wuv'
        idx[2], idx[3] = ur * m + us, vr * m + vs  # Wuu o Wvv
        idx[4], idx[5] = us * m + vr, off_pg + ur * m + vs  # Wuv' o Guv
        idx[6], idx[7] = ur * m + vs, off_pg + us * m + vr  # Wuv o Guv'
        idx[8], idx[9] = ur * m + us, off_pg + vr * m + vs  # Wuu o Gvv
        idx[10], idx[11] = vr * m + vs, off_pg + ur * m + us  # Wvv o Guu
        cc = c[r] * c[s]
        w = np.zeros((9, len(r)))
        w[0:2] = 2.0 * cc
        w[2:6] = -2.0 * cc
        # second derivatives of T: pairs with an A entry (Gn = F'B' G F B is the top-left n x n of Z'F'GFZ)
        is_a = np.arange(ne) < na
        aa = is_a[r] & is_a[s]
        as_ = is_a[r] != is_a[s]
        pa = np.where(is_a[r], r, s)  # the A entry of the pair
        ps = np.where(is_a[r], s, r)  # the other one
        if na:
            ia, ja = ai[np.minimum(pa, na - 1)], aj[np.minimum(pa, na - 1)]
            k = np.flatnonzero(aa)
            ib, jb = ai[ps[k]], aj[ps[k]]
            i1, j1 = ia[k], ja[k]
            idx[12, k], idx[13, k] = off_b + jb * n + i1, off_m + j1 * n + ib
            idx[14, k], idx[15, k] = off_b + j1 * n + ib, off_m + jb * n + i1
            idx[16, k], idx[17, k] = off_t + j1 * n + jb, off_pg + i1 * m + ib
            w[6:9, k] = 2.0
            k = np.flatnonzero(as_)
            e = ps[k] - na
            u_, v_ = su[e], sv[e]
            i1, j1 = ia[k], ja[k]
            idx[12, k], idx[13, k] = off_b + j1 * n + u_, off_pg + i1 * m + v_
            idx[14, k], idx[15, k] = off_b + j1 * n + v_, off_pg + i1 * m + u_
            w[6:8, k] = 2.0 * c[ps[k]]
        self.hess_at = idx
        self.hess_w = w
        self.fisher_at = np.ascontiguousarray(idx[:4])  # the expected information: two products of Z'F'WFZ
        self.fisher_w = np.ascontiguousarray(w[:2])
        self.off_b = off_b


def position(pt: ParTable, lhs: str, op: str, rhs: str) -> tuple[str, int, int]:
    return _position({v: i for i, v in enumerate((*pt.observed, *pt.latent))}, lhs, op, rhs)


def _position(idx: dict[str, int], lhs: str, op: str, rhs: str) -> tuple[str, int, int]:
    if op == "=~":
        return "A", idx[rhs], idx[lhs]
    if op == "~":
        return "A", idx[lhs], idx[rhs]
    if op == "~~":
        i, j = idx[lhs], idx[rhs]
        return "S", min(i, j), max(i, j)
    return "m", idx[lhs], 0


def build_ram(pt: ParTable, exo_cov: Array | None = None, exo_mean: Array | None = None) -> RAM:
    """Build the RAM matrices; ``exo_cov`` (p x p sample covariance) supplies fixed.x values."""
    names = (*pt.observed, *pt.latent)
    p, n = len(pt.observed), len(names)
    A0 = np.zeros((n, n))
    S0 = np.zeros((n, n))
    m0 = np.zeros(n)
    a_rc, a_k, s_rc, s_k, m_r, m_k = [], [], [], [], [], []
    meanstructure = False
    idx = {v: i for i, v in enumerate(names)}
    for r in pt.rows:
        mat, i, j = _position(idx, r.lhs, r.op, r.rhs)
        value = r.value
        if r.exo:
            if r.op == "~1":
                value = float(exo_mean[i]) if exo_mean is not None else 0.0
            elif exo_cov is not None:
                value = float(exo_cov[i, j])
        if mat == "A":
            if r.free:
                a_rc.append((i, j))
                a_k.append(r.free - 1)
            else:
                A0[i, j] = value
        elif mat == "S":
            if r.free:
                s_rc.append((i, j))
                s_k.append(r.free - 1)
            else:
                S0[i, j] = S0[j, i] = value
        else:
            meanstructure = True
            if r.free:
                m_r.append(i)
                m_k.append(r.free - 1)
            else:
                m0[i] = value

    def arr2(x: list[tuple[int, int]]) -> NDArray[Any]:
        return np.array(x, dtype=int).reshape(-1, 2)

    return RAM(p, n, pt.n_free, names, A0, S0, m0, arr2(a_rc), np.array(a_k, dtype=int), arr2(s_rc),
               np.array(s_k, dtype=int), np.array(m_r, dtype=int), np.array(m_k, dtype=int), meanstructure)
