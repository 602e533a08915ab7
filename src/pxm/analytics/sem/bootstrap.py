"""Nonparametric bootstrap (Efron & Tibshirani 1993): seeded case resampling, each refit warm-started from the
full-sample estimate (BFGS from the inverse Hessian there); percentile and BCa intervals (bias correction plus
jackknife acceleration) for every parameter, every std_all value, every defined parameter and every R-square.

Complete data: each draw refits ML to the resampled covariance matrix. FIML (missing = "fiml"): rows are
resampled with their missing-data patterns and each draw refits the FIML likelihood; a draw is a vector of
case weights, so the pattern moments come from one vectorised weighted sum (no regrouping of rows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from .data import Sample
from .errors import SEMError
from .fiml import _objective, observed_information, resampler
from .implied import moments
from .information import safe_inverse
from .matrices import RAM, Array, build_ram
from .objective import expected_hessian
from .optimize import bfgs, fit_ml_bfgs, numeric_hessian
from .partable import ParTable
from .standardized import Standardizer, defined_function


class _Stats:
    """theta -> [row values, std_all of rows, defined values]."""

    def __init__(self, pt: ParTable, ram: RAM) -> None:
        self.stdz = Standardizer(pt, ram)
        self.defined = defined_function(pt)
        A0 = ram.A0 != 0
        A0[ram.a_rc[:, 0], ram.a_rc[:, 1]] = True
        self.endo = np.flatnonzero(A0.any(axis=1))  # variables with incoming paths: R-square

    def __call__(self, ram: RAM, theta: Array) -> Array:
        mom = moments(ram, theta)
        vals = self.stdz.values(mom)
        _, std_all = self.stdz(mom, vals)
        e = self.endo
        r2 = 1.0 - mom.S[e, e] / mom.total[e, e]
        return np.concatenate([vals, std_all, self.defined(vals), r2])


def _refit(pt: ParTable, ram: RAM, S: Array, mean: Array, theta: Array, Hinv: Array,
           stat: _Stats) -> Array | None:
    if pt.fixed_x:
        ram = build_ram(pt, exo_cov=S, exo_mean=mean)
    try:
        opt = fit_ml_bfgs(ram, S, theta, Hinv)
    except np.linalg.LinAlgError:
        return None
    if not opt.converged:
        return None
    return stat(ram, opt.theta)


def bca_interval(boot: Array, est: Array, jack: Array, level: float) -> tuple[Array, Array]:
    """BCa limits per column of ``boot`` (B x K) with jackknife values ``jack`` (n x K)."""
    alpha = (1 - level) / 2
    zl, zu = stats.norm.ppf(alpha), stats.norm.ppf(1 - alpha)
    lo = np.full(boot.shape[1], np.nan)
    hi = np.full(boot.shape[1], np.nan)
    for k in range(boot.shape[1]):
        b = boot[:, k]
        b = b[np.isfinite(b)]
        if b.size < 2 or not np.isfinite(est[k]):
            continue
        if np.ptp(b) == 0:
            lo[k] = hi[k] = b[0]
            continue
        prop = (np.sum(b < est[k]) + 0.5 * np.sum(b == est[k])) / b.size
        z0 = stats.norm.ppf(np.clip(prop, 1e-10, 1 - 1e-10))
        jk = jack[:, k]
        jk = jk[np.isfinite(jk)]
        d = jk.mean() - jk
        den = 6.0 * (np.sum(d**2) ** 1.5)
        a = float(np.sum(d**3) / den) if den > 0 else 0.0
        a1 = stats.norm.cdf(z0 + (z0 + zl) / (1 - a * (z0 + zl)))
        a2 = stats.norm.cdf(z0 + (z0 + zu) / (1 - a * (z0 + zu)))
        lo[k], hi[k] = np.quantile(b, [a1, a2])
    return lo, hi


Draw = Callable[[Array], "Array | None"]  # row indices of a bootstrap sample -> statistics (None: failed)
LeaveOut = Callable[[int], "Array | None"]  # jackknife: the row left out -> statistics


def _ml_refits(pt: ParTable, ram: RAM, X: Array, theta: Array, stat: _Stats) -> tuple[Draw, LeaveOut]:
    """Refit functions for a bootstrap draw (row indices) and a jackknife deletion (row index), complete data."""
    n = X.shape[0]
    Hinv = np.linalg.pinv(expected_hessian(ram, moments(ram, theta)))
    total1, total2 = X.sum(axis=0), X.T @ X

    def draw(idx: Array) -> Array | None:
        Xb = X[idx]
        return _refit(pt, ram, np.cov(Xb.T, bias=True), Xb.mean(axis=0), theta, Hinv, stat)

    def leave_out(i: int) -> Array | None:
        m = (total1 - X[i]) / (n - 1)
        S = (total2 - np.outer(X[i], X[i])) / (n - 1) - np.outer(m, m)
        return _refit(pt, ram, S, m, theta, Hinv, stat)

    return draw, leave_out


def _fiml_refits(ram: RAM, X: Array, theta: Array, stat: _Stats) -> tuple[Draw, LeaveOut]:
    """The same for FIML: case weights -> pattern moments -> BFGS on the FIML likelihood from the full-sample
    estimate with the inverse observed information there."""
    n = X.shape[0]
    rs = resampler(X)
    H = observed_information(ram, theta, rs.base)
    if H is None:
        H = numeric_hessian(lambda t: _objective(ram, t, rs.base)[1], theta)
    Hinv, _ = safe_inverse(H)

    def refit(w: Array) -> Array | None:
        pats = rs.weighted(w)
        opt = bfgs(lambda t: _objective(ram, t, pats), theta, Hinv, tol=1e-7, maxiter=300)
        return stat(ram, opt.theta) if opt.converged else None

    def draw(idx: Array) -> Array | None:
        return refit(np.bincount(idx, minlength=n).astype(float))

    def leave_out(i: int) -> Array | None:
        w = np.ones(n)
        w[i] = 0.0
        return refit(w)

    return draw, leave_out


def run_bootstrap(pt: ParTable, ram: RAM, sample: Sample, theta: Array, n_boot: int, seed: int | None,
                  method: str, level: float, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    if sample.X is None:
        raise SEMError("the bootstrap needs raw data, not a covariance matrix")
    X = sample.X
    fiml = ram.meanstructure  # a mean structure is only added for missing = "fiml"
    if np.isnan(X).any() and not fiml:
        raise SEMError("the bootstrap with missing values needs missing='fiml'")
    n = X.shape[0]
    stat = _Stats(pt, ram)
    est = stat(ram, theta)
    draw, leave_out = _fiml_refits(ram, X, theta, stat) if fiml else _ml_refits(pt, ram, X, theta, stat)
    rng = np.random.default_rng(seed)
    draws = np.full((n_boot, est.size), np.nan)
    failed = 0
    for b in range(n_boot):
        out = draw(rng.integers(0, n, size=(n,)))
        if out is None:
            failed += 1
        else:
            draws[b] = out
        if progress is not None:
            progress(b + 1, n_boot)
    draws = draws[~np.isnan(draws).all(axis=1)]
    alpha = (1 - level) / 2
    if method == "bca":
        jack = np.full((n, est.size), np.nan)
        for i in range(n):
            out = leave_out(i)
            if out is not None:
                jack[i] = out
        lo, hi = bca_interval(draws, est, jack, level)
    else:
        with np.errstate(invalid="ignore"):
            lo = np.nanquantile(draws, alpha, axis=0) if len(draws) else np.full(est.size, np.nan)
            hi = np.nanquantile(draws, 1 - alpha, axis=0) if len(draws) else np.full(est.size, np.nan)
    se = np.nanstd(draws, axis=0, ddof=1) if len(draws) > 1 else np.full(est.size, np.nan)
    r = len(pt.rows)
    nd = 2 * r + len(pt.definitions)
    r2 = {ram.names[i]: (float(lo[nd + k]), float(hi[nd + k])) for k, i in enumerate(stat.endo)}
    return {"n": int(len(draws)), "n_failed": int(failed), "est_lo": lo[:r], "est_hi": hi[:r], "est_se": se[:r],
            "std_lo": lo[r:2 * r], "std_hi": hi[r:2 * r], "def_lo": lo[2 * r:nd], "def_hi": hi[2 * r:nd],
            "def_se": se[2 * r:nd], "r2_ci": r2, "draws": draws}
