"""Bad data and non-identified models give clear, typed errors."""

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import DataError, ModelIdentificationError, SEMError, fit

MODEL = "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6"


@pytest.fixture
def df():
    rng = np.random.default_rng(5)
    f = rng.standard_normal((200, 2))
    X = np.repeat(f, 3, axis=1) + rng.standard_normal((200, 6))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(1, 7)])


def test_text_in_numeric_column(df):
    df = df.astype(object)
    df.loc[7, "x3"] = "n/a"
    with pytest.raises(DataError, match=r"column 'x3' contains non-numeric values \(e.g. 'n/a' in row 8\)"):
        fit(MODEL, df)


def test_missing_column(df):
    with pytest.raises(DataError, match="column 'x6' named in the model is missing"):
        fit(MODEL, df.drop(columns="x6"))


def test_constant_column(df):
    df["x2"] = 3.0
    with pytest.raises(DataError, match="column 'x2' is constant"):
        fit(MODEL, df)


def test_fewer_rows_than_variables(df):
    with pytest.raises(DataError, match="fewer rows"):
        fit(MODEL, df.head(4))


def test_singular_covariance(df):
    df["x6"] = df["x4"] + df["x5"]
    with pytest.raises(DataError, match="singular.*x4.*x5.*x6"):
        fit(MODEL, df)


def test_negative_df(df):
    with pytest.raises(ModelIdentificationError, match="df = -1"):
        fit("f =~ x1 + x2", df)


def test_rank_deficient_model(df):
    with pytest.raises(ModelIdentificationError, match="not identified"):
        fit("f =~ x1 + x2 + x3\ng =~ x4 + x5\nf ~~ 0*g", df)


def test_single_indicator(df):
    with pytest.raises(ModelIdentificationError, match="single indicator"):
        fit("f =~ x1 + x2 + x3\ng =~ x4\nf ~ g", df)


def test_bad_options(df):
    with pytest.raises(SEMError, match="estimator"):
        fit(MODEL, df, estimator="WLSMV")
    with pytest.raises(SEMError, match="missing"):
        fit(MODEL, df, missing="pairwise")
    with pytest.raises(SEMError):
        fit(MODEL)


def test_heywood_case_is_a_warning_not_an_exception():
    # b's explained variance would be r_ab * r_bc / r_ac = 1.35 > 1: negative residual variance
    cov = np.array([[1.0, 0.6, 0.4], [0.6, 1.0, 0.9], [0.4, 0.9, 1.0]])
    r = fit("f =~ a + b + c", cov=cov, n_obs=200, sample_names=["a", "b", "c"], cov_rescale=False)
    assert r.converged
    assert any("Heywood" in w and "'b'" in w for w in r.warnings), r.warnings
    assert r.to_dict()["warnings"]


def test_non_convergence_is_reported_as_data(df, monkeypatch):
    import pxm.analytics.sem.api as api
    from pxm.analytics.sem.optimize import OptResult

    def stuck(ram, S, theta0, **kw):
        return OptResult(theta0, 1.0, np.ones(ram.q), 500, False, "iteration limit reached")

    monkeypatch.setattr(api, "fit_ml", stuck)
    r = fit(MODEL, df)
    assert r.converged is False
    assert any("did not converge" in w for w in r.warnings)
    d = r.to_dict()
    assert d["converged"] is False and d["warnings"]
