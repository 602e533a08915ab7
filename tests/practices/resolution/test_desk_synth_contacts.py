"""The demo contacts: realistic shape, FCR in the intended range and different across agents and reasons."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from pxm.platform.people.models import Staff
from pxm.practices.resolution.fcr import fcr_report, load_contacts
from pxm.practices.resolution.metrics import contacts_report
from pxm.synth.contacts import TZ, _acknowledged
from pxm.synth.run import generate

AS_OF = dt.date(2025, 7, 1)
NOW = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


def test_demo_contacts(session_factory, db) -> None:  # type: ignore[no-untyped-def]
    report = generate(session_factory, patients=1500, seed=5, as_of=AS_OF, only=["patients", "contacts"])
    counts = report.counts
    assert 2500 <= counts["contacts"] <= 3700 and counts["cases"] < counts["contacts"]
    rows = load_contacts(db)
    assert min(r.started_at for r in rows) >= NOW - dt.timedelta(days=366) and max(r.started_at for r in rows) <= NOW
    weekdays = Counter(r.started_at.weekday() for r in rows if r.direction == "inbound")
    assert weekdays[0] > 3 * weekdays[6]  # Mondays are busy, Sundays quiet
    # nobody calls, or is called back, in the night (Chicago): follow-ups and repeats keep to the day's hours
    from zoneinfo import ZoneInfo

    assert not [r for r in rows if r.started_at.astimezone(ZoneInfo("America/Chicago")).hour < 7]
    fcr = fcr_report(db, as_of=NOW, by="agent")
    assert 0.62 <= fcr["fcr_rate"] <= 0.82
    rates = [g["fcr_rate"] for g in fcr["groups"] if g["eligible"] >= 40]
    assert max(rates) - min(rates) > 0.08
    by_reason = {g["key"]: g["fcr_rate"] for g in fcr_report(db, as_of=NOW, by="reason")["groups"]}
    assert by_reason["appointment_scheduling"] > by_reason["complaint"]
    ops = contacts_report(db, as_of=NOW)
    assert 0.01 < ops["abandonment_rate"] < 0.15 and ops["asa_seconds"] > 0 and 0.4 < ops["service_level"] < 0.95


def test_demo_backlog_is_recent_work_and_reopenings_match_the_contacts(session_factory, db) -> None:  # type: ignore[no-untyped-def]
    """A case not settled in its first contact is settled by a follow-up within days, so what is still open at
    the end of the year is the last days' work, not cases forgotten months ago; a repeat contact that falls
    after the cutoff has not reopened its case yet."""
    from pxm.practices.resolution.models import Case, Contact

    generate(session_factory, patients=1500, seed=5, as_of=AS_OF, only=["patients", "contacts"])
    cases = db.execute(select(Case)).scalars().all()
    still_open = [c for c in cases if c.status not in ("resolved", "closed")]
    assert 0 < len(still_open) < 0.05 * len(cases)
    assert min(c.opened_at for c in still_open) > NOW - dt.timedelta(days=14), "a months-old case is still open"
    assert all(c.resolved_at is not None for c in cases if c.status in ("resolved", "closed"))
    contacts: dict[int, list[Contact]] = {}
    for x in db.execute(select(Contact).order_by(Contact.started_at, Contact.id)).scalars():
        contacts.setdefault(x.case_id, []).append(x)
    for c in cases:  # the case's record agrees with its own contacts
        last_resolving = max((x.ended_at for x in contacts[c.id] if x.resolved and x.ended_at), default=None)
        assert (c.resolved_at is None) == (c.status not in ("resolved", "closed")), c.id
        if c.resolved_at is not None:
            assert c.resolved_at == last_resolving and contacts[c.id][-1].resolved, c.id
        done, reopened = False, 0  # as the desk does it: an answered inbound contact reopens a resolved case
        for x in contacts[c.id]:
            if done and x.direction == "inbound" and not x.abandoned:
                done, reopened = False, reopened + 1
            done = done or x.resolved
        assert c.reopened_count == reopened, c.id


def test_demo_case_histories_follow_the_lifecycle(session_factory, db) -> None:  # type: ignore[no-untyped-def]
    """A demo case's history reads as the desk would have written it: opened, assigned to the agent who took
    it, one event per contact, each status change starting where the last one ended and ending at the case's
    status, one reopening per repeat, and an SLA escalation only while the case was open, in the cycle whose
    target it missed, each raising the priority from where the last left it."""
    from pxm.practices.resolution.models import Case, CaseEvent, Contact, Escalation

    generate(session_factory, patients=1500, seed=5, as_of=AS_OF, only=["patients", "contacts"])
    events: dict[int, list[CaseEvent]] = {}
    for e in db.execute(select(CaseEvent).order_by(CaseEvent.at, CaseEvent.id)).scalars():
        events.setdefault(e.case_id, []).append(e)
    contacts: dict[int, set[int]] = {}
    for case_id, contact_id in db.execute(select(Contact.case_id, Contact.id)):
        contacts.setdefault(case_id, set()).add(contact_id)
    escalations: dict[int, list[int]] = {}
    by_id: dict[int, Escalation] = {}
    for e in db.execute(select(Escalation).order_by(Escalation.escalated_at)).scalars():
        escalations.setdefault(e.case_id, []).append(e.id)
        by_id[e.id] = e
    usernames = dict(db.execute(select(Staff.id, Staff.username)).tuples().all())
    kinds: Counter[str] = Counter()
    for case in db.execute(select(Case)).scalars():
        history = events[case.id]
        kinds.update(e.kind for e in history)
        assert history[0].kind == "opened" and history[0].to_status == "new", case.id
        status, cycle, priority = "new", 0, "normal"
        for e in history[1:]:
            if e.to_status is not None:
                assert e.from_status == status, (case.id, e.kind, e.from_status, status)
                status = e.to_status
            cycle += e.kind == "reopen"
            if e.kind == "escalation":  # a target passes unmet while the case is open, in the cycle it belongs to
                assert status not in ("resolved", "closed"), (case.id, e.details)
                assert e.details["cycle"] == (cycle if e.details["target"] == "resolution" else 0), case.id
                assert e.details["priority"][0] == priority, case.id
                priority = e.details["priority"][1]
        assert case.priority == priority, case.id
        assert status == case.status, case.id
        assert sum(e.kind == "reopen" for e in history) == case.reopened_count, case.id
        assert {e.details["contact_id"] for e in history if e.kind == "contact"} == contacts.get(case.id, set())
        assigned = [e.details["staff_id"] for e in history if e.kind == "assign"]
        assert assigned == ([case.assigned_staff_id] if case.status != "new" else []), case.id
        escalated = [e.details["escalation_id"] for e in history if e.kind == "escalation"]
        assert escalated == escalations.get(case.id, []), case.id
        # each acknowledged escalation has its event, at the time on its row, by the supervisor it names
        acks = {e.details["escalation_id"]: e for e in history if e.kind == "acknowledge"}
        assert set(acks) == {i for i in escalated if by_id[i].acknowledged_at is not None}, case.id
        for i, ack in acks.items():
            assert ack.at == by_id[i].acknowledged_at > by_id[i].escalated_at and ack.note, case.id
            assert ack.actor == f"user:{usernames[by_id[i].supervisor_staff_id]}", case.id
        if case.status == "closed":
            assert [e.at for e in history if e.to_status is not None][-1] == case.closed_at, case.id
    assert kinds["reopen"] > 0 and kinds["escalation"] > 0 and kinds["assign"] > 0 and kinds["acknowledge"] > 0
    # the escalations still waiting are those their supervisor had not got to by the year's end (in the working
    # day, hours after); the rest were acknowledged, and never before they were escalated (checked above)
    end = dt.datetime.combine(AS_OF, dt.time(0), dt.UTC)
    assert all((e.acknowledged_at is None) == (_acknowledged(e.escalated_at) > end) for e in by_id.values())
    assert all(e.acknowledged_at is None or e.acknowledged_at.astimezone(TZ).weekday() < 5 for e in by_id.values())


def test_demo_cases_keep_their_facility_hours(session_factory, db) -> None:  # type: ignore[no-untyped-def]
    """A demo case belongs to its patient's home facility, as on the desk, and its SLA targets count that
    facility's contact-center hours, in the organization's time zone (Chicago, Mon-Fri 08:00-18:00)."""
    from zoneinfo import ZoneInfo

    from pxm.platform.people.models import Patient
    from pxm.practices.resolution.models import BusinessCalendar, Case

    generate(session_factory, patients=800, seed=5, as_of=AS_OF, only=["patients", "contacts"])
    home = dict(db.execute(select(Patient.id, Patient.home_facility_id)).tuples().all())
    cases = db.execute(select(Case)).scalars().all()
    assert cases and all(c.facility_id == home[c.patient_id] is not None for c in cases)
    zones = {c.facility_id: c.timezone for c in db.execute(select(BusinessCalendar)).scalars() if c.facility_id}
    assert set(zones) == set(home.values()) and set(zones.values()) == {"America/Chicago"}
    chicago = ZoneInfo("America/Chicago")
    for c in cases:  # every policy of the demo counts business hours
        due = c.first_response_due_at.astimezone(chicago)
        assert due.weekday() < 5 and dt.time(8) <= due.time() <= dt.time(18), (c.id, due)


def test_same_seed_same_cases() -> None:
    import numpy as np

    from pxm.synth.contacts import build_cases

    def run(seed: int) -> list[tuple[int, str, dt.datetime, int]]:
        cases = build_cases(np.random.default_rng(seed), list(range(1, 301)), [1, 2, 3], dt.date(2024, 7, 1),
                            NOW, n_cases=200)
        return [(c.patient_id, c.reason, c.opened_at, len(c.contacts)) for c in cases]

    assert run(1) == run(1) and run(1) != run(2)


def test_demo_day_in_progress_fills_the_live_view(session_factory, db) -> None:  # type: ignore[no-untyped-def]
    """``pxm demo`` loads the day up to "now": the supervisor's live page shows today's figures; the patients
    still waiting went through routing as any new case does, and the open cases' SLA checks are scheduled."""
    from pxm.operations.live.service import snapshot
    from pxm.operations.routing.models import RoutingDecision
    from pxm.platform.jobs.models import Job
    from pxm.practices.resolution.models import Case

    until = dt.datetime(2025, 7, 1, 19, 30, tzinfo=dt.UTC)  # a Tuesday, 14:30 in Chicago
    generate(session_factory, patients=6000, seed=5, as_of=AS_OF, only=["patients", "contacts"], until=until)
    rows = load_contacts(db)
    assert max(r.started_at for r in rows) <= until
    today = [r for r in rows if r.started_at >= NOW]
    assert len(today) > 10
    assert any(r.ended_at is None for r in today)  # agents are on some contacts right now
    snap = snapshot(db, now=until, timezone="America/Chicago")
    assert snap["today"]["contacts"] > 10 and snap["today"]["aht_seconds"] > 0
    routed = db.execute(select(RoutingDecision)).scalars().all()
    assert routed, "the patients waiting now were not routed"
    waiting = {c.id for c in db.execute(select(Case).where(Case.status == "new")).scalars()}
    assert snap["queue"]["waiting"] == len(waiting)
    # a case still waiting is one routing could not place, and says why; the others are assigned
    assert {d.case_id for d in routed if d.kind == "queued"} >= waiting
    assert all(db.get(Case, d.case_id).assigned_staff_id == d.staff_id for d in routed if d.kind == "sweep")
    open_ids = {c.id for c in db.execute(select(Case).where(Case.status.not_in(("resolved", "closed")))).scalars()}
    checked = {j.payload["case_id"] for j in db.execute(select(Job).where(Job.kind == "sla.check")).scalars()}
    assert open_ids and checked == open_ids


def test_until_must_be_on_the_as_of_day(session_factory) -> None:  # type: ignore[no-untyped-def]
    import pytest

    with pytest.raises(ValueError, match="must fall on the as_of day"):
        generate(session_factory, patients=10, as_of=AS_OF, until=dt.datetime(2025, 7, 2, 1, tzinfo=dt.UTC))
