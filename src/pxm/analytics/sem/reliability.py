"""Reliability and validity per factor: Cronbach's alpha (1951), composite reliability / omega (Raykov 1997;
with residual covariances among the factor's indicators), AVE and the Fornell-Larcker (1981) table, HTMT
(Henseler, Ringle & Sarstedt 2015) and HTMT2 (Roemer, Schuberth & Henseler 2021, geometric means)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .matrices import RAM, Array
from .partable import ParTable


def _alpha(C: Array) -> float:
    k = C.shape[0]
    if k < 2:
        return float("nan")
    return float(k / (k - 1) * (1.0 - np.trace(C) / C.sum()))


def _mean_offdiag(R: Array) -> float:
    k = R.shape[0]
    if k < 2:
        return float("nan")
    return float((R.sum() - np.trace(R)) / (k * (k - 1)))


def _geo(x: Array) -> float:
    if x.size == 0 or np.any(x <= 0):
        return float("nan")
    return float(np.exp(np.log(x).mean()))


def reliability(pt: ParTable, ram: RAM, total: Array, S_res: Array, S_sample: Array,
                std_all: dict[tuple[str, str, str], float], latent_corr: Array) -> dict[str, Any]:
    idx = {v: i for i, v in enumerate(ram.names)}
    obs = set(pt.observed)
    sd = np.sqrt(np.clip(np.diag(total), 1e-300, None))
    d = np.sqrt(np.diag(S_sample))
    R = S_sample / np.outer(d, d)
    factors: dict[str, Any] = {}
    sets: dict[str, list[int]] = {}
    for f in pt.latent:
        inds = [r.rhs for r in pt.rows if r.op == "=~" and r.lhs == f and r.rhs in obs]
        if not inds:
            continue
        ii = [idx[x] for x in inds]
        sets[f] = ii
        lam = np.array([std_all.get((f, "=~", x), np.nan) for x in inds])
        theta = np.array([S_res[i, i] / total[i, i] for i in ii])
        cov_sum = 0.0
        for a in range(len(ii)):
            for b in range(a + 1, len(ii)):
                cov_sum += S_res[ii[a], ii[b]] / (sd[ii[a]] * sd[ii[b]])
        num = lam.sum() ** 2
        omega = float(num / (num + theta.sum() + 2 * cov_sum))
        ave = float(np.mean(lam**2))
        factors[f] = {"indicators": inds, "std_loadings": dict(zip(inds, lam.tolist(), strict=True)),
                      "alpha": _alpha(S_sample[np.ix_(ii, ii)]), "omega": omega, "composite_reliability": omega,
                      "ave": ave, "sqrt_ave": math.sqrt(ave) if ave >= 0 else float("nan")}
    names = list(factors)
    lat_index = {f: k for k, f in enumerate(pt.latent)}
    m = len(names)
    fl = np.full((m, m), np.nan)
    ht = np.full((m, m), np.nan)
    ht2 = np.full((m, m), np.nan)
    mono: dict[str, float] = {}
    mono_geo: dict[str, float] = {}
    for f in names:
        Rf = R[np.ix_(sets[f], sets[f])]
        mono[f] = _mean_offdiag(Rf)
        r_, c_ = np.triu_indices(len(sets[f]), 1)
        mono_geo[f] = _geo(Rf[r_, c_])
    for a, fa in enumerate(names):
        fl[a, a] = factors[fa]["sqrt_ave"]
        ht[a, a] = ht2[a, a] = 1.0
        for b in range(a + 1, m):
            fb = names[b]
            fl[a, b] = fl[b, a] = latent_corr[lat_index[fa], lat_index[fb]]
            hetero = R[np.ix_(sets[fa], sets[fb])].ravel()
            ma, mb = mono[fa], mono[fb]
            if ma > 0 and mb > 0:
                ht[a, b] = ht[b, a] = hetero.mean() / math.sqrt(ma * mb)
            ga, gb, gh = mono_geo[fa], mono_geo[fb], _geo(hetero)
            if np.isfinite(ga) and np.isfinite(gb) and np.isfinite(gh):
                ht2[a, b] = ht2[b, a] = gh / math.sqrt(ga * gb)
    return {
        "factors": factors,
        "fornell_larcker": {"names": names, "matrix": fl.tolist(),
                            "note": "diagonal: sqrt(AVE); off-diagonal: model-implied latent correlations"},
        "htmt": {"names": names, "matrix": ht.tolist(), "method": "HTMT (Henseler et al. 2015), arithmetic means"},
        "htmt2": {"names": names, "matrix": ht2.tolist(),
                  "method": "HTMT2 (Roemer et al. 2021), geometric means; undefined with non-positive correlations"},
    }
