"""Routing tables: every routing decision with its explanation, and the routing settings (one row)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow


class RoutingDecision(Base):
    """Why a case went to an agent (or why it still waits).

    ``kind``: ``auto`` (when the case was opened), ``sweep`` (the queue sweep), ``reassign`` (a supervisor),
    ``handback`` (a supervisor handed the previous agent's open cases back to routing), ``take`` (an agent took
    the case from the queue), ``queued`` (nobody
    qualified; the explanation says what was searched and when the search widens).
    """

    __tablename__ = "routing_decisions"
    __table_args__ = (
        Index("ix_routing_decisions_case_at", "case_id", "decided_at"),
        Index("ix_routing_decisions_staff_at", "staff_id", "decided_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    previous_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(12))
    step: Mapped[int] = mapped_column(Integer, default=0)
    candidates: Mapped[int] = mapped_column(Integer, default=0)
    basis: Mapped[str] = mapped_column(String(20))
    explanation: Mapped[str] = mapped_column(Text)
    requirements: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutingSettings(Base):
    """Routing behaviour as data (row id 1; the migration inserts the defaults)."""

    __tablename__ = "routing_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A case unassigned this long widens to step 1 (language kept, reason widened), then to step 2 (anyone).
    step1_after_seconds: Mapped[int] = mapped_column(Integer, default=120)
    step2_after_seconds: Mapped[int] = mapped_column(Integer, default=300)
    # How often the queue sweep runs while cases wait, and how many cases one sweep considers.
    sweep_interval_seconds: Mapped[int] = mapped_column(Integer, default=30)
    sweep_batch: Mapped[int] = mapped_column(Integer, default=500)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="migration")
