"""Watch which statements go to the database together (``prebuilt.Batch``): for tests of round trips."""

from __future__ import annotations

from typing import Any

import pytest

from pxm.platform.db.prebuilt import Batch


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
