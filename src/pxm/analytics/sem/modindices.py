"""Modification indices (Sorbom, 1989) with expected parameter change and its standardized version, for
fixed-to-zero loadings, residual covariances and latent regressions, from the expected information."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .implied import jacobian, moments
from .matrices import RAM, Array, build_ram
from .objective import ml_gradient_from, whitened
from .partable import Param, ParTable


def candidates(pt: ParTable) -> list[Param]:
    have = {(r.lhs, r.op, r.rhs) for r in pt.rows}
    have |= {(r.rhs, r.op, r.lhs) for r in pt.rows if r.op == "~~"}
    indicators = [v for v in pt.observed if any(r.op == "=~" and r.rhs == v for r in pt.rows)]
    out: list[Param] = []
    for f in pt.latent:
        for x in indicators:
            if (f, "=~", x) not in have:
                out.append(Param(f, "=~", x, user=False, free=1))
    free_obs = [v for v in pt.observed if v not in pt.fixed_x]
    for i, a in enumerate(free_obs):
        for b in free_obs[i + 1:]:
            if (a, "~~", b) not in have:
                out.append(Param(a, "~~", b, user=False, free=1))
    for a in pt.latent:
        for b in pt.latent:
            if a != b and (a, "~", b) not in have and (b, "~", a) not in have and (b, "=~", a) not in have \
                    and (a, "=~", b) not in have:
                out.append(Param(a, "~", b, user=False, free=1))
    return out


def modification_indices(pt: ParTable, ram: RAM, theta: Array, S: Array, n: int) -> list[dict[str, Any]]:
    cands = candidates(pt)
    if not cands:
        return []
    q = ram.q
    ext_rows = [*pt.rows, *(Param(c.lhs, c.op, c.rhs, "", q + 1 + k, 0.0, False) for k, c in enumerate(cands))]
    ext = build_ram(replace(pt, rows=tuple(ext_rows)), exo_cov=S)
    th = np.concatenate([theta, np.zeros(len(cands))])
    mom = moments(ext, th)
    J, _ = jacobian(ext, mom)
    K = whitened(J, mom.sigma)
    Kf, Kc = K[:q], K[q:]
    Hff = Kf @ Kf.T
    Hcf = Kc @ Kf.T
    hcc = np.einsum("ij,ij->i", Kc, Kc)
    g = ml_gradient_from(ext, mom, S)
    try:
        Hinv = np.linalg.inv(Hff)
    except np.linalg.LinAlgError:
        Hinv = np.linalg.pinv(Hff)
    h = hcc - np.sum((Hcf @ Hinv) * Hcf, axis=1)
    gc = g[q:]
    sd = np.sqrt(np.clip(np.diag(mom.total), 1e-300, None))
    res = np.diag(mom.S)
    idx = {v: i for i, v in enumerate(ram.names)}
    a = np.array([idx[c.lhs] for c in cands])
    b = np.array([idx[c.rhs] for c in cands])
    op = np.array([c.op for c in cands])
    ok = h > 1e-10 * np.maximum(1.0, np.abs(hcc))
    with np.errstate(invalid="ignore", divide="ignore"):
        mi = 0.5 * n * gc**2 / h
        epc = -gc / h
        den = res[a] * res[b]
        sepc = np.where(op == "=~", epc * sd[a] / sd[b],
                        np.where(op == "~", epc * sd[b] / sd[a],
                                 np.where(den > 0, epc / np.sqrt(np.abs(den)), np.nan)))
    order = np.argsort(-np.where(ok, mi, -np.inf), kind="stable")
    return [{"lhs": cands[k].lhs, "op": cands[k].op, "rhs": cands[k].rhs, "mi": float(mi[k]),
             "epc": float(epc[k]), "sepc_all": float(sepc[k])} for k in order if ok[k]]
