"""Modification indices (Sorbom, 1989) with expected parameter change and its standardized version, for
fixed-to-zero loadings, residual covariances and latent regressions, from the expected information (lavaan's
modindices() default, information = "expected").

Complete data: closed form in Sigma. FIML (lavaan's missing = "ml"): the score of the casewise likelihood and
the expected information summed over missing-data patterns (lavaan's structured h1 information), both for
means and covariances. Under MLR, ``mi_scaled`` = mi / chi-square scaling factor, as lavaan's mi.scaled."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .fiml_patterns import delta, evaluate, h1_information, patterns, vech_rows
from .implied import Moments, jacobian, moments
from .matrices import RAM, Array
from .objective import MLProblem
from .partable import Param, ParTable


def candidates(pt: ParTable) -> list[Param]:
    """Fixed-to-zero parameters that could be freed: loadings, residual covariances, latent regressions."""
    return list(_candidates(pt))


@lru_cache(maxsize=64)
def _candidate_positions(pt: ParTable) -> tuple[Array, Array, Array]:
    """For each candidate: the variable that receives the path or covariance, the other end, is-a-path."""
    idx = {v: i for i, v in enumerate((*pt.observed, *pt.latent))}
    cands = _candidates(pt)
    ra = np.array([idx[c.rhs] if c.op == "=~" else idx[c.lhs] for c in cands], dtype=np.intp)
    rb = np.array([idx[c.lhs] if c.op == "=~" else idx[c.rhs] for c in cands], dtype=np.intp)
    is_path = np.array([c.op != "~~" for c in cands], dtype=bool)
    for arr in (ra, rb, is_path):
        arr.flags.writeable = False
    return ra, rb, is_path


@lru_cache(maxsize=64)
def _candidates(pt: ParTable) -> tuple[Param, ...]:
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
    return tuple(out)


def _endpoints(cands: list[Param], ram: RAM, mom: Moments) -> tuple[Array, Array, Array, Array, Array]:
    """dSigma/dtheta_c = a b' + b a' for each candidate: a (C, p), b (C, p); their variable indices and kind."""
    idx = {v: i for i, v in enumerate(ram.names)}
    FB = mom.B[: ram.p, :]  # p x n
    C = mom.B @ mom.S @ FB.T  # n x p
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
    a = FB[:, ra].T
    b = np.where(is_path[:, None], C[rb, :], FB[:, rb].T)
    return a, b, ra, rb, is_path


def _report(cands: list[Param], ram: RAM, mom: Moments, mi: Array, epc: Array, ok: Array,
            scaling: float | None) -> list[dict[str, Any]]:
    idx = {v: i for i, v in enumerate(ram.names)}
    sd = np.sqrt(np.clip(np.diag(mom.total), 1e-300, None))
    res = np.diag(mom.S)
    ia = np.array([idx[c.lhs] for c in cands])
    ib = np.array([idx[c.rhs] for c in cands])
    op = np.array([c.op for c in cands])
    with np.errstate(invalid="ignore", divide="ignore"):
        den = res[ia] * res[ib]
        sepc = np.where(op == "=~", epc * sd[ia] / sd[ib],
                        np.where(op == "~", epc * sd[ib] / sd[ia],
                                 np.where(den > 0, epc / np.sqrt(np.abs(den)), np.nan)))
    order = np.argsort(-np.where(ok, mi, -np.inf), kind="stable")
    out = []
    for k in order:
        if not ok[k]:
            continue
        row = {"lhs": cands[k].lhs, "op": cands[k].op, "rhs": cands[k].rhs, "mi": float(mi[k]),
               "epc": float(epc[k]), "sepc_all": float(sepc[k])}
        if scaling is not None:
            row["mi_scaled"] = float(mi[k] / scaling) if scaling > 0 else float("nan")
        out.append(row)
    return out


def _score_test(g: Array, hcc: Array, Hcf: Array, Hff: Array, n: float, half: bool) -> tuple[Array, Array, Array]:
    """MI and EPC from the candidate gradient g, information diagonal hcc, cross block Hcf and model block Hff
    (``half``: g and H are of F_ML = 2 x the per-case -log L, so MI = N/2 g^2/h)."""
    try:
        Hinv = np.linalg.inv(Hff)
    except np.linalg.LinAlgError:
        Hinv = np.linalg.pinv(Hff)
    h = hcc - np.sum((Hcf @ Hinv) * Hcf, axis=1)
    ok = h > 1e-10 * np.maximum(1.0, np.abs(hcc))
    with np.errstate(invalid="ignore", divide="ignore"):
        mi = (0.5 if half else 1.0) * n * g**2 / h
        epc = -g / h
    return mi, epc, ok


def modification_indices(pt: ParTable, ram: RAM, theta: Array, S: Array, n: int,
                         scaling: float | None = None) -> list[dict[str, Any]]:
    """Score test for each candidate c: MI = N/2 g_c^2 / h_c, EPC = -g_c / h_c, with
    h_c = H_cc - H_cf H_ff^-1 H_fc from the expected information. For a candidate with
    dSigma/dtheta_c = a b' + b a' every term is closed form: g_c = 2 a' G b, H_cf = 2 a' (W J_f W) b,
    H_cc = 2 ((a'Wa)(b'Wb) + (a'Wb)^2), W = Sigma^-1, G = W - W S W."""
    cands = candidates(pt)
    if not cands:
        return []
    prob = MLProblem(ram, S)
    point = prob.point(theta)
    if point is None:
        raise np.linalg.LinAlgError("the implied covariance matrix is not positive definite")
    ra, rb, is_path = _candidate_positions(pt)
    gc, hcc, Hcf, Hff = prob.score_tests(point, ra, np.where(is_path, ram.n + rb, rb))
    mi, epc, ok = _score_test(gc, hcc, Hcf, Hff, n, half=True)
    return _report(cands, ram, moments(ram, theta), mi, epc, ok, scaling)


def modification_indices_fiml(pt: ParTable, ram: RAM, theta: Array, X: Array,
                              scaling: float | None = None) -> list[dict[str, Any]]:
    """FIML score tests: g_c = d(-log L / N)/d theta_c at the estimates, information per case
    Delta' A1 Delta over (mu, vech Sigma) with A1 the expected information summed over missing-data patterns."""
    cands = candidates(pt)
    if not cands:
        return []
    pats = patterns(X)
    n = pats.n_total
    mom = moments(ram, theta)
    ev = evaluate(pats, mom.sigma, mom.mu)
    if ev is None:
        raise ValueError("the implied covariance matrix is not positive definite for some missing-data pattern")
    a, b, ra, rb, is_path = _endpoints(cands, ram, mom)
    Bm = mom.B @ mom.m  # means of all variables
    dmu = np.where(is_path[:, None], a * Bm[rb][:, None], 0.0)  # path i <- j moves mu by FB[:, i] * E[v_j]
    r, c = vech_rows(ram.p)
    Dc = np.concatenate([dmu, a[:, r] * b[:, c] + b[:, r] * a[:, c]], axis=1)
    Df = delta(*jacobian(ram, mom))
    A1 = h1_information(pats, ev.W)
    Hff = Df @ A1 @ Df.T
    DcA = Dc @ A1
    hcc = np.einsum("ci,ci->c", DcA, Dc)
    Hcf = DcA @ Df.T
    gc = (2.0 * np.einsum("ci,ij,cj->c", a, ev.G, b) + dmu @ ev.gmu) / n
    mi, epc, ok = _score_test(gc, hcc, Hcf, Hff, n, half=False)
    return _report(cands, ram, mom, mi, epc, ok, scaling)
