"""Delivery through the outbox rule: one message per invitation step, even when a worker dies mid-send."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.practices.feedback.fake_smtp import FakeSMTP

from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.jobs import run_pending, sweep
from pxm.platform.jobs.models import Job
from pxm.platform.people.models import Patient
from pxm.practices.feedback import delivery
from pxm.practices.feedback import invitations as inv_service
from pxm.practices.feedback.invitations import InvitationPolicy, TokenProblem, invitation_for_token
from pxm.practices.feedback.models import Invitation, MessageOutbox
from pxm.practices.feedback.service import record_response

NOW_POLICY = InvitationPolicy(delay_hours=0, expiry_days=14, reminder_after_days=3, max_reminders=1)


@pytest.fixture(autouse=True)
def _reset_senders() -> Iterator[None]:
    delivery.configure_senders({"email": delivery.OutboxSender(), "sms": delivery.OutboxSender()})
    yield
    delivery.configure_senders(None)


def _smtp(port: int) -> delivery.SmtpSender:
    return delivery.SmtpSender("127.0.0.1", port, sender="surveys@pxm.test", timeout=5)


def _invite(db: Session, actor: Actor, patient: Patient) -> Invitation:
    inv = inv_service.create_invitation(db, actor, patient_id=patient.id, instrument="pulse", trigger="manual",
                                        policy=NOW_POLICY)
    db.flush()
    return inv


def _messages(db: Session, inv: Invitation) -> list[MessageOutbox]:
    db.expire_all()
    return list(db.execute(select(MessageOutbox).where(MessageOutbox.invitation_id == inv.id)).scalars())


def test_outbox_delivery_records_message_and_link_opens_survey_once(
        db: Session, actor: Actor, session_factory: sessionmaker[Session],
        make_patient: Callable[..., Patient]) -> None:
    patient = make_patient(preferred_language="es")
    inv = _invite(db, actor, patient)
    run_pending(session_factory)  # compose
    run_pending(session_factory)  # send
    [msg] = _messages(db, inv)
    assert msg.status == "sent" and msg.channel == "email" and msg.to == patient.email
    assert msg.subject == "¿Cómo lo hicimos?" and "Responda aquí" in msg.body
    token = re.search(r"/s/([A-Za-z0-9_\-]+)", msg.body).group(1)  # type: ignore[union-attr]
    db.refresh(inv)
    assert inv.status == "sent" and inv.token_hash != token and len(inv.token_hash or "") == 64
    assert invitation_for_token(db, token).id == inv.id
    record_response(db, actor, instrument=inv.instrument, invitation=inv, answers={"CSAT": 5, "RESOLVED": "yes"})
    with pytest.raises(TokenProblem) as used:
        invitation_for_token(db, token)
    assert used.value.kind == "used"
    # a reminder is scheduled, and a responded invitation gets no reminder
    reminder = db.execute(select(Job).where(Job.dedupe_key == f"feedback.deliver_invitation:{inv.id}:1")).scalar_one()
    db.execute(update(Job).where(Job.id == reminder.id).values(run_after=utcnow()))
    db.flush()
    run_pending(session_factory)
    assert len(_messages(db, inv)) == 1


def test_expired_and_unknown_tokens(db: Session, actor: Actor, session_factory: sessionmaker[Session],
                                    make_patient: Callable[..., Patient]) -> None:
    inv = _invite(db, actor, make_patient())
    run_pending(session_factory)
    run_pending(session_factory)
    [msg] = _messages(db, inv)
    token = re.search(r"/s/([A-Za-z0-9_\-]+)", msg.body).group(1)  # type: ignore[union-attr]
    with pytest.raises(TokenProblem) as late:
        invitation_for_token(db, token, now=utcnow() + dt.timedelta(days=15))
    assert late.value.kind == "expired"
    with pytest.raises(TokenProblem) as unknown:
        invitation_for_token(db, token[:-2] + "xx")
    assert unknown.value.kind == "unknown"


def test_reminder_sends_second_message_with_its_own_working_link(
        db: Session, actor: Actor, session_factory: sessionmaker[Session],
        make_patient: Callable[..., Patient]) -> None:
    inv = _invite(db, actor, make_patient(preferred_channel="sms"))
    run_pending(session_factory)
    run_pending(session_factory)
    db.execute(update(Job).where(Job.dedupe_key == f"feedback.deliver_invitation:{inv.id}:1").values(run_after=utcnow()))
    db.flush()
    run_pending(session_factory)
    run_pending(session_factory)
    first, second = sorted(_messages(db, inv), key=lambda m: m.id)
    assert first.channel == second.channel == "sms" and second.delivery_key.endswith(":1")
    t1, t2 = (re.search(r"/s/([A-Za-z0-9_\-]+)", m.body).group(1) for m in (first, second))  # type: ignore[union-attr]
    assert invitation_for_token(db, t1).id == invitation_for_token(db, t2).id == inv.id
    db.refresh(inv)
    assert inv.reminders_sent == 1


class WorkerKilled(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the job runner catches it."""


class DiesAfterSend(delivery.SmtpSender):
    def send(self, message: MessageOutbox) -> None:
        super().send(message)
        raise WorkerKilled


def test_worker_killed_after_smtp_send_before_commit_sends_no_second_message(
        db: Session, actor: Actor, session_factory: sessionmaker[Session],
        make_patient: Callable[..., Patient]) -> None:
    with FakeSMTP() as smtp:
        delivery.configure_senders({"email": DiesAfterSend("127.0.0.1", smtp.port, sender="s@pxm.test"),
                                    "sms": delivery.OutboxSender()})
        inv = _invite(db, actor, make_patient())
        run_pending(session_factory)  # compose (committed)
        with pytest.raises(WorkerKilled):
            run_pending(session_factory)  # the SMTP server accepted the message, then the worker died
        assert len(smtp.messages) == 1
        [msg] = _messages(db, inv)
        assert msg.status == "queued"  # our commit never happened
        # a new worker starts: the sweep re-drives the stale job, which runs again
        delivery.configure_senders({"email": _smtp(smtp.port), "sms": delivery.OutboxSender()})
        with session_factory() as s, s.begin():
            assert sweep(s, dt.timedelta(0)) == 1
        run_pending(session_factory)
        run_pending(session_factory)
        assert len(smtp.messages) == 1
        [msg] = _messages(db, inv)
        assert msg.status == "uncertain"
        assert smtp.messages[0]["Message-ID"] == msg.message_id


def test_smtp_refusal_retries_and_then_sends_exactly_once(
        db: Session, actor: Actor, session_factory: sessionmaker[Session],
        make_patient: Callable[..., Patient]) -> None:
    with FakeSMTP() as smtp:
        closed = FakeSMTP()
        dead_port = closed.port
        closed.server.server_close()  # nothing listens there now
        delivery.configure_senders({"email": _smtp(dead_port), "sms": delivery.OutboxSender()})
        patient = make_patient()
        inv = _invite(db, actor, patient)
        run_pending(session_factory)
        run_pending(session_factory)
        job = db.execute(select(Job).where(Job.kind == "feedback.send_message")).scalar_one()
        db.refresh(job)
        assert job.status == "pending" and "DeliveryFailed" in (job.last_error or "")
        delivery.configure_senders({"email": _smtp(smtp.port), "sms": delivery.OutboxSender()})
        db.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow()))
        db.flush()
        run_pending(session_factory)
        [msg] = _messages(db, inv)
        assert msg.status == "sent" and len(smtp.messages) == 1
        assert smtp.messages[0]["To"] == patient.email
