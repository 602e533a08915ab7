"""A compiled model: parse -> parameter table -> RAM layout -> start plan, kept per (model text, options).

Refitting one model to new data (a study re-estimated per wave, a dashboard refreshed per batch) then costs
only the per-sample work: reading the columns, the sample covariance, start values and the optimiser.
``clear_cache()`` empties it (the benchmark does, to report cold figures).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .matrices import RAM, Array, _position, build_ram
from .partable import ParTable, build_partable
from .start import StartPlan
from .syntax import parse


def n_stats(pt: ParTable, meanstructure: bool) -> int:
    """Sample moments the model is fitted to (fixed.x (co)variances and means excluded)."""
    p, k = len(pt.observed), len(pt.fixed_x)
    n = p * (p + 1) // 2 - k * (k + 1) // 2
    return n + (p - k if meanstructure else 0)


@dataclass(frozen=True)
class CompiledModel:
    pt: ParTable
    ram: RAM  # fixed.x (co)variances and means are per sample: see ram_for
    start: StartPlan
    n_stats: int
    exo_s: Array  # (k, 2) S positions of fixed.x (co)variances
    exo_m: Array  # m positions of fixed.x means
    row_kind: Array  # per parameter-table row: 0 A, 1 S, 2 m
    row_at: Array  # (rows, 2) matrix position of each row
    row_keys: tuple[tuple[str, str, str], ...]  # (lhs, op, rhs) of each row
    row_free: Array  # free-parameter number of each row (0: fixed)
    row_fixed: Array  # value of each fixed row in the compiled matrices

    @property
    def df(self) -> int:
        return self.n_stats - self.ram.q

    def ram_for(self, S: Array, mean: Array | None) -> RAM:
        """The RAM matrices with this sample's fixed.x values (the compiled ones when the model has none)."""
        if not len(self.exo_s) and not len(self.exo_m):
            return self.ram
        S0 = self.ram.S0.copy()
        i, j = self.exo_s[:, 0], self.exo_s[:, 1]
        S0[i, j] = S0[j, i] = S[i, j]
        m0 = self.ram.m0.copy()
        if len(self.exo_m):
            m0[self.exo_m] = mean[self.exo_m] if mean is not None else 0.0
        fresh = replace(self.ram, S0=S0, m0=m0)
        fresh.__dict__["layout"] = self.ram.layout
        fresh.__dict__["depth"] = self.ram.depth
        return fresh

    def row_values(self, ram: RAM, theta: Array) -> Array:
        """Value of every parameter-table row at theta (fixed rows from the matrices)."""
        if ram is self.ram:  # no per-sample fixed.x values: fixed rows are known
            if not theta.size:  # a model with nothing free
                return self.row_fixed.copy()
            return np.where(self.row_free > 0, theta.take(np.maximum(self.row_free - 1, 0)), self.row_fixed)
        A, S, m = ram.fill(theta)
        i, j = self.row_at[:, 0], self.row_at[:, 1]
        return np.where(self.row_kind == 0, A[i, j], np.where(self.row_kind == 1, S[i, j], m[i]))


def compile_model(model: str, *, std_lv: bool = False, meanstructure: bool = False,
                  fixed_x: bool = True) -> CompiledModel:
    """Parse and lay out ``model`` (lavaan syntax), or return the cached result for the same text and options.

    Errors (syntax, identification by counting) are raised and not cached."""
    return _compile(model, bool(std_lv), bool(meanstructure), bool(fixed_x))


@lru_cache(maxsize=128)
def _compile(model: str, std_lv: bool, meanstructure: bool, fixed_x: bool) -> CompiledModel:
    from .standardized import check_definitions

    pt = build_partable(parse(model), std_lv=std_lv, meanstructure=meanstructure, fixed_x=fixed_x)
    check_definitions(pt)
    ram = build_ram(pt)
    _ = ram.layout
    _freeze(ram)
    idx = {v: i for i, v in enumerate(ram.names)}
    pos = [_position(idx, r.lhs, r.op, r.rhs) for r in pt.rows]
    exo_s = [(i, j) for r, (mat, i, j) in zip(pt.rows, pos, strict=True) if r.exo and mat == "S"]
    exo_m = [i for r, (mat, i, _) in zip(pt.rows, pos, strict=True) if r.exo and mat == "m"]
    kind = np.array([{"A": 0, "S": 1, "m": 2}[mat] for mat, _, _ in pos], dtype=np.intp)
    at = np.array([(i, j) for _, i, j in pos], dtype=np.intp).reshape(-1, 2)
    start = StartPlan(pt, ram, std_lv)
    free = np.array([r.free for r in pt.rows], dtype=np.intp)
    i, j = at[:, 0], at[:, 1]
    fixed = np.where(kind == 0, ram.A0[i, j], np.where(kind == 1, ram.S0[i, j], ram.m0[i]))
    for value in (kind, at, free, fixed, *vars(start).values()):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return CompiledModel(pt, ram, start, n_stats(pt, meanstructure), np.array(exo_s, dtype=np.intp).reshape(-1, 2),
                         np.array(exo_m, dtype=np.intp), kind, at, tuple((r.lhs, r.op, r.rhs) for r in pt.rows), free,
                         fixed)


def clear_cache() -> None:
    """Forget every compiled model and what is cached per parameter table (modification-index candidates, the
    standardizer): the next fit of any model starts from the model text."""
    from . import modindices, standardized

    _compile.cache_clear()
    modindices._candidates.cache_clear()
    modindices._candidate_positions.cache_clear()
    standardized._standardizer.cache_clear()


def _freeze(ram: RAM) -> None:
    """A cached model is shared by every caller: make its arrays read-only so no one edits it in place."""
    for value in (*vars(ram).values(), *vars(ram.layout).values()):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
