"""Simulated survey data with known population values (helpers shared by the study tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pxm.analytics.study.instruments import construct_items, load_instrument

# population (standardized): loadings per construct, practice correlations, paths to BP
LOADINGS = {"PPE": [0.80, 0.75, 0.85, 0.77], "CFM": [0.78, 0.82, 0.74, 0.80], "CSP": [0.76, 0.80, 0.77, 0.83],
            "PLP": [0.85, 0.79, 0.74, 0.81], "FCR": [0.76, 0.84, 0.79, 0.75], "BP": [0.82, 0.78, 0.86, 0.75, 0.80]}
PRACTICE_CORR = 0.35
BETAS = {"PPE": 0.30, "CFM": 0.20, "CSP": 0.05, "PLP": 0.25, "FCR": 0.15}


def population() -> tuple[np.ndarray, np.ndarray, float]:
    """(Phi of all six latents, Lambda, R2 of BP)."""
    k = 5
    rxx = np.full((k, k), PRACTICE_CORR)
    np.fill_diagonal(rxx, 1.0)
    b = np.array(list(BETAS.values()))
    r2 = float(b @ rxx @ b)
    phi = np.eye(6)
    phi[:k, :k] = rxx
    phi[:k, k] = phi[k, :k] = rxx @ b
    inst = load_instrument()
    groups = construct_items(inst)
    items = [i for g in groups.values() for i in g]
    lam = np.zeros((len(items), 6))
    row = 0
    for j, c in enumerate(groups):
        for v in LOADINGS[c]:
            lam[row, j] = v
            row += 1
    return phi, lam, r2


def simulate(n: int, seed: int, likert: bool = False) -> pd.DataFrame:
    phi, lam, _ = population()
    sigma = lam @ phi @ lam.T
    np.fill_diagonal(sigma, 1.0)
    inst = load_instrument()
    items = [i for g in construct_items(inst).values() for i in g]
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(np.zeros(len(items)), sigma, size=n)
    if likert:
        x = np.digitize(x, [-1.5, -0.5, 0.5, 1.5]) + 1
    return pd.DataFrame(x, columns=items)


