"""estimate(): fit()'s ML estimates without inference; the compiled-model cache behind both."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import ModelIdentificationError, ModelSyntaxError, estimate, fit
from pxm.analytics.sem.compiled import clear_cache, compile_model

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


def _split(key):
    for op in ("=~", "~~", "~"):
        if op in key:
            lhs, rhs = key.split(op)
            return lhs, op, rhs
    raise ValueError(key)


def test_estimates_equal_lavaan_and_fit(hs39):
    clear_cache()
    est = estimate(REF["model"], hs39)
    assert est.converged and est.n_obs == 301 and est.df == 24
    assert est.gradient_max < 1e-8
    for key, ref in REF["estimates"].items():
        assert est.param(*_split(key))["est"] == pytest.approx(ref["est"], abs=1e-6), key
    full = fit(REF["model"], hs39)
    assert est.chisq == pytest.approx(full.fit["chisq"], abs=1e-9)
    assert est.fmin == pytest.approx(REF["fit"]["fmin"], abs=1e-6)
    for row in full.parameters:
        assert est.param(row["lhs"], row["op"], row["rhs"])["est"] == pytest.approx(row["est"], abs=1e-12)
    d = est.to_dict()
    assert d["converged"] is True and len(d["parameters"]) == len(full.parameters)


def test_warm_call_gives_the_same_answer_as_a_cold_one(hs39):
    clear_cache()
    cold = estimate(REF["model"], hs39)
    warm = estimate(REF["model"], hs39)
    np.testing.assert_array_equal(cold.est, warm.est)
    # a new batch of data reuses the compiled model and still gets its own estimates
    other = estimate(REF["model"], hs39.iloc[: 200])
    assert other.n_obs == 200 and not np.allclose(other.est, cold.est)


def test_cache_is_keyed_by_text_and_options_and_read_only():
    clear_cache()
    a = compile_model("f =~ x1 + x2 + x3")
    assert compile_model("f =~ x1 + x2 + x3") is a
    assert compile_model("f =~ x1 + x2 + x3", std_lv=True) is not a
    assert a.pt.rows[0].free == 0 and compile_model("f =~ x1 + x2 + x3", std_lv=True).pt.rows[0].free > 0
    with pytest.raises(ValueError):
        a.ram.A0[0, 0] = 1.0
    clear_cache()
    assert compile_model("f =~ x1 + x2 + x3") is not a


def test_errors_are_not_cached(hs39):
    for _ in range(2):
        with pytest.raises(ModelSyntaxError):
            estimate("f =~ x1 + + x2", hs39)


def test_fixed_x_values_follow_the_sample():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 3))
    df = pd.DataFrame({"x1": X[:, 0], "x2": 0.5 * X[:, 0] + X[:, 1], "y": X[:, 0] - X[:, 2]})
    a = estimate("y ~ x1 + x2", df)
    b = estimate("y ~ x1 + x2", df.iloc[:150])
    for est, part in ((a, df), (b, df.iloc[:150])):
        cov = np.cov(part[["x1", "x2"]].to_numpy().T, bias=True)
        assert est.param("x1", "~~", "x2")["est"] == pytest.approx(cov[0, 1], abs=1e-12)
        beta = np.linalg.lstsq(np.column_stack([np.ones(len(part)), part[["x1", "x2"]]]), part["y"], rcond=None)[0]
        assert est.param("y", "~", "x2")["est"] == pytest.approx(beta[2], abs=1e-8)


def test_covariance_input(hs39):
    names = [f"x{i}" for i in range(1, 10)]
    cov = hs39[names].cov()
    est = estimate(REF["model"], cov=cov, n_obs=len(hs39))
    direct = estimate(REF["model"], hs39)
    np.testing.assert_allclose(est.est, direct.est, atol=1e-8)


def test_rank_deficient_model_is_reported(hs39):
    with pytest.raises(ModelIdentificationError, match="not identified"):
        estimate("f =~ x1 + x2 + x3\ng =~ x4 + x5\nf ~~ 0*g", hs39)
