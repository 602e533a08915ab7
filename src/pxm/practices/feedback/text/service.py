"""Analyse a response's comment (sentiment, themes, PHI-masked text) and query the results.

``analyze_comment`` runs in the ``feedback.analyze_comment`` job (enqueued by ``record_response``). It
decrypts the comment and the linked patient's names (to mask them) - both PHI reads, written to the audit
log - stores a ``comment_analyses`` row and the masked text on the response, then asks the closed loop
whether a strongly negative comment should open a service-recovery case. Re-running it replaces the row.

Analysts query ``list_comments``: masked text only. ``read_raw_comment`` returns the sealed original to users
with ``patients:read`` and audits the read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError, BadRequest
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams
from pxm.platform.people.models import Patient
from pxm.practices.feedback.models import Response
from pxm.practices.feedback.text import phi_mask, sentiment, themes
from pxm.practices.feedback.text.models import CommentAnalysis, CommentTheme

SYSTEM = Actor.system("feedback.text")
LABELS = ("negative", "neutral", "positive")


def patient_names(session: Session, actor: Actor, patient_id: int | None, *, purpose: str) -> list[str]:
    """The patient's given, family and full name, decrypted to mask them; the read is audited."""
    if patient_id is None:
        return []
    patient = session.get(Patient, patient_id)
    if patient is None:
        return []
    audit.record(session, actor, "patient.names_read", "patient", patient_id, patient_id=patient_id,
                 details={"fields": ["given_name", "family_name"], "purpose": purpose})
    return name_forms(patient.given_name, patient.family_name)


def name_forms(given: str | None, family: str | None) -> list[str]:
    """The forms of a patient's name masked in a comment: full name first, then given and family."""
    given, family = (given or "").strip(), (family or "").strip()
    return [n for n in (f"{given} {family}".strip(), given, family) if n]


def analysis_values(comment: str, names: list[str], *, language: str | None, department_id: int | None,
                    instrument_code: str | None, submitted_at: dt.datetime) -> dict[str, Any]:
    """A ``comment_analyses`` row's values (all but ``response_id``) for a comment and the patient's names
    (masked out): sentiment, themes, the masked text and what was masked. No I/O; ``analyze_comment`` writes
    them for one response, the synthetic organization for a year's comments at once."""
    masked = phi_mask.mask(comment, names)
    senti = sentiment.analyze(comment)
    return {"language": language or "en", "sentiment_score": senti.score, "sentiment_label": senti.label,
            "strongly_negative": senti.strongly_negative, "themes": themes.detect(comment),
            "masked_text": masked.text, "mask_counts": masked.counts, "model_version": sentiment.MODEL_VERSION,
            "department_id": department_id, "instrument_code": instrument_code, "submitted_at": submitted_at,
            "analyzed_at": utcnow()}


def analyze_comment(session: Session, response_id: int, actor: Actor = SYSTEM) -> CommentAnalysis | None:
    """Analyse (or re-analyse) the comment of a response. Returns None when it has no comment."""
    response = get_or_404(session, Response, response_id, "response")
    comment = response.comment
    if not comment or not comment.strip():
        return None
    audit.record(session, actor, "response.text_read", "survey_response", response.id,
                 patient_id=response.patient_id, details={"purpose": "text_analytics"})
    names = patient_names(session, actor, response.patient_id, purpose="mask comment")
    instrument_code = response.instrument.code if response.instrument is not None else None
    values = analysis_values(comment, names, language=response.language, department_id=response.department_id,
                             instrument_code=instrument_code, submitted_at=response.submitted_at)
    row = session.get(CommentAnalysis, response.id)
    if row is None:
        row = CommentAnalysis(response_id=response.id)
        session.add(row)
    for field, value in values.items():
        setattr(row, field, value)
    session.flush()
    session.execute(delete(CommentTheme).where(CommentTheme.response_id == response.id))
    for pos, code in enumerate(row.themes):
        session.add(CommentTheme(response_id=response.id, theme=code, sentiment_label=row.sentiment_label,
                                 position=pos))
    response.comment_masked = row.masked_text
    session.flush()
    if row.strongly_negative:
        from pxm.practices.feedback.loop.service import check_response

        check_response(session, actor, response, strongly_negative=True)
    return row


def _filtered(theme: str | None, label: str | None, department_id: int | None,
              since: dt.datetime | None, until: dt.datetime | None) -> Select[Any]:
    if theme is not None and theme not in themes.THEME_CODES:
        raise BadRequest(f"theme must be one of: {', '.join(themes.THEME_CODES)} (got {theme!r})")
    if label is not None and label not in LABELS:
        raise BadRequest(f"sentiment must be one of: {', '.join(LABELS)} (got {label!r})")
    q = select(CommentAnalysis)
    if theme is not None:
        q = q.join(CommentTheme, CommentTheme.response_id == CommentAnalysis.response_id).where(
            CommentTheme.theme == theme)
    if label is not None:
        q = q.where(CommentAnalysis.sentiment_label == label)
    if department_id is not None:
        q = q.where(CommentAnalysis.department_id == department_id)
    if since is not None:
        q = q.where(CommentAnalysis.submitted_at >= since)
    if until is not None:
        q = q.where(CommentAnalysis.submitted_at < until)
    return q


def list_comments(session: Session, params: PageParams, *, theme: str | None = None, label: str | None = None,
                  department_id: int | None = None, since: dt.datetime | None = None,
                  until: dt.datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """Masked comments, newest first, filtered by theme, sentiment, department and time."""
    q = _filtered(theme, label, department_id, since, until)
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = session.execute(q.order_by(CommentAnalysis.submitted_at.desc(), CommentAnalysis.response_id.desc())
                           .limit(params.limit).offset(params.offset)).scalars().all()
    return [comment_view(r) for r in rows], int(total)


def comment_view(row: CommentAnalysis) -> dict[str, Any]:
    """What an analyst may see of a comment: the masked text and the analysis, never the raw comment."""
    return {
        "response_id": row.response_id, "submitted_at": row.submitted_at, "language": row.language,
        "department_id": row.department_id, "instrument": row.instrument_code,
        "sentiment": {"score": row.sentiment_score, "label": row.sentiment_label,
                      "strongly_negative": row.strongly_negative},
        "themes": list(row.themes), "masked_text": row.masked_text, "masked": dict(row.mask_counts or {}),
        "model_version": row.model_version,
    }


def theme_summary(session: Session, *, department_id: int | None = None, since: dt.datetime | None = None,
                  until: dt.datetime | None = None) -> dict[str, Any]:
    """Comments per theme and sentiment (for the explorer's side panel and the API)."""
    q = select(CommentTheme.theme, CommentTheme.sentiment_label, func.count()).join(
        CommentAnalysis, CommentAnalysis.response_id == CommentTheme.response_id)
    if department_id is not None:
        q = q.where(CommentAnalysis.department_id == department_id)
    if since is not None:
        q = q.where(CommentAnalysis.submitted_at >= since)
    if until is not None:
        q = q.where(CommentAnalysis.submitted_at < until)
    counts: dict[str, Counter[str]] = {code: Counter() for code in themes.THEME_CODES}
    for theme, label, n in session.execute(q.group_by(CommentTheme.theme, CommentTheme.sentiment_label)).all():
        counts.setdefault(theme, Counter())[label] += int(n)
    cat = themes.catalog()
    out: list[dict[str, Any]] = []
    for code, c in counts.items():
        total = sum(c.values())
        out.append({"theme": code, "label": cat[code].label_en if code in cat else code, "total": total,
                    "negative": c["negative"], "neutral": c["neutral"], "positive": c["positive"],
                    "net_sentiment": round((c["positive"] - c["negative"]) / total, 3) if total else None})
    out.sort(key=lambda r: (-r["total"], r["theme"]))
    return {"themes": out}


def read_raw_comment(session: Session, actor: Actor, response_id: int) -> dict[str, Any]:
    """The unmasked comment, for users allowed to read PHI; the read is audited."""
    if not actor.can(Permission.patients_read):
        raise APIError(403, "forbidden", "reading the unmasked comment needs the patients:read permission")
    response = get_or_404(session, Response, response_id, "response")
    audit.record(session, actor, "response.text_read", "survey_response", response.id,
                 patient_id=response.patient_id, details={"purpose": "raw comment view"})
    return {"response_id": response.id, "comment": response.comment or ""}
