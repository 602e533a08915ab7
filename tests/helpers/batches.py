"""Watch the statements sent to the database, and which go together (``prebuilt.Batch``): for tests of round trips."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event

from pxm.platform.db.prebuilt import Batch


@contextmanager
def statements_run(bind: Engine | Connection, when: str = "before_cursor_execute") -> Iterator[list[str]]:
    """The SQL of every statement the engine runs inside the block, in order (an engine event, removed on
    exit; ``when`` = ``after_cursor_execute`` sees only those that ran)."""
    engine = bind.engine
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, when, on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, when, on_execute)


def batches_sent(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The statements of each ``Batch`` sent from now on (SQL with its whitespace collapsed), in order."""
    sent: list[list[str]] = []
    real = Batch.send

    def send(self: Batch, *, commit: bool = False) -> Any:
        sent.append([" ".join(c.sql.split()) for c in self.calls])
        return real(self, commit=commit)

    monkeypatch.setattr(Batch, "send", send)
    return sent


def pipelines_sent(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The statements of each libpq pipeline (one round trip to PostgreSQL) sent from now on, in order: a
    ``Batch`` or a prebuilt statement with what goes with it (SQL with its whitespace collapsed)."""
    from pxm.platform.db import libpq

    sent: list[list[str]] = []
    real = libpq.run

    def run(conn: Any, statements: Any, *, commit: bool = False) -> None:
        sent.append([" ".join(s.sql.split()) for s in statements])
        real(conn, statements, commit=commit)

    monkeypatch.setattr(libpq, "run", run)
    return sent
