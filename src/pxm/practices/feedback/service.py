"""Instruments (versioned) and responses: the functions every entry point (page, API, CSV, FHIR) calls.

``record_response`` is the single way a response enters PXM. On a complete response it also
enqueues comment analysis (job ``feedback.analyze_comment``, handled by ``feedback.text``) and calls the
closed-loop trigger ``pxm.practices.feedback.loop.service.check_response`` when that module exists.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pxm.platform import audit, jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404
from pxm.practices.feedback.definition import (
    AnswerError,
    DefinitionError,
    clean_answers,
    items_by_code,
    text,
    validate_definition,
)
from pxm.practices.feedback.instruments import BUILTIN_CODES, builtin_definition
from pxm.practices.feedback.models import (
    Instrument,
    Invitation,
    InvitationStatus,
    Response,
    ResponseStatus,
)

log = logging.getLogger("pxm.feedback")

ANALYZE_COMMENT_JOB = "feedback.analyze_comment"


# --------------------------------------------------------------------------- instruments

def ensure_builtin_instruments(session: Session) -> list[Instrument]:
    """Store each built-in instrument version that is not stored yet (idempotent)."""
    out = []
    for code in BUILTIN_CODES:
        definition = builtin_definition(code)
        row = session.execute(select(Instrument).where(
            Instrument.code == code, Instrument.version == definition["version"])).scalar_one_or_none()
        if row is None:
            row = _store_version(session, definition)
        out.append(row)
    return out


def _store_version(session: Session, definition: dict[str, Any]) -> Instrument:
    session.execute(update(Instrument).where(Instrument.code == definition["code"]).values(active=False))
    row = Instrument(code=definition["code"], version=definition["version"],
                     title=text(definition["title"], "en")[:200], definition=definition, active=True)
    session.add(row)
    session.flush()
    return row


def create_instrument_version(session: Session, actor: Actor, definition: dict[str, Any]) -> Instrument:
    """Add a new version of an instrument; it becomes the active one. Older responses keep their version."""
    try:
        validate_definition(definition)
    except DefinitionError as exc:
        raise BadRequest(f"instrument definition is invalid: {exc}") from None
    exists = session.execute(select(Instrument.id).where(
        Instrument.code == definition["code"], Instrument.version == definition["version"])).first()
    if exists:
        raise Conflict(f"instrument {definition['code']} version {definition['version']} already exists; "
                       "give the new definition a new version")
    row = _store_version(session, definition)
    audit.record(session, actor, "instrument.version_created", "survey_instrument", row.id,
                 details={"code": row.code, "version": row.version})
    return row


def get_instrument(session: Session, code: str, version: str | None = None) -> Instrument:
    """The active version of ``code`` (or the given version); built-ins are stored on first use."""
    def find() -> Instrument | None:
        q = select(Instrument).where(Instrument.code == code)
        q = q.where(Instrument.version == version) if version else q.where(Instrument.active.is_(True))
        return session.execute(q.order_by(Instrument.id.desc()).limit(1)).scalar_one_or_none()

    row = find()
    if row is None and code in BUILTIN_CODES:
        ensure_builtin_instruments(session)
        row = find()
    if row is None:
        what = f"instrument {code!r}" + (f" version {version!r}" if version else "")
        raise NotFound(what)
    return row


def list_instruments(session: Session) -> list[Instrument]:
    ensure_builtin_instruments(session)
    return list(session.execute(select(Instrument).order_by(Instrument.code, Instrument.id)).scalars())


# --------------------------------------------------------------------------- responses

def split_text_answers(definition: dict[str, Any], answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Separate free-text answers (sealed at rest) from the rest."""
    items = items_by_code(definition)
    plain = {k: v for k, v in answers.items() if items[k]["type"] != "text"}
    texts = {k: str(v) for k, v in answers.items() if items[k]["type"] == "text"}
    return plain, texts


def all_answers(response: Response) -> dict[str, Any]:
    """Answers including the free text (decrypts; callers showing it to a person audit the read)."""
    out = dict(response.answers or {})
    if response.text_answers:
        out.update(json.loads(response.text_answers))
    return out


def record_response(
    session: Session,
    actor: Actor,
    *,
    instrument: Instrument | str,
    answers: dict[str, Any],
    submitted_at: dt.datetime | None = None,
    invitation: Invitation | None = None,
    patient_id: int | None = None,
    external_id: str | None = None,
    channel: str | None = None,
    language: str = "en",
    source: str = "api",
    department_id: int | None = None,
    provider_id: int | None = None,
    encounter_id: int | None = None,
    case_id: int | None = None,
    contact_id: int | None = None,
    status: str = ResponseStatus.complete.value,
    run_hooks: bool = True,
) -> Response:
    """Validate and store a response (or update the partial response of an invitation).

    Raises ``BadRequest`` naming the item for an invalid answer and ``Conflict`` for a second response
    to the same invitation or a repeated ``external_id``.
    """
    if status not in (ResponseStatus.partial.value, ResponseStatus.complete.value):
        raise BadRequest("status must be 'partial' or 'complete'")
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(session, instrument)
    if invitation is not None and invitation.instrument_id != inst.id:
        raise BadRequest("the invitation is for another instrument")
    try:
        cleaned = clean_answers(inst.definition, answers, complete=status == ResponseStatus.complete.value)
    except AnswerError as exc:
        raise BadRequest(f"answer to {exc.item} {exc.message}", details={"item": exc.item}) from None
    if submitted_at is not None and submitted_at.tzinfo is None:
        raise BadRequest("submitted_at must include a time zone (ISO 8601, e.g. 2026-03-01T10:00:00Z)")
    if external_id is not None:
        dup = session.execute(select(Response.id).where(Response.external_id == external_id)).first()
        if dup:
            raise Conflict(f"a response with id {external_id!r} already exists")
    row: Response | None = None
    if invitation is not None:
        row = session.execute(select(Response).where(Response.invitation_id == invitation.id)).scalar_one_or_none()
        if row is not None and row.status == ResponseStatus.complete.value:
            raise Conflict("this survey link has already been answered")
        patient_id = patient_id or invitation.patient_id
        department_id = department_id or invitation.department_id
        provider_id = provider_id or invitation.provider_id
        encounter_id = encounter_id or invitation.encounter_id
        case_id = case_id or invitation.case_id
        channel = channel or invitation.channel
    plain, texts = split_text_answers(inst.definition, cleaned)
    if row is None:
        row = Response(instrument_id=inst.id, instrument_version=inst.version,
                       invitation_id=invitation.id if invitation else None)
        session.add(row)
    row.patient_id = patient_id
    row.external_id = external_id
    row.submitted_at = submitted_at or utcnow()
    row.channel = channel
    row.language = language
    row.source = source
    row.department_id = department_id
    row.provider_id = provider_id
    row.encounter_id = encounter_id
    row.case_id = case_id
    row.contact_id = contact_id
    row.answers = plain
    row.text_answers = json.dumps(texts, ensure_ascii=False) if texts else None
    row.comment = "\n\n".join(texts.values()) if texts else None
    row.status = status
    session.flush()
    if invitation is not None and status == ResponseStatus.complete.value:
        invitation.status = InvitationStatus.responded.value
        invitation.responded_at = row.submitted_at
    if status == ResponseStatus.complete.value:
        audit.record(session, actor, "response.recorded", "survey_response", row.id, patient_id=row.patient_id,
                     details={"instrument": inst.code, "version": inst.version, "source": source})
        if run_hooks:
            after_response(session, actor, row)
    session.flush()
    return row


def after_response(session: Session, actor: Actor, response: Response) -> None:
    """Hand a complete response to text analytics (as a job) and to the closed-loop trigger."""
    if response.comment:
        jobs.enqueue(session, ANALYZE_COMMENT_JOB, {"response_id": response.id},
                     dedupe_key=f"{ANALYZE_COMMENT_JOB}:{response.id}")
    if importlib.util.find_spec("pxm.practices.feedback.loop") is None:
        return
    try:
        loop = importlib.import_module("pxm.practices.feedback.loop.service")
    except ModuleNotFoundError:
        return
    check = getattr(loop, "check_response", None)
    if check is not None:
        check(session, actor, response)


def get_response(session: Session, response_id: int) -> Response:
    return get_or_404(session, Response, response_id, "response")


def read_response_text(session: Session, actor: Actor, response: Response) -> dict[str, str]:
    """The sealed free-text answers of a response; the read is audited."""
    audit.record(session, actor, "response.text_read", "survey_response", response.id,
                 patient_id=response.patient_id)
    return json.loads(response.text_answers) if response.text_answers else {}
