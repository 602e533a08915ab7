"""Full-information ML with missing data (Arbuckle 1996; lavaan's missing = "ml").

Casewise normal likelihood grouped by missing-data pattern (``fiml_patterns``), with a mean structure (free
intercepts). Estimation: BFGS started from the inverse expected information (Fisher scoring as fallback), then
Newton steps on the Hessian from differencing the analytic gradient. Standard errors from that observed
information. The saturated (h1) model is fitted by EM; the baseline model is independence with free means and
variances. Fit measures with a mean structure as lavaan computes them (mean residuals in RMR/SRMR/CRMR, the
FIML-corrected robust RMSEA/CFI/TLI of Zhang & Savalei 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .data import Sample
from .fiml_patterns import (
    LOG2PI,
    Patterns,
    Resampler,
    delta,
    em_saturated,
    evaluate,
    h1_information,
    h1_observed_information,
    loglik,
    pattern_inverses,
    patterns,
    resampler,
    vech_rows,
)
from .fit_measures import ml_fit_measures
from .implied import jacobian, moments
from .information import observed_vcov
from .matrices import RAM, Array
from .optimize import OptResult, bfgs, fit_ml, numeric_hessian
from .partable import ParTable

__all__ = ["Patterns", "Resampler", "delta", "em_saturated", "evaluate", "fit_fiml", "h1_information", "loglik",
           "pattern_inverses", "patterns", "resampler", "vech_rows"]


def _objective(ram: RAM, theta: Array, pats: Patterns, n: float | None = None) -> tuple[float, Array]:
    """Mean negative log-likelihood per case and its gradient."""
    mom = moments(ram, theta)
    ev = evaluate(pats, mom.sigma, mom.mu)
    if ev is None:
        return math.inf, np.full(ram.q, np.nan)
    J, Jm = jacobian(ram, mom)
    g = np.einsum("kij,ij->k", J, ev.G) + Jm @ ev.gmu
    n = pats.n_total if n is None else n
    return ev.f / n, g / n


def expected_information(ram: RAM, theta: Array, pats: Patterns) -> Array | None:
    mom = moments(ram, theta)
    ev = evaluate(pats, mom.sigma, mom.mu)
    if ev is None:
        return None
    D = delta(*jacobian(ram, mom))
    return D @ h1_information(pats, ev.W) @ D.T


def observed_information(ram: RAM, theta: Array, pats: Patterns, h: float = 1e-6) -> Array | None:
    """Hessian of the FIML -log L per case: Delta' H1 Delta with H1 the analytic observed h1 information at the
    implied moments, plus the second-derivative term sum G d2Sigma + gmu d2mu (the Jacobian of the implied
    moments differenced, the FIML derivatives held fixed: no pattern work per step)."""
    mom = moments(ram, theta)
    ev = evaluate(pats, mom.sigma, mom.mu)
    if ev is None:
        return None
    n = pats.n_total
    J, Jm = jacobian(ram, mom)
    D = delta(J, Jm)
    H = D @ h1_observed_information(pats, mom.mu, mom.sigma) @ D.T
    G, gmu = ev.G / n, ev.gmu / n
    second = np.zeros((ram.q, ram.q))
    for b in range(ram.q):
        step = h * max(1.0, abs(theta[b]))
        e = np.zeros(ram.q)
        e[b] = step
        Jp, Jmp = jacobian(ram, moments(ram, theta + e))
        Jn, Jmn = jacobian(ram, moments(ram, theta - e))
        second[:, b] = (np.einsum("kij,ij->k", Jp - Jn, G) + (Jmp - Jmn) @ gmu) / (2 * step)
    return H + 0.5 * (second + second.T)


def fisher_scoring(ram: RAM, pats: Patterns, theta0: Array, *, tol: float = 1e-9,
                   maxiter: int = 200) -> OptResult:
    """Fisher scoring on the FIML likelihood with step halving (the expected information as metric)."""
    n = pats.n_total
    theta = theta0.astype(float).copy()
    f, g = _objective(ram, theta, pats, n)
    if not np.isfinite(f):
        return OptResult(theta, f, g, 0, False, "starting values give a non-positive-definite implied "
                         "covariance matrix for some missing-data pattern")
    for it in range(1, maxiter + 1):
        gmax = float(np.max(np.abs(g)))
        if gmax < tol:
            return OptResult(theta, f, g, it - 1, True, "converged")
        info = expected_information(ram, theta, pats)
        if info is None:
            break
        try:
            step = np.linalg.solve(info, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, g, rcond=None)[0]
        t = 1.0
        for _ in range(40):
            fn, gn = _objective(ram, theta - t * step, pats, n)
            if np.isfinite(fn) and fn <= f + 1e-12 * max(1.0, abs(f)):
                break
            t *= 0.5
        else:
            return OptResult(theta, f, g, it, gmax < 1e-6, "line search failed")
        theta, f, g = theta - t * step, fn, gn
    gmax = float(np.max(np.abs(g)))
    return OptResult(theta, f, g, maxiter, gmax < 1e-6, "iteration limit reached")


def _quasi_newton(ram: RAM, pats: Patterns, theta0: Array, *, tol: float) -> OptResult:
    """BFGS started from the inverse expected information at theta0 (superlinear where Fisher scoring, with a
    large fraction of missing information, converges slowly)."""
    info = expected_information(ram, theta0, pats)
    if info is None:
        return OptResult(theta0, math.inf, np.full(ram.q, np.nan), 0, False, "not positive definite")
    try:
        H0inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        H0inv = np.linalg.pinv(info)
    n = pats.n_total
    return bfgs(lambda t: _objective(ram, t, pats, n), theta0, H0inv, tol=tol, maxiter=1000)


def newton_polish(fun: Callable[[Array], tuple[float, Array]], hess: Callable[[Array], Array | None], theta: Array,
                  f: float, g: Array, tol: float = 1e-10, maxiter: int = 20) -> tuple[Array, float, Array, int]:
    """Newton steps on the observed information until |g| < tol."""
    it = 0
    for _ in range(maxiter):
        if float(np.max(np.abs(g))) < tol:
            break
        H = hess(theta)
        if H is None:
            break
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
    return theta, f, g, it


def fit_fiml(pt: ParTable, ram: RAM, sample: Sample, theta0: Array, df: int,
             robust: bool = False) -> tuple[OptResult, Array, dict[str, Any]]:
    assert sample.X is not None
    X = sample.X
    n = X.shape[0]
    pats = patterns(X)
    # start: ML on the EM covariance, intercepts at the EM means (to full precision: Newton's last step is cheap,
    # and on complete data this is already the FIML solution)
    start = fit_ml(ram, sample.cov, theta0)
    theta = start.theta if start.converged else theta0
    theta[ram.m_k] = sample.mean[ram.m_r]

    def fun(t: Array) -> tuple[float, Array]:
        return _objective(ram, t, pats, n)

    res = _quasi_newton(ram, pats, theta, tol=1e-9)
    if not res.converged:
        res = fisher_scoring(ram, pats, res.theta if np.isfinite(res.f) else theta0, tol=1e-6)
    theta, f, g = res.theta, res.f, res.grad
    if not np.isfinite(f):
        theta = theta0
        f, g = fun(theta)
    def hess(t: Array) -> Array | None:
        H = observed_information(ram, t, pats)
        return H if H is not None else numeric_hessian(lambda u: fun(u)[1], t)

    theta, f, g, polished = newton_polish(fun, hess, theta, f, g, tol=1e-9)
    gmax = float(np.max(np.abs(g)))
    opt = OptResult(theta, f, g, res.iterations + polished, gmax < 1e-6,
                    "converged" if gmax < 1e-6 else "not converged")
    H = hess(theta)
    assert H is not None
    vcov, _ = observed_vcov(H, n)
    logl = -n * f
    mu1, S1 = sample.mean, sample.cov  # the EM estimates (data.from_frame)
    logl_h1 = loglik(pats, mu1, S1)
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
    nel = p * (p + 1) // 2 + p
    fitm = ml_fit_measures(T=T, df=df, Tb=Tb, dfb=dfb, n=n, npar=ram.q, logl=logl, logl_h1=logl_h1, S=S1,
                           sigma=mom.sigma, nel=nel)
    fitm.update(mean_residual_indices(S1, mu1, mom.sigma, mom.mu))
    ev = evaluate(pats, mom.sigma, mom.mu)
    if ev is not None:
        # lavaan's GFI under missing = "ml" weighs the pairwise-present sample moments (its sample statistics
        # there), not the EM ones
        mu_pw, S_pw = pairwise_moments(X)
        fitm.update(gfi_with_means(h1_information(pats, ev.W), S_pw, mu_pw, mom.sigma, mom.mu, df, nel))
    from .fiml_robust import H1, fiml_corrected, robust_fiml
    from .fit_measures import robust_fit_measures

    h1 = H1(pats, X, mu1, S1)
    if robust:
        vcov, c, cb = robust_fiml(ram, theta, X, pats, tuple(pt.observed), h1, df, dfb, H)
        fitm.update(robust_fit_measures(T=T, df=df, c=c, Tb=Tb, dfb=dfb, cb=cb, n=n))
    # robust RMSEA/CFI/TLI: lavaan's FIML-corrected versions (Zhang & Savalei 2023), also without MLR
    zs = fiml_corrected(ram, theta, X, h1, df, robust)
    rob = robust_fit_measures(T=zs["T"], df=df, c=zs["c"], Tb=zs["Tb"], dfb=dfb, cb=zs["cb"], n=n)
    fitm.update({k: v for k, v in rob.items() if k.endswith("_robust")})
    return opt, vcov, fitm


def mean_residual_indices(S: Array, m: Array, sigma: Array, mu: Array) -> dict[str, float]:
    """RMR, SRMR (Bentler), CRMR and Mplus SRMR with the mean residuals included, as lavaan reports them for
    a model with a mean structure (its rmr/srmr/crmr/srmr_mplus, against the EM moments under FIML)."""
    p = len(m)
    r, c = np.triu_indices(p)
    ro, co = np.triu_indices(p, 1)
    sd, sds = np.sqrt(np.diag(S)), np.sqrt(np.diag(sigma))
    res, mres = S - sigma, m - mu
    std = res / np.outer(sd, sd)
    cres = S / np.outer(sd, sd) - sigma / np.outer(sds, sds)
    cmean = (m - mu) / sd  # lavaan >= 0.6-6 rescales both mean vectors by the observed SDs (cor.bollen)
    dres = (np.diag(S) - np.diag(sigma)) / np.diag(S)
    return {
        "rmr": math.sqrt((float(np.sum(res[r, c] ** 2)) + float(np.sum(mres**2))) / (len(r) + p)),
        "srmr": math.sqrt((float(np.sum(std[r, c] ** 2)) + float(np.sum((mres / sd) ** 2))) / (len(r) + p)),
        "crmr": math.sqrt((float(np.sum(cres[ro, co] ** 2)) + float(np.sum(cmean**2))) / (len(ro) + p)),
        "srmr_mplus": math.sqrt((float(np.sum(cres[ro, co] ** 2)) + float(np.sum((m / sd - mu / sds) ** 2))
                                 + float(np.sum(dres**2))) / (len(r) + p)),
    }


def pairwise_moments(X: Array) -> tuple[Array, Array]:
    """Available-case means and pairwise-complete covariances (R's cov(use = "pairwise.complete.obs"): each
    pair over the rows where both are present, about those rows' means, divisor n_ij - 1), rescaled by
    (N - 1) / N like lavaan's sample statistics under missing = "ml"; 0 where a pair is never present twice."""
    present = ~np.isnan(X)
    M = present.astype(float)
    Xz = np.where(present, X, 0.0)
    n_ij = M.T @ M
    s_ij = Xz.T @ Xz
    s_i_j = Xz.T @ M  # sum of x_i over the rows where x_j is present
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (s_ij - s_i_j * s_i_j.T / n_ij) / (n_ij - 1.0)
        mean = Xz.sum(axis=0) / M.sum(axis=0)
    cov = np.where(n_ij > 1, cov, 0.0)
    n = X.shape[0]
    return mean, cov * ((n - 1) / n)


def gfi_with_means(A1: Array, S: Array, m: Array, sigma: Array, mu: Array, df: int, nel: int) -> dict[str, float]:
    """lavaan's GFI/AGFI/PGFI with a mean structure: 1 - e'We / s'Ws over (means, vech covariances), W the
    expected h1 information at the implied moments (per missing-data pattern under FIML)."""
    r, c = np.triu_indices(len(m))
    s = np.concatenate([m, S[r, c]])
    e = s - np.concatenate([mu, sigma[r, c]])
    gfi = 1.0 - float(e @ A1 @ e) / float(s @ A1 @ s)
    agfi = 1.0 - (nel / df) * (1.0 - gfi) if df > 0 else float("nan")
    return {"gfi": gfi, "agfi": agfi, "pgfi": (df / nel) * gfi}
