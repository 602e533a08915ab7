"""Stage 6: optimisation. Fisher scoring with step halving, polished by Newton steps on a Hessian obtained
by differencing the analytic gradient, until the gradient norm is below ``tol``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .implied import jacobian, moments
from .matrices import RAM, Array
from .objective import expected_hessian_from, ml_gradient_from, ml_objective, ml_value


@dataclass(frozen=True)
class OptResult:
    theta: Array
    f: float
    grad: Array
    iterations: int
    converged: bool
    message: str


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
    """Minimise F_ML(theta; S); numerical breakdowns end as a non-converged result, never an exception."""
    try:
        return _fit_ml(ram, S, theta0, tol=tol, maxiter=maxiter, polish=polish)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        return OptResult(theta0.astype(float).copy(), float("inf"), np.full(ram.q, np.nan), 0, False,
                         f"numerical breakdown ({exc})")


def _fit_ml(ram: RAM, S: Array, theta0: Array, *, tol: float, maxiter: int, polish: bool) -> OptResult:
    logdet_S = float(np.linalg.slogdet(S)[1])
    theta = theta0.astype(float).copy()
    mom = moments(ram, theta)
    f = ml_value(mom.sigma, S, logdet_S)
    if not np.isfinite(f):
        return OptResult(theta, f, np.full(ram.q, np.nan), 0, False, "starting values give a non-positive-"
                         "definite implied covariance matrix")
    g = ml_gradient_from(ram, mom, S)
    it = 0
    newton_ok = polish
    for it in range(1, maxiter + 1):
        gmax = float(np.max(np.abs(g))) if g.size else 0.0
        if gmax < tol:
            return OptResult(theta, f, g, it - 1, True, "converged")
        J, _ = jacobian(ram, mom)
        H = expected_hessian_from(J, mom.sigma)
        if newton_ok and gmax < 1e-2:
            try:
                Hinv = np.linalg.inv(H)
            except np.linalg.LinAlgError:
                Hinv = None
            if Hinv is not None:
                pol = fit_ml_bfgs(ram, S, theta, Hinv, tol=tol, maxiter=200)
                if pol.converged and pol.f <= f + 1e-12:
                    return OptResult(pol.theta, pol.f, pol.grad, it + pol.iterations, True, "converged")
            newton_ok = False
        step = _solve(H, g)
        t = 1.0
        accepted = False
        for _ in range(40):
            cand = theta - t * step
            mom_c = moments(ram, cand)
            f_c = ml_value(mom_c.sigma, S, logdet_S)
            if np.isfinite(f_c) and f_c <= f + 1e-12 * max(1.0, abs(f)):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            if gmax < 1e-6:  # at numerical precision of the objective
                return OptResult(theta, f, g, it, gmax < 1e-6, "converged (objective flat to precision)")
            if newton_ok:
                newton_ok = False
                continue
            return OptResult(theta, f, g, it, False, "line search failed")
        theta, mom, f = cand, mom_c, f_c
        g = ml_gradient_from(ram, mom, S)
    gmax = float(np.max(np.abs(g))) if g.size else 0.0
    return OptResult(theta, f, g, maxiter, gmax < 1e-6, "iteration limit reached")


def fit_ml_bfgs(ram: RAM, S: Array, theta0: Array, H0inv: Array, *, tol: float = 1e-7,
                maxiter: int = 200) -> OptResult:
    """BFGS started with the inverse expected Hessian at a nearby solution (warm start for resamples)."""
    logdet_S = float(np.linalg.slogdet(S)[1])
    x = theta0.astype(float).copy()
    f, g = ml_objective(ram, x, S, logdet_S)
    if not np.isfinite(f):
        return OptResult(x, f, g, 0, False, "non-positive-definite implied covariance at the start")
    Hk = H0inv.copy()
    stalled = 0
    for it in range(1, maxiter + 1):
        gmax = float(np.max(np.abs(g)))
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
            fn, gn = ml_objective(ram, xn, S, logdet_S)
            if np.isfinite(fn):
                # near the optimum f is flat to rounding: judge progress by the gradient instead
                if fn <= f + 1e-4 * t * slope or (gmax < 1e-5 and float(np.max(np.abs(gn))) < 0.5 * gmax):
                    accepted = True
                    break
            t *= 0.5
        if not accepted or t < 1e-3:
            stalled += 1
        else:
            stalled = 0
        if not accepted or stalled >= 3:
            return OptResult(x, f, g, it, gmax < 1e-6, "stopped: no further progress at numerical precision")
        s_ = xn - x
        y = gn - g
        sy = float(s_ @ y)
        if sy > 1e-300:
            rho = 1.0 / sy
            Hy = Hk @ y
            Hk = Hk + ((sy + y @ Hy) * rho * rho) * np.outer(s_, s_) - rho * (np.outer(Hy, s_) + np.outer(s_, Hy))
        x, f, g = xn, fn, gn
    return OptResult(x, f, g, maxiter, float(np.max(np.abs(g))) < 1e-6, "iteration limit reached")
