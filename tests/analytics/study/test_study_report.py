"""Report formats and the CLI."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from pxm.analytics.study.run import run_study
from pxm.cli.study import app

runner = CliRunner()


@pytest.fixture(scope="module")
def report(likert_df):
    df = likert_df.astype(object)
    df.loc[2, "PPE1"] = ""
    return run_study(df, bootstrap=5, seed=1)


def test_json_has_required_keys(report) -> None:
    d = report.to_dict()
    for key in ("measurement", "discriminant", "fit", "hypotheses", "r2", "warnings", "descriptives", "missing",
                "modification_indices", "summary", "ranking", "diagram_svg", "meta"):
        assert key in d, key
    json.dumps(d)
    assert len(d["meta"]["input_fingerprint"]) == 64
    assert d["meta"]["options"]["bootstrap"] == 5 and d["meta"]["engine"]["version"]
    assert d["missing"]["dropped_rows"] == [3] and d["meta"]["n_obs"] == 399
    assert any("rows dropped" in w for w in d["warnings"])
    assert all(h["boot_ci_lower"] is not None for h in d["hypotheses"])
    assert {"n", "mean", "sd", "min", "max", "skew", "kurtosis", "missing"} <= set(d["descriptives"][0])
    fit_keys = {r["index"] for r in d["fit"]["rows"]}
    assert {"chisq", "df", "chisq_df", "gfi", "agfi", "cfi", "tli", "rmsea", "srmr"} <= fit_keys
    assert any("causation" in s for s in d["summary"]) and any("common-method" in s for s in d["summary"])


def test_bootstrap_is_reproducible(likert_df) -> None:
    a = run_study(likert_df, bootstrap=3, seed=11).to_dict()["hypotheses"]
    b = run_study(likert_df, bootstrap=3, seed=11).to_dict()["hypotheses"]
    assert [h["boot_ci_lower"] for h in a] == [h["boot_ci_lower"] for h in b]


def test_html_is_self_contained(report) -> None:
    html = report.to_html()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html
    assert "Table 4. Hypotheses" in html and "<svg" in html and "@media print" in html
    assert "Table 1. Measurement model" in html and "HTMT" in html


def test_text_report(report) -> None:
    text = report.to_text()
    for part in ("Table 1.", "Table 2a.", "Table 3.", "Table 4.", "R-square of BP", "Missing data: 1 of 400"):
        assert part in text


def test_diagram_svg(report) -> None:
    svg = report.to_dict()["diagram_svg"]
    assert svg.startswith("<svg") and svg.count("<ellipse") == 6
    assert "\u03b2 = " in svg and "R\u00b2" in svg


def test_cli_run_json_and_html(tmp_path, likert_df) -> None:
    csv = tmp_path / "answers.csv"
    likert_df.rename(columns={"PPE1": "q_ppe1"}).to_csv(csv, index=False)
    res = runner.invoke(app, ["run", str(csv), "--map", "q_ppe1=PPE1", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["meta"]["options"]["mapping"] == {"q_ppe1": "PPE1"}
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["run", str(csv), "--map", "q_ppe1=PPE1", "--format", "html", "--out", str(out),
                              "--bootstrap", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "<svg" in out.read_text()


def test_cli_bad_data_exits_2_with_messages(tmp_path, likert_df) -> None:
    df = likert_df.copy()
    df.loc[3, "PPE2"] = 7
    df.loc[18, "PPE2"] = 7
    csv = tmp_path / "bad.csv"
    df.to_csv(csv, index=False)
    res = runner.invoke(app, ["run", str(csv)])
    assert res.exit_code == 2
    assert "PPE2: value 7 outside the 1-5 scale in rows 4, 19" in res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)


def test_cli_mapping_file_and_missing_file(tmp_path, likert_df) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text("not json")
    res = runner.invoke(app, ["run", str(tmp_path / "none.csv"), "--mapping", str(mapping)])
    assert res.exit_code == 2 and "mapping file" in res.output


def test_cli_reproduce_paper_json() -> None:
    res = runner.invoke(app, ["reproduce-paper", "--format", "json", "--seed", "352", "--replications", "3"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert {"inconsistencies", "checks", "tolerance", "side_by_side"} <= set(d)
    assert any(i["quantity"] == "df (Table 3)" for i in d["inconsistencies"])
    mc = d["monte_carlo"]
    assert mc["replications"] == 3 and mc["failed"] == 0
    assert {"beta_PPE", "r2_BP", "cfi", "rmsea"} <= set(mc["summary"])
