"""The closed-form ML Hessian (objective.MLProblem) against central differences of the analytic gradient, on
random CFA, SEM, non-recursive and equality-constrained models; and the Newton optimiser's solution."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pxm.analytics.sem.implied import moments
from pxm.analytics.sem.matrices import build_ram
from pxm.analytics.sem.objective import MLProblem, expected_hessian, ml_objective
from pxm.analytics.sem.optimize import fit_ml
from pxm.analytics.sem.partable import build_partable
from pxm.analytics.sem.syntax import parse


def random_model(sizes, regression, cycle, equal):
    lines, k = [], 1
    for f, size in enumerate(sizes):
        items = [f"x{k + i}" for i in range(size)]
        if equal and f == 0:
            items[1:3] = [f"a*{items[1]}", f"a*{items[2]}"]
        lines.append(f"f{f} =~ " + " + ".join(items))
        k += size
    if regression and len(sizes) > 1:
        lines.append("f0 ~ " + " + ".join(f"f{f}" for f in range(1, len(sizes))))
        if cycle:
            lines.append("f1 ~ x1")  # x1 <- f0 <- f1 <- x1: a non-recursive model
    lines.append("x2 ~~ x4")
    return "\n".join(lines)


def fd_hessian(grad, theta, h=1e-5):
    q = len(theta)
    H = np.zeros((q, q))
    for k in range(q):
        e = np.zeros(q)
        e[k] = h
        H[:, k] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return 0.5 * (H + H.T)


def point_for(pt, ram, rng):
    theta = rng.uniform(0.4, 1.1, ram.q)
    for r in pt.free_rows():
        if r.op == "~~" and r.lhs != r.rhs:
            theta[r.free - 1] = rng.uniform(-0.1, 0.1)
        elif r.op == "~":
            theta[r.free - 1] = rng.uniform(-0.3, 0.3)
    return theta


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(3, 4), min_size=2, max_size=3),
    regression=st.booleans(),
    cycle=st.booleans(),
    equal=st.booleans(),
    std_lv=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_hessian_matches_differenced_gradient(sizes, regression, cycle, equal, std_lv, seed):
    rng = np.random.default_rng(seed)
    pt = build_partable(parse(random_model(sizes, regression, cycle, equal)), std_lv=std_lv)
    ram = build_ram(pt)
    p = ram.p
    Z = rng.standard_normal((4 * p, p))
    S = Z.T @ Z / (4 * p) + np.eye(p)
    theta = point_for(pt, ram, rng)
    prob = MLProblem(ram, S)
    point = prob.point(theta)
    assert point is not None
    logdet_S = np.linalg.slogdet(S)[1]
    f, g = ml_objective(ram, theta, S, logdet_S)
    assert abs(point.f - f) < 1e-12
    np.testing.assert_allclose(prob.gradient(point), g, rtol=1e-10, atol=1e-12)
    terms = prob.hessian_terms(point)
    H = prob.full(prob.hessian_packed(terms, exact=True))
    # the optimiser's one-pass version is the same matrix
    np.testing.assert_allclose(prob.full(prob.exact_packed(point)), H, rtol=1e-12, atol=1e-12 * np.abs(H).max())
    num = fd_hessian(lambda t: ml_objective(ram, t, S, logdet_S)[1], theta)
    np.testing.assert_allclose(H, num, rtol=1e-5, atol=1e-6 * np.abs(num).max())
    # the expected part is the Fisher information of the Jacobian route
    E = prob.full(prob.hessian_packed(terms, exact=False))
    np.testing.assert_allclose(E, expected_hessian(ram, moments(ram, theta)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(prob.full(prob.expected_packed(point)), E, rtol=1e-14, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(3, 4), min_size=2, max_size=3), equal=st.booleans(), seed=st.integers(0, 10_000))
def test_newton_reaches_the_population_solution(sizes, equal, seed):
    # a covariance matrix the model reproduces exactly: the optimum is theta itself with F_ML = 0
    rng = np.random.default_rng(seed)
    pt = build_partable(parse(random_model(sizes, True, False, equal)))
    ram = build_ram(pt)
    theta = point_for(pt, ram, rng)
    sigma = moments(ram, theta).sigma
    start = theta * rng.uniform(0.8, 1.2, ram.q)
    opt = fit_ml(ram, sigma, start)
    assert opt.converged, opt.message
    assert np.max(np.abs(opt.grad)) < 1e-10
    assert abs(opt.f) < 1e-12
    np.testing.assert_allclose(opt.theta, theta, atol=1e-6)
