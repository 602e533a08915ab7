"""Full-information ML with missing data (Arbuckle 1996; lavaan's missing = "ml").

Casewise normal likelihood grouped by missing-data pattern, with a mean structure (free intercepts);
standard errors from the observed information (Hessian of the log-likelihood, by differencing the analytic
gradient). The saturated (h1) model is fitted by EM (Dempster, Laird & Rubin 1977); the baseline model is
independence with free means and variances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize as sopt

from .data import Sample
from .fit_measures import ml_fit_measures
from .implied import jacobian, moments
from .information import observed_vcov
from .matrices import RAM, Array
from .optimize import OptResult, fit_ml, numeric_hessian
from .partable import ParTable

LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Pattern:
    obs: Array  # indices of observed variables
    n: int
    mean: Array
    cov: Array  # biased covariance about the pattern mean
    rows: Array


def patterns(X: Array) -> list[Pattern]:
    mask = ~np.isnan(X)
    keys, inverse = np.unique(mask, axis=0, return_inverse=True)
    out = []
    for k, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == k)
        o = np.flatnonzero(key)
        Xg = X[np.ix_(rows, o)]
        m = Xg.mean(axis=0)
        D = Xg - m
        out.append(Pattern(o, len(rows), m, D.T @ D / len(rows), rows))
    return out


def loglik(pats: list[Pattern], mu: Array, sigma: Array) -> float:
    total = 0.0
    for pt in pats:
        o = pt.obs
        Soo = sigma[np.ix_(o, o)]
        try:
            L = np.linalg.cholesky(Soo)
        except np.linalg.LinAlgError:
            return -math.inf
        inv = np.linalg.inv(Soo)
        d = pt.mean - mu[o]
        M = pt.cov + np.outer(d, d)
        total += -0.5 * pt.n * (len(o) * LOG2PI + 2 * np.log(np.diag(L)).sum() + np.sum(inv * M))
    return float(total)


def em_saturated(X: Array, maxiter: int = 5000, tol: float = 1e-11) -> tuple[Array, Array, float]:
    """EM estimates of the unrestricted mean and covariance, and the maximised log-likelihood."""
    n, p = X.shape
    pats = patterns(X)
    mu = np.nanmean(X, axis=0)
    sigma = np.diag(np.nanvar(X, axis=0))
    prev = -math.inf
    for _ in range(maxiter):
        T1 = np.zeros(p)
        T2 = np.zeros((p, p))
        for pt in pats:
            o = pt.obs
            m = np.setdiff1d(np.arange(p), o)
            Xo = X[np.ix_(pt.rows, o)]
            if m.size == 0:
                T1 += Xo.sum(axis=0)
                T2 += Xo.T @ Xo
                continue
            B = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)])  # o x m
            Xm = mu[m] + (Xo - mu[o]) @ B
            C = sigma[np.ix_(m, m)] - sigma[np.ix_(m, o)] @ B
            full = np.empty((len(pt.rows), p))
            full[:, o] = Xo
            full[:, m] = Xm
            T1 += full.sum(axis=0)
            T2 += full.T @ full
            T2[np.ix_(m, m)] += len(pt.rows) * C
        mu = T1 / n
        sigma = T2 / n - np.outer(mu, mu)
        ll = loglik(pats, mu, sigma)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    return mu, sigma, loglik(pats, mu, sigma)


def _objective(ram: RAM, theta: Array, pats: list[Pattern], n: int) -> tuple[float, Array]:
    """Mean negative log-likelihood per case and its gradient."""
    mom = moments(ram, theta)
    p = ram.p
    G = np.zeros((p, p))
    gmu = np.zeros(p)
    total = 0.0
    for pt in pats:
        o = pt.obs
        Soo = mom.sigma[np.ix_(o, o)]
        try:
            L = np.linalg.cholesky(Soo)
        except np.linalg.LinAlgError:
            return math.inf, np.full(ram.q, np.nan)
        inv = np.linalg.inv(Soo)
        d = pt.mean - mom.mu[o]
        M = pt.cov + np.outer(d, d)
        total += 0.5 * pt.n * (len(o) * LOG2PI + 2 * np.log(np.diag(L)).sum() + np.sum(inv * M))
        G[np.ix_(o, o)] += 0.5 * pt.n * (inv - inv @ M @ inv)
        gmu[o] -= pt.n * (inv @ d)
    J, Jm = jacobian(ram, mom)
    g = np.einsum("kij,ij->k", J, G) + Jm @ gmu
    return total / n, g / n


def fit_fiml(pt: ParTable, ram: RAM, sample: Sample, theta0: Array, df: int,
             robust: bool = False) -> tuple[OptResult, Array, dict[str, Any]]:
    assert sample.X is not None
    X = sample.X
    n = X.shape[0]
    pats = patterns(X)
    # start: ML on the EM covariance, intercepts at the EM means
    start = fit_ml(ram, sample.cov, theta0, tol=1e-8)
    theta = start.theta if start.converged else theta0
    theta[ram.m_k] = sample.mean[ram.m_r]

    def fun(t: Array) -> tuple[float, Array]:
        return _objective(ram, t, pats, n)

    res = sopt.minimize(fun, theta, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    theta = res.x
    f, g = fun(theta)
    it = int(res.nit)
    for _ in range(20):  # Newton polish on the observed Hessian
        if float(np.max(np.abs(g))) < 1e-10:
            break
        H = numeric_hessian(lambda t: fun(t)[1], theta)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-6:
            fn, gn = fun(theta - t * step)
            if np.isfinite(fn) and fn <= f + 1e-12:
                break
            t *= 0.5
        else:
            break
        theta, f, g = theta - t * step, fn, gn
        it += 1
    gmax = float(np.max(np.abs(g)))
    opt = OptResult(theta, f, g, it, gmax < 1e-6, "converged" if gmax < 1e-6 else "not converged")
    H = numeric_hessian(lambda t: fun(t)[1], theta)
    vcov, _ = observed_vcov(H, n)
    logl = -n * f
    mu1, S1, logl_h1 = em_saturated(X)
    # baseline: independent variables with free means and variances (closed form, available cases)
    logl_b = 0.0
    for j in range(X.shape[1]):
        x = X[~np.isnan(X[:, j]), j]
        v = x.var()
        logl_b += -0.5 * x.size * (LOG2PI + math.log(v) + 1.0)
    p = ram.p
    T = max(2 * (logl_h1 - logl), 0.0)
    Tb = 2 * (logl_h1 - logl_b)
    dfb = p * (p - 1) // 2
    mom = moments(ram, theta)
    fitm = ml_fit_measures(T=T, df=df, Tb=Tb, dfb=dfb, n=n, npar=ram.q, logl=logl, logl_h1=logl_h1, S=S1,
                           sigma=mom.sigma, nel=p * (p + 1) // 2 + p)
    if robust:
        from .fiml_robust import robust_fiml
        from .fit_measures import robust_fit_measures

        vcov, c, cb = robust_fiml(ram, theta, X, pats, tuple(pt.observed), mu1, S1, df, dfb)
        fitm.update(robust_fit_measures(T=T, df=df, c=c, Tb=Tb, dfb=dfb, cb=cb, n=n))
    return opt, vcov, fitm
