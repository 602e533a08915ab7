"""Read-only exports of stored responses for analyses (answers only: no patient, no free text, no ids)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.practices.feedback.models import Instrument, Response, ResponseStatus

__all__ = ["responses_for_instrument"]


def responses_for_instrument(session: Session, code: str, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    """The coded answers ``{item code: value}`` of every complete response to instrument ``code`` (any version)
    submitted from ``date_from`` 00:00 UTC up to the end of ``date_to`` (UTC), oldest first.

    Free-text answers (sealed, they may hold PHI) and every identifier are left out, so the result is no PHI and
    reading it is not audited as a PHI read.
    """
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    rows = session.execute(
        select(Response.answers)
        .join(Instrument, Instrument.id == Response.instrument_id)
        .where(Instrument.code == code, Response.status == ResponseStatus.complete.value,
               Response.submitted_at >= start, Response.submitted_at < end)
        .order_by(Response.submitted_at, Response.id)
    ).scalars()
    return [dict(a or {}) for a in rows]
