"""The demo's closed loop: the survey answers that fire a trigger open service-recovery cases, worked and closed
as the desk would, so the closed-loop page and the agents' queues show the year."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from pxm.platform.db import make_engine, make_session_factory
from pxm.practices.feedback.loop import metrics
from pxm.practices.feedback.loop.models import RecoveryLink
from pxm.practices.feedback.loop.service import REASON, TEAM, response_triggers
from pxm.practices.feedback.models import Instrument, Response
from pxm.practices.feedback.text.models import CommentAnalysis
from pxm.practices.resolution.models import Case, CaseEvent, Contact
from pxm.synth.recovery import ACTIONS
from pxm.synth.run import generate

AS_OF = dt.date(2026, 6, 1)


def test_survey_triggers_open_recovery_cases_that_are_worked_and_closed(committed_db_url: str, key_dir: Path) -> None:
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    try:
        report = generate(factory, patients=1500, seed=11, as_of=AS_OF,
                          only=["patients", "encounters", "contacts", "feedback", "recovery"])
        with factory() as s:
            instruments = {i.id: i for i in s.execute(select(Instrument)).scalars()}
            negative = set(s.execute(select(CommentAnalysis.response_id)
                                     .where(CommentAnalysis.strongly_negative.is_(True))).scalars())
            expected = {}
            for r in s.execute(select(Response).where(Response.patient_id.is_not(None))).scalars():
                triggers, priority, _ = response_triggers(
                    SimpleNamespace(instrument=instruments[r.instrument_id], answers=r.answers),
                    strongly_negative=r.id in negative)
                if triggers:
                    expected[r.id] = (triggers, priority, r.submitted_at)
            links = s.execute(select(RecoveryLink, Case).join(Case, Case.id == RecoveryLink.case_id)).all()
            assert report.counts["recovery_cases"] == len(links) == len(expected) > 50
            as_of = dt.datetime.combine(AS_OF, dt.time(), dt.UTC)
            for link, case in links:
                triggers, priority, submitted = expected[link.response_id]
                assert link.triggers == triggers and link.trigger == triggers[0]
                assert (case.reason, case.team, case.source) == (REASON, TEAM, "survey")
                assert dt.timedelta(0) < case.opened_at - submitted <= dt.timedelta(minutes=10)
                assert case.assigned_staff_id is not None
                events = s.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.at, CaseEvent.id)).scalars().all()
                assert [(e.kind, e.to_status) for e in events[:2]] == [("opened", "new"), ("assign", "assigned")]
                assert events[0].details["priority"] == priority and events[1].at == case.opened_at
                contacts = s.execute(select(Contact).where(Contact.case_id == case.id)).scalars().all()
                assert all(c.direction == "outbound" and c.agent_id == case.assigned_staff_id for c in contacts)
                if case.status in ("resolved", "closed"):
                    [done] = [e for e in events if e.to_status == "resolved"]
                    assert done.note in ACTIONS and case.resolution_code == "complaint_resolved"
                    assert done.at == case.resolved_at == max(c.ended_at for c in contacts)
                else:  # still waiting for its call back at the cutoff: a recent one
                    assert as_of - case.opened_at < dt.timedelta(days=4), (case.id, case.opened_at)
            loop = metrics.loop_metrics(s)["overall"]
            assert loop["opened"] == len(links) and 0.9 < loop["closure_rate"] <= 1.0
            assert 0 < loop["median_hours_to_close"] < 48  # called back within a working day or two
    finally:
        engine.dispose()
