"""Fixtures for the study web tests: the example CSV and a small helper to upload it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pxm.schema  # noqa: F401  (every model, as in the running app)
from pxm.analytics.study import tasks as _tasks  # noqa: F401  (registers the study.run handler)

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "study" / "cxm_example.csv"


@pytest.fixture
def example_csv() -> bytes:
    return EXAMPLE.read_bytes()


@pytest.fixture
def upload(client: Any) -> Any:
    """``upload(headers, content, name=..., **form)`` posts a file to ``POST /api/v1/studies``."""

    def post(headers: dict[str, str], content: bytes, *, name: str = "answers.csv", **form: Any) -> Any:
        data = {k: str(v) for k, v in form.items()}
        return client.post("/api/v1/studies", files={"file": (name, content, "text/csv")}, data=data,
                           headers=headers)

    return post
