"""The live snapshot on hand-built data; the event stream pushes on change only; the page and its access."""

from __future__ import annotations

import datetime as dt
import json
import re

import anyio
from tests.helpers.auth import login, token_headers

from pxm.operations.live.service import snapshot
from pxm.operations.live.stream import events
from pxm.practices.resolution.models import Contact

NOW = dt.datetime(2026, 3, 18, 15, 30, tzinfo=dt.UTC)


def contact(db, case, start, *, queued_wait=None, handle=None, abandoned=False, resolved=False,
            direction="inbound", channel="phone"):
    answered = None if (queued_wait is None or abandoned) else start + dt.timedelta(seconds=queued_wait)
    ended = None if handle is None else (answered or start) + dt.timedelta(seconds=handle)
    db.add(Contact(patient_id=case.patient_id, case_id=case.id, channel=channel, direction=direction,
                   reason=case.reason, started_at=start, queued_at=start if channel in ("phone", "chat") else None,
                   answered_at=answered, ended_at=ended, abandoned=abandoned, resolved=resolved))


def test_snapshot_numbers(db, make_agent, make_patient, open_case):
    make_agent(status="offline", capacity=1)
    make_agent(status="away")
    # the desk's staff are who takes cases, whatever the title: a billing specialist counts, a nurse does not
    make_agent(status="away").job_role = "billing_specialist"
    make_agent(status="available", capacity=0, reasons=()).job_role = "nurse"
    p = make_patient()
    # unassigned: 2 billing (1 urgent opened 20 min ago, 1 normal), 1 referral low; nobody available to route
    c1 = open_case(p, "billing", priority="urgent", opened_minutes_ago=0)
    c1.opened_at = NOW - dt.timedelta(minutes=20)
    c2 = open_case(p, "billing", priority="normal")
    c2.opened_at = NOW - dt.timedelta(minutes=5)
    c3 = open_case(p, "referral", priority="low")
    c3.opened_at = NOW - dt.timedelta(minutes=2)
    # SLA: one due in 10 minutes, one breached
    c1.first_response_due_at = NOW + dt.timedelta(minutes=10)
    c2.first_response_due_at = NOW - dt.timedelta(minutes=1)
    c3.first_response_due_at = NOW + dt.timedelta(hours=5)
    for c in (c1, c2, c3):
        c.resolution_due_at = NOW + dt.timedelta(days=2)
    # today's contacts (UTC day): 14:00 hour and 15:00 hour; yesterday's one must not count
    h14 = dt.datetime(2026, 3, 18, 14, 5, tzinfo=dt.UTC)
    h15 = dt.datetime(2026, 3, 18, 15, 1, tzinfo=dt.UTC)
    contact(db, c1, h14, queued_wait=10, handle=200, resolved=True)        # answered in 10 s
    contact(db, c1, h14, queued_wait=40, handle=400)                       # answered in 40 s
    contact(db, c2, h15, abandoned=True)                                   # abandoned
    contact(db, c2, h15, queued_wait=20, handle=300, resolved=True)        # answered in 20 s (within)
    contact(db, c3, h15, handle=100, channel="email", direction="outbound")
    contact(db, c3, NOW - dt.timedelta(days=1), queued_wait=500, handle=9999)
    db.flush()

    s = snapshot(db, now=NOW)
    q = s["queue"]
    assert q["waiting"] == 3
    assert q["by_priority"] == {"urgent": 1, "high": 0, "normal": 1, "low": 1}
    assert q["by_reason"][0] == {"reason": "billing", "total": 2, "urgent": 1, "high": 0, "normal": 1, "low": 0}
    assert q["longest_wait_seconds"] == 20 * 60
    assert s["sla"]["at_risk"] == 1 and s["sla"]["breached"] == 1
    assert [i["case_id"] for i in s["sla"]["items"]] == [c1.id]
    assert s["sla"]["items"][0]["minutes_left"] == 10
    assert s["agents"]["by_status"] == {"available": 0, "busy": 0, "away": 2, "offline": 1}
    # the time of the snapshot is given in the desk's zone (Chicago is on daylight time on 18 March 2026); the
    # zone is not a change: the version, which decides whether to push, is the same
    local = snapshot(db, now=NOW, timezone="America/Chicago")
    assert (local["as_of"], local["as_of_zone"]) == ("2026-03-18T10:30:00-05:00", "CDT")
    assert (s["as_of"], s["as_of_zone"]) == ("2026-03-18T15:30:00+00:00", "UTC")
    t = s["today"]
    assert t["contacts"] == 5 and t["offered"] == 4 and t["answered"] == 3 and t["abandoned"] == 1
    assert t["asa_seconds"] == round((10 + 40 + 20) / 3, 1)
    assert t["aht_seconds"] == round((200 + 400 + 300 + 100) / 4, 1)
    assert t["abandonment_rate"] == 0.25
    assert t["service_level"] == 0.5  # 2 within 20 s of (3 answered + 1 abandoned)
    assert t["fcr_rate"] == round(2 / 3, 4)  # inbound unabandoned: 3, resolved in contact: 2
    assert [h["hour"] for h in t["trend"]] == [f"2026-03-18T{h:02d}:00Z" for h in range(0, 16)]
    assert t["trend"][14]["contacts"] == 2 and t["trend"][15]["abandoned"] == 1

    # escalations nobody has acknowledged: c2's breach, once the SLA check escalates it; acknowledging it moves
    # the figure (and the version, so the page is pushed the change)
    from pxm.platform.auth.actor import Actor
    from pxm.practices.resolution import escalations
    from pxm.practices.resolution.models import Escalation

    assert s["sla"]["escalations_waiting"] == 0
    esc = Escalation(case_id=c2.id, target="first_response", cycle=0, due_at=c2.first_response_due_at,
                     escalated_at=NOW, previous_priority="normal", new_priority="high")
    db.add(esc)
    db.flush()
    escalated = snapshot(db, now=NOW)
    assert escalated["sla"]["escalations_waiting"] == 1 and escalated["version"] != s["version"]
    escalations.acknowledge(db, Actor.for_user(1, "sup", "cx_manager"), esc.id)
    db.flush()
    assert snapshot(db, now=NOW)["sla"]["escalations_waiting"] == 0

    # the version ignores the clock but moves with the data
    later = snapshot(db, now=NOW + dt.timedelta(seconds=3))
    assert later["version"] == s["version"]
    c3.assigned_staff_id = None
    c3.status = "closed"
    db.flush()
    assert snapshot(db, now=NOW + dt.timedelta(seconds=3))["version"] != s["version"]


def test_stream_pushes_at_once_and_on_change_only():
    versions = iter(["a", "a", "a", "b", "b", "c"])
    calls = []

    def get():
        v = next(versions)
        calls.append(v)
        return {"version": v, "as_of": "t"}

    async def connected() -> bool:
        return False

    async def collect():
        return [e async for e in events(get, connected, poll_seconds=0, max_events=3)]

    out = anyio.run(collect)
    assert [e["event"] for e in out] == ["snapshot"] * 3
    assert [json.loads(e["data"])["version"] for e in out] == ["a", "b", "c"]
    assert calls == ["a", "a", "a", "b", "b", "c"]


def test_live_api_page_and_permissions(client, db, make_patient, open_case):
    open_case(make_patient(), "billing", priority="high")
    db.commit()
    r = client.get("/api/v1/live/snapshot", headers=token_headers(db, "analyst"))
    assert r.status_code == 200 and r.json()["queue"]["by_priority"]["high"] == 1
    assert "patient" not in r.text.lower()
    assert client.get("/api/v1/live/snapshot", headers=token_headers(db, "agent")).status_code == 403
    assert client.get("/api/v1/live/stream").status_code == 401
    assert client.get("/api/v1/live/stream", headers=token_headers(db, "agent")).status_code == 403
    login(client, db, "cx_manager")
    page = client.get("/operations/live")
    assert page.status_code == 200
    assert 'id="live-waiting">1<' in page.text and "/static/live/live.js" in page.text
    assert client.get("/static/live/live.js").status_code == 200


def test_live_page_writes_a_long_wait_in_hours(client, db, make_patient, open_case):
    case = open_case(make_patient(), "billing", opened_minutes_ago=125)
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    contact(db, case, max(now - dt.timedelta(minutes=10), midnight), queued_wait=0, handle=250)
    db.commit()
    login(client, db, "cx_manager")
    page = client.get("/operations/live").text
    assert re.search(r'id="live-longest-wait"[^>]*>2:05:0\d<', page), page
    assert 'id="live-aht">4:10<' in page  # the handling time as m:ss too, not "250.0 s"
    assert re.search(r'<time id="live-as-of" datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">\d\d:\d\d:\d\d</time> <span id="live-zone">UTC</span>',
                     page)  # the time of day, the full timestamp in the markup


def test_at_risk_cases_link_to_the_case_for_who_may_open_it(client, db, make_patient, open_case):
    """A supervisor goes from a case at risk straight to it; an analyst, who may not open cases, sees the number."""
    case = open_case(make_patient(), "billing")
    case.first_response_due_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    db.commit()
    link = f'<a href="/practices/resolution/cases/{case.id}">#{case.id}</a>'
    login(client, db, "cx_manager", "sup-risk")
    page = client.get("/operations/live").text
    assert link in page and 'data-case-links="1"' in page and '<span id="live-zone">UTC</span>' in page
    login(client, db, "analyst", "ana-risk")
    page = client.get("/operations/live").text
    assert f"<td>#{case.id}</td>" in page and link not in page and "data-case-links" not in page


def test_overview_leads_with_the_service_desk_for_who_may_watch_it(client, db, make_patient, open_case):
    """The overview shows the live page's headline (open cases, waiting, past their SLA) to whoever may watch
    the desk, and nothing of it to an agent, who may not."""
    late = open_case(make_patient(), "billing")
    late.first_response_due_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    open_case(make_patient(), "referral")
    from pxm.practices.resolution.tasks import check_sla

    assert check_sla(db, late.id, "first_response", 0)["outcome"] == "escalated"  # as the SLA job would
    db.commit()
    login(client, db, "cx_manager", "sup-overview")
    page = client.get("/").text
    assert re.search(r'id="desk-open"><h3>Open cases</h3><p class="stat">2</p>\s*<p class="hint">2 waiting', page)
    assert re.search(r'id="desk-breached"><h3>Past their SLA</h3><p class="stat">1</p>', page)
    assert '<a href="/practices/resolution/escalations">1 escalation to acknowledge</a>' in page
    assert 'href="/operations/live"' in page
    login(client, db, "agent", "agent-overview")
    assert "Service desk now" not in client.get("/").text
