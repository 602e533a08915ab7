"""Golden test: HS39 CFA against lavaan's full-precision results (tests/data/lavaan-hs39.json)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from pxm.analytics.sem import fit

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
TOL = 1e-6


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


@pytest.fixture(scope="module")
def result(hs39):
    return fit(REF["model"], hs39)


def _key(row):
    return f"{row['lhs']}{row['op']}{row['rhs']}"


def test_converged(result):
    assert result.converged
    assert result.n_obs == 301
    assert result.warnings == ()


def test_estimates_and_se(result):
    rows = {_key(r): r for r in result.parameters}
    for key, ref in REF["estimates"].items():
        assert rows[key]["est"] == pytest.approx(ref["est"], abs=TOL), key
        assert rows[key]["se"] == pytest.approx(ref["se"], abs=TOL), key


def test_fit_measures(result):
    computed = 0
    for key, ref in REF["fit"].items():
        if key in result.fit:
            computed += 1
            assert result.fit[key] == pytest.approx(ref, abs=TOL), key
    assert computed >= 35


def test_std_all_and_rsquare(result):
    rows = {_key(r): r for r in result.parameters}
    for key, ref in REF["std_all"].items():
        assert rows[key]["std_all"] == pytest.approx(ref, abs=TOL), key
    for var, ref in REF["rsquare"].items():
        assert result.r2[var] == pytest.approx(ref, abs=TOL), var


def test_std_lv_parameterisation_gives_same_fit(hs39):
    r = fit(REF["model"], hs39, std_lv=True)
    assert r.fit["chisq"] == pytest.approx(REF["fit"]["chisq"], abs=TOL)
    assert r.param("visual", "~~", "visual")["est"] == 1.0
    # std_all is invariant to the identification constraint
    assert r.param("visual", "=~", "x2")["std_all"] == pytest.approx(REF["std_all"]["visual=~x2"], abs=TOL)


def test_modification_indices_lavaan(result):
    # lavaan modindices(): visual=~x9 mi 36.411 epc 0.577 sepc.all 0.515; x7~~x8 mi 34.145 epc 0.536
    top = result.modification_indices[0]
    assert (top["lhs"], top["op"], top["rhs"]) == ("visual", "=~", "x9")
    assert top["mi"] == pytest.approx(36.411, abs=5e-4)
    assert top["epc"] == pytest.approx(0.577, abs=5e-4)
    assert top["sepc_all"] == pytest.approx(0.515, abs=5e-4)
    second = result.modification_indices[1]
    assert (second["lhs"], second["rhs"]) == ("x7", "x8")
    assert second["mi"] == pytest.approx(34.145, abs=5e-4)


def test_to_dict_is_json(result):
    d = result.to_dict()
    for key in ("converged", "n_obs", "estimator", "fit", "parameters", "r2", "reliability",
                "modification_indices", "warnings", "implied_latent_correlations", "residual_correlations"):
        assert key in d
    text = json.dumps(d, allow_nan=False)
    assert "NaN" not in text
    assert "visual" in result.summary()
    assert "<table>" in result.summary(fmt="html")


def test_latent_correlations(result):
    assert result.latent_correlation("visual", "textual") == pytest.approx(REF["std_all"]["visual~~textual"],
                                                                           abs=TOL)


def test_std_all_standard_errors(result):
    # lavaan standardizedSolution() printout for this model (3 decimals)
    published = {("visual", "=~", "x1"): 0.055, ("visual", "=~", "x2"): 0.060, ("textual", "=~", "x5"): 0.022,
                 ("speed", "=~", "x9"): 0.051, ("visual", "~~", "textual"): 0.064,
                 ("textual", "~~", "speed"): 0.069}
    for key, se in published.items():
        assert result.param(*key)["std_all_se"] == pytest.approx(se, abs=5e-4), key


@pytest.mark.parametrize("model", [
    REF["model"],
    "visual =~ x1 + a*x2 + a*x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
    "textual ~ visual\nspeed ~ textual + visual\nx1 ~~ x4",
])
def test_analytic_std_jacobian_equals_central_differences(hs39, model):
    import numpy as np

    from pxm.analytics.sem.implied import moments
    from pxm.analytics.sem.matrices import build_ram
    from pxm.analytics.sem.partable import build_partable
    from pxm.analytics.sem.standardized import delta_se, delta_se_complex, delta_se_std, derived_function
    from pxm.analytics.sem.syntax import parse

    r = fit(model, hs39)
    pt = build_partable(parse(model))
    ram = build_ram(pt)
    theta = np.array([r.param(x.lhs, x.op, x.rhs)["est"] for x in pt.free_rows()])
    vcov = np.array(r.extras["vcov"]["matrix"])
    fn = derived_function(pt, ram)
    central = delta_se(fn, theta, vcov)
    np.testing.assert_allclose(delta_se_complex(fn, theta, vcov), central, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(delta_se_std(pt, ram, moments(ram, theta), vcov), central, rtol=1e-6, atol=1e-9)
