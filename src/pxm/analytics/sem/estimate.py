"""Estimation only: ML estimates of a model, without standard errors, fit indices or a standardized solution.

    from pxm.analytics.sem import estimate
    est = estimate("visual =~ x1 + x2 + x3", df)
    est.param("visual", "=~", "x2")["est"]

The same estimates as ``fit()`` (same compiled model, start values and optimiser), for callers that need
only the point estimates (refits per batch, simulations); ``fit()`` adds inference and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from . import data as data_mod
from .compiled import CompiledModel, compile_model
from .errors import ModelIdentificationError
from .matrices import RAM, Array
from .optimize import OptResult, fit_ml, identification_in_doubt


@dataclass(frozen=True)
class Estimates:
    converged: bool
    n_obs: int
    fmin: float  # lavaan's fmin: F_ML / 2
    chisq: float  # N F_ML
    df: int
    iterations: int
    gradient_max: float
    keys: tuple[tuple[str, str, str], ...]  # (lhs, op, rhs) of every parameter-table row
    est: Array  # value of every row (fixed rows included)
    free: Array  # free-parameter number of every row (0: fixed)

    @cached_property
    def parameters(self) -> tuple[dict[str, Any], ...]:
        return tuple({"lhs": lhs, "op": op, "rhs": rhs, "free": int(f), "est": float(v)}
                     for (lhs, op, rhs), f, v in zip(self.keys, self.free, self.est, strict=True))

    def param(self, lhs: str, op: str, rhs: str) -> dict[str, Any]:
        """The row ``lhs op rhs`` (for ~~ either order)."""
        for r in self.parameters:
            if r["op"] == op and ((r["lhs"], r["rhs"]) == (lhs, rhs) or (op == "~~" and (r["rhs"], r["lhs"]) ==
                                                                         (lhs, rhs))):
                return r
        raise KeyError(f"{lhs} {op} {rhs}")

    def to_dict(self) -> dict[str, Any]:
        return {"converged": self.converged, "n_obs": self.n_obs, "fmin": self.fmin, "chisq": self.chisq,
                "df": self.df, "iterations": self.iterations, "gradient_max": self.gradient_max,
                "parameters": [dict(r) for r in self.parameters]}


def estimate(model: str, data: Any = None, *, std_lv: bool = False, cov: Any = None, n_obs: int | None = None,
             sample_names: Sequence[str] | None = None, cov_rescale: bool = True) -> Estimates:
    """ML estimates of ``model`` (lavaan syntax) from a DataFrame (complete cases) or a covariance matrix.

    Raises the same errors as ``fit()`` for bad syntax, bad data and models that are not identified."""
    cm = compile_model(model, std_lv=std_lv)
    sample = data_mod.load(data, cm.pt.observed, cov=cov, n_obs=n_obs, sample_names=sample_names,
                           cov_rescale=cov_rescale)
    ram, theta0, opt = estimate_ml(cm, sample)
    theta = opt.theta
    gmax = float(np.max(np.abs(opt.grad))) if opt.grad.size else 0.0
    return Estimates(bool(opt.converged), sample.n_obs, 0.5 * opt.f, sample.n_obs * opt.f, cm.df, opt.iterations,
                     gmax, cm.row_keys, cm.row_values(ram, theta), cm.row_free)


def estimate_ml(cm: CompiledModel, sample: data_mod.Sample) -> tuple[RAM, Array, OptResult]:
    """Counting check, start values, optimiser, and the rank check where the solution calls for it."""
    S = sample.cov
    ram = cm.ram_for(S, sample.mean)
    if cm.df < 0:
        raise ModelIdentificationError(f"the model is not identified: it has {ram.q} free parameters but only "
                                       f"{cm.n_stats} sample moments (df = {cm.df})")
    theta0 = cm.start(S)
    opt = fit_ml(ram, S, theta0)
    # the Jacobian rank check at the start values (api.check_rank) can only fail where the information at the
    # solution is singular or the optimiser did not converge: run it only then
    if identification_in_doubt(ram, S, opt):
        from .api import _fallback, check_rank

        check_rank(ram, cm.pt, theta0, S)
        if not opt.converged:
            opt = _fallback(ram, S, theta0, opt)
    return ram, theta0, opt
