"""The synth pipeline: an ordered registry of steps that each load one part of the demo organization.

A step is ``fn(ctx: SynthContext) -> dict[str, int]`` (the row counts it loaded). Register it from a module
inside ``pxm.synth`` (every module of the package is imported before a run, so dropping a file in is enough)::

    from pxm.synth.registry import SynthContext, register_step

    @register_step("contacts", order=40)
    def load_contacts(ctx: SynthContext) -> dict[str, int]:
        rng = ctx.rng("contacts")          # deterministic for (seed, step name)
        org = ctx.state["org"]             # OrgRefs from the "org" step
        ...                                # write with ctx.session (flush only; the runner commits)
        return {"contacts": n}

Built-in orders: org 10, patients 20, encounters 30. Feature steps use 40 and above. The runner runs each
step in its own transaction together with ONE ``synth.load`` audit event holding the step's counts.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.auth.actor import Actor

Progress = Callable[[str, int, int], None]  # (step name, done, total)


def _no_progress(step: str, done: int, total: int) -> None:
    return None


@dataclass
class SynthContext:
    session_factory: sessionmaker[Session]
    seed: int
    patients: int
    as_of: dt.date
    progress: Progress = _no_progress
    chunk_size: int = 5000
    actor: Actor = field(default_factory=lambda: Actor.system("synth"))
    state: dict[str, Any] = field(default_factory=dict)  # shared between steps (e.g. "org" -> OrgRefs)
    session: Session | None = None  # set by the runner for the step being run
    # the clock on the as_of day: when set, the service desk's day is in progress up to this moment (the demo
    # passes "now" so the live operations page has a queue and today's figures); None ends at midnight
    until: dt.datetime | None = None

    def rng(self, name: str) -> np.random.Generator:
        """A generator that depends only on the seed and ``name``: adding a step never shifts another's draws."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    @property
    def db(self) -> Session:
        if self.session is None:
            raise RuntimeError("no step is running")
        return self.session

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """The 12 months of activity the organization covers: [start, as_of)."""
        return self.as_of - dt.timedelta(days=365), self.as_of

    @property
    def cutoff(self) -> dt.datetime:
        """The moment the organization's history stops: ``until`` when the day is in progress, else midnight
        starting the as_of day. What happens after it has not happened yet (an open case, an unsent reply)."""
        midnight = dt.datetime.combine(self.as_of, dt.time(0), dt.UTC)
        return max(midnight, self.until) if self.until is not None else midnight


StepFn = Callable[[SynthContext], dict[str, int]]


@dataclass(frozen=True)
class Step:
    name: str
    fn: StepFn
    order: int
    description: str = ""


STEPS: dict[str, Step] = {}


def register_step(name: str, fn: StepFn | None = None, *, order: int,
                  description: str = "") -> Any:
    """Register ``fn`` as step ``name`` (usable as a decorator). Re-registering a name replaces it."""
    def add(f: StepFn) -> StepFn:
        STEPS[name] = Step(name, f, order, description or (f.__doc__ or "").strip().split("\n")[0])
        return f

    return add(fn) if fn is not None else add


def ordered_steps() -> list[Step]:
    return sorted(STEPS.values(), key=lambda s: (s.order, s.name))
