"""The analytic ML and FIML gradients against central finite differences on random models and points."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pxm.analytics.sem.fiml import _objective, patterns
from pxm.analytics.sem.matrices import build_ram
from pxm.analytics.sem.objective import ml_objective
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse


def random_model(sizes, regression, corr_resid):
    lines, k = [], 1
    for f, size in enumerate(sizes):
        lines.append(f"f{f} =~ " + " + ".join(f"x{k + i}" for i in range(size)))
        k += size
    if regression and len(sizes) > 1:
        lines.append("f0 ~ " + " + ".join(f"f{f}" for f in range(1, len(sizes))))
    if corr_resid:
        lines.append("x1 ~~ x2")
    return "\n".join(lines)


def fd_grad(fun, theta, h=1e-6):
    g = np.zeros_like(theta)
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = h
        g[k] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return g


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(3, 5), min_size=1, max_size=3),
    regression=st.booleans(),
    corr_resid=st.booleans(),
    seed=st.integers(0, 10_000),
    std_lv=st.booleans(),
)
def test_ml_gradient_matches_finite_differences(sizes, regression, corr_resid, seed, std_lv):
    rng = np.random.default_rng(seed)
    pt = build_partable(parse(random_model(sizes, regression, corr_resid)), std_lv=std_lv)
    ram = build_ram(pt)
    p = ram.p
    Z = rng.standard_normal((4 * p, p))
    S = Z.T @ Z / (4 * p) + np.eye(p)
    logdet_S = np.linalg.slogdet(S)[1]
    theta = rng.uniform(0.3, 1.2, ram.q)
    # keep covariances small so Sigma stays positive definite
    for r in pt.free_rows():
        if r.op == "~~" and r.lhs != r.rhs:
            theta[r.free - 1] = rng.uniform(-0.1, 0.1)
        elif r.op == "~~":
            theta[r.free - 1] = rng.uniform(0.5, 1.5)
    f, g = ml_objective(ram, theta, S, logdet_S)
    assert np.isfinite(f)
    num = fd_grad(lambda t: ml_objective(ram, t, S, logdet_S)[0], theta)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(3, 4), min_size=1, max_size=2), seed=st.integers(0, 10_000))
def test_fiml_gradient_matches_finite_differences(sizes, seed):
    rng = np.random.default_rng(seed)
    pt = build_partable(parse(random_model(sizes, True, False)), meanstructure=True, fixed_x=False)
    ram = build_ram(pt)
    X = rng.standard_normal((60, ram.p)) + 1.0
    X[rng.random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    pats = patterns(X)
    theta = rng.uniform(0.4, 1.0, ram.q)
    f, g = _objective(ram, theta, pats, X.shape[0])
    num = fd_grad(lambda t: _objective(ram, t, pats, X.shape[0])[0], theta)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
