"""Stage 6: optimisation. Newton's method on the closed-form ML Hessian (Fisher scoring where the Hessian is
not positive definite) with step halving, until the largest gradient element is below ``tol``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from .matrices import RAM, Array
from .objective import MLProblem, Point


@dataclass(frozen=True)
class OptResult:
    theta: Array
    f: float
    grad: Array
    iterations: int
    converged: bool
    message: str
    last: Point | None = field(default=None, repr=False, compare=False)  # the evaluation at theta, when kept
    problem: MLProblem | None = field(default=None, repr=False, compare=False)  # the problem ``last`` belongs to


def numeric_hessian(grad: Callable[[Array], Array], theta: Array, rel: float = 1e-5) -> Array:
    q = len(theta)
    H = np.zeros((q, q))
    for k in range(q):
        h = rel * max(1.0, abs(theta[k]))
        e = np.zeros(q)
        e[k] = h
        H[:, k] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return 0.5 * (H + H.T)


def _solve(H: Array, g: Array) -> Array:
    try:
        return np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, g, rcond=None)[0]


def fit_ml(ram: RAM, S: Array, theta0: Array, *, tol: float = 1e-10, maxiter: int = 500,
           polish: bool = True) -> OptResult:
    """Minimise F_ML(theta; S); numerical breakdowns end as a non-converged result, never an exception.

    ``polish`` is accepted for compatibility; Newton steps are always used where the Hessian allows."""
    try:
        prob = MLProblem(ram, S)
        return newton(prob, theta0, tol=tol, maxiter=maxiter)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        return OptResult(theta0.astype(float).copy(), float("inf"), np.full(ram.q, np.nan), 0, False,
                         f"numerical breakdown ({exc})")


def _newton_step(prob: MLProblem, packed: Array, g: Array) -> tuple[Array, Array] | None:
    """Solve H step = g on the active parameters by Cholesky: (step, factor), or None when H is not positive
    definite."""
    lay = prob.lay
    c, x, info = lapack.dposv(prob.full(packed), g if lay.direct else g[lay.active], lower=1)
    if info != 0:
        return None
    return _embed(prob, x), c


def _chord_step(prob: MLProblem, factor: Array, g: Array) -> Array:
    """A step with an earlier Cholesky factor of the Hessian (near the optimum the Hessian barely changes)."""
    lay = prob.lay
    x, _ = lapack.dpotrs(factor, g if lay.direct else g[lay.active], lower=1)
    return _embed(prob, x)


def _embed(prob: MLProblem, x: Array) -> Array:
    lay = prob.lay
    if lay.direct:
        return x
    step = np.zeros(lay.q)
    step[lay.active] = x
    return step


def _fallback_step(prob: MLProblem, packed: Array, g: Array) -> Array:
    """Least-squares step on the expected information (singular or nearly so)."""
    lay = prob.lay
    return _embed(prob, np.linalg.lstsq(prob.full(packed), g if lay.direct else g[lay.active], rcond=None)[0])


_FIRST = (False, True)  # the first step: Fisher scoring, then Newton if that step fails
_LATER = (True, False)  # then Newton, Fisher scoring where the Hessian is not positive definite


def newton(prob: MLProblem, theta0: Array, *, tol: float = 1e-10, maxiter: int = 500) -> OptResult:
    """Newton's method on the closed-form Hessian of F_ML, with Fisher scoring (the expected information)
    for the first step (from the start values the Hessian's residual terms mislead more often than they help)
    and wherever the Hessian is not positive definite, and step halving. Quadratic convergence near the
    optimum: typically 4-7 steps from the start values, 2-4 from a nearby solution. Once the gradient is below
    1e-6 the last Hessian's factor is reused (a chord step: the Hessian has stopped changing)."""
    q = prob.lay.q
    theta = theta0.astype(float).copy()
    pt = prob.point(theta)
    if pt is None:
        return OptResult(theta, float("inf"), np.full(q, np.nan), 0, False, "starting values give a non-positive-"
                         "definite implied covariance matrix")
    g = prob.gradient(pt)
    factor = None
    for it in range(1, maxiter + 1):
        gmax = float(np.abs(g).max()) if q else 0.0
        if gmax < tol:
            return OptResult(pt.theta, pt.f, g, it - 1, True, "converged", pt, prob)
        if factor is not None and gmax < 1e-6:
            nxt = _line_search(prob, pt, g, _chord_step(prob, factor, g), gmax)
            factor = None
            if nxt is not None:
                pt, g = nxt, prob.gradient(nxt)
                continue
        moved = False
        for exact in _FIRST if it == 1 else _LATER:
            packed = prob.exact_packed(pt) if exact else prob.expected_packed(pt)
            solved = _newton_step(prob, packed, g)
            if solved is None:
                if exact:
                    continue
                step = _fallback_step(prob, packed, g)
            else:
                step = solved[0]
                factor = solved[1] if exact else None
            nxt = _line_search(prob, pt, g, step, gmax)
            if nxt is not None:
                pt, g, moved = nxt, prob.gradient(nxt), True
                break
        if not moved:
            if gmax < 1e-6:  # at numerical precision of the objective
                return OptResult(pt.theta, pt.f, g, it, True, "converged (objective flat to precision)")
            return OptResult(pt.theta, pt.f, g, it, False, "line search failed")
    gmax = float(np.abs(g).max()) if q else 0.0
    return OptResult(pt.theta, pt.f, g, maxiter, gmax < 1e-6, "iteration limit reached")


def solution_point(ram: RAM, S: Array, opt: OptResult) -> tuple[MLProblem, Point | None]:
    """F_ML's problem and evaluation at the solution: the optimiser's own when it kept them."""
    prob = opt.problem
    if prob is not None and prob.ram is ram and prob.S is S and opt.last is not None and opt.last.theta is opt.theta:
        return prob, opt.last
    prob = MLProblem(ram, S)
    return prob, prob.point(opt.theta)


def identification_in_doubt(ram: RAM, S: Array, opt: OptResult, rcond: float = 1e-10) -> bool:
    """True when the optimiser did not converge or the expected information at the solution is singular or
    nearly so (reciprocal condition number below ``rcond``): only then can the model be rank deficient."""
    if not opt.converged:
        return True
    try:
        prob, pt = solution_point(ram, S, opt)
        return pt is None or prob.information_rcond(pt) < rcond
    except (np.linalg.LinAlgError, ValueError):
        return True


def _line_search(prob: MLProblem, pt: Point, g: Array, step: Array, gmax: float) -> Point | None:
    """Backtracking from the full step: sufficient decrease (Armijo), or, where f is flat to rounding, a smaller
    gradient."""
    slope = -float(g @ step)
    if not slope < 0:
        return None
    flat = 1e-13 * max(1.0, abs(pt.f))
    t = 1.0
    for _ in range(40):
        cand = prob.point(pt.theta - step if t == 1.0 else pt.theta - t * step)
        if cand is not None:
            if cand.f <= pt.f + 1e-4 * t * slope:
                prob.gradient(cand)
                return cand
            if cand.f <= pt.f + flat:
                gc = prob.gradient(cand)
                if float(np.abs(gc).max()) < gmax:
                    return cand
        t *= 0.5
    return None


def fit_ml_bfgs(ram: RAM, S: Array, theta0: Array, H0inv: Array, *, tol: float = 1e-7,
                maxiter: int = 200) -> OptResult:
    """BFGS started with the inverse expected Hessian at a nearby solution (warm start for resamples)."""
    prob = MLProblem(ram, S)

    def objective(t: Array) -> tuple[float, Array]:
        pt = prob.point(t)
        if pt is None:
            return float("inf"), np.full(ram.q, np.nan)
        return pt.f, prob.gradient(pt).copy()

    return bfgs(objective, theta0, H0inv, tol=tol, maxiter=maxiter, stall_limit=3)


def bfgs(fun: Callable[[Array], tuple[float, Array]], x0: Array, H0inv: Array, *, tol: float = 1e-7,
         maxiter: int = 200, stall_limit: int | None = None) -> OptResult:
    """BFGS from a nearby solution with its inverse Hessian (warm start for resamples); Armijo backtracking.

    ``stall_limit``: stop after that many steps in a row that needed a step length below 1e-3 (no limit with
    None)."""
    x = x0.astype(float).copy()
    f, g = fun(x)
    if not np.isfinite(f):
        return OptResult(x, f, g, 0, False, "non-positive-definite implied covariance at the start")
    Hk = H0inv.copy()
    stalled = 0
    for it in range(1, maxiter + 1):
        gmax = float(np.max(np.abs(g))) if g.size else 0.0
        if gmax < tol:
            return OptResult(x, f, g, it - 1, True, "converged")
        d = -Hk @ g
        slope = float(g @ d)
        if slope >= 0:
            Hk = H0inv.copy()
            d = -Hk @ g
            slope = float(g @ d)
        t = 1.0
        accepted = False
        for _ in range(30):
            xn = x + t * d
            fn, gn = fun(xn)
            # near the optimum f is flat to rounding: judge progress by the gradient instead
            if np.isfinite(fn) and (fn <= f + 1e-4 * t * slope
                                    or (gmax < 1e-5 and float(np.max(np.abs(gn))) < 0.5 * gmax)):
                accepted = True
                break
            t *= 0.5
        stalled = stalled + 1 if t < 1e-3 else 0
        if not accepted or (stall_limit is not None and stalled >= stall_limit):
            return OptResult(x, f, g, it, gmax < 1e-6, "stopped: no further progress at numerical precision")
        s_, y = xn - x, gn - g
        sy = float(s_ @ y)
        if sy > 1e-300:
            rho = 1.0 / sy
            Hy = Hk @ y
            Hk = Hk + ((sy + y @ Hy) * rho * rho) * np.outer(s_, s_) - rho * (np.outer(Hy, s_) + np.outer(s_, Hy))
        x, f, g = xn, fn, gn
    return OptResult(x, f, g, maxiter, float(np.max(np.abs(g))) < 1e-6, "iteration limit reached")
