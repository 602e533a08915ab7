"""Public reviews from outside sites and the organization's public reply.

Workflow: record the review -> an agent or manager drafts a reply (``draft``) -> a CX manager (or admin)
approves it (``approved``) -> whoever posts it on the site marks it ``published``. Editing an approved
reply sends it back to ``draft``. Every step is audited. Replies are public: never confirm that the reviewer
is a patient or mention their care (HIPAA); ``reply_warnings`` flags drafts that seem to.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError, BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams
from pxm.platform.people.models import OrgUnit
from pxm.practices.feedback.reviews.models import PublicReview, ReplyStatus
from pxm.practices.feedback.text import phi_mask, sentiment, themes

SOURCES = ("google", "yelp", "healthgrades", "facebook", "vitals", "zocdoc", "other")
APPROVER_ROLES = frozenset({"cx_manager", "admin"})
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)
# Phrases in a public reply that confirm a care relationship or discuss treatment.
_RISKY = re.compile(r"(?i)\b(your (visit|stay|treatment|diagnosis|procedure|surgery|appointment|records?|chart)"
                    r"|we (treated|saw) you|as our patient|su (visita|tratamiento|diagn[oó]stico|cita))\b")


def record_review(session: Session, actor: Actor, *, source: str, rating: int, text: str, url: str,
                  posted_at: dt.datetime, facility_id: int | None = None, author: str | None = None) -> PublicReview:
    if source not in SOURCES:
        raise BadRequest(f"source must be one of: {', '.join(SOURCES)} (got {source!r})")
    if not 1 <= rating <= 5:
        raise BadRequest(f"rating must be 1 to 5 stars (got {rating})")
    if not _URL.match(url or ""):
        raise BadRequest("url must be the review's http(s) address, e.g. https://maps.google.com/...")
    if posted_at.tzinfo is None:
        raise BadRequest("posted_at needs a time zone, e.g. 2026-03-01T09:30:00Z")
    if facility_id is not None and session.get(OrgUnit, facility_id) is None:
        raise NotFound("facility", facility_id)
    if session.execute(select(PublicReview.id).where(PublicReview.url == url)).first() is not None:
        raise Conflict("this review (same url) is already recorded")
    senti = sentiment.analyze(text)
    row = PublicReview(source=source, rating=rating, text=text.strip(), text_masked=phi_mask.mask(text).text,
                       url=url, author=(author or "").strip()[:120] or None, posted_at=posted_at,
                       facility_id=facility_id, sentiment_score=senti.score, sentiment_label=senti.label,
                       themes=themes.detect(text), reply_status=ReplyStatus.none.value, created_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(session, actor, "review.recorded", "public_review", row.id,
                 details={"source": source, "rating": rating})
    return row


def get_review(session: Session, review_id: int) -> PublicReview:
    return get_or_404(session, PublicReview, review_id, "review")


def reply_warnings(text: str) -> list[str]:
    warnings = []
    if _RISKY.search(text):
        warnings.append("the reply seems to confirm the reviewer is a patient or discuss their care; "
                        "thank them and invite them to contact the patient relations office instead")
    if phi_mask.mask(text).total:
        warnings.append("the reply contains a name, phone, email, date or record number")
    return warnings


def draft_reply(session: Session, actor: Actor, review_id: int, text: str) -> PublicReview:
    row = get_review(session, review_id)
    text = (text or "").strip()
    if not text:
        raise BadRequest("reply text must not be empty")
    if len(text) > 4000:
        raise BadRequest("reply text must be at most 4000 characters")
    if row.reply_status == ReplyStatus.published.value:
        raise Conflict("the reply is already published; record a new review reply on the site instead")
    previous = row.reply_status
    row.reply_text = text
    row.reply_status = ReplyStatus.draft.value
    row.reply_drafted_by = actor.label
    row.reply_drafted_at = utcnow()
    row.reply_approved_by = None
    row.reply_approved_at = None
    audit.record(session, actor, "review.reply_drafted", "public_review", row.id, details={"from": previous})
    session.flush()
    return row


def approve_reply(session: Session, actor: Actor, review_id: int) -> PublicReview:
    if actor.role not in APPROVER_ROLES:
        raise APIError(403, "forbidden", "only a CX manager can approve a public reply")
    row = get_review(session, review_id)
    if row.reply_status != ReplyStatus.draft.value:
        raise Conflict(f"only a draft reply can be approved (this one is {row.reply_status})")
    row.reply_status = ReplyStatus.approved.value
    row.reply_approved_by = actor.label
    row.reply_approved_at = utcnow()
    audit.record(session, actor, "review.reply_approved", "public_review", row.id)
    session.flush()
    return row


def publish_reply(session: Session, actor: Actor, review_id: int) -> PublicReview:
    """Mark the approved reply as posted on the outside site (PXM does not post it itself)."""
    row = get_review(session, review_id)
    if row.reply_status != ReplyStatus.approved.value:
        raise Conflict(f"a reply must be approved by a CX manager before it is published (it is {row.reply_status})")
    row.reply_status = ReplyStatus.published.value
    row.reply_published_by = actor.label
    row.reply_published_at = utcnow()
    audit.record(session, actor, "review.reply_published", "public_review", row.id)
    session.flush()
    return row


def list_reviews(session: Session, params: PageParams, *, reply_status: str | None = None,
                 source: str | None = None) -> tuple[list[PublicReview], int]:
    q = select(PublicReview)
    if reply_status is not None:
        if reply_status not in {s.value for s in ReplyStatus}:
            raise BadRequest(f"reply_status must be one of: {', '.join(s.value for s in ReplyStatus)}")
        q = q.where(PublicReview.reply_status == reply_status)
    if source is not None:
        q = q.where(PublicReview.source == source)
    rows = list(session.execute(q.order_by(PublicReview.posted_at.desc(), PublicReview.id.desc())).scalars())
    return rows[params.offset:params.offset + params.limit], len(rows)


def review_view(row: PublicReview) -> dict[str, Any]:
    return {
        "id": row.id, "source": row.source, "rating": row.rating, "text": row.text_masked, "url": row.url,
        "author": row.author, "posted_at": row.posted_at, "facility_id": row.facility_id,
        "sentiment": {"score": row.sentiment_score, "label": row.sentiment_label}, "themes": list(row.themes),
        "reply": {"status": row.reply_status, "text": row.reply_text, "drafted_by": row.reply_drafted_by,
                  "drafted_at": row.reply_drafted_at, "approved_by": row.reply_approved_by,
                  "approved_at": row.reply_approved_at, "published_by": row.reply_published_by,
                  "published_at": row.reply_published_at,
                  "warnings": reply_warnings(row.reply_text) if row.reply_text else []},
    }
