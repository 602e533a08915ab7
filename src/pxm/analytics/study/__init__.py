"""The CXM impact study: instrument, data validation, SEM tables 1-4, reports and the paper reproduction.

Public API (imported lazily so that loading an instrument does not load the SEM engine):

- ``run_study(df, instrument="cxm", bootstrap=0, seed=None, mapping=None) -> StudyReport``
- ``reproduce_paper(seed=...) -> PaperReproduction``
- ``read_data(path)``, ``StudyDataError``, ``load_instrument(code)``
"""

from __future__ import annotations

from typing import Any

__all__ = ["PaperReproduction", "StudyDataError", "StudyReport", "load_instrument", "read_data",
           "reproduce_paper", "run_study"]

_WHERE = {
    "run_study": "pxm.analytics.study.run",
    "StudyReport": "pxm.analytics.study.run",
    "reproduce_paper": "pxm.analytics.study.paper",
    "PaperReproduction": "pxm.analytics.study.paper",
    "read_data": "pxm.analytics.study.data",
    "StudyDataError": "pxm.analytics.study.data",
    "load_instrument": "pxm.analytics.study.instruments",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
