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
