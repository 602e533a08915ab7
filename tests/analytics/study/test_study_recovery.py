"""On simulated data with known population values the study recovers loadings, betas and R2."""

from __future__ import annotations

import numpy as np
import pytest
from study_sim import BETAS, LOADINGS, population, simulate

from pxm.analytics.study.run import run_study

N = 2000


@pytest.fixture(scope="module")
def report() -> dict:
    return run_study(simulate(N, seed=2026), check_scale=False).to_dict()


def test_loadings_recovered(report) -> None:
    # SE of a standardized loading near 0.8 with n = 2000 is about 0.01; allow 4 SE
    for m in report["measurement"]:
        for it, true in zip(m["items"], LOADINGS[m["construct"]], strict=True):
            assert it["loading"] == pytest.approx(true, abs=0.04), it["item"]


def test_betas_and_r2_recovered(report) -> None:
    _, _, r2 = population()
    got = {h["from"]: h for h in report["hypotheses"]}
    for practice, true in BETAS.items():
        # SE of the unstandardized path is reported; the standardized one is of the same order here
        se = got[practice]["se"]
        assert abs(got[practice]["beta"] - true) < max(3 * se, 0.03), practice
    assert report["r2"]["value"] == pytest.approx(r2, abs=0.05)
    assert [r["practice"] for r in report["ranking"]][:2] == ["PPE", "PLP"]


def test_hypotheses_supported_and_fit(report) -> None:
    supported = {h["from"]: h["supported"] for h in report["hypotheses"]}
    assert supported["PPE"] and supported["CFM"] and supported["PLP"] and supported["FCR"]
    fit = report["fit"]["values"]
    assert fit["df"] == 260
    assert fit["cfi"] > 0.98 and fit["rmsea"] < 0.03
    assert report["fit"]["overall"] == "good"


def test_validity_tables(report) -> None:
    for m in report["measurement"]:
        assert m["cr"] > 0.8 and m["ave"] > 0.5 and m["alpha"] > 0.8 and not m["flags"]
    d = report["discriminant"]
    fl = np.array([row + [0] * (6 - len(row)) for row in d["fornell_larcker"]])
    phi, _, _ = population()
    assert fl[1, 0] == pytest.approx(phi[1, 0], abs=0.06)
    assert fl[5, 0] == pytest.approx(phi[5, 0], abs=0.06)
    assert d["problems"] == []
    assert all(0 < v < 0.85 for row in d["htmt"] for v in row[:-1])
