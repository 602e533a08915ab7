"""Public reviews from outside sites and the organization's reply (draft -> approved -> published)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people import models as _people_models  # noqa: F401  (org_units)


class ReplyStatus(enum.StrEnum):
    none = "none"
    draft = "draft"
    approved = "approved"
    published = "published"


class PublicReview(Base):
    __tablename__ = "public_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))  # google, yelp, healthgrades, facebook, other
    rating: Mapped[int] = mapped_column(Integer)  # 1..5 stars
    text: Mapped[str] = mapped_column(Text)  # already public; shown masked all the same
    text_masked: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    author: Mapped[str | None] = mapped_column(String(120))  # the public display name on the site
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    sentiment_score: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_label: Mapped[str] = mapped_column(String(10), default="neutral")
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    reply_status: Mapped[str] = mapped_column(String(12), default=ReplyStatus.none.value, index=True)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_drafted_by: Mapped[str | None] = mapped_column(String(120))
    reply_drafted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reply_approved_by: Mapped[str | None] = mapped_column(String(120))
    reply_approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reply_published_by: Mapped[str | None] = mapped_column(String(120))
    reply_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
