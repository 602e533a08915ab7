"""FCR on hand-built timelines: window edges, pending cases, other reasons, outbound first contacts."""

from __future__ import annotations

import datetime as dt

from pxm.practices.resolution import service
from pxm.practices.resolution.fcr import fcr_report, repeat_cases

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
AS_OF = T0 + 30 * DAY


def _contact(db, actor, patient, *, at, reason="billing", direction="inbound", resolved=False,  # type: ignore[no-untyped-def]
             case_id=None, agent=None, channel="phone", abandoned=False):
    return service.log_contact(db, actor, patient_id=patient.id, channel=channel, direction=direction,
                               reason=reason, started_at=at, ended_at=None if abandoned else at + dt.timedelta(minutes=5),
                               agent_id=None if agent is None else agent.id, case_id=case_id, resolved=resolved,
                               abandoned=abandoned, route=False)


def _new_case(db, actor, patient, reason="billing"):  # type: ignore[no-untyped-def]
    return service.open_case(db, actor, patient_id=patient.id, reason=reason, route=False, schedule_sla=False).id


def test_repeat_exactly_at_window_end_counts_just_after_does_not(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    at_edge, after_edge = make_patient(), make_patient()
    _contact(db, actor, at_edge, at=T0, resolved=True, case_id=_new_case(db, actor, at_edge))
    _contact(db, actor, at_edge, at=T0 + 7 * DAY, case_id=_new_case(db, actor, at_edge))
    _contact(db, actor, after_edge, at=T0, resolved=True, case_id=_new_case(db, actor, after_edge))
    _contact(db, actor, after_edge, at=T0 + 7 * DAY + dt.timedelta(seconds=1),
             case_id=_new_case(db, actor, after_edge))
    r = fcr_report(db, as_of=AS_OF, start=T0.date(), end=T0.date())
    # two cases start on T0's day: one FCR (repeat after the window), one not (repeat exactly at 7 days)
    assert (r["cases"], r["eligible"], r["resolved_first_contact"], r["pending"]) == (2, 2, 1, 0)
    assert r["fcr_rate"] == 0.5
    drill = repeat_cases(db, as_of=AS_OF, start=T0.date(), end=T0.date())
    assert [o.patient_id for o in drill] == [at_edge.id] and len(drill[0].repeat_contact_ids) == 1


def test_cases_inside_window_are_pending(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    _contact(db, actor, p, at=T0, resolved=True)
    r = fcr_report(db, as_of=T0 + 7 * DAY - dt.timedelta(seconds=1))
    assert (r["cases"], r["eligible"], r["pending"], r["fcr_rate"]) == (1, 0, 1, None)
    r = fcr_report(db, as_of=T0 + 7 * DAY)
    assert (r["eligible"], r["resolved_first_contact"], r["pending"], r["fcr_rate"]) == (1, 1, 0, 1.0)


def test_repeat_about_another_reason_does_not_count(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    _contact(db, actor, p, at=T0, resolved=True, reason="billing")
    _contact(db, actor, p, at=T0 + 2 * DAY, reason="test_results", resolved=True)
    r = fcr_report(db, as_of=AS_OF, by="reason")
    assert {g["key"]: g["fcr_rate"] for g in r["groups"]} == {"billing": 1.0, "test_results": 1.0}


def test_outbound_first_contact_is_eligible_and_not_fcr(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    _contact(db, actor, p, at=T0, direction="outbound", resolved=True)
    r = fcr_report(db, as_of=AS_OF)
    assert (r["eligible"], r["resolved_first_contact"], r["fcr_rate"]) == (1, 0, 0.0)


def test_repeat_in_a_new_case_and_unresolved_first_contact(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    p, q = make_patient(), make_patient()
    ann, bob = make_agent("ann"), make_agent("bob", team="billing")
    _contact(db, actor, p, at=T0, resolved=True, agent=ann, case_id=_new_case(db, actor, p))
    repeat = _contact(db, actor, p, at=T0 + 3 * DAY, agent=bob, case_id=_new_case(db, actor, p))
    _contact(db, actor, q, at=T0, agent=bob)  # not resolved in its first contact
    # an outbound follow-up to q about the same reason is not a repeat from the patient
    _contact(db, actor, q, at=T0 + 1 * DAY, agent=bob, direction="outbound", resolved=True)
    r = fcr_report(db, as_of=AS_OF, by="agent", start=T0.date(), end=T0.date())
    assert (r["cases"], r["eligible"], r["resolved_first_contact"], r["contacts"]) == (2, 2, 0, 3)
    groups = {g["key"]: (g["cases"], g["resolved_first_contact"]) for g in r["groups"]}
    assert groups == {"ann": (1, 0), "bob": (1, 0)}
    drill = repeat_cases(db, as_of=AS_OF, by="agent", key="ann")
    assert [o.repeat_contact_ids for o in drill] == [[repeat.id]]
    assert repeat_cases(db, as_of=AS_OF, by="agent", key="bob") == []
    # the repeat's own case (started T0+3) is resolved? no: it stays open, so it is not FCR either
    later = fcr_report(db, as_of=AS_OF, start=(T0 + 3 * DAY).date())
    assert (later["cases"], later["resolved_first_contact"]) == (1, 0)


def test_abandoned_contacts_are_neither_first_contact_nor_repeat(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    p = make_patient()
    case_id = _new_case(db, actor, p)
    _contact(db, actor, p, at=T0 - dt.timedelta(minutes=10), case_id=case_id, abandoned=True)
    _contact(db, actor, p, at=T0, case_id=case_id, resolved=True)
    _contact(db, actor, p, at=T0 + DAY, abandoned=True, case_id=_new_case(db, actor, p))
    r = fcr_report(db, as_of=AS_OF)  # the case with only an abandoned call has no first contact
    assert (r["cases"], r["resolved_first_contact"]) == (1, 1)


def test_service_recovery_cases_the_desk_opened_are_not_counted_but_their_contacts_are_repeats(
        db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """A case opened by the closed loop (a survey answer or a complaint) starts with the desk's call back: it is
    not one the patient brought, so it counts neither way (before, it counted as not-FCR: outbound first). An
    inbound contact on it still counts as a repeat of the patient's own case about the same reason."""
    brought, surveyed = make_patient(), make_patient()
    _contact(db, actor, brought, at=T0, reason="complaint", resolved=True)
    recovery = service.open_case(db, actor, patient_id=surveyed.id, reason="complaint", source="survey",
                                 route=False, schedule_sla=False).id
    _contact(db, actor, surveyed, at=T0, reason="complaint", direction="outbound", resolved=True, case_id=recovery)
    r = fcr_report(db, as_of=AS_OF)
    assert (r["cases"], r["eligible"], r["resolved_first_contact"], r["fcr_rate"]) == (1, 1, 1, 1.0)

    mine = service.open_case(db, actor, patient_id=brought.id, reason="complaint", source="complaint",
                             route=False, schedule_sla=False).id
    _contact(db, actor, brought, at=T0 + 2 * DAY, reason="complaint", case_id=mine)  # the patient calls again
    r = fcr_report(db, as_of=AS_OF)
    assert (r["cases"], r["resolved_first_contact"], r["fcr_rate"]) == (1, 0, 0.0)
    assert [o.patient_id for o in repeat_cases(db, as_of=AS_OF)] == [brought.id]


def test_by_week_and_month_in_the_desks_zone(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """Weeks are ISO weeks (Monday to Sunday) and months calendar months, of the first contact's local day: a
    call at 02:00 UTC on Monday 2025-12-29 is Sunday evening in Chicago, still week 52 of 2025; a call on
    Thursday 2026-01-01 is in week 1 of 2026 and in January."""
    p = make_patient()
    sunday_night = dt.datetime(2025, 12, 29, 2, 0, tzinfo=dt.UTC)
    new_year = dt.datetime(2026, 1, 1, 16, 0, tzinfo=dt.UTC)
    _contact(db, actor, p, at=sunday_night, resolved=True, reason="billing")
    _contact(db, actor, p, at=new_year, resolved=True, reason="referral")
    as_of = new_year + 30 * DAY
    weeks = fcr_report(db, as_of=as_of, by="week", tz="America/Chicago")["groups"]
    assert [(g["key"], g["cases"]) for g in weeks] == [("2025-W52", 1), ("2026-W01", 1)]
    # in UTC the first call is on Monday 29 December, which begins week 1 of 2026 (the week of its Thursday)
    assert [(g["key"], g["cases"]) for g in fcr_report(db, as_of=as_of, by="week")["groups"]] == [("2026-W01", 2)]
    months = fcr_report(db, as_of=as_of, by="month", tz="America/Chicago")["groups"]
    assert [(g["key"], g["cases"], g["fcr_rate"]) for g in months] == [("2025-12", 1, 1.0), ("2026-01", 1, 1.0)]
