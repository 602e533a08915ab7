"""reproduce-paper: the population, the re-estimation and the inconsistencies, with implied values computed
independently here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pxm.analytics.study.paper import load_paper, nearest_correlation, population_covariance, reproduce_paper


@pytest.fixture(scope="module")
def result() -> dict:
    return reproduce_paper(seed=352).to_dict()


def by_quantity(rows: list[dict]) -> dict[str, dict]:
    return {r["quantity"]: r for r in rows}


def test_transcription_matches_the_paper() -> None:
    p = load_paper()
    assert p["n"]["value"] == 352
    assert p["table1"]["loadings"]["PPE1"] == 0.812 and p["table1"]["loadings"]["BP5"] == 0.821
    assert len(p["table1"]["loadings"]) == 25
    assert p["table2"]["lower"][5] == [0.604, 0.571, 0.546, 0.592, 0.563]
    assert (p["table3"]["chisq"], p["table3"]["df"], p["table3"]["rmsea"]) == (512.36, 239, 0.056)
    assert [r["beta"] for r in p["table4"]["paths"]] == [0.312, 0.268, 0.224, 0.291, 0.247]
    assert p["r2"]["value"] == 0.64


def test_population_covariance_is_lambda_phi_lambda_plus_theta() -> None:
    sigma, items, info = population_covariance(load_paper())
    assert np.allclose(np.diag(sigma), 1.0)
    i, j = items.index("PPE1"), items.index("PPE2")
    assert sigma[i, j] == pytest.approx(0.812 * 0.845)
    i, j = items.index("PPE1"), items.index("BP1")
    assert sigma[i, j] == pytest.approx(0.812 * 0.604 * 0.844)
    assert not info["phi_repaired"] and info["phi_min_eigenvalue"] > 0


def test_nearest_correlation_repairs_non_pd() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert np.linalg.eigvalsh(bad).min() < 0
    fixed, repaired = nearest_correlation(bad)
    assert repaired
    assert np.allclose(np.diag(fixed), 1.0) and np.linalg.eigvalsh(fixed).min() > 0
    assert np.abs(fixed - bad).max() < 0.5


def test_df_inconsistency(result) -> None:
    inc = by_quantity(result["inconsistencies"])["df (Table 3)"]
    # 25 indicators: 325 moments; free: 19 loadings + 25 residuals + 15 practice (co)variances + 5 paths + 1
    assert inc["published"] == 239 and inc["implied"] == 325 - (19 + 25 + 15 + 5 + 1) == 260


def test_r2_inconsistencies(result) -> None:
    p = load_paper()
    phi = np.eye(6)
    for i, row in enumerate(p["table2"]["lower"]):
        for j, v in enumerate(row):
            phi[i, j] = phi[j, i] = v
    b = np.array([0.312, 0.268, 0.224, 0.291, 0.247])
    r2_paths = b @ phi[:5, :5] @ b
    b_implied = np.linalg.solve(phi[:5, :5], phi[:5, 5])
    r2_corr = phi[:5, 5] @ b_implied
    inc = by_quantity(result["inconsistencies"])
    assert inc["R2 of BP vs published paths"]["implied"] == pytest.approx(r2_paths, abs=1e-4)
    assert r2_paths > 1.0  # impossible for a proportion of variance
    assert inc["R2 of BP vs correlation table"]["implied"] == pytest.approx(r2_corr, abs=1e-4)
    assert inc["beta H1 PPE -> BP vs correlation table"]["implied"] == pytest.approx(b_implied[0], abs=1e-4)
    assert inc["beta H3 CSP -> BP vs correlation table"]["implied"] == pytest.approx(b_implied[2], abs=1e-4)


def test_reliability_inconsistencies(result) -> None:
    lam = np.array([0.823, 0.847, 0.861, 0.835])  # PLP
    cr = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
    ave = (lam**2).mean()
    inc = by_quantity(result["inconsistencies"])
    assert inc["CR PLP (Table 1)"]["implied"] == pytest.approx(cr, abs=1e-4)
    assert inc["CR PLP (Table 1)"]["published"] == 0.898
    assert inc["AVE PLP (Table 1)"]["implied"] == pytest.approx(ave, abs=1e-4)
    for row in result["inconsistencies"] + result["checks"]:
        assert {"quantity", "published", "implied", "explanation", "tolerance"} <= set(row)


def test_fit_index_checks(result) -> None:
    rmsea = math.sqrt((512.36 - 239) / (239 * 351))
    inc = by_quantity(result["inconsistencies"])
    assert inc["RMSEA (Table 3)"]["implied"] == pytest.approx(rmsea, abs=1e-4)
    checks = by_quantity(result["checks"])
    assert checks["chi2/df (Table 3)"]["implied"] == pytest.approx(512.36 / 239, abs=1e-4)
    assert checks["AGFI (Table 3)"]["implied"] == pytest.approx(1 - 325 / 239 * (1 - 0.927), abs=1e-4)
    chi0 = (512.36 - 239) / (1 - 0.948) + 300
    tli = (chi0 / 300 - 512.36 / 239) / (chi0 / 300 - 1)
    assert inc["TLI (Table 3) given CFI"]["implied"] == pytest.approx(tli, abs=1e-4)
    assert "z H1 = beta/SE" in checks and "Fornell-Larcker criterion" in checks
    assert "number of supported hypotheses (abstract)" in inc


def test_re_estimation_side_by_side(result) -> None:
    sb = result["side_by_side"]
    assert result["study"]["meta"]["n_obs"] == 352
    assert result["study"]["fit"]["values"]["df"] == 260
    # the sample comes from the population the tables imply, so the re-estimated R2 is near 0.547, not 0.64
    assert sb["r2"]["population"] == pytest.approx(0.547, abs=0.001)
    assert abs(sb["r2"]["re_estimated"] - 0.547) < 0.12
    for row in sb["loadings"]:
        assert abs(row["re_estimated"] - row["published"]) < 0.1
    assert len(sb["paths"]) == 5 and all("beta_re_estimated" in p for p in sb["paths"])
