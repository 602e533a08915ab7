"""The per-hour-of-week proposal from hand-built contact history, and the staffing page."""

from __future__ import annotations

import datetime as dt

from tests.helpers.auth import login

from pxm.operations.staffing.erlang import calculate
from pxm.operations.staffing.service import propose
from pxm.practices.resolution.models import Contact

# Wednesday 2026-03-18 12:00 UTC; the two weeks before hold Mondays 2026-03-09 and 2026-03-16.
NOW = dt.datetime(2026, 3, 18, 12, 0, tzinfo=dt.UTC)


def add_contacts(db, case, start: dt.datetime, n: int, *, channel="phone", direction="inbound",
                 handle_seconds=240) -> None:
    for i in range(n):
        started = start + dt.timedelta(seconds=30 * i)
        db.add(Contact(patient_id=case.patient_id, case_id=case.id, channel=channel, direction=direction,
                       reason=case.reason, started_at=started, queued_at=started,
                       answered_at=started + dt.timedelta(seconds=10),
                       ended_at=started + dt.timedelta(seconds=10 + handle_seconds)))
    db.flush()


def test_proposal_averages_inbound_queued_contacts_per_hour_of_week(db, make_patient, open_case):
    case = open_case(make_patient(), route=False)
    add_contacts(db, case, dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC), 30)   # Monday 09h, week 1
    add_contacts(db, case, dt.datetime(2026, 3, 16, 9, 5, tzinfo=dt.UTC), 50)  # Monday 09h, week 2
    add_contacts(db, case, dt.datetime(2026, 3, 17, 14, 0, tzinfo=dt.UTC), 8, channel="chat")  # Tuesday 14h
    add_contacts(db, case, dt.datetime(2026, 3, 17, 15, 0, tzinfo=dt.UTC), 9, channel="email")  # not queued
    add_contacts(db, case, dt.datetime(2026, 3, 17, 16, 0, tzinfo=dt.UTC), 7, direction="outbound")
    add_contacts(db, case, dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC), 99)  # outside the 8-week window
    p = propose(db, weeks=8, target_seconds=20, target_service_level=0.8, shrinkage=0.25, now=NOW)
    assert p.contacts_observed == 88
    assert p.weeks_observed == 2  # first contact 9 days before NOW: two (partial) weeks
    assert p.aht_seconds == 240 and p.aht_source == "history"
    monday9 = p.hours[0 * 24 + 9]
    assert monday9.contacts == 40.0  # (30 + 50) / 2
    expected = calculate(40, 60, 240, 20, 0.8, shrinkage=0.25)
    assert monday9.required_agents == expected.required_agents == 5
    assert monday9.rostered_agents == 7  # ceil(5 / 0.75)
    assert p.hours[1 * 24 + 14].contacts == 4.0
    assert p.hours[1 * 24 + 15].contacts == 0 and p.hours[1 * 24 + 15].required_agents == 0
    assert p.peak is monday9
    assert len(p.hours) == 168 and len(p.grid()) == 7


def test_proposal_api_and_hours_in_a_time_zone(client, db, make_patient, open_case):
    case = open_case(make_patient(), route=False)
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(minute=1, second=0, microsecond=0)
    add_contacts(db, case, start, 12, handle_seconds=300)  # all within one hour
    db.commit()
    h = login(client, db, "cx_manager")
    r = client.get("/api/v1/staffing/proposal", params={"weeks": 4, "aht_seconds": 200, "timezone": "Asia/Tokyo"},
                   headers=h)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["aht_seconds"] == 200 and data["aht_source"] == "given"
    assert data["contacts_observed"] == 12 and data["peak"]["contacts"] == 12.0
    bad = client.get("/api/v1/staffing/proposal", params={"timezone": "Mars/Olympus"}, headers=h)
    assert bad.status_code == 422 and "timezone" in bad.json()["error"]["message"]


def test_staffing_page_calculates_and_shows_the_grid(client, db):
    login(client, db, "analyst")
    page = client.get("/operations/staffing", params={"contacts": 100, "interval_minutes": 30, "aht": 180,
                                                      "target_seconds": 20, "service_level": 0.8, "agents": 14,
                                                      "shrinkage": ""})
    assert page.status_code == 200
    assert 'id="r-pwait">0.1741<' in page.text and 'id="r-sl">0.8884<' in page.text
    assert 'id="r-asa">7.84 s<' in page.text and 'id="r-occ">0.714<' in page.text
    bad = client.get("/operations/staffing", params={"contacts": "many", "agents": "a few"})
    # each message's example fits its field (not "0.8" for a number of contacts)
    assert bad.status_code == 422 and "enter a number, e.g. 100" in bad.text
    assert "enter a whole number, e.g. 14" in bad.text
