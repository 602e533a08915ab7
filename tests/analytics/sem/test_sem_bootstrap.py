"""Bootstrap: seeded reproducibility, percentile and BCa intervals for parameters, std_all and defined."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
MODEL = REF["model"].replace("visual =~ x1 + x2 + x3", "visual =~ x1 + a*x2 + b*x3") + "\nab := a*b"


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


@pytest.fixture(scope="module")
def bca(hs39):
    return fit(MODEL, hs39, bootstrap=150, seed=42)


def test_same_seed_same_intervals(hs39, bca):
    again = fit(MODEL, hs39, bootstrap=150, seed=42)
    for a, b in zip(bca.parameters, again.parameters, strict=True):
        assert a.get("boot_ci_lower") == b.get("boot_ci_lower") or (
            np.isnan(a["boot_ci_lower"]) and np.isnan(b["boot_ci_lower"]))
    other = fit(MODEL, hs39, bootstrap=150, seed=43)
    assert other.param("visual", "=~", "x2")["boot_ci_lower"] != bca.param("visual", "=~", "x2")["boot_ci_lower"]


def test_percentile_contains_estimate(hs39):
    r = fit(MODEL, hs39, bootstrap=150, seed=1, bootstrap_ci="percentile")
    assert r.bootstrap["method"] == "percentile" and r.bootstrap["draws"] == 150
    for p in r.parameters:
        if p["free"]:
            assert p["boot_ci_lower"] <= p["est"] <= p["boot_ci_upper"], p
            assert p["std_all_boot_ci_lower"] <= p["std_all"] <= p["std_all_boot_ci_upper"], p
    ab = r.defined["ab"]
    assert ab["boot_ci_lower"] <= ab["est"] <= ab["boot_ci_upper"]
    lo, hi = r.bootstrap["r2_ci"]["x1"]
    assert lo <= r.r2["x1"] <= hi


def test_bca_reported(bca):
    assert bca.bootstrap["method"] == "bca"
    row = bca.param("visual", "~~", "textual")
    assert row["boot_method"] == "bca"
    assert np.isfinite(row["boot_ci_lower"]) and row["boot_ci_lower"] < row["boot_ci_upper"]
    assert np.isfinite(row["std_all_boot_ci_lower"]) and row["std_all_boot_ci_lower"] < row["std_all_boot_ci_upper"]
    assert np.isfinite(bca.defined["ab"]["boot_ci_lower"])
    d = bca.to_dict()
    assert d["bootstrap"]["draws"] == 150
    json.dumps(d, allow_nan=False)


def test_bca_differs_from_percentile_by_bias_and_acceleration(hs39, bca):
    pct = fit(MODEL, hs39, bootstrap=150, seed=42, bootstrap_ci="percentile")
    a = bca.param("visual", "=~", "x2")
    b = pct.param("visual", "=~", "x2")
    assert a["boot_ci_lower"] != b["boot_ci_lower"]


def test_bca_interval_helper_matches_percentile_without_bias():
    from pxm.analytics.sem.bootstrap import bca_interval

    rng = np.random.default_rng(0)
    boot = rng.standard_normal((20001, 1))
    jack = np.linspace(-1, 1, 101)[:, None]  # symmetric: zero acceleration
    lo, hi = bca_interval(boot, np.array([np.median(boot)]), jack, 0.95)
    assert lo[0] == pytest.approx(np.quantile(boot, 0.025), abs=0.02)
    assert hi[0] == pytest.approx(np.quantile(boot, 0.975), abs=0.02)
