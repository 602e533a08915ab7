"""Cross-checks: closed-form OLS path models, population covariance recovery, indirect effects."""

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit


def simulate_regression(n=400, seed=3):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
    x2 = 0.4 * x1 + x2
    y = 0.5 * x1 - 0.3 * x2 + rng.standard_normal(n) * 0.8
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def test_observed_path_model_equals_ols():
    df = simulate_regression()
    r = fit("y ~ x1 + x2", df)
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    beta, *_ = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)
    resid = df["y"].to_numpy() - X @ beta
    assert r.param("y", "~", "x1")["est"] == pytest.approx(beta[1], abs=1e-8)
    assert r.param("y", "~", "x2")["est"] == pytest.approx(beta[2], abs=1e-8)
    assert r.param("y", "~~", "y")["est"] == pytest.approx(np.sum(resid**2) / len(df), abs=1e-8)
    assert r.fit["chisq"] == pytest.approx(0.0, abs=1e-8)
    assert r.fit["df"] == 0 and r.fit["npar"] == 3  # fixed.x: x variances not counted
    # fixed.x: exogenous covariance fixed at the sample value, reported without SE
    cov = np.cov(df[["x1", "x2"]].to_numpy().T, bias=True)
    row = r.param("x1", "~~", "x2")
    assert row["est"] == pytest.approx(cov[0, 1], abs=1e-12) and row["se"] is None or np.isnan(row["se"])
    # R2 equals the OLS R2
    r2 = 1 - np.sum(resid**2) / np.sum((df["y"] - df["y"].mean()) ** 2)
    assert r.r2["y"] == pytest.approx(r2, abs=1e-8)


def population():
    """Two correlated exogenous factors -> one endogenous factor, 3 indicators each, one residual covariance."""
    lam = np.zeros((9, 3))
    lam[0:3, 0] = [1.0, 0.8, 1.2]
    lam[3:6, 1] = [1.0, 0.9, 0.7]
    lam[6:9, 2] = [1.0, 1.1, 0.6]
    B = np.zeros((3, 3))
    B[2, 0], B[2, 1] = 0.4, -0.3
    psi = np.array([[1.0, 0.3, 0.0], [0.3, 0.8, 0.0], [0.0, 0.0, 0.5]])
    theta = np.diag([0.5, 0.6, 0.4, 0.5, 0.45, 0.6, 0.55, 0.5, 0.7])
    theta[1, 4] = theta[4, 1] = 0.15
    IB = np.linalg.inv(np.eye(3) - B)
    sigma = lam @ IB @ psi @ IB.T @ lam.T + theta
    return sigma, {"eta~xi1": 0.4, "eta~xi2": -0.3, "xi1~~xi2": 0.3, "x2~~x5": 0.15, "xi1=~x2": 0.8,
                   "eta=~x8": 1.1, "eta~~eta": 0.5, "x9~~x9": 0.7}


MODEL = """
xi1 =~ x1 + x2 + x3
xi2 =~ x4 + x5 + x6
eta =~ x7 + x8 + x9
eta ~ xi1 + xi2
x2 ~~ x5
"""


def test_population_covariance_returns_population_parameters():
    sigma, truth = population()
    names = [f"x{i}" for i in range(1, 10)]
    r = fit(MODEL, cov=sigma, n_obs=500, sample_names=names, cov_rescale=False)
    assert r.converged
    assert r.fit["chisq"] == pytest.approx(0.0, abs=1e-8)
    rows = {f"{p['lhs']}{p['op']}{p['rhs']}": p for p in r.parameters}
    for key, value in truth.items():
        assert rows[key]["est"] == pytest.approx(value, abs=1e-6), key


def test_simulated_data_recovers_population_within_sampling_error():
    sigma, truth = population()
    rng = np.random.default_rng(2024)
    X = rng.multivariate_normal(np.zeros(9), sigma, size=1500)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(1, 10)])
    r = fit(MODEL, df)
    rows = {f"{p['lhs']}{p['op']}{p['rhs']}": p for p in r.parameters}
    for key, value in truth.items():
        assert abs(rows[key]["est"] - value) < 4 * rows[key]["se"], key
    assert r.fit["pvalue"] > 0.001


def test_cov_input_as_dataframe_rescales_like_lavaan():
    sigma, _ = population()
    names = [f"x{i}" for i in range(1, 10)]
    r = fit(MODEL, cov=pd.DataFrame(sigma, index=names, columns=names), n_obs=101)
    assert r.param("xi1", "=~", "x2")["est"] == pytest.approx(0.8, abs=1e-6)
    assert r.param("x9", "~~", "x9")["est"] == pytest.approx(0.7 * 100 / 101, abs=1e-6)


def test_defined_indirect_effect_delta_method():
    rng = np.random.default_rng(11)
    n = 500
    x = rng.standard_normal(n)
    m = 0.5 * x + rng.standard_normal(n)
    y = 0.4 * m + 0.2 * x + rng.standard_normal(n)
    df = pd.DataFrame({"x": x, "m": m, "y": y})
    r = fit("m ~ a*x\ny ~ b*m + c*x\nab := a*b\ntotal := c + a*b", df)
    a, b = r.param("m", "~", "x")["est"], r.param("y", "~", "m")["est"]
    names = r.extras["vcov"]["names"]
    V = np.array(r.extras["vcov"]["matrix"])
    ia, ib = names.index("m~x"), names.index("y~m")
    se = np.sqrt(b**2 * V[ia, ia] + a**2 * V[ib, ib] + 2 * a * b * V[ia, ib])
    assert r.defined["ab"]["est"] == pytest.approx(a * b, abs=1e-12)
    assert r.defined["ab"]["se"] == pytest.approx(se, rel=1e-6)
    assert r.defined["total"]["est"] == pytest.approx(r.param("y", "~", "x")["est"] + a * b, abs=1e-12)
    row = r.param("ab", ":=", "a*b")
    assert row["est"] == pytest.approx(a * b)


def test_semopy_agrees_loosely_on_hs39():
    semopy = pytest.importorskip("semopy")
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "data"
    df = pd.read_csv(data / "holzinger39.csv")
    ref = json.loads((data / "lavaan-hs39.json").read_text())
    ours = fit(ref["model"], df)
    m = semopy.Model(ref["model"])
    m.fit(df)
    ins = m.inspect()
    for _, row in ins.iterrows():
        if row["op"] == "~" and row["rval"] != row["lval"]:
            # semopy writes loadings as indicator ~ factor
            mine = ours.param(row["rval"], "=~", row["lval"])["est"]
            assert mine == pytest.approx(float(row["Estimate"]), abs=1e-2)
