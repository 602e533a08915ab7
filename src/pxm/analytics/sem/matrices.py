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


def start_values(pt: ParTable, ram: RAM, S: Array, std_lv: bool) -> Array:
    """Starting values: per factor, loadings from the leading eigenvector of its indicators' covariance."""
    return StartPlan(pt, ram, std_lv)(S)


def _ints(x: list[int]) -> NDArray[Any]:
    return np.array(x, dtype=np.intp)


class StartPlan:
    """start_values with the model's bookkeeping done once: one batched eigh over all factors per sample.

    Per factor, loadings come from the leading eigenvector of its indicators' covariance, scaled so that the
    marker loading takes its fixed value (or, without a marker, the factor variance is 1); residual variances
    are what the factors leave of each variance, clipped to [0.1, 0.9] of it; everything else starts at its
    written value or 0 (latent variances without indicators at 0.05)."""

    def __init__(self, pt: ParTable, ram: RAM, std_lv: bool) -> None:
        idx = {v: i for i, v in enumerate(ram.names)}
        p, q = ram.p, ram.q
        self.p, self.q = p, q
        factors = list(pt.latent)
        fpos = {f: k for k, f in enumerate(factors)}
        members: list[list[int]] = []
        rows_of: list[list[Any]] = []
        for f in factors:
            rows = [r for r in pt.rows if r.op == "=~" and r.lhs == f and r.rhs in idx and idx[r.rhs] < p]
            rows_of.append(rows)
            members.append([idx[r.rhs] for r in rows])
        kmax = max((len(m) for m in members), default=0)
        self.has = np.array([len(m) > 0 for m in members], dtype=bool)
        self.small = [k for k, m in enumerate(members) if 0 < len(m) <= 2]
        block = np.full((len(factors), max(kmax, 1)), p, dtype=np.intp)  # p = the zero padding row
        for k, m in enumerate(members):
            block[k, : len(m)] = m
        self.block = block
        self.members = members
        # scale: marker loading (fixed, non-zero) when its eigenvector entry is usable, else 1 or the first entry
        self.marker = np.array([next((j for j, r in enumerate(rows) if not r.free and r.value != 0), -1)
                                for rows in rows_of], dtype=np.intp)
        self.marker_value = np.array([rows[m].value if m >= 0 else 1.0 for rows, m in zip(rows_of, self.marker,
                                                                                         strict=True)])
        self.unit = std_lv
        # loading matrix entries (every loading row on an observed indicator) for the explained variances
        self.lam_i = np.array([idx[r.rhs] for rows in rows_of for r in rows], dtype=np.intp)
        self.lam_f = np.array([k for k, rows in enumerate(rows_of) for _ in rows], dtype=np.intp)
        self.lam_j = np.array([j for rows in rows_of for j in range(len(rows))], dtype=np.intp)
        base = np.zeros(q)
        load_k: list[int] = []
        load_f: list[int] = []
        load_j: list[int] = []
        res_k: list[int] = []
        res_i: list[int] = []
        lv_k: list[int] = []
        lv_f: list[int] = []
        seen: set[int] = set()
        where = {(f, r.rhs): j for f, rows in zip(factors, rows_of, strict=True) for j, r in enumerate(rows)}
        for r in pt.rows:
            if not r.free or (r.free - 1) in seen:
                continue
            k = r.free - 1
            seen.add(k)
            if r.op == "=~":
                j = where.get((r.lhs, r.rhs))
                if j is None:
                    base[k] = 1.0
                else:
                    load_k.append(k)
                    load_f.append(fpos[r.lhs])
                    load_j.append(j)
            elif r.op == "~~" and r.lhs == r.rhs:
                i = idx[r.lhs]
                if i < p:
                    res_k.append(k)
                    res_i.append(i)
                elif r.lhs in fpos:
                    lv_k.append(k)
                    lv_f.append(fpos[r.lhs])
                else:
                    base[k] = 0.05
            elif r.op == "~1":
                base[k] = r.value
            else:
                base[k] = r.value if r.value else 0.0
        self.base = base
        self.load_k, self.load_f, self.load_j = _ints(load_k), _ints(load_f), _ints(load_j)
        self.res_k, self.res_i = _ints(res_k), _ints(res_i)
        self.lv_k, self.lv_f = _ints(lv_k), _ints(lv_f)
        # flat gather indices for the per-sample work
        nf, kmax = block.shape
        self.padded = bool((block == p).any())
        width = p + 1 if self.padded else p
        self.sub_at = block[:, :, None] * width + block[:, None, :]
        self.marker_at = np.arange(nf, dtype=np.intp) * kmax + np.maximum(self.marker, 0)
        self.has_marker = (self.marker >= 0) & self.has
        self.load_at = self.load_f * kmax + self.load_j
        self.lam_at = self.lam_f * kmax + self.lam_j

    def __call__(self, S: Array) -> Array:
        theta = self.base.copy()
        p = self.p
        nf, kmax = self.block.shape
        lv_var = np.full(nf, 0.05)
        vec = np.zeros(nf * kmax)
        if nf:
            if self.padded:
                Sx = np.zeros((p + 1, p + 1))
                Sx[:p, :p] = S
                sub = Sx.take(self.sub_at)
            else:
                sub = S.take(self.sub_at)
            w, v = np.linalg.eigh(sub)
            vec2 = v[:, :, -1] * np.sqrt(np.maximum(w[:, -1], 1e-8))[:, None]
            for k in self.small:
                m = self.members[k]
                blk = S[np.ix_(m, m)]
                vec2[k, :] = 0.0
                vec2[k, : len(m)] = np.sqrt(np.clip(np.diag(blk), 1e-8, None)) * 0.7
                if len(m) == 2 and blk[0, 1] < 0:
                    vec2[k, 1] = -vec2[k, 1]
            at_marker = vec2.take(self.marker_at)
            use_marker = self.has_marker & (np.abs(at_marker) > 1e-8)
            if use_marker.all():  # the usual case: every factor has a usable marker indicator
                scale = at_marker / self.marker_value
                lv_var = scale * scale
            else:
                mk = self.marker
                fallback = np.where(self.unit | (mk < 0), 1.0, vec2[:, 0])
                fallback = np.where(vec2.sum(axis=1) < 0, -np.abs(fallback), fallback)
                scale = np.where(use_marker, at_marker / np.where(use_marker, self.marker_value, 1.0), fallback)
                scale = np.where(self.has, scale, 1.0)
                lv_var = np.where(self.has, scale**2, 0.05)
            vec = (vec2 / scale[:, None]).ravel()
        theta[self.load_k] = vec.take(self.load_at)
        theta[self.lv_k] = lv_var.take(self.lv_f)
        if len(self.res_k):
            lam = vec.take(self.lam_at)
            expl = np.bincount(self.lam_i, lam * lam * lv_var.take(self.lam_f), minlength=p)
            si = S.diagonal().take(self.res_i)
            e = expl.take(self.res_i)
            theta[self.res_k] = np.where(e > 0, np.clip(si - e, 0.1 * si, 0.9 * si), 0.5 * si)
        return theta
