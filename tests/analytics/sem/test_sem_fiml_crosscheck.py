"""FIML cross-checks: against semopy's FIML objective on Holzinger-Swineford with values deleted at random
(fixed seed), and the invariant that FIML on complete data is ML with a mean structure.

semopy's ``Model`` has no mean structure, so its FIML fixes the means at zero: we give it the data centred at
PXM's FIML intercepts. It then maximises the same likelihood over the covariance-structure parameters, so
its estimates and its objective (-2 log L without the 2*pi constant) must agree with PXM's. The semopy values
are stored in tests/data/semopy-hs39-fiml.json (written by ``semopy_reference`` below, semopy 2.3.11) and
recomputed live.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit

DATA = Path(__file__).resolve().parents[2] / "data"
HS_REF = json.loads((DATA / "lavaan-hs39.json").read_text())
STORED = json.loads((DATA / "semopy-hs39-fiml.json").read_text())
COLS = [f"x{i}" for i in range(1, 10)]


def masked_hs39(seed=2024, rate=0.15):
    hs = pd.read_csv(DATA / "holzinger39.csv")
    X = hs[COLS].copy()
    X = X.mask(np.random.default_rng(seed).random(X.shape) < rate)
    return X[~X.isna().all(axis=1)]


def semopy_reference(data, intercepts):
    import semopy

    m = semopy.Model(HS_REF["model"])
    res = m.fit(data - intercepts, obj="FIML")
    est = {}
    for _, row in m.inspect().iterrows():
        key = f"{row['rval']}=~{row['lval']}" if row["op"] == "~" else f"{row['lval']}~~{row['rval']}"
        est[key] = float(row["Estimate"])
    return {"objective": float(res.fun), "estimates": est, "semopy": semopy.__version__}


@pytest.fixture(scope="module")
def data():
    return masked_hs39(STORED["seed"], STORED["rate"])


@pytest.fixture(scope="module")
def ours(data):
    return fit(HS_REF["model"], data, missing="fiml")


def intercepts(result):
    return np.array([result.param(c, "~1", "")["est"] for c in COLS])


def check_against(result, data, ref):
    assert result.converged
    for key, value in ref["estimates"].items():
        lhs, op, rhs = (key.split("=~")[0], "=~", key.split("=~")[1]) if "=~" in key else (
            key.split("~~")[0], "~~", key.split("~~")[1])
        # semopy's SLSQP stops at about 1e-4
        assert result.param(lhs, op, rhs)["est"] == pytest.approx(value, abs=3e-4), key
    n_values = int(data.notna().to_numpy().sum())
    minus2ll = -2 * result.fit["logl"] - n_values * np.log(2 * np.pi)
    assert minus2ll == pytest.approx(ref["objective"], abs=1e-4)


def test_fiml_matches_stored_semopy_values(ours, data):
    assert int(data.isna().to_numpy().sum()) == STORED["n_missing_values"]
    check_against(ours, data, STORED)


def test_fiml_matches_semopy_live(ours, data):
    check_against(ours, data, semopy_reference(data, intercepts(ours)))


def test_fiml_on_complete_data_is_ml_with_a_mean_structure():
    hs = pd.read_csv(DATA / "holzinger39.csv")
    ml = fit(HS_REF["model"], hs)
    fi = fit(HS_REF["model"], hs, missing="fiml")
    for row in ml.parameters:
        assert fi.param(row["lhs"], row["op"], row["rhs"])["est"] == pytest.approx(row["est"], abs=1e-6)
    for c in COLS:
        assert fi.param(c, "~1", "")["est"] == pytest.approx(hs[c].mean(), abs=1e-6)
    for key in ("chisq", "df", "logl", "unrestricted_logl", "baseline_chisq", "cfi", "tli", "rmsea"):
        assert fi.fit[key] == pytest.approx(ml.fit[key], abs=1e-6), key
    assert fi.fit["npar"] == ml.fit["npar"] + len(COLS)
    # SEs from the observed information: lavaan's ML with information = "observed" and meanstructure = TRUE
    # (https://github.com/lucdw/lavaan-mplus/blob/4b92903691a1bd95d63bb6afaf3fec273f0fed6a/HS/HS.mean.ML.observed.out_mimlavaan.log)
    ref = json.loads((DATA / "lavaan-hs39-mlr.json").read_text())
    for row in ref["parameters"]:
        got = fi.param(row["lhs"], row["op"], row["rhs"])["se"]
        assert got == pytest.approx(row["se_ml_observed"], abs=0.5e-3 + 1e-9), (row["lhs"], row["op"], row["rhs"])


def test_analytic_observed_information_equals_the_differenced_gradient():
    from pxm.analytics.sem.fiml import _objective, observed_information, patterns
    from pxm.analytics.sem.matrices import build_ram
    from pxm.analytics.sem.optimize import numeric_hessian
    from pxm.analytics.sem.partable import build_partable
    from pxm.analytics.sem.syntax import parse

    bollen = json.loads((DATA / "lavaan-bollen-fiml.json").read_text())
    X = pd.read_csv(DATA / "bollen-missing.csv").to_numpy(float)
    pt = build_partable(parse(bollen["model"]), meanstructure=True, fixed_x=False)
    ram = build_ram(pt)
    r = fit(bollen["model"], pd.read_csv(DATA / "bollen-missing.csv"), missing="fiml")
    theta = np.array([r.param(x.lhs, x.op, x.rhs)["est"] for x in pt.free_rows()])
    pats = patterns(X)
    for point in (theta, theta * 1.05):  # at the estimates and away from them (the second-derivative term)
        num = numeric_hessian(lambda t: _objective(ram, t, pats)[1], point)
        np.testing.assert_allclose(observed_information(ram, point, pats), num, atol=1e-5 * np.abs(num).max())


def test_pattern_inverses_by_schur_complement_equal_direct_inverses():
    from pxm.analytics.sem.fiml import pattern_inverses

    rng = np.random.default_rng(3)
    p = 12
    A = rng.standard_normal((p, p))
    sigma = A @ A.T + p * np.eye(p)
    mask = rng.random((40, p)) > 0.1
    mask[0] = True  # a complete row
    mask[(p - mask.sum(axis=1)) > p // 3] = True
    assert 0 < (p - mask.sum(axis=1)).max() <= p // 3  # the Schur-complement branch
    W, logdet = pattern_inverses(mask, sigma)
    for k in range(len(mask)):
        o = mask[k]
        np.testing.assert_allclose(W[k][np.ix_(o, o)], np.linalg.inv(sigma[np.ix_(o, o)]), atol=1e-12)
        assert np.all(W[k][~o] == 0) and np.all(W[k][:, ~o] == 0)
        assert logdet[k] == pytest.approx(np.linalg.slogdet(sigma[np.ix_(o, o)])[1], abs=1e-10)
