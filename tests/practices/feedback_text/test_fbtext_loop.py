"""The closed loop: which feedback opens a service-recovery case, once, and the loop-closure metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.people.models import OrgUnit
from pxm.practices.feedback.complaints.service import create_complaint
from pxm.practices.feedback.loop import metrics
from pxm.practices.feedback.loop.models import RecoveryLink
from pxm.practices.feedback.loop.service import check_response, close_recovery
from pxm.practices.feedback.text.service import analyze_comment
from pxm.practices.resolution import service as resolution
from pxm.practices.resolution.models import Case


def _cases(db: Session) -> int:
    return int(db.execute(select(func.count()).select_from(RecoveryLink)).scalar_one())


@pytest.mark.parametrize(("instrument", "answers", "opens", "trigger"), [
    ("nps", {"NPS": 6}, True, "detractor"),
    ("nps", {"NPS": 0}, True, "detractor"),
    ("nps", {"NPS": 7}, False, None),
    ("nps", {"NPS": 10}, False, None),
    ("pulse", {"CSAT": 2, "RESOLVED": "yes"}, True, "low_csat"),
    ("pulse", {"CSAT": 3, "RESOLVED": "yes"}, False, None),
    ("pulse", {"CSAT": 5, "RESOLVED": "no"}, True, "not_resolved"),
])
def test_survey_triggers(db: Session, respond: Callable[..., Any], make_patient: Callable[..., Any],
                         instrument: str, answers: dict[str, Any], opens: bool, trigger: str | None) -> None:
    response = respond(instrument, answers, make_patient())
    link = db.execute(select(RecoveryLink).where(RecoveryLink.response_id == response.id)).scalar_one_or_none()
    if not opens:
        assert link is None
        return
    assert link is not None and link.trigger == trigger
    case = db.get(Case, link.case_id)
    assert case is not None
    assert (case.reason, case.source, case.team, case.patient_id) == (
        "complaint", "survey", "service_recovery", response.patient_id)
    assert case.resolution_due_at is not None  # the complaint SLA policy applies
    assert link.department_id == response.department_id


def test_detractor_priority_follows_the_score(db: Session, respond: Callable[..., Any],
                                              make_patient: Callable[..., Any]) -> None:
    low = respond("nps", {"NPS": 2}, make_patient())
    six = respond("nps", {"NPS": 6}, make_patient())
    prio = {r.id: db.get(Case, db.execute(select(RecoveryLink.case_id).where(
        RecoveryLink.response_id == r.id)).scalar_one()).priority for r in (low, six)}
    assert prio == {low.id: "high", six.id: "normal"}


def test_strongly_negative_comment_opens_a_case_after_analysis(db: Session, respond: Callable[..., Any],
                                                               make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 8, "COMMENT": "Terrible. The nurse was rude and the room was filthy, "
                                                   "absolutely unacceptable!"}, make_patient())
    assert _cases(db) == 0  # NPS 8 alone opens nothing
    row = analyze_comment(db, response.id)
    assert row is not None and row.strongly_negative
    link = db.execute(select(RecoveryLink).where(RecoveryLink.response_id == response.id)).scalar_one()
    assert link.trigger == "negative_sentiment"
    assert db.get(Case, link.case_id).priority == "high"  # type: ignore[union-attr]


def test_mildly_negative_comment_opens_nothing(db: Session, respond: Callable[..., Any],
                                               make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 8, "COMMENT": "Parking was a bit slow."}, make_patient())
    row = analyze_comment(db, response.id)
    assert row is not None and row.sentiment_label == "negative" and not row.strongly_negative
    assert _cases(db) == 0


def test_one_case_per_response_however_often_it_is_processed(
        db: Session, actor: Actor, respond: Callable[..., Any], make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 3, "COMMENT": "Awful, rude, dirty and the worst wait ever!!"}, make_patient())
    first = check_response(db, actor, response)
    again = check_response(db, actor, response)
    analyze_comment(db, response.id)
    analyze_comment(db, response.id)
    assert first is not None and again is not None and first.id == again.id
    links = db.execute(select(RecoveryLink).where(RecoveryLink.response_id == response.id)).scalars().all()
    assert len(links) == 1
    assert links[0].triggers == ["detractor", "negative_sentiment"]
    assert db.execute(select(func.count()).select_from(Case).where(
        Case.patient_id == response.patient_id)).scalar_one() == 1


def test_anonymous_detractor_cannot_open_a_case(db: Session, respond: Callable[..., Any]) -> None:
    respond("nps", {"NPS": 1})
    assert _cases(db) == 0


def test_complaint_opens_a_case_and_compliment_does_not(db: Session, actor: Actor,
                                                        make_patient: Callable[..., Any]) -> None:
    p = make_patient()
    c = create_complaint(db, actor, kind="complaint", channel="phone", category="billing", severity="critical",
                         description="Charged twice", patient_id=p.id)
    assert c.case_id is not None
    case = db.get(Case, c.case_id)
    assert case is not None and (case.priority, case.source, case.team) == ("urgent", "complaint", "service_recovery")
    k = create_complaint(db, actor, kind="compliment", channel="letter", category="staff_attitude",
                         description="Thank you", patient_id=p.id)
    assert k.case_id is None
    assert _cases(db) == 1


def test_closing_records_what_was_done(db: Session, actor: Actor, respond: Callable[..., Any],
                                       make_patient: Callable[..., Any]) -> None:
    response = respond("nps", {"NPS": 4}, make_patient())
    case_id = db.execute(select(RecoveryLink.case_id).where(RecoveryLink.response_id == response.id)).scalar_one()
    with pytest.raises(Exception, match="action_taken"):
        close_recovery(db, actor, case_id, action_taken="ok")
    case = close_recovery(db, actor, case_id, action_taken="Called the patient, apologised, waived the parking fee")
    assert case.status == "resolved" and case.resolution_code == "complaint_resolved"
    from pxm.practices.resolution.models import CaseEvent

    notes = db.execute(select(CaseEvent.note).where(CaseEvent.case_id == case_id, CaseEvent.to_status == "resolved")
                       ).scalars().all()
    assert notes == ["Called the patient, apologised, waived the parking fee"]


def test_loop_closure_metrics_on_hand_computed_data(db: Session, actor: Actor, make_patient: Callable[..., Any],
                                                    department: OrgUnit) -> None:
    t0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    # four recovery cases: detractor closed after 10 h and 30 h, detractor open, complaint closed after 4 h
    plan = [("detractor", 10), ("detractor", 30), ("detractor", None), ("complaint", 4)]
    for trigger, hours in plan:
        p = make_patient()
        case = resolution.open_case(db, actor, patient_id=p.id, reason="complaint", source="survey",
                                    team="service_recovery", opened_at=t0, route=False, schedule_sla=False)
        db.add(RecoveryLink(case_id=case.id, trigger=trigger, triggers=[trigger], details={},
                            department_id=department.id, opened_at=t0))
        db.flush()
        if hours is not None:
            close_recovery(db, actor, case.id, action_taken="Called and put it right",
                           at=t0 + dt.timedelta(hours=hours))
    m = metrics.loop_metrics(db, since=t0 - dt.timedelta(days=1), until=t0 + dt.timedelta(days=1))
    assert m["overall"] == {"opened": 4, "closed": 3, "closure_rate": 0.75, "median_hours_to_close": 10.0,
                            "p90_hours_to_close": 30.0}
    assert m["by_trigger"]["detractor"]["closure_rate"] == round(2 / 3, 4)
    assert m["by_trigger"]["detractor"]["median_hours_to_close"] == 20.0
    assert m["by_trigger"]["complaint"] == {"opened": 1, "closed": 1, "closure_rate": 1.0,
                                            "median_hours_to_close": 4.0, "p90_hours_to_close": 4.0}
    assert m["by_department"][0]["department"] == "Emergency"
    queue = metrics.open_queue(db, now=t0 + dt.timedelta(hours=6))
    assert [q["age_hours"] for q in queue] == [6.0]
    assert metrics.loop_metrics(db, since=t0 + dt.timedelta(days=1))["overall"]["opened"] == 0
