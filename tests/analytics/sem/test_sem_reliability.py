"""Reliability and validity per factor on HS39: alpha, omega, AVE, Fornell-Larcker, HTMT, HTMT2."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
FACTORS = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(DATA / "holzinger39.csv")


@pytest.fixture(scope="module")
def rel(data):
    return fit(REF["model"], data).reliability


def test_alpha_omega_ave(data, rel):
    for f, items in FACTORS.items():
        C = np.cov(data[items].to_numpy().T)
        k = len(items)
        alpha = k / (k - 1) * (1 - np.trace(C) / C.sum())
        lam = np.array([REF["std_all"][f"{f}=~{x}"] for x in items])
        omega = lam.sum() ** 2 / (lam.sum() ** 2 + np.sum(1 - lam**2))
        r = rel["factors"][f]
        assert r["alpha"] == pytest.approx(alpha, abs=1e-10)
        assert r["omega"] == pytest.approx(omega, abs=1e-6)
        assert r["ave"] == pytest.approx(np.mean(lam**2), abs=1e-6)
        assert r["std_loadings"] == pytest.approx(dict(zip(items, lam, strict=True)), abs=1e-6)
    # published psych::alpha values for HS39 (raw alpha .63, .88, .69)
    assert rel["factors"]["visual"]["alpha"] == pytest.approx(0.626, abs=1e-3)
    assert rel["factors"]["textual"]["alpha"] == pytest.approx(0.883, abs=1e-3)


def test_fornell_larcker(rel):
    fl = np.array(rel["fornell_larcker"]["matrix"])
    names = rel["fornell_larcker"]["names"]
    assert names == ["visual", "textual", "speed"]
    for i, f in enumerate(names):
        assert fl[i, i] == pytest.approx(np.sqrt(rel["factors"][f]["ave"]))
    assert fl[0, 1] == pytest.approx(REF["std_all"]["visual~~textual"], abs=1e-6)
    assert fl[2, 1] == pytest.approx(REF["std_all"]["textual~~speed"], abs=1e-6)


def test_htmt_and_htmt2(data, rel):
    R = data[[f"x{i}" for i in range(1, 10)]].corr().to_numpy()
    idx = {f: [int(x[1:]) - 1 for x in items] for f, items in FACTORS.items()}

    def mono(ii, geo=False):
        vals = [R[a, b] for n, a in enumerate(ii) for b in ii[n + 1:]]
        return float(np.exp(np.mean(np.log(vals)))) if geo else float(np.mean(vals))

    for a, fa in enumerate(FACTORS):
        for b, fb in enumerate(FACTORS):
            if a == b:
                continue
            het = R[np.ix_(idx[fa], idx[fb])]
            htmt = het.mean() / np.sqrt(mono(idx[fa]) * mono(idx[fb]))
            assert rel["htmt"]["matrix"][a][b] == pytest.approx(htmt, abs=1e-12)
            if (het > 0).all():
                htmt2 = np.exp(np.log(het).mean()) / np.sqrt(mono(idx[fa], True) * mono(idx[fb], True))
                assert rel["htmt2"]["matrix"][a][b] == pytest.approx(htmt2, abs=1e-12)
            else:  # geometric means need positive correlations
                assert np.isnan(rel["htmt2"]["matrix"][a][b])


def test_residual_covariance_enters_omega(data):
    items = ("x1", "x2", "x3", "x9")
    r = fit("visual =~ x1 + x2 + x3 + x9\nx2 ~~ x3", data)
    f = r.reliability["factors"]["visual"]
    lam = np.array([r.param("visual", "=~", x)["std_all"] for x in items])
    th = np.array([r.param(x, "~~", x)["std_all"] for x in items])
    cov = r.param("x2", "~~", "x3")["est"]
    # implied total SDs from residual variance / its standardized value
    sd = [np.sqrt(r.param(x, "~~", x)["est"] / r.param(x, "~~", x)["std_all"]) for x in ("x2", "x3")]
    omega = lam.sum() ** 2 / (lam.sum() ** 2 + th.sum() + 2 * cov / (sd[0] * sd[1]))
    assert cov != 0
    assert f["omega"] == pytest.approx(omega, abs=1e-6)
