"""Event triggers: a resolved case and a discharged encounter invite the patient, in the transaction of the cause."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.auth.actor import Actor
from pxm.platform.jobs import run_pending
from pxm.platform.jobs.models import Job
from pxm.platform.people import service as people
from pxm.platform.people.models import OrgUnit, Patient
from pxm.platform.people.schemas import EncounterCreate
from pxm.practices.feedback.models import Invitation
from pxm.practices.resolution import service as desk

DISCHARGED = "people.encounter_discharged"


def _case_invitations(db: Session, case_id: int) -> list[Invitation]:
    db.expire_all()
    return list(db.execute(select(Invitation).where(Invitation.case_id == case_id)).scalars())


def _deliver_job(db: Session, inv: Invitation) -> Job | None:
    return db.execute(select(Job).where(Job.dedupe_key == f"feedback.deliver_invitation:{inv.id}:0")).scalar_one_or_none()


def _discharge_jobs(db: Session, encounter_id: int) -> list[Job]:
    return list(db.execute(select(Job).where(Job.kind == DISCHARGED,
                                             Job.dedupe_key == f"encounter-discharged:{encounter_id}")).scalars())


def test_resolving_a_case_invites_a_consenting_patient_once(db: Session, actor: Actor,
                                                            make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    case = desk.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    desk.transition(db, actor, case.id, "in_progress")
    assert _case_invitations(db, case.id) == []
    desk.transition(db, actor, case.id, "resolved", resolution_code="billing_corrected")
    [inv] = _case_invitations(db, case.id)
    assert (inv.patient_id, inv.trigger, inv.trigger_ref, inv.status) == (p.id, "case", f"case:{case.id}", "pending")
    assert inv.instrument.code == "pulse" and inv.channel == "email"
    assert inv.send_after == case.resolved_at + dt.timedelta(hours=24)
    assert _deliver_job(db, inv) is not None
    # the patient calls back, the case reopens and is resolved again: still one survey for this case
    desk.transition(db, actor, case.id, "in_progress", note="patient called back")
    desk.transition(db, actor, case.id, "resolved", resolution_code="answered")
    assert [i.id for i in _case_invitations(db, case.id)] == [inv.id]


def test_resolving_a_case_without_survey_consent_sends_nothing(db: Session, actor: Actor,
                                                               make_patient: Callable[..., Patient]) -> None:
    p = make_patient(consent_surveys=False)
    case = desk.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    desk.transition(db, actor, case.id, "resolved", resolution_code="answered")
    [inv] = _case_invitations(db, case.id)
    assert inv.status == "suppressed" and inv.status_reason == "no consent to surveys"
    assert _deliver_job(db, inv) is None


def test_second_resolution_within_the_fatigue_window_is_suppressed(db: Session, actor: Actor,
                                                                  make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    first = desk.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    desk.transition(db, actor, first.id, "resolved", resolution_code="answered")
    second = desk.open_case(db, actor, patient_id=p.id, reason="referral", route=False)
    desk.transition(db, actor, second.id, "resolved", resolution_code="referral_made")
    [inv] = _case_invitations(db, second.id)
    assert inv.status == "suppressed" and inv.status_reason.startswith("fatigue")
    assert _deliver_job(db, inv) is None


def test_a_contact_resolved_at_first_contact_invites(db: Session, actor: Actor,
                                                     make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    contact = desk.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="billing",
                               started_at=start, ended_at=start + dt.timedelta(minutes=4), resolved=True,
                               route=False)
    [inv] = _case_invitations(db, contact.case_id)
    assert inv.status == "pending" and inv.send_after == start + dt.timedelta(minutes=4, hours=24)


def test_an_encounter_created_discharged_invites_through_its_job(
        db: Session, actor: Actor, session_factory: sessionmaker[Session], department: OrgUnit,
        make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    discharged = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    enc = people.create_encounter(db, actor, p.id, EncounterCreate(
        type="inpatient", department_id=department.id, admit_at=discharged - dt.timedelta(days=3),
        discharge_at=discharged))
    [job] = _discharge_jobs(db, enc.id)
    assert job.payload == {"encounter_id": enc.id} and job.status == "pending"
    assert db.execute(select(Invitation).where(Invitation.encounter_id == enc.id)).first() is None
    db.flush()
    assert run_pending(session_factory) >= 1
    db.expire_all()
    [inv] = db.execute(select(Invitation).where(Invitation.encounter_id == enc.id)).scalars()
    assert (inv.patient_id, inv.trigger, inv.status, inv.department_id) == (p.id, "encounter", "pending", department.id)
    assert inv.instrument.code == "inpatient"
    assert inv.send_after == discharged + dt.timedelta(hours=24)
    db.refresh(job)
    assert job.status == "done"


def test_an_encounter_without_discharge_enqueues_nothing_until_discharged(
        db: Session, actor: Actor, session_factory: sessionmaker[Session], department: OrgUnit,
        make_patient: Callable[..., Patient]) -> None:
    p = make_patient(consent_surveys=False)
    admitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    enc = people.create_encounter(db, actor, p.id, EncounterCreate(
        type="emergency", department_id=department.id, admit_at=admitted))
    assert db.execute(select(Job).where(Job.kind == DISCHARGED)).scalars().all() == []
    people.update_encounter(db, actor, enc.id, discharge_at=admitted + dt.timedelta(hours=6))
    # correcting the discharge time announces nothing new
    people.update_encounter(db, actor, enc.id, discharge_at=admitted + dt.timedelta(hours=7))
    assert len(_discharge_jobs(db, enc.id)) == 1
    db.flush()
    run_pending(session_factory)
    db.expire_all()
    [inv] = db.execute(select(Invitation).where(Invitation.encounter_id == enc.id)).scalars()
    assert inv.instrument.code == "pulse" and inv.status == "suppressed"
    assert inv.status_reason == "no consent to surveys"


def test_an_ehr_discharges_an_encounter_through_the_api(
        client, db: Session, actor: Actor, session_factory: sessionmaker[Session], department: OrgUnit,
        make_patient: Callable[..., Patient]) -> None:
    from tests.helpers.auth import token_headers

    p = make_patient()
    admitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    enc = people.create_encounter(db, actor, p.id, EncounterCreate(
        type="outpatient", department_id=department.id, admit_at=admitted))
    db.flush()
    headers = token_headers(db, "cx_manager")
    bad = client.put(f"/api/v1/encounters/{enc.id}/discharge", headers=headers,
                     json={"discharge_at": (admitted - dt.timedelta(hours=1)).isoformat()})
    assert bad.status_code == 422 and "before admit_at" in bad.json()["error"]["message"]
    naive = client.put(f"/api/v1/encounters/{enc.id}/discharge", headers=headers,
                       json={"discharge_at": "2026-01-01T10:00:00"})
    assert naive.status_code == 422
    assert _discharge_jobs(db, enc.id) == []
    left = admitted + dt.timedelta(hours=3)
    ok = client.put(f"/api/v1/encounters/{enc.id}/discharge", headers=headers,
                    json={"discharge_at": left.isoformat()})
    assert ok.status_code == 200 and ok.json()["discharge_at"].startswith(left.isoformat()[:19])
    assert client.put("/api/v1/encounters/999999/discharge", headers=headers,
                      json={"discharge_at": left.isoformat()}).status_code == 404
    assert len(_discharge_jobs(db, enc.id)) == 1
    run_pending(session_factory)
    db.expire_all()
    [inv] = db.execute(select(Invitation).where(Invitation.encounter_id == enc.id)).scalars()
    assert inv.patient_id == p.id and inv.trigger == "encounter"
