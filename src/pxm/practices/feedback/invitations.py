"""Survey invitations: event triggers and waves, consent and channel choice, fatigue, single-use tokens.

An invitation is a row written in the transaction of its cause, together with the job
``feedback.deliver_invitation`` that composes and sends it when ``send_after`` comes (see ``tasks.py``).
Only the SHA-256 of a link token is stored; the token itself exists only in the message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pxm.platform import audit, jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Encounter, Patient
from pxm.practices.feedback.models import Instrument, Invitation, InvitationStatus, Response
from pxm.practices.feedback.service import get_instrument

DELIVER_JOB = "feedback.deliver_invitation"
EXPIRE_JOB = "feedback.expire_invitation"
COUNTED = (InvitationStatus.pending.value, InvitationStatus.sent.value, InvitationStatus.responded.value,
           InvitationStatus.expired.value, InvitationStatus.failed.value)


@dataclass(frozen=True)
class InvitationPolicy:
    fatigue_days: int = 30
    delay_hours: float = 24.0
    expiry_days: int = 14
    reminder_after_days: int = 3
    max_reminders: int = 1

    @classmethod
    def from_settings(cls, settings: Any) -> InvitationPolicy:
        return cls(fatigue_days=settings.feedback_fatigue_days, delay_hours=settings.feedback_delay_hours,
                   expiry_days=settings.feedback_expiry_days, reminder_after_days=settings.feedback_reminder_days,
                   max_reminders=settings.feedback_max_reminders)


# --------------------------------------------------------------------------- tokens

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh link token and its hash."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


class TokenProblem(Exception):
    """Why a survey link cannot be used: ``kind`` is unknown, used or expired."""

    def __init__(self, kind: str, invitation: Invitation | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.invitation = invitation


def invitation_for_token(session: Session, token: str, now: dt.datetime | None = None) -> Invitation:
    """The invitation a link token opens, or ``TokenProblem`` (unknown, used or expired)."""
    if not token or len(token) > 100:
        raise TokenProblem("unknown")
    h = hash_token(token)
    inv = session.execute(select(Invitation).where(
        or_(Invitation.token_hash == h, Invitation.reminder_token_hash == h))).scalar_one_or_none()
    if inv is None:
        raise TokenProblem("unknown")
    if inv.status == InvitationStatus.responded.value:
        raise TokenProblem("used", inv)
    if inv.status == InvitationStatus.expired.value or (now or utcnow()) >= inv.expires_at:
        raise TokenProblem("expired", inv)
    return inv


def partial_response(session: Session, invitation: Invitation) -> Response | None:
    return session.execute(select(Response).where(Response.invitation_id == invitation.id)).scalar_one_or_none()


# --------------------------------------------------------------------------- consent, channel, language

def choose_channel(patient: Patient) -> tuple[str | None, str]:
    """The channel to invite this patient on, and why (no channel when consent or a route is missing)."""
    if not patient.consent_surveys:
        return None, "no consent to surveys"
    routes = {"email": patient.consent_email and bool(patient.email_index or patient.email),
              "sms": patient.consent_sms and bool(patient.phone)}
    preferred = patient.preferred_channel
    if preferred in routes and routes[preferred]:
        return preferred, f"preferred channel {preferred}"
    for channel in ("email", "sms"):
        if routes[channel]:
            return channel, f"fallback to {channel} (preferred {preferred} not consented or no contact)"
    return None, "no consented email or SMS contact"


def choose_language(patient: Patient, instrument: Instrument) -> str:
    lang = (patient.preferred_language or "en").split("-")[0].lower()
    title = instrument.definition.get("title", {})
    return lang if isinstance(title, dict) and title.get(lang) else "en"


def last_invited_at(session: Session, patient_id: int, since: dt.datetime) -> dt.datetime | None:
    return session.execute(
        select(Invitation.send_after).where(Invitation.patient_id == patient_id, Invitation.status.in_(COUNTED),
                                            Invitation.send_after > since)
        .order_by(Invitation.send_after.desc()).limit(1)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- creating invitations

def create_invitation(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    instrument: str | Instrument,
    trigger: str,
    trigger_ref: str | None = None,
    encounter_id: int | None = None,
    case_id: int | None = None,
    department_id: int | None = None,
    provider_id: int | None = None,
    policy: InvitationPolicy | None = None,
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite a patient, or record why not (status ``suppressed``: consent, contact route or fatigue).

    Idempotent per ``trigger_ref``: the same event never invites twice.
    """
    policy = policy or InvitationPolicy()
    now = now or utcnow()
    if trigger_ref is not None:
        existing = session.execute(select(Invitation).where(Invitation.trigger_ref == trigger_ref)).scalar_one_or_none()
        if existing is not None:
            return existing
    patient = get_or_404(session, Patient, patient_id, "patient")
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(session, instrument)
    send_after = now + dt.timedelta(hours=policy.delay_hours)
    channel, why = choose_channel(patient)
    inv = Invitation(
        patient_id=patient.id, instrument_id=inst.id, channel=channel or "none",
        language=choose_language(patient, inst), trigger=trigger, trigger_ref=trigger_ref,
        encounter_id=encounter_id, case_id=case_id, department_id=department_id, provider_id=provider_id,
        send_after=send_after, expires_at=send_after + dt.timedelta(days=policy.expiry_days),
        max_reminders=policy.max_reminders, reminder_after_days=policy.reminder_after_days,
        status=InvitationStatus.pending.value, status_reason=why, created_at=now,
    )
    if channel is None:
        inv.status = InvitationStatus.suppressed.value
    else:
        last = last_invited_at(session, patient.id, send_after - dt.timedelta(days=policy.fatigue_days))
        if last is not None:
            inv.status = InvitationStatus.suppressed.value
            inv.status_reason = f"fatigue: already invited {last.date().isoformat()} (limit 1 per {policy.fatigue_days} days)"
    session.add(inv)
    session.flush()
    if inv.status == InvitationStatus.pending.value:
        jobs.enqueue(session, DELIVER_JOB, {"invitation_id": inv.id, "step": 0},
                     dedupe_key=f"{DELIVER_JOB}:{inv.id}:0", run_after=send_after)
        jobs.enqueue(session, EXPIRE_JOB, {"invitation_id": inv.id},
                     dedupe_key=f"{EXPIRE_JOB}:{inv.id}", run_after=inv.expires_at)
    audit.record(session, actor, "invitation.created", "survey_invitation", inv.id, patient_id=patient.id,
                 details={"instrument": inst.code, "trigger": trigger, "status": inv.status})
    return inv


def invite_for_encounter(session: Session, actor: Actor, encounter_id: int,
                         policy: InvitationPolicy | None = None, now: dt.datetime | None = None) -> Invitation:
    """Encounter discharged: inpatient stays get the ``inpatient`` survey, other visits the ``pulse``."""
    enc = get_or_404(session, Encounter, encounter_id, "encounter")
    if enc.discharge_at is None:
        raise BadRequest(f"encounter {encounter_id} has no discharge time yet; invite after discharge")
    code = "inpatient" if enc.type == "inpatient" else "pulse"
    return create_invitation(session, actor, patient_id=enc.patient_id, instrument=code, trigger="encounter",
                             trigger_ref=f"encounter:{enc.id}", encounter_id=enc.id,
                             department_id=enc.department_id, provider_id=enc.provider_id, policy=policy,
                             now=now or enc.discharge_at)


def invite_for_case(session: Session, actor: Actor, *, case_id: int, patient_id: int,
                    policy: InvitationPolicy | None = None, now: dt.datetime | None = None) -> Invitation:
    """Case resolved: a ``pulse`` survey about the contact (call this from the resolution feature)."""
    return create_invitation(session, actor, patient_id=patient_id, instrument="pulse", trigger="case",
                             trigger_ref=f"case:{case_id}", case_id=case_id, policy=policy, now=now)


def invite_discharged(session: Session, actor: Actor, *, since: dt.datetime, until: dt.datetime | None = None,
                      policy: InvitationPolicy | None = None) -> list[Invitation]:
    """Invite for every encounter discharged in [since, until) that has no invitation yet (idempotent)."""
    until = until or utcnow()
    done = select(Invitation.encounter_id).where(Invitation.encounter_id.is_not(None))
    ids = session.execute(
        select(Encounter.id).where(Encounter.discharge_at >= since, Encounter.discharge_at < until,
                                   Encounter.id.not_in(done)).order_by(Encounter.discharge_at)
    ).scalars().all()
    return [invite_for_encounter(session, actor, i, policy) for i in ids]


def invite_resolved_cases(session: Session, actor: Actor, *, since: dt.datetime, until: dt.datetime | None = None,
                          policy: InvitationPolicy | None = None) -> list[Invitation]:
    """Invite (``pulse``) for every case resolved in [since, until), through the resolution feature's queries."""
    try:
        from pxm.practices.resolution import queries
    except ImportError:  # a deployment without the service desk
        return []
    until = until or utcnow()
    cases = session.execute(queries.case_query(status=["resolved", "closed"])).scalars().all()
    out = []
    for case in cases:
        if case.resolved_at is not None and since <= case.resolved_at < until:
            out.append(invite_for_case(session, actor, case_id=case.id, patient_id=case.patient_id, policy=policy,
                                       now=case.resolved_at))
    return out


SEGMENT_KEYS = ("age_band", "sex", "conditions", "language", "facility_id")


def segment_patients(session: Session, segment: dict[str, Any], today: dt.date | None = None) -> list[int]:
    """Patient ids matching a filter over de-identified attributes only.

    ``age_band``: "18-44" style (inclusive, by birth year); ``sex``: list; ``conditions``: any of;
    ``language``: list; ``facility_id``: list of home facility ids.
    """
    unknown = [k for k in segment if k not in SEGMENT_KEYS]
    if unknown:
        raise BadRequest(f"segment: unknown filter {unknown[0]!r}; use {', '.join(SEGMENT_KEYS)}")
    year = (today or utcnow().date()).year
    q = select(Patient.id, Patient.conditions)
    if "age_band" in segment:
        try:
            lo, hi = (int(x) for x in str(segment["age_band"]).split("-"))
        except ValueError:
            raise BadRequest("segment.age_band must look like 18-44") from None
        q = q.where(Patient.birth_year <= year - lo, Patient.birth_year >= year - hi)
    if segment.get("sex"):
        q = q.where(Patient.sex.in_(list(segment["sex"])))
    if segment.get("language"):
        q = q.where(Patient.preferred_language.in_(list(segment["language"])))
    if segment.get("facility_id"):
        q = q.where(Patient.home_facility_id.in_([int(x) for x in segment["facility_id"]]))
    wanted = {c.lower() for c in segment.get("conditions") or []}
    return [pid for pid, conds in session.execute(q.order_by(Patient.id))
            if not wanted or wanted & {c.lower() for c in (conds or [])}]


def send_wave(session: Session, actor: Actor, *, instrument: str, segment: dict[str, Any], wave: str,
              policy: InvitationPolicy | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """Invite a segment; returns counts by resulting status. Re-running the same ``wave`` adds nothing."""
    counts: dict[str, int] = {}
    for pid in segment_patients(session, segment):
        inv = create_invitation(session, actor, patient_id=pid, instrument=instrument, trigger="wave",
                                trigger_ref=f"wave:{wave}:{pid}", policy=policy, now=now)
        counts[inv.status] = counts.get(inv.status, 0) + 1
    return counts
