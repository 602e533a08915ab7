"""`pxm sem fit` through typer's CliRunner on pxm.cli.sem.app; also read_table."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pxm.analytics.sem import DataError
from pxm.analytics.sem.io import read_table
from pxm.cli.sem import app

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "model.lav"
    model.write_text(REF["model"])
    return model, DATA / "holzinger39.csv"


def test_fit_json(files):
    model, data = files
    res = runner.invoke(app, ["fit", str(model), str(data), "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["fit"]["chisq"] == pytest.approx(REF["fit"]["chisq"], abs=1e-6)
    assert d["estimator"] == "ML"


def test_fit_text_and_html(files):
    model, data = files
    res = runner.invoke(app, ["fit", str(model), str(data)])
    assert res.exit_code == 0 and "Fit measures" in res.stdout and "cfi" in res.stdout
    res = runner.invoke(app, ["fit", str(model), str(data), "--format", "html", "--estimator", "MLR", "--std-lv"])
    assert res.exit_code == 0 and "<table>" in res.stdout and "cfi_robust" in res.stdout


def test_fit_bootstrap_and_fiml(files):
    model, data = files
    res = runner.invoke(app, ["fit", str(model), str(data), "--bootstrap", "30", "--seed", "3",
                              "--bootstrap-ci", "percentile"])
    assert res.exit_code == 0, res.output
    assert "boot_ci_lower" in res.stdout
    res = runner.invoke(app, ["fit", str(model), str(data), "--bootstrap", "20", "--seed", "3", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["bootstrap"]["draws"] == 20
    res = runner.invoke(app, ["fit", str(model), str(data), "--missing", "fiml", "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["missing"] == "fiml"


def test_excel_and_spss(tmp_path, files):
    model, data = files
    df = pd.read_csv(data)[[f"x{i}" for i in range(1, 10)]]
    xlsx = tmp_path / "hs.xlsx"
    df.to_excel(xlsx, index=False)
    res = runner.invoke(app, ["fit", str(model), str(xlsx), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["fit"]["chisq"] == pytest.approx(REF["fit"]["chisq"], abs=1e-6)
    pyreadstat = pytest.importorskip("pyreadstat")
    sav = tmp_path / "hs.sav"
    pyreadstat.write_sav(df, str(sav))
    res = runner.invoke(app, ["fit", str(model), str(sav), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["fit"]["chisq"] == pytest.approx(REF["fit"]["chisq"], abs=1e-6)


@pytest.mark.parametrize(
    ("model_text", "data_name", "needle"),
    [
        ("visual =~ x1 + x2 +\n", "holzinger39.csv", "line 1"),
        ("visual =~ x1 + x2 + nope", "holzinger39.csv", "column 'nope'"),
        ("visual =~ x1 + x2 + x3", "missing.csv", "not found"),
        ("visual =~ x1 + x2 + x3", "data.json", "unsupported"),
        ("f =~ x1 + x2", "holzinger39.csv", "not identified"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, model_text, data_name, needle):
    model = tmp_path / "m.lav"
    model.write_text(model_text)
    data = DATA / data_name if data_name == "holzinger39.csv" else tmp_path / data_name
    if data_name == "data.json":
        data.write_text("{}")
    res = runner.invoke(app, ["fit", str(model), str(data)])
    assert res.exit_code == 2
    msg = res.output.strip()
    assert "Traceback" not in msg and needle in msg
    assert msg.count("error:") == 1


def test_read_table_errors(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not excel")
    with pytest.raises(DataError, match="cannot read bad.xlsx"):
        read_table(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with pytest.raises(DataError, match="no data"):
        read_table(empty)
