"""Results of comment analysis: one row per response with a comment, plus one row per theme found."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people import models as _people_models  # noqa: F401  (org_units)
from pxm.practices.feedback import models as _feedback_models  # noqa: F401  (survey_responses)


class CommentAnalysis(Base):
    """Sentiment, themes and the PHI-masked text of one response's comment. Analysts only ever see
    ``masked_text``; the raw comment stays sealed on the response."""

    __tablename__ = "comment_analyses"
    __table_args__ = (Index("ix_comment_analyses_label_submitted", "sentiment_label", "submitted_at"),)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    sentiment_score: Mapped[float] = mapped_column(Float)
    sentiment_label: Mapped[str] = mapped_column(String(10))  # negative | neutral | positive
    strongly_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    masked_text: Mapped[str] = mapped_column(Text)
    mask_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # kind -> count, never values
    model_version: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    instrument_code: Mapped[str | None] = mapped_column(String(40))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    analyzed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CommentTheme(Base):
    """A theme found in a comment (one row per response and theme), for filtering and per-theme counts."""

    __tablename__ = "comment_themes"
    __table_args__ = (Index("ix_comment_themes_theme_label", "theme", "sentiment_label"),)
    response_id: Mapped[int] = mapped_column(ForeignKey("comment_analyses.response_id", ondelete="CASCADE"),
                                             primary_key=True)
    theme: Mapped[str] = mapped_column(String(40), primary_key=True)
    sentiment_label: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer, default=0)
