"""Start values (instrumental-variable loadings, least-squares latent covariances): they change how many Newton
steps a fit takes, never where it ends."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pxm.analytics.sem import data as data_mod
from pxm.analytics.sem import estimate
from pxm.analytics.sem.compiled import compile_model
from pxm.analytics.sem.objective import MLProblem
from pxm.analytics.sem.optimize import fit_ml

DATA = Path(__file__).resolve().parents[2] / "data"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(DATA / "holzinger39.csv")


def _collinear() -> pd.DataFrame:
    """Two factors measured by indicators of one and the same trait: their sample correlation exceeds 1."""
    r = np.random.default_rng(3)
    f = r.standard_normal(60)
    X = np.column_stack([f * lam + 0.5 * r.standard_normal(60) for lam in (1.0, 0.9, 0.8, 1.0, 0.9, 0.8)])
    return pd.DataFrame(X, columns=[f"y{i}" for i in range(6)])


def _reversed(hs: pd.DataFrame) -> pd.DataFrame:
    out = hs.copy()
    out["x2"] = -out["x2"]
    out["x5"] = 10 - 3 * out["x5"]
    return out


CASES = [
    ("cfa", HS, {}, None),
    ("std_lv", HS, {"std_lv": True}, None),
    ("sem", HS + "\ntextual ~ visual\nspeed ~ visual + textual", {}, None),
    ("cross-loading", HS + "\nvisual =~ x9", {}, None),
    ("second order", HS + "\ng =~ visual + textual + speed", {}, None),
    ("fixed loading, equal labels", "visual =~ x1 + 0.5*x2 + a*x3\ntextual =~ x4 + a*x5 + x6", {}, None),
    ("reverse-coded items", HS + "\nspeed ~ visual + textual", {}, _reversed),
    ("residual covariances", HS + "\nx7 ~~ x8\nx1 ~~ x9", {}, None),
    ("latent correlation above 1", "a =~ y0 + y1 + y2\nb =~ y3 + y4 + y5", {}, "collinear"),
]


@pytest.mark.parametrize("label,model,kw,make", CASES, ids=[c[0] for c in CASES])
def test_start_values_do_not_change_the_solution(hs, label, model, kw, make):
    df = _collinear() if make == "collinear" else make(hs) if make else hs
    cm = compile_model(model, **kw)
    S = data_mod.load(df, cm.pt.observed).cov
    start = cm.start(S)
    plain = copy.copy(cm.start)  # the first stage only: eigenvector loadings, zero covariances
    plain.iv_only = plain.refine = False
    first = plain(S)
    assert np.isfinite(start).all()
    assert MLProblem(cm.ram, S).point(start) is not None  # a positive definite implied covariance matrix
    a, b = fit_ml(cm.ram, S, start), fit_ml(cm.ram, S, first)
    assert a.converged and b.converged
    assert a.f == pytest.approx(b.f, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6, atol=1e-7)


def test_hs39_needs_few_newton_steps(hs):
    e = estimate(HS, hs)
    assert e.converged and e.gradient_max < 1e-10
    assert e.iterations <= 6  # 7 with eigenvector-only starts and Newton from the first step


def test_start_values_are_close_on_a_clean_cfa(hs):
    cm = compile_model(HS)
    S = data_mod.load(hs, cm.pt.observed).cov
    prob = MLProblem(cm.ram, S)
    plain = copy.copy(cm.start)
    plain.iv_only = plain.refine = False
    f_opt = fit_ml(cm.ram, S, cm.start(S)).f
    f_start, f_plain = prob.point(cm.start(S)).f, prob.point(plain(S)).f
    assert f_start - f_opt < 0.5 * (f_plain - f_opt)
