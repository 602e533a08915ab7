"""Bootstrap with missing = "fiml": rows are resampled with their missing-data patterns and each draw refits the
FIML likelihood; percentile and BCa intervals, seeded; the CLI end to end."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pxm.analytics.sem import fit
from pxm.analytics.sem.fiml import _objective, patterns, resampler
from pxm.analytics.sem.matrices import build_ram
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse
from pxm.cli.sem import app

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
MODEL = REF["model"].replace("visual =~ x1 + x2 + x3", "visual =~ x1 + a*x2 + b*x3") + "\nab := a*b"
COLS = [f"x{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


@pytest.fixture(scope="module")
def masked(hs39):
    return hs39[COLS].mask(np.random.default_rng(11).random((len(hs39), 9)) < 0.12)


@pytest.fixture(scope="module")
def pct(masked):
    return fit(MODEL, masked, missing="fiml", bootstrap=120, seed=5, bootstrap_ci="percentile")


def test_weighted_pattern_moments_equal_the_resampled_rows(masked):
    X = masked.to_numpy(float)
    pt = build_partable(parse(REF["model"]), meanstructure=True, fixed_x=False)
    ram = build_ram(pt)
    result = fit(REF["model"], masked, missing="fiml")
    est = np.array([result.param(r.lhs, r.op, r.rhs)["est"] for r in pt.free_rows()])
    idx = np.random.default_rng(0).integers(0, len(X), len(X))
    w = np.bincount(idx, minlength=len(X)).astype(float)
    f1, g1 = _objective(ram, est, resampler(X).weighted(w))
    f2, g2 = _objective(ram, est, patterns(X[idx]))
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-8, atol=1e-12)


def test_seeded_and_reproducible(masked, pct):
    again = fit(MODEL, masked, missing="fiml", bootstrap=120, seed=5, bootstrap_ci="percentile")
    for a, b in zip(pct.parameters, again.parameters, strict=True):
        assert a.get("boot_ci_lower") == b.get("boot_ci_lower") or np.isnan(a["boot_ci_lower"])
    other = fit(MODEL, masked, missing="fiml", bootstrap=120, seed=6, bootstrap_ci="percentile")
    assert other.param("visual", "=~", "x2")["boot_ci_lower"] != pct.param("visual", "=~", "x2")["boot_ci_lower"]


def test_percentile_intervals_under_fiml(masked, pct):
    assert pct.missing == "fiml" and pct.bootstrap["draws"] == 120 and pct.bootstrap["failed"] == 0
    mlr = fit(MODEL, masked, missing="fiml", estimator="MLR")
    for p in pct.parameters:
        if p["free"]:
            assert p["boot_ci_lower"] < p["est"] < p["boot_ci_upper"], p
            # the bootstrap SE and the sandwich (MLR) SE estimate the same sampling variability
            assert p["boot_se"] == pytest.approx(mlr.param(p["lhs"], p["op"], p["rhs"])["se"], rel=0.3), p
    for c in COLS:  # intercepts are bootstrapped too
        row = pct.param(c, "~1", "")
        assert row["boot_ci_lower"] < row["est"] < row["boot_ci_upper"]
    ab = pct.defined["ab"]
    assert ab["boot_ci_lower"] < ab["est"] < ab["boot_ci_upper"]
    lo, hi = pct.bootstrap["r2_ci"]["x1"]
    assert lo < pct.r2["x1"] < hi


def test_bca_under_fiml(masked, pct):
    bca = fit(MODEL, masked, missing="fiml", bootstrap=120, seed=5)
    assert bca.bootstrap["method"] == "bca"
    a, b = bca.param("visual", "=~", "x2"), pct.param("visual", "=~", "x2")
    assert a["boot_se"] == b["boot_se"]  # same draws
    assert a["boot_ci_lower"] != b["boot_ci_lower"]  # bias correction and acceleration move the limits
    assert np.isfinite(a["std_all_boot_ci_lower"]) and a["std_all_boot_ci_lower"] < a["std_all_boot_ci_upper"]
    json.dumps(bca.to_dict(), allow_nan=False)


def test_fiml_bootstrap_on_complete_data_equals_the_ml_bootstrap(hs39):
    # same seed -> same rows drawn; with nothing missing each FIML refit is ML with saturated means
    ml = fit(MODEL, hs39, bootstrap=40, seed=9, bootstrap_ci="percentile")
    fi = fit(MODEL, hs39, missing="fiml", bootstrap=40, seed=9, bootstrap_ci="percentile")
    for row in ml.parameters:
        if row["free"]:
            other = fi.param(row["lhs"], row["op"], row["rhs"])
            assert other["boot_ci_lower"] == pytest.approx(row["boot_ci_lower"], abs=2e-4)
            assert other["boot_ci_upper"] == pytest.approx(row["boot_ci_upper"], abs=2e-4)
    assert fi.defined["ab"]["boot_ci_upper"] == pytest.approx(ml.defined["ab"]["boot_ci_upper"], abs=2e-4)


@pytest.fixture
def files(tmp_path, masked):
    model = tmp_path / "model.lav"
    model.write_text(MODEL)
    data = tmp_path / "hs_missing.csv"
    masked.to_csv(data, index=False)  # missing values as empty cells
    return model, data


def test_cli_fiml_bootstrap_json(files):
    model, data = files
    res = CliRunner().invoke(app, ["fit", str(model), str(data), "--missing", "fiml", "--bootstrap", "30",
                                   "--seed", "3", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["missing"] == "fiml" and d["bootstrap"]["draws"] == 30 and d["bootstrap"]["seed"] == 3
    row = next(p for p in d["parameters"] if (p["lhs"], p["op"], p["rhs"]) == ("visual", "=~", "x2"))
    assert row["boot_ci_lower"] < row["est"] < row["boot_ci_upper"] and row["boot_method"] == "bca"
    assert d["modification_indices"][0]["mi"] > 0


def test_cli_console_script_end_to_end(files):
    model, data = files
    exe = Path(sys.executable).with_name("pxm")
    out = subprocess.run([str(exe), "sem", "fit", str(model), str(data), "--missing", "fiml", "--bootstrap", "25",
                          "--seed", "4", "--bootstrap-ci", "percentile"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "missing=fiml" in out.stdout and "boot_ci_lower" in out.stdout
    assert "Modification indices" in out.stdout
