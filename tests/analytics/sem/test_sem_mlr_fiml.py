"""MLR (sandwich SEs, Yuan-Bentler scaling) and FIML checks."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit
from pxm.analytics.sem.implied import moments
from pxm.analytics.sem.matrices import build_ram
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


def casewise_loglik(ram, theta, X, mean):
    sigma = moments(ram, theta).sigma
    inv = np.linalg.inv(sigma)
    D = X - mean
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + np.linalg.slogdet(sigma)[1] + np.einsum("ni,ij,nj->n", D, inv, D))


def test_mlr_estimates_equal_ml_and_se_is_numeric_sandwich(hs39):
    ml = fit(REF["model"], hs39)
    mlr = fit(REF["model"], hs39, estimator="MLR")
    for a, b in zip(ml.parameters, mlr.parameters, strict=True):
        assert a["est"] == pytest.approx(b["est"], abs=1e-12)
    assert mlr.fit["chisq"] == pytest.approx(REF["fit"]["chisq"], abs=1e-6)
    # direct numeric sandwich from casewise scores
    pt = build_partable(parse(REF["model"]))
    X = hs39[list(pt.observed)].to_numpy(float)
    mean = X.mean(axis=0)
    ram = build_ram(pt)
    theta = np.array([mlr.param(r.lhs, r.op, r.rhs)["est"] for r in pt.free_rows()])
    q, n, h = len(theta), X.shape[0], 1e-5
    scores = np.zeros((n, q))
    for k in range(q):
        e = np.zeros(q)
        e[k] = h
        scores[:, k] = (casewise_loglik(ram, theta + e, X, mean) - casewise_loglik(ram, theta - e, X, mean)) / (2 * h)
    H = np.zeros((q, q))
    h2 = 1e-4
    for k in range(q):
        ek = np.zeros(q)
        ek[k] = h2
        for j in range(k, q):
            ej = np.zeros(q)
            ej[j] = h2

            def ll(t):
                return casewise_loglik(ram, t, X, mean).mean()

            H[k, j] = H[j, k] = (ll(theta + ek + ej) - ll(theta + ek - ej) - ll(theta - ek + ej)
                                 + ll(theta - ek - ej)) / (4 * h2 * h2)
    A = -H
    B = scores.T @ scores / n
    Ainv = np.linalg.inv(A)
    se = np.sqrt(np.diag(Ainv @ B @ Ainv / n))
    ours = np.array([mlr.param(r.lhs, r.op, r.rhs)["se"] for r in pt.free_rows()])
    np.testing.assert_allclose(ours, se, rtol=1e-4)
    # lavaan 0.6 MLR printout for this model: scaled chisq 87.132, scaling factor 0.979
    assert mlr.fit["chisq_scaled"] == pytest.approx(87.132, abs=5e-3)
    assert mlr.fit["chisq_scaling_factor"] == pytest.approx(0.979, abs=5e-4)
    for key in ("cfi_robust", "tli_robust", "rmsea_robust", "cfi_scaled", "tli_scaled", "rmsea_scaled",
                "pvalue_scaled", "df_scaled"):
        assert np.isfinite(mlr.fit[key])


def test_mlr_scaling_factor_near_one_for_normal_data():
    rng = np.random.default_rng(7)
    n = 5000
    f = rng.standard_normal((n, 2)) @ np.linalg.cholesky(np.array([[1, 0.4], [0.4, 1]])).T
    lam = np.array([[1, 0], [0.8, 0], [0.7, 0], [0, 1], [0, 0.9], [0, 0.6]])
    X = f @ lam.T + rng.standard_normal((n, 6)) * 0.6
    df = pd.DataFrame(X, columns=[f"y{i}" for i in range(1, 7)])
    r = fit("a =~ y1 + y2 + y3\nb =~ y4 + y5 + y6", df, estimator="MLR")
    assert r.fit["chisq_scaling_factor"] == pytest.approx(1.0, abs=0.1)
    ml = fit("a =~ y1 + y2 + y3\nb =~ y4 + y5 + y6", df)
    for a, b in zip(ml.parameters, r.parameters, strict=True):
        if a["se"] is not None and np.isfinite(a["se"]):
            assert b["se"] == pytest.approx(a["se"], rel=0.1)


def test_fiml_without_missing_equals_ml(hs39):
    ml = fit(REF["model"], hs39)
    fi = fit(REF["model"], hs39, missing="fiml")
    assert fi.converged
    for a in ml.parameters:
        assert fi.param(a["lhs"], a["op"], a["rhs"])["est"] == pytest.approx(a["est"], abs=1e-6)
    assert fi.fit["logl"] == pytest.approx(ml.fit["logl"], abs=1e-6)
    assert fi.fit["chisq"] == pytest.approx(ml.fit["chisq"], abs=1e-6)
    assert fi.fit["baseline_chisq"] == pytest.approx(ml.fit["baseline_chisq"], abs=1e-6)
    # intercepts are estimated at the sample means
    assert fi.param("x1", "~1", "")["est"] == pytest.approx(hs39["x1"].mean(), abs=1e-6)


def test_fiml_beats_listwise_under_mcar(hs39):
    full = fit(REF["model"], hs39)
    keys = [(p["lhs"], p["op"], p["rhs"]) for p in full.parameters if p["free"]]
    truth = np.array([full.param(*k)["est"] for k in keys])
    rng = np.random.default_rng(99)
    err_fiml, err_lw = [], []
    for _ in range(4):
        dm = hs39.copy()
        cols = [f"x{i}" for i in range(1, 10)]
        mask = rng.random((len(dm), 9)) < 0.12
        dm[cols] = dm[cols].mask(mask)
        fi = fit(REF["model"], dm, missing="fiml")
        lw = fit(REF["model"], dm)
        assert fi.converged and lw.converged
        assert any("removed" in w for w in lw.warnings)
        err_fiml.append(np.mean(np.abs(np.array([fi.param(*k)["est"] for k in keys]) - truth)))
        err_lw.append(np.mean(np.abs(np.array([lw.param(*k)["est"] for k in keys]) - truth)))
    assert np.mean(err_fiml) < np.mean(err_lw)


def test_mlr_with_fiml_equals_mlr_without_missing_and_runs_with_missing(hs39):
    a = fit(REF["model"], hs39, estimator="MLR")
    b = fit(REF["model"], hs39, estimator="MLR", missing="fiml")
    assert b.fit["chisq_scaling_factor"] == pytest.approx(a.fit["chisq_scaling_factor"], abs=1e-6)
    assert b.fit["baseline_chisq_scaling_factor"] == pytest.approx(a.fit["baseline_chisq_scaling_factor"], abs=1e-6)
    # under FIML the robust CFI is lavaan's FIML-corrected one (Zhang & Savalei 2023), which uses the h1-based
    # information instead of the model Hessian and so differs slightly even without missing values
    assert b.fit["cfi_robust"] == pytest.approx(a.fit["cfi_robust"], abs=5e-3)
    assert b.fit["cfi_robust"] != pytest.approx(a.fit["cfi_robust"], abs=1e-6)
    for row in a.parameters:
        if row["free"]:
            assert b.param(row["lhs"], row["op"], row["rhs"])["se"] == pytest.approx(row["se"], abs=1e-6)
    rng = np.random.default_rng(5)
    dm = hs39.copy()
    cols = [f"x{i}" for i in range(1, 10)]
    dm[cols] = dm[cols].mask(rng.random((len(dm), 9)) < 0.1)
    r = fit(REF["model"], dm, estimator="MLR", missing="fiml")
    assert r.converged and np.isfinite(r.fit["chisq_scaled"]) and r.fit["chisq_scaling_factor"] > 0
    ml = fit(REF["model"], dm, missing="fiml")
    assert r.param("visual", "=~", "x2")["est"] == pytest.approx(ml.param("visual", "=~", "x2")["est"], abs=1e-9)
