"""A model with no free parameters is evaluated at its fixed values: chisq, df and the fit measures of that
model, no optimisation and no identification error."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import estimate, fit

DATA = Path(__file__).resolve().parents[2] / "data" / "holzinger39.csv"
MODEL = """visual =~ 1*x1 + 0.5*x2 + 0.7*x3
visual ~~ 0.8*visual
x1 ~~ 0.5*x1
x2 ~~ 1*x2
x3 ~~ 0.9*x3"""


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(DATA)


def _chisq_by_hand(df: pd.DataFrame) -> float:
    X = df[["x1", "x2", "x3"]].to_numpy(dtype=float)
    n = len(X)
    S = np.cov(X, rowvar=False, bias=True)
    lam = np.array([1.0, 0.5, 0.7])
    sigma = 0.8 * np.outer(lam, lam) + np.diag([0.5, 1.0, 0.9])
    f = (np.linalg.slogdet(sigma)[1] + np.trace(S @ np.linalg.inv(sigma)) - np.linalg.slogdet(S)[1] - 3)
    return float(n * f)


def test_fixed_model_fit_reports_the_fixed_models_chisq(hs: pd.DataFrame) -> None:
    r = fit(MODEL, hs)
    assert r.converged
    assert r.fit["npar"] == 0
    assert r.fit["df"] == 6
    assert r.fit["chisq"] == pytest.approx(_chisq_by_hand(hs), rel=1e-10)
    assert 0 < r.fit["pvalue"] < 1
    assert np.isfinite(r.fit["rmsea"]) and np.isfinite(r.fit["cfi"]) and np.isfinite(r.fit["srmr"])
    row = r.param("visual", "=~", "x2")
    assert row["est"] == 0.5 and row["free"] == 0 and np.isnan(row["se"])
    assert row["std_all"] == pytest.approx(0.5 * np.sqrt(0.8) / np.sqrt(0.25 * 0.8 + 1.0))
    assert r.to_dict()["fit"]["df"] == 6


def test_fixed_model_estimate_returns_the_fixed_values(hs: pd.DataFrame) -> None:
    e = estimate(MODEL, hs)
    assert e.converged and e.iterations == 0 and e.df == 6
    assert e.chisq == pytest.approx(_chisq_by_hand(hs), rel=1e-10)
    assert [r["est"] for r in e.parameters] == [1.0, 0.5, 0.7, 0.8, 0.5, 1.0, 0.9]


def test_fixed_model_with_robust_estimator_and_bootstrap(hs: pd.DataFrame) -> None:
    r = fit(MODEL, hs, estimator="MLR")
    assert r.fit["chisq"] == pytest.approx(_chisq_by_hand(hs), rel=1e-10)
    assert np.isfinite(r.fit["chisq_scaled"])
    b = fit(MODEL, hs, bootstrap=5, seed=1)
    assert b.bootstrap is not None and b.bootstrap["draws"] == 5
