"""Stored CXM impact studies: the input (item columns only), the options, the engine version and the results.

A study is comparable with another when both have the same ``input_fingerprint`` (sha256 of the normalized
analysed data) and the same options; ``engine_version`` says which SEM engine produced the numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow

STATUSES = ("queued", "running", "done", "failed")
SOURCES = ("upload", "responses", "paper")


class Study(Base):
    __tablename__ = "studies"
    __table_args__ = (Index("ix_studies_fingerprint", "input_fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    instrument_code: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))  # upload, responses, paper
    source_name: Mapped[str | None] = mapped_column(String(200))  # the uploaded file's name
    input_fingerprint: Mapped[str | None] = mapped_column(String(64))
    n_rows: Mapped[int] = mapped_column(Integer, default=0)
    # The analysed input: item columns only (identifiers and other columns are dropped before storing).
    input_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dropped_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # bootstrap, seed, mapping
    engine_version: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # Unused since the bootstrap runs in one job (the engine's vectorised bootstrap); kept for old rows.
    boot_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[list[str]] = mapped_column(JSON, default=list)  # the problems when status is failed
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rerun_of: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
