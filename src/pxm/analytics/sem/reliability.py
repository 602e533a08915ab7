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
    lat_index = [pt.latent.index(f) for f in names]
    m = len(names)
    # all factor pairs at once from block sums: M (indicators x factors) marks membership
    M = np.zeros((R.shape[0], m))
    for a, f in enumerate(names):
        M[sets[f], a] = 1.0
    k = M.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        block_mean = (M.T @ R @ M) / np.outer(k, k)  # hetero-trait means; the diagonal is replaced below
        logR = np.log(np.where(R > 0, R, 1.0))
        block_geo = np.exp((M.T @ logR @ M) / np.outer(k, k))
        bad = (M.T @ (R <= 0).astype(float) @ M) > 0  # a non-positive correlation: geometric mean undefined
        dsum = M.T @ np.diag(R)
        pairs = k * (k - 1)
        mono = np.where(k >= 2, (np.diag(M.T @ R @ M) - dsum) / pairs, np.nan)
        mono_geo = np.where((k >= 2) & ~np.diag(bad), np.exp((np.diag(M.T @ logR @ M) - M.T @ np.diag(logR)) / pairs),
                            np.nan)
        ht = block_mean / np.sqrt(np.outer(mono, mono))
        ht = np.where((mono[:, None] > 0) & (mono[None, :] > 0), ht, np.nan)
        ht2 = block_geo / np.sqrt(np.outer(mono_geo, mono_geo))
        ht2 = np.where(bad | ~np.isfinite(ht2), np.nan, ht2)
    fl = latent_corr[np.ix_(lat_index, lat_index)].astype(float) if m else np.zeros((0, 0))
    for a, fa in enumerate(names):
        fl[a, a] = factors[fa]["sqrt_ave"]
        ht[a, a] = ht2[a, a] = 1.0
    return {
        "factors": factors,
        "fornell_larcker": {"names": names, "matrix": fl.tolist(),
                            "note": "diagonal: sqrt(AVE); off-diagonal: model-implied latent correlations"},
        "htmt": {"names": names, "matrix": ht.tolist(), "method": "HTMT (Henseler et al. 2015), arithmetic means"},
        "htmt2": {"names": names, "matrix": ht2.tolist(),
                  "method": "HTMT2 (Roemer et al. 2021), geometric means; undefined with non-positive correlations"},
    }
