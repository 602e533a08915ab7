"""Jobs of the feedback feature: invite on discharge, compose invitations, send messages at most once, expire.

``feedback.deliver_invitation`` (one job per invitation and step: 0 = first message, n = n-th reminder)
composes the message into ``message_outbox`` (unique ``delivery_key`` ``invitation:<id>:<step>``) and enqueues
``feedback.send_message``. Composing and sending are separate commits, so a retry never mints a second token
or a second message for the same step.

``feedback.send_message`` hands one outbox row to its sender. The job runner commits the claim (attempt n)
before the handler runs; a sender error raises ``DeliveryFailed`` (recorded as the job's last error) and the
job retries. If an earlier attempt ended any other way (the worker died, e.g. after the SMTP server accepted
the message but before our commit), the handler asks the sender whether the message left; when the sender
cannot tell, the row becomes ``uncertain`` and is never sent again: at most one message per delivery key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.config import get_settings
from pxm.platform.db.base import utcnow
from pxm.platform.jobs.models import Job
from pxm.platform.people.models import Encounter, Patient
from pxm.platform.people.service import ENCOUNTER_DISCHARGED
from pxm.practices.feedback import delivery
from pxm.practices.feedback.invitations import (
    DELIVER_JOB,
    EXPIRE_JOB,
    InvitationPolicy,
    choose_channel,
    invite_for_encounter,
    new_token,
)
from pxm.practices.feedback.models import Invitation, InvitationStatus, MessageOutbox, MessageStatus

SEND_JOB = "feedback.send_message"
_OPEN = (InvitationStatus.pending.value, InvitationStatus.sent.value)


@jobs.handler(DELIVER_JOB)
def deliver_invitation(session: Session, job: Job) -> dict[str, Any]:
    inv = session.get(Invitation, int(job.payload["invitation_id"]))
    step = int(job.payload.get("step", 0))
    if inv is None:
        return {"skipped": "invitation gone"}
    if inv.status not in _OPEN:
        return {"skipped": f"invitation {inv.status}"}
    now = utcnow()
    if now >= inv.expires_at:
        inv.status = InvitationStatus.expired.value
        return {"skipped": "expired"}
    if step > 0 and (inv.status != InvitationStatus.sent.value or inv.reminders_sent >= step):
        return {"skipped": "no reminder due"}
    key = f"invitation:{inv.id}:{step}"
    existing = session.execute(select(MessageOutbox).where(MessageOutbox.delivery_key == key)).scalar_one_or_none()
    if existing is not None:
        return {"skipped": "already composed", "message": existing.id}
    patient = session.get(Patient, inv.patient_id)
    assert patient is not None
    channel, why = choose_channel(patient)  # consent may have been withdrawn since the invitation was made
    if channel is None:
        inv.status = InvitationStatus.suppressed.value
        inv.status_reason = f"at send time: {why}"
        return {"skipped": why}
    inv.channel = channel
    token, token_hash = new_token()
    if step == 0:
        inv.token_hash = token_hash
    else:
        inv.reminder_token_hash = token_hash
    subject, body = delivery.compose(inv, inv.instrument.definition, token, step)
    to = patient.email if channel == "email" else patient.phone
    if not to:
        inv.status = InvitationStatus.failed.value
        inv.status_reason = f"no {channel} contact on file"
        return {"skipped": inv.status_reason}
    msg = MessageOutbox(delivery_key=key, message_id=f"<pxm.{key.replace(':', '.')}@pxm.invalid>",
                        channel=channel, to=to, subject=subject, body=body, language=inv.language,
                        invitation_id=inv.id, patient_id=inv.patient_id, status=MessageStatus.queued.value)
    session.add(msg)
    session.flush()
    jobs.enqueue(session, SEND_JOB, {"message_id": msg.id}, dedupe_key=f"{SEND_JOB}:{msg.id}")
    return {"message": msg.id}


def _crashed_before(job: Job) -> bool:
    """An earlier attempt of this job neither committed nor failed cleanly with ``DeliveryFailed``."""
    return job.attempts > 1 and "DeliveryFailed" not in (job.last_error or "")


@jobs.handler(SEND_JOB)
def send_message(session: Session, job: Job) -> dict[str, Any]:
    msg = session.get(MessageOutbox, int(job.payload["message_id"]))
    if msg is None:
        return {"skipped": "message gone"}
    if msg.status != MessageStatus.queued.value:
        return {"skipped": msg.status}
    sender = delivery.sender_for(msg.channel)
    msg.sender = sender.name
    msg.attempts = job.attempts
    if _crashed_before(job):
        left = sender.was_sent(msg.message_id)
        if left is None:
            msg.status = MessageStatus.uncertain.value
            msg.error = "a worker stopped mid-send and the sender cannot confirm; not re-sent to avoid a duplicate"
            _after_sent(session, msg, confirmed=False)
            return {"status": msg.status}
        if left:
            _after_sent(session, msg, confirmed=True)
            return {"status": msg.status, "confirmed_by": sender.name}
    try:
        sender.send(msg)
    except delivery.DeliveryFailed as exc:
        if job.attempts >= job.max_attempts:
            msg.status = MessageStatus.failed.value
            msg.error = str(exc)[:500]
            if msg.invitation_id:
                inv = session.get(Invitation, msg.invitation_id)
                if inv is not None and inv.status == InvitationStatus.pending.value:
                    inv.status = InvitationStatus.failed.value
                    inv.status_reason = "delivery failed"
            return {"status": msg.status}
        raise
    _after_sent(session, msg, confirmed=True)
    return {"status": msg.status}


def _after_sent(session: Session, msg: MessageOutbox, *, confirmed: bool) -> None:
    now = utcnow()
    if confirmed:
        msg.status = MessageStatus.sent.value
        msg.sent_at = now
        msg.error = None
    if msg.invitation_id is None:
        return
    inv = session.get(Invitation, msg.invitation_id)
    if inv is None:
        return
    step = int(msg.delivery_key.rsplit(":", 1)[1])
    if step == 0:
        if inv.status == InvitationStatus.pending.value:
            inv.status = InvitationStatus.sent.value
        inv.sent_at = inv.sent_at or now
    else:
        inv.reminders_sent = max(inv.reminders_sent, step)
    if step < inv.max_reminders:
        nxt = step + 1
        jobs.enqueue(session, DELIVER_JOB, {"invitation_id": inv.id, "step": nxt},
                     dedupe_key=f"{DELIVER_JOB}:{inv.id}:{nxt}",
                     run_after=now + dt.timedelta(days=inv.reminder_after_days))


@jobs.handler(EXPIRE_JOB)
def expire_invitation(session: Session, job: Job) -> dict[str, Any]:
    inv = session.get(Invitation, int(job.payload["invitation_id"]))
    if inv is None or inv.status not in _OPEN:
        return {"skipped": "closed"}
    if utcnow() < inv.expires_at:
        raise RuntimeError("not yet expired; retried later")
    inv.status = InvitationStatus.expired.value
    return {"status": inv.status}


@jobs.handler(ENCOUNTER_DISCHARGED)
def invite_discharged_encounter(session: Session, job: Job) -> dict[str, Any]:
    """The event "encounter discharged" (people service): invite the patient; consent and fatigue apply.

    Idempotent: one invitation per encounter (``trigger_ref`` ``encounter:<id>``), so a re-run or the
    ``pxm feedback scan`` safety net finds the same row.
    """
    enc = session.get(Encounter, int(job.payload["encounter_id"]))
    if enc is None or enc.discharge_at is None:
        return {"skipped": "encounter gone" if enc is None else "no discharge time"}
    inv = invite_for_encounter(session, Actor.system("feedback-events"), enc.id,
                               policy=InvitationPolicy.from_settings(get_settings()))
    return {"invitation": inv.id, "status": inv.status}
