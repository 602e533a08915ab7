"""Invitations: consent and channel choice, language, the fatigue rule, triggers, segments and waves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.models import Job
from pxm.platform.people.models import Encounter, Patient
from pxm.practices.feedback import invitations as inv_service
from pxm.practices.feedback.invitations import InvitationPolicy, choose_channel

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_channel_follows_preference_and_consent(make_patient: Callable[..., Patient]) -> None:
    assert choose_channel(make_patient(preferred_channel="sms"))[0] == "sms"
    assert choose_channel(make_patient(preferred_channel="email"))[0] == "email"
    # preferred SMS without SMS consent falls back to email
    channel, why = choose_channel(make_patient(preferred_channel="sms", consent_sms=False))
    assert channel == "email" and "fallback" in why
    assert choose_channel(make_patient(consent_surveys=False)) == (None, "no consent to surveys")
    assert choose_channel(make_patient(consent_email=False, consent_sms=False))[0] is None
    assert choose_channel(make_patient(email=None, consent_sms=False))[0] is None


def test_no_consent_is_recorded_as_suppressed_without_a_job(db: Session, actor: Actor,
                                                           make_patient: Callable[..., Patient]) -> None:
    p = make_patient(consent_surveys=False)
    inv = inv_service.create_invitation(db, actor, patient_id=p.id, instrument="nps", trigger="manual", now=NOW)
    assert inv.status == "suppressed" and inv.status_reason == "no consent to surveys"
    assert db.execute(select(Job).where(Job.dedupe_key == f"feedback.deliver_invitation:{inv.id}:0")).first() is None


def test_language_follows_patient_preference(db: Session, actor: Actor, make_patient: Callable[..., Patient]) -> None:
    es = inv_service.create_invitation(db, actor, patient_id=make_patient(preferred_language="es").id,
                                       instrument="pulse", trigger="manual", now=NOW)
    fr = inv_service.create_invitation(db, actor, patient_id=make_patient(preferred_language="fr").id,
                                       instrument="pulse", trigger="manual", now=NOW)
    assert (es.language, fr.language) == ("es", "en")  # no French text: English


def test_fatigue_one_invitation_per_patient_per_30_days_across_surveys(
        db: Session, actor: Actor, make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    policy = InvitationPolicy(fatigue_days=30, delay_hours=0)
    first = inv_service.create_invitation(db, actor, patient_id=p.id, instrument="nps", trigger="manual",
                                          policy=policy, now=NOW)
    assert first.status == "pending"
    second = inv_service.create_invitation(db, actor, patient_id=p.id, instrument="pulse", trigger="manual",
                                           policy=policy, now=NOW + dt.timedelta(days=29))
    assert second.status == "suppressed" and second.status_reason.startswith("fatigue")  # type: ignore[union-attr]
    third = inv_service.create_invitation(db, actor, patient_id=p.id, instrument="pulse", trigger="manual",
                                          policy=policy, now=NOW + dt.timedelta(days=31))
    assert third.status == "pending"
    # a shorter configured window lets an invitation through sooner
    other = make_patient()
    inv_service.create_invitation(db, actor, patient_id=other.id, instrument="nps", trigger="manual",
                                  policy=InvitationPolicy(fatigue_days=7, delay_hours=0), now=NOW)
    later = inv_service.create_invitation(db, actor, patient_id=other.id, instrument="nps", trigger="manual",
                                          policy=InvitationPolicy(fatigue_days=7, delay_hours=0),
                                          now=NOW + dt.timedelta(days=8))
    assert later.status == "pending"


def test_discharge_trigger_picks_survey_and_is_idempotent(
        db: Session, actor: Actor, make_patient: Callable[..., Patient],
        make_encounter: Callable[..., Encounter]) -> None:
    stay = make_encounter(make_patient(), type="inpatient", discharge_at=NOW)
    visit = make_encounter(make_patient(), type="outpatient", discharge_at=NOW)
    a = inv_service.invite_for_encounter(db, actor, stay.id, InvitationPolicy(delay_hours=48, expiry_days=10))
    b = inv_service.invite_for_encounter(db, actor, visit.id)
    assert a.instrument.code == "inpatient" and b.instrument.code == "pulse"
    assert a.send_after == NOW + dt.timedelta(hours=48) and a.expires_at == NOW + dt.timedelta(days=12)
    assert a.department_id == stay.department_id
    again = inv_service.invite_for_encounter(db, actor, stay.id)
    assert again.id == a.id
    found = inv_service.invite_discharged(db, actor, since=NOW - dt.timedelta(days=1),
                                          until=NOW + dt.timedelta(days=1))
    assert found == []  # both already invited


def test_wave_to_segment_uses_deidentified_filters(db: Session, actor: Actor,
                                                   make_patient: Callable[..., Patient]) -> None:
    year = dt.date.today().year
    young_es = make_patient(birth_year=year - 30, preferred_language="es", conditions=["diabetes"])
    make_patient(birth_year=year - 70, preferred_language="es", conditions=["diabetes"])
    make_patient(birth_year=year - 30, preferred_language="en", conditions=["asthma"])
    ids = inv_service.segment_patients(db, {"age_band": "18-44", "language": ["es"], "conditions": ["Diabetes"]})
    assert ids == [young_es.id]
    counts = inv_service.send_wave(db, actor, instrument="nps", wave="spring",
                                   segment={"age_band": "18-44", "language": ["es"], "conditions": ["diabetes"]},
                                   now=NOW)
    assert counts == {"pending": 1}
    assert inv_service.send_wave(db, actor, instrument="nps", wave="spring",
                                 segment={"age_band": "18-44", "language": ["es"], "conditions": ["diabetes"]},
                                 now=NOW) == {"pending": 1}  # same wave: the same invitation, nothing new
    assert len(db.execute(select(Job).where(Job.kind == "feedback.deliver_invitation")).all()) == 1


def test_resolved_case_gets_a_pulse_invitation_once(db: Session, actor: Actor,
                                                    make_patient: Callable[..., Patient]) -> None:
    from pxm.practices.resolution import service as desk

    p = make_patient()
    case = desk.open_case(db, actor, patient_id=p.id, reason="billing", route=False, schedule_sla=False)
    desk.transition(db, actor, case.id, "resolved", resolution_code="billing_corrected")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    [inv] = inv_service.invite_resolved_cases(db, actor, since=since)
    assert (inv.instrument.code, inv.case_id, inv.trigger, inv.patient_id) == ("pulse", case.id, "case", p.id)
    again = inv_service.invite_resolved_cases(db, actor, since=since)
    assert [i.id for i in again] == [inv.id]  # the same event: the same invitation
