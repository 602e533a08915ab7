"""Which modules register job handlers.

The platform may not import features (import-linter layers), so features are named here as strings and
imported by name when a worker starts. A feature with a ``tasks.py`` adds one line to ``TASK_MODULES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

TASK_MODULES: list[str] = [
    "pxm.practices.resolution.tasks",
    "pxm.practices.feedback.tasks",
    "pxm.practices.feedback.text.tasks",
    "pxm.operations.routing.tasks",
    "pxm.analytics.study.tasks",
]


def load_task_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import every task module (features first, then ``settings.job_modules``). Returns the names loaded.

    A module that fails to import stops the worker with the module's name: a worker that silently lacks
    a handler would leave jobs of that kind to fail until they are dead.
    """
    loaded: list[str] = []
    for name in [*TASK_MODULES, *extra]:
        if name in loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise RuntimeError(f"cannot import job module {name!r}: {exc}") from exc
        loaded.append(name)
    return loaded
