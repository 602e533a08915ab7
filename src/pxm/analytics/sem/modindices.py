"""Modification indices (Sorbom, 1989) with expected parameter change and its standardized version, for
fixed-to-zero loadings, residual covariances and latent regressions, from the expected information."""

from __future__ import annotations

from typing import Any

import numpy as np

from .implied import jacobian, moments
from .matrices import RAM, Array
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
    """Score test for each candidate c: MI = N/2 g_c^2 / h_c, EPC = -g_c / h_c, with
    h_c = H_cc - H_cf H_ff^-1 H_fc from the expected information. For a candidate with
    dSigma/dtheta_c = a b' + b a' every term is closed form: g_c = 2 a' G b, H_cf = 2 a' (W J_f W) b,
    H_cc = 2 ((a'Wa)(b'Wb) + (a'Wb)^2), W = Sigma^-1, G = W - W S W."""
    cands = candidates(pt)
    if not cands:
        return []
    idx = {v: i for i, v in enumerate(ram.names)}
    mom = moments(ram, theta)
    p = ram.p
    W = np.linalg.inv(mom.sigma)
    FB = mom.B[:p, :]  # p x n
    C = mom.B @ mom.S @ FB.T  # n x p
    J, _ = jacobian(ram, mom)
    q = J.shape[0]
    Gf = np.matmul(W, (J.reshape(q * p, p) @ W).reshape(q, p, p))  # W J_f W
    Hff = Gf.reshape(q, -1) @ J.reshape(q, -1).T
    # end points a (column of FB) and b (row of C for paths, column of FB for covariances)
    ra = np.empty(len(cands), dtype=int)
    rb = np.empty(len(cands), dtype=int)
    is_path = np.empty(len(cands), dtype=bool)
    for k, c in enumerate(cands):
        if c.op == "=~":
            ra[k], rb[k], is_path[k] = idx[c.rhs], idx[c.lhs], True
        elif c.op == "~":
            ra[k], rb[k], is_path[k] = idx[c.lhs], idx[c.rhs], True
        else:
            ra[k], rb[k], is_path[k] = idx[c.lhs], idx[c.rhs], False
    a = FB[:, ra].T  # (c, p)
    b = np.where(is_path[:, None], C[rb, :], FB[:, rb].T)  # (c, p)
    Gm = W - W @ S @ W
    gc = 2.0 * np.einsum("ci,ci->c", a @ Gm, b)
    Wa, Wb = a @ W, b @ W
    aWa = np.einsum("ci,ci->c", Wa, a)
    bWb = np.einsum("ci,ci->c", Wb, b)
    aWb = np.einsum("ci,ci->c", Wa, b)
    hcc = 2.0 * (aWa * bWb + aWb**2)
    T = np.matmul(FB.T, Gf)  # (q, n, p): FB' W J_f W
    MA = np.matmul(T, C.T)  # (q, n, n): a_r' G_f C[c]
    MS = np.matmul(T, FB)  # (q, n, n): a_r' G_f FB[:, c]
    Hcf = 2.0 * np.where(is_path[:, None], MA[:, ra, rb].T, MS[:, ra, rb].T)
    try:
        Hinv = np.linalg.inv(Hff)
    except np.linalg.LinAlgError:
        Hinv = np.linalg.pinv(Hff)
    h = hcc - np.sum((Hcf @ Hinv) * Hcf, axis=1)
    sd = np.sqrt(np.clip(np.diag(mom.total), 1e-300, None))
    res = np.diag(mom.S)
    ia = np.array([idx[c.lhs] for c in cands])
    ib = np.array([idx[c.rhs] for c in cands])
    op = np.array([c.op for c in cands])
    ok = h > 1e-10 * np.maximum(1.0, np.abs(hcc))
    with np.errstate(invalid="ignore", divide="ignore"):
        mi = 0.5 * n * gc**2 / h
        epc = -gc / h
        den = res[ia] * res[ib]
        sepc = np.where(op == "=~", epc * sd[ia] / sd[ib],
                        np.where(op == "~", epc * sd[ib] / sd[ia],
                                 np.where(den > 0, epc / np.sqrt(np.abs(den)), np.nan)))
    order = np.argsort(-np.where(ok, mi, -np.inf), kind="stable")
    return [{"lhs": cands[k].lhs, "op": cands[k].op, "rhs": cands[k].rhs, "mi": float(mi[k]),
             "epc": float(epc[k]), "sepc_all": float(sepc[k])} for k in order if ok[k]]
