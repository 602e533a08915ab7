"""Modification indices under FIML (lavaan's modindices() with missing = "ml": score tests with the expected
information of the casewise likelihood) and the robust mi_scaled under MLR."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import fit
from pxm.analytics.sem.implied import moments
from pxm.analytics.sem.matrices import build_ram
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse

DATA = Path(__file__).resolve().parents[2] / "data"
REF = json.loads((DATA / "lavaan-hs39.json").read_text())
COLS = [f"x{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def hs39():
    return pd.read_csv(DATA / "holzinger39.csv")


@pytest.fixture(scope="module")
def masked(hs39):
    dm = hs39[COLS].copy()
    return dm.mask(np.random.default_rng(11).random(dm.shape) < 0.12)


@pytest.fixture(scope="module")
def fiml_fit(masked):
    return fit(REF["model"], masked, missing="fiml")


def key(m):
    return (m["lhs"], m["op"], m["rhs"])


def test_fiml_on_complete_data_gives_lavaans_modification_indices(hs39):
    ml = fit(REF["model"], hs39)
    fi = fit(REF["model"], hs39, missing="fiml")
    assert [key(m) for m in fi.modification_indices] == [key(m) for m in ml.modification_indices]
    for a, b in zip(ml.modification_indices, fi.modification_indices, strict=True):
        assert b["mi"] == pytest.approx(a["mi"], rel=1e-7, abs=1e-9)
        assert b["epc"] == pytest.approx(a["epc"], rel=1e-7, abs=1e-9)
        assert b["sepc_all"] == pytest.approx(a["sepc_all"], rel=1e-7, abs=1e-9)
    # lavaan modindices(): visual =~ x9 mi 36.411 epc 0.577 sepc.all 0.515
    top = fi.modification_indices[0]
    assert key(top) == ("visual", "=~", "x9")
    assert (round(top["mi"], 3), round(top["epc"], 3), round(top["sepc_all"], 3)) == (36.411, 0.577, 0.515)


def casewise_minus_loglik(ram, theta, X):
    """-log L by rows, written out independently of the engine's pattern code."""
    mom = moments(ram, theta)
    total = 0.0
    for x in X:
        o = ~np.isnan(x)
        S = mom.sigma[np.ix_(o, o)]
        d = x[o] - mom.mu[o]
        total += 0.5 * (o.sum() * np.log(2 * np.pi) + np.linalg.slogdet(S)[1] + d @ np.linalg.solve(S, d))
    return total


def brute_force_score_test(model, extra, result, X):
    """Score test for ``extra`` from finite differences: gradient of the row-wise -log L and the expected
    information sum_rows 1/2 tr(W dS W dS) + dmu' W dmu with dS, dmu differenced from the implied moments."""
    pt = build_partable(parse(model + "\n" + extra), meanstructure=True, fixed_x=False)
    ram = build_ram(pt)
    rows = pt.free_rows()
    lhs, op, rhs = extra.split()
    theta = np.array([0.0 if (r.lhs, r.op, r.rhs) == (lhs, op, rhs) else result.param(r.lhs, r.op, r.rhs)["est"]
                      for r in rows])
    c = next(k for k, r in enumerate(rows) if (r.lhs, r.op, r.rhs) == (lhs, op, rhs))
    q, h, n = len(theta), 1e-5, X.shape[0]
    e = np.eye(q) * h
    g = np.array([(casewise_minus_loglik(ram, theta + e[k], X) - casewise_minus_loglik(ram, theta - e[k], X))
                  / (2 * h) for k in range(q)]) / n
    dS = np.array([(moments(ram, theta + e[k]).sigma - moments(ram, theta - e[k]).sigma) / (2 * h) for k in range(q)])
    dm = np.array([(moments(ram, theta + e[k]).mu - moments(ram, theta - e[k]).mu) / (2 * h) for k in range(q)])
    sigma = moments(ram, theta).sigma
    info = np.zeros((q, q))
    for x in X:
        o = ~np.isnan(x)
        W = np.linalg.inv(sigma[np.ix_(o, o)])
        A = np.einsum("ij,kjl->kil", W, dS[:, o][:, :, o])
        info += 0.5 * np.einsum("kij,lji->kl", A, A) + dm[:, o] @ W @ dm[:, o].T
    info /= n
    step = np.linalg.solve(info, g)
    return n * g[c] * step[c], -step[c], g


def test_fiml_modification_indices_equal_a_brute_force_score_test(masked, fiml_fit):
    X = masked.to_numpy(float)
    mis = {key(m): m for m in fiml_fit.modification_indices}
    for extra in ("visual =~ x9", "x7 ~~ x8", "textual =~ x1"):
        mi, epc, g = brute_force_score_test(REF["model"], extra, fiml_fit, X)
        ours = mis[tuple(extra.split())]
        assert ours["mi"] == pytest.approx(mi, rel=1e-4), extra
        assert ours["epc"] == pytest.approx(epc, rel=1e-4), extra
    # the model parameters are at a stationary point: only the candidate has a non-zero score
    assert np.sum(np.abs(g) > 1e-5) == 1


def test_fiml_modification_index_approximates_the_likelihood_ratio(masked, fiml_fit):
    top = fiml_fit.modification_indices[0]
    assert key(top) == ("visual", "=~", "x9")
    freed = fit(REF["model"] + "\nvisual =~ x9", masked, missing="fiml")
    lr = fiml_fit.fit["chisq"] - freed.fit["chisq"]
    assert lr > 10 and top["mi"] == pytest.approx(lr, rel=0.25)
    assert np.sign(top["epc"]) == np.sign(freed.param("visual", "=~", "x9")["est"])


def test_mlr_adds_mi_scaled(hs39, masked):
    for data, missing in ((hs39, "listwise"), (masked, "fiml")):
        ml = fit(REF["model"], data, missing=missing)
        mlr = fit(REF["model"], data, missing=missing, estimator="MLR")
        c = mlr.fit["chisq_scaling_factor"]
        assert all("mi_scaled" not in m for m in ml.modification_indices)
        for a, b in zip(ml.modification_indices, mlr.modification_indices, strict=True):
            assert b["mi"] == pytest.approx(a["mi"], rel=1e-6)
            assert b["mi_scaled"] == pytest.approx(a["mi"] / c, rel=1e-6)
    d = mlr.to_dict()
    assert "mi_scaled" in d["modification_indices"][0]


def test_summary_shows_mi_scaled_only_under_mlr(hs39):
    text = fit(REF["model"], hs39, estimator="MLR").summary()
    assert "mi_scaled" in text.split("Modification indices")[1]
    assert "mi_scaled" not in fit(REF["model"], hs39).summary()
