"""The closed loop: which response or complaint opened which service-recovery case, and why."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from pxm.platform.db.base import Base, UTCDateTime, utcnow
from pxm.platform.people import models as _people_models  # noqa: F401  (org_units)
from pxm.practices.feedback import models as _feedback_models  # noqa: F401  (survey_responses)
from pxm.practices.feedback.complaints import models as _complaint_models  # noqa: F401  (complaints)
from pxm.practices.resolution import models as _resolution_models  # noqa: F401  (cases)


class Trigger(enum.StrEnum):
    detractor = "detractor"              # NPS 0-6
    low_csat = "low_csat"                # CSAT 1-2
    not_resolved = "not_resolved"        # "Was your issue resolved?" no
    negative_sentiment = "negative_sentiment"  # strongly negative comment
    complaint = "complaint"


class RecoveryLink(Base):
    """At most one recovery case per response and per complaint (unique columns enforce it)."""

    __tablename__ = "recovery_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id"), unique=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), unique=True)
    trigger: Mapped[str] = mapped_column(String(24), index=True)
    triggers: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # scores that fired (no PHI)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
