"""Run the synth pipeline: every registered step in order, one transaction and one audit event per step.

``generate(session_factory, patients=20000, seed=7)`` is deterministic for a seed (and ``as_of`` date): the
same seed yields the same organization, patients and encounters. Steps come from every module of the
``pxm.synth`` package (see ``pxm.synth.registry`` for how to add one).
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.audit import record
from pxm.synth.registry import Progress, Step, SynthContext, _no_progress, ordered_steps

_SKIP = {"run", "registry", "bulk", "names"}


def discover_steps() -> list[Step]:
    """Import every module of ``pxm.synth`` (each registers its steps) and return the steps in order."""
    import pxm.synth as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in _SKIP and not info.name.startswith("_"):
            importlib.import_module(f"pxm.synth.{info.name}")
    return ordered_steps()


@dataclass(frozen=True)
class StepResult:
    name: str
    counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class SynthReport:
    seed: int
    patients_requested: int
    as_of: dt.date
    steps: list[StepResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            for k, v in s.counts.items():
                out[k] = out.get(k, 0) + v
        return out

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.steps)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "patients_requested": self.patients_requested, "as_of": self.as_of.isoformat(),
            "counts": self.counts, "rows": self.rows, "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "steps": [{"name": s.name, "counts": s.counts, "seconds": round(s.seconds, 3),
                       "rows_per_second": round(s.rows / s.seconds, 1) if s.seconds > 0 else None}
                      for s in self.steps],
        }


def generate(
    session_factory: sessionmaker[Session],
    patients: int = 20_000,
    seed: int = 7,
    progress: Progress | None = None,
    *,
    as_of: dt.date | None = None,
    chunk_size: int = 5000,
    only: Iterable[str] | None = None,
    until: dt.datetime | None = None,
) -> SynthReport:
    """Load the demo organization. Each step commits on its own with one ``synth.load`` audit event."""
    if patients < 0:
        raise ValueError("patients must be zero or more")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    day = as_of or dt.date.today()
    if until is not None:
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        midnight = dt.datetime.combine(day, dt.time(0), dt.UTC)
        if not midnight <= until < midnight + dt.timedelta(days=1):
            raise ValueError(f"until ({until.isoformat()}) must fall on the as_of day {day.isoformat()} (UTC)")
    steps = discover_steps()
    if only is not None:
        wanted = set(only)
        unknown = wanted - {s.name for s in steps}
        if unknown:
            raise ValueError(f"unknown synth step(s): {', '.join(sorted(unknown))}")
        steps = [s for s in steps if s.name in wanted or s.name == "org"]
    ctx = SynthContext(session_factory=session_factory, seed=seed, patients=patients,
                       as_of=day, progress=progress or _no_progress, chunk_size=chunk_size, until=until)
    results: list[StepResult] = []
    for step in steps:
        started = time.perf_counter()
        with session_factory() as session, session.begin():
            ctx.session = session
            try:
                counts = {k: int(v) for k, v in step.fn(ctx).items()}
                record(session, ctx.actor, "synth.load", "synth", step.name,
                       details={"step": step.name, "seed": seed, "counts": counts})
            finally:
                ctx.session = None
        results.append(StepResult(step.name, counts, time.perf_counter() - started))
    return SynthReport(seed=seed, patients_requested=patients, as_of=ctx.as_of, steps=results)
