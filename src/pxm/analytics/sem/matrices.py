"""Stage 3: parameter table -> model matrices (RAM form: A paths, S (co)variances, m intercepts).

Variables are ordered observed first, then latent, so the filter matrix F is the first ``p`` rows.
Loadings ``f =~ x`` sit in ``A[x, f]``, regressions ``y ~ x`` in ``A[y, x]``, ``a ~~ b`` in ``S[a, b]``.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    theta = np.zeros(ram.q)
    set_: set[int] = set()
    idx = {v: i for i, v in enumerate(ram.names)}
    lv_var: dict[str, float] = {}
    load: dict[tuple[str, str], float] = {}
    for f in pt.latent:
        rows = [r for r in pt.rows if r.op == "=~" and r.lhs == f and r.rhs in idx and idx[r.rhs] < ram.p]
        if not rows:
            lv_var[f] = 0.05
            continue
        ii = [idx[r.rhs] for r in rows]
        sub = S[np.ix_(ii, ii)]
        w, v = np.linalg.eigh(sub)
        vec = v[:, -1] * np.sqrt(max(w[-1], 1e-8))
        if len(ii) <= 2:
            vec = np.sqrt(np.clip(np.diag(sub), 1e-8, None)) * 0.7
            if len(ii) == 2 and sub[0, 1] < 0:
                vec[1] = -vec[1]
        marker = next((k for k, r in enumerate(rows) if not r.free and r.value != 0), None)
        if marker is not None and abs(vec[marker]) > 1e-8:
            scale = vec[marker] / rows[marker].value
        else:
            scale = 1.0 if (std_lv or marker is None) else vec[0]
            if vec.sum() < 0:
                scale = -abs(scale)
        lv_var[f] = float(scale**2)
        for k, r in enumerate(rows):
            load[(f, r.rhs)] = float(vec[k] / scale)
    for r in pt.rows:
        if not r.free or (r.free - 1) in set_:
            continue
        k = r.free - 1
        if r.op == "=~":
            val = load.get((r.lhs, r.rhs), 1.0)
        elif r.op == "~~" and r.lhs == r.rhs:
            i = idx[r.lhs]
            if i < ram.p:
                expl = sum(load.get((f, r.lhs), 0.0) ** 2 * lv_var.get(f, 1.0) for f in pt.latent)
                si = S[i, i]
                val = float(np.clip(si - expl, 0.1 * si, 0.9 * si)) if expl > 0 else 0.5 * si
            else:
                val = lv_var.get(r.lhs, 0.05)
        elif r.op == "~1":
            val = r.value
        else:
            val = r.value if r.value else 0.0
        theta[k] = val
        set_.add(k)
    return theta
