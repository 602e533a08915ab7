"""Agent workspace pages: my queue, the case page (PHI reads audited), forms with CSRF, the FCR drill-down."""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import func, select
from tests.helpers.auth import login

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.models import User
from pxm.platform.people import service as people
from pxm.platform.people.schemas import StaffCreate
from pxm.practices.resolution import service

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)


def _agent_login(client, db, actor, username):  # type: ignore[no-untyped-def]
    headers = login(client, db, "agent", username)
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    staff = people.create_staff(db, actor, StaffCreate(username=username, display_name="Dana Desk",
                                                       job_role="agent", user_id=user.id))
    db.commit()
    return headers, staff


def test_queue_and_case_page_audit_phi_reads(client, db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    headers, me = _agent_login(client, db, actor, "dana")
    p = make_patient("MRN-PAGE-1")
    case = service.open_case(db, actor, patient_id=p.id, reason="prescription_refill", route=False)
    service.assign(db, actor, case.id, me.id, reason_text="test")
    db.commit()
    page = client.get("/practices/resolution")
    assert page.status_code == 200 and f"/practices/resolution/cases/{case.id}" in page.text
    assert "My queue" in page.text
    before = db.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    page = client.get(f"/practices/resolution/cases/{case.id}")
    assert page.status_code == 200
    assert "MRN-PAGE-1" in page.text and f"Patient{p.family_name[7:]}" in page.text
    reads = db.execute(select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.patient_id == p.id)).scalars().all()
    assert {"patient.read", "encounter.list"} <= {e.action for e in reads}
    assert all(e.actor == "user:dana" for e in reads)


def test_forms_post_with_csrf(client, db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    headers, me = _agent_login(client, db, actor, "erin")
    p = make_patient()
    case = service.open_case(db, actor, patient_id=p.id, reason="billing", route=False)
    db.commit()
    page = client.get(f"/practices/resolution/cases/{case.id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    url = f"/practices/resolution/cases/{case.id}"
    assert client.post(url + "/notes", data={"text": "no token"}, follow_redirects=False).status_code == 403
    r = client.post(url + "/notes", data={"text": "called pharmacy", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(url + "/contacts", data={"channel": "phone", "direction": "inbound", "minutes": "4",
                                             "resolved": "true", "resolution_code": "answered",
                                             "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    # resolving without a code is refused with a message, and nothing changes
    r = client.post(url + "/transition", data={"to_status": "in_progress", "csrf_token": token})
    assert r.status_code == 200 and "Case moved to in progress" in r.text
    r = client.post(url + "/transition", data={"to_status": "resolved", "csrf_token": token})
    assert "resolution_code" in r.text
    # the status list starts empty (no move is picked for the agent), and an empty pick is refused
    assert '<option value="">Choose a status</option>' in r.text
    r = client.post(url + "/transition", data={"to_status": "", "csrf_token": token})
    assert "to_status must be one of" in r.text
    db.expire_all()
    case = service.get_case(db, case.id)
    assert case.status == "in_progress" and case.reopened_count == 1
    page = client.get(url)
    assert "called pharmacy" in page.text and "<td>Dana Desk</td>" in page.text  # the contact is the agent's


def test_fcr_dashboard_drills_down_to_repeat_contacts(client, db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "cx_manager")
    p = make_patient()
    ann = make_agent("ann-page")
    first = service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="billing",
                                started_at=T0, ended_at=T0 + dt.timedelta(minutes=5), agent_id=ann.id,
                                resolved=True, route=False)
    repeat = service.log_contact(db, actor, patient_id=p.id, channel="chat", direction="inbound", reason="billing",
                                 started_at=T0 + dt.timedelta(days=2), route=False)
    db.commit()
    page = client.get("/practices/resolution/fcr", params={"by": "agent", "from": "2025-03-03", "to": "2025-03-03"})
    assert page.status_code == 200 and "ann-page" in page.text and 'id="fcr-rate">0.0%' in page.text
    # the contact-centre table: ann's one 5-minute call, her row headed by her name (and her username)
    head = rf'<th scope="row">{ann.display_name} <span class="hint">ann-page</span></th>'
    assert re.search(head + r'<td class="num">1</td>\s*<td class="num">5.0</td>', page.text)
    link = re.search(r'href="(/practices/resolution/fcr/repeats\?by=agent&amp;key=ann-page[^"]*)"', page.text)
    assert link is not None
    drill = client.get(link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200 and f"/practices/resolution/cases/{first.case_id}\"" in drill.text
    assert f"#contact-{repeat.id}" in drill.text
    assert f"for agent <strong>{ann.display_name}</strong> (ann-page)" in drill.text  # whose cases these are


def test_contact_handling_table_writes_its_figures_to_fixed_decimals(client, db, actor, make_patient,
                                                                     make_agent) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "cx_manager")
    p = make_patient()
    bo = make_agent("bo-page")
    # one case, settled in its second contact: a call answered after 12 s, then a call-back that resolves it
    service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="billing",
                        started_at=T0, queued_at=T0, answered_at=T0 + dt.timedelta(seconds=12),
                        ended_at=T0 + dt.timedelta(minutes=4), agent_id=bo.id, route=False)
    service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="outbound", reason="billing",
                        started_at=T0 + dt.timedelta(hours=1), ended_at=T0 + dt.timedelta(hours=1, minutes=2),
                        agent_id=bo.id, resolved=True, route=False)
    db.commit()
    page = client.get("/practices/resolution/fcr", params={"by": "agent", "from": "2025-03-03", "to": "2025-03-03"})
    ops = page.text[page.text.index('id="ops-h"'):]  # the contact-centre table, below the FCR table
    row = re.search(r'<th scope="row">[^<]*<span class="hint">bo-page</span></th>(.*?)</tr>', ops, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    # contacts, AHT (min: 228 s and 120 s), ASA (s), abandoned, service level, repeat rate, contacts per resolved case
    assert cells == ["2", "2.9", "12.0", "0.0%", "100.0%", "0.0%", "2.00"], cells


def test_case_history_says_who_got_it_and_which_target_was_missed(client, db, actor, make_patient,
                                                                  make_agent) -> None:  # type: ignore[no-untyped-def]
    """The case page's History spells out an event's details: the agent an assignment went to, the contact's
    channel, the resolution code, and for an SLA escalation the target missed, the priority raised and the
    supervisor told."""
    from pxm.practices.resolution.tasks import check_sla

    login(client, db, "cx_manager")
    agent = make_agent("hist-agent")
    boss = make_agent("hist-boss", job_role="supervisor")
    p = make_patient()
    contact = service.log_contact(db, actor, patient_id=p.id, channel="chat", direction="inbound", reason="billing",
                                  started_at=T0, route=False)
    case = service.assign(db, actor, contact.case_id, agent.id, reason_text="by hand")
    case.first_response_due_at = T0 + dt.timedelta(minutes=5)
    assert check_sla(db, case.id, "first_response", 0)["outcome"] == "escalated"
    service.transition(db, actor, case.id, "resolved", resolution_code="billing_corrected")
    db.commit()
    history = client.get(f"/practices/resolution/cases/{case.id}").text.split('id="events-h"', 1)[1]
    assert f"<strong>assign</strong> to {agent.display_name}" in history
    assert "<strong>contact</strong>: chat, inbound" in history
    assert (f"<strong>escalation</strong>: first response target missed; priority normal → high; "
            f"supervisor {boss.display_name}") in history
    assert "<strong>transition</strong> (billing corrected)" in history


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)  # type: ignore[union-attr]


def test_an_agent_takes_a_contact_from_a_patient_found_by_mrn(client, db, actor, make_patient, caplog) -> None:  # type: ignore[no-untyped-def]
    """The workspace's "Take a contact": the agent types the MRN (in the form's body: never in a URL, a message
    or a log line), and the contact opens a case that is theirs, or goes to the patient's open case; the
    lookup is audited."""
    from pxm.practices.resolution.models import Case, Contact

    caplog.set_level(logging.DEBUG)
    _headers, me = _agent_login(client, db, actor, "tess")
    p = make_patient("MRN-TAKE-7")
    db.commit()
    page = client.get("/practices/resolution")
    assert 'id="take-h">Take a contact' in page.text and 'name="mrn"' in page.text
    form = {"mrn": "MRN-TAKE-7", "reason": "billing", "channel": "phone", "direction": "inbound", "minutes": "6",
            "note": "asked about a bill", "csrf_token": _csrf(page.text)}
    before = db.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    r = client.post("/practices/resolution/contacts", data=form, follow_redirects=False)
    assert r.status_code == 303 and "MRN-TAKE-7" not in r.headers["location"]
    [case] = db.execute(select(Case).where(Case.patient_id == p.id)).scalars().all()
    assert r.headers["location"] == f"/practices/resolution/cases/{case.id}"
    assert (case.assigned_staff_id, case.status, case.reason) == (me.id, "in_progress", "billing")
    [contact] = db.execute(select(Contact).where(Contact.case_id == case.id)).scalars().all()
    assert (contact.agent_id, contact.channel, contact.ended_at - contact.started_at) == (
        me.id, "phone", dt.timedelta(minutes=6))
    shown = client.get(r.headers["location"]).text
    assert f"Contact logged: it opened case #{case.id}." in shown and "asked about a bill" in shown
    read = db.execute(select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "patient.read")
                      ).scalars().all()
    assert [(e.actor, e.patient_id, e.details) for e in read][:1] == [("user:tess", p.id, {"by": "mrn"})]

    # the same patient and reason again: the contact goes to the open case
    r = client.post("/practices/resolution/contacts", data={**form, "resolved": "true",
                                                            "resolution_code": "billing_corrected"})
    assert f"Contact logged: it went to case #{case.id}." in r.text
    db.expire_all()
    assert (db.get(Case, case.id).status, db.get(Case, case.id).resolution_code) == ("resolved", "billing_corrected")

    # an MRN nobody has: a message that does not repeat it, the failed lookup audited, nothing written
    before = db.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    r = client.post("/practices/resolution/contacts", data={**form, "mrn": "MRN-NOBODY-1"})
    assert r.url.path == "/practices/resolution" and "No patient has the MRN you entered" in r.text
    assert "MRN-NOBODY-1" not in r.text
    [miss] = db.execute(select(AuditEvent).where(AuditEvent.seq > before)).scalars().all()
    assert (miss.action, miss.outcome, miss.patient_id) == ("patient.lookup", "not_found", None)
    assert db.execute(select(func.count()).select_from(Contact)).scalar_one() == 2

    # a reason the desk does not have: refused with the service's message; the lookup stays audited
    r = client.post("/practices/resolution/contacts", data={**form, "reason": "parking"})
    assert "parking" in r.text and "Contact logged" not in r.text
    assert db.execute(select(func.count()).select_from(Contact)).scalar_one() == 2
    assert db.execute(select(func.count()).select_from(Case)).scalar_one() == 1
    r = client.post("/practices/resolution/contacts", data={**form, "mrn": "  "})
    assert "Enter the patient&#39;s MRN." in r.text

    logged = "\n".join(f"{rec.getMessage()} {rec.__dict__}" for rec in caplog.records)
    assert "/practices/resolution/contacts" in logged  # the request log saw the posts
    assert "MRN-TAKE-7" not in logged and "MRN-NOBODY-1" not in logged


def test_the_cases_page_filters_and_pages_every_case(client, db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    """A supervisor's list of cases beyond the workspace's newest 25: open ones by default, filtered by status,
    reason, agent (or nobody), team and SLA, 50 to a page; a filter value not on the list is named, not ignored."""
    from pxm.web.pages.resolution import CASES_PAGE_SIZE

    login(client, db, "cx_manager")
    ann, bo = make_agent("cases-ann", team="front"), make_agent("cases-bo", team="back")
    p = make_patient()
    billing = [service.open_case(db, actor, patient_id=p.id, reason="billing", route=False,
                                 opened_at=T0 + dt.timedelta(minutes=i)) for i in range(CASES_PAGE_SIZE + 2)]
    refill = service.open_case(db, actor, patient_id=p.id, reason="prescription_refill", route=False, opened_at=T0)
    service.assign(db, actor, refill.id, bo.id, reason_text="test")
    service.assign(db, actor, billing[0].id, ann.id, reason_text="test")
    service.transition(db, actor, billing[0].id, "resolved", resolution_code="billing_corrected")
    billing[1].resolution_breached = True
    db.commit()

    def shown(query: str) -> list[int]:
        r = client.get(f"/practices/resolution/cases?{query}")
        assert r.status_code == 200, r.text
        return [int(i) for i in re.findall(r'href="/practices/resolution/cases/(\d+)"', r.text)]

    page = client.get("/practices/resolution/cases")
    assert f"{CASES_PAGE_SIZE + 2} cases" in page.text  # the open ones: all but the resolved one
    first = shown("")
    assert len(first) == CASES_PAGE_SIZE and first[0] == billing[-1].id  # newest opened first
    rest = shown(f"offset={CASES_PAGE_SIZE}")
    assert set(first) | set(rest) == {c.id for c in billing[1:]} | {refill.id} and not set(first) & set(rest)
    assert 'href="?status=open&amp;order=opened&amp;offset=50">Older</a>' in page.text
    due = {c.id: c.resolution_due_at for c in [*billing, refill]}
    soonest = shown("order=due")
    assert [due[i] for i in soonest] == sorted(due[i] for i in soonest) and soonest != first
    assert soonest[0] in (billing[1].id, refill.id)  # the open ones opened first are due first
    assert shown("status=resolved") == [billing[0].id]
    assert shown(f"status=all&agent={ann.id}") == [billing[0].id]
    assert shown("reason=prescription_refill") == [refill.id] == shown("team=back")
    assert refill.id not in shown("agent=none&offset=0") + shown("agent=none&offset=50")
    assert shown("breached=yes") == [billing[1].id]
    assert '<a href="/practices/resolution/cases">Cases</a>' in client.get("/").text  # in the menu
    bad = client.get("/practices/resolution/cases?status=lost&agent=9999&order=oldest")
    assert bad.status_code == 422
    assert "Unknown status &#39;lost&#39;" in bad.text and "Unknown agent &#39;9999&#39;" in bad.text
    assert "Unknown order &#39;oldest&#39;" in bad.text


def test_desk_pages_read_times_in_the_desks_zone(client, db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """PXM_TIMEZONE is where the desk's people read the clock: a Chicago desk's case, cases list and queue show
    08:00 CST for a contact at 14:00 UTC (the machine-readable datetime stays UTC); UTC reads UTC."""
    login(client, db, "cx_manager")
    contact = service.log_contact(db, actor, patient_id=make_patient().id, channel="phone", direction="inbound",
                                  reason="billing", started_at=T0, route=False)
    db.commit()
    url = f"/practices/resolution/cases/{contact.case_id}"
    utc = client.get(url).text
    assert "opened <time datetime=\"2025-03-03T14:00:00+00:00\">2025-03-03 14:00 UTC</time>" in utc
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"timezone": "America/Chicago"})
    try:
        page = client.get(url).text
        assert "opened <time datetime=\"2025-03-03T14:00:00+00:00\">2025-03-03 08:00 CST</time>" in page
        assert "14:00 UTC" not in page
        assert "2025-03-03 08:00 CST" in client.get("/practices/resolution/cases?status=all").text
    finally:
        client.app.state.settings = settings


def test_an_agent_sets_their_own_status_from_the_workspace(client, db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """Routing gives new cases only to available agents: the agent says when they are away and back, on the
    workspace, without the API; an unknown status is refused with the list. Away with open cases, the agent is
    told they wait, and who can hand them on."""
    from pxm.platform.people.models import Staff

    _headers, me = _agent_login(client, db, actor, "stan")
    held = service.open_case(db, actor, patient_id=make_patient().id, reason="billing", route=False)
    service.assign(db, actor, held.id, me.id, reason_text="test")
    db.commit()
    page = client.get("/practices/resolution")
    assert 'id="status-h">Your status' in page.text and '<option value="away">' in page.text
    r = client.post("/practices/resolution/status", data={"status": "away", "csrf_token": _csrf(page.text)})
    assert r.url.path == "/practices/resolution" and "Your status is now away." in r.text
    db.expire_all()
    assert db.get(Staff, me.id).status == "away"
    assert "Away since" in r.text
    assert "You are away with 1 open case:" in r.text and "hand them back to routing" in r.text
    r = client.post("/practices/resolution/status", data={"status": "lunch", "csrf_token": _csrf(page.text)})
    assert "status: use one of available, busy, away, offline" in r.text
    db.expire_all()
    assert db.get(Staff, me.id).status == "away"
    assert client.post("/practices/resolution/status", data={"status": "available"}).status_code == 403  # CSRF
    back = client.post("/practices/resolution/status", data={"status": "available", "csrf_token": _csrf(page.text)})
    assert "Your status is now available." in back.text and 'id="away-with-cases"' not in back.text


def test_the_workspace_shows_the_agents_day(client, db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    """'Today': the signed-in agent's contacts since the start of the desk's day, their average handling time
    and how many settled the case there and then; yesterday's do not count."""
    from pxm.operations.live.service import day_start
    from pxm.platform.db.base import utcnow

    _headers, me = _agent_login(client, db, actor, "tina")
    def day() -> str:
        return " ".join(client.get("/practices/resolution").text.split()).split('<p id="my-day">')[1].split("</p>")[0]

    assert day() == "<strong>Today:</strong> 0 contacts, average handling time –, 0 resolved in the contact."
    midnight = day_start(utcnow(), "UTC")
    start = max(utcnow() - dt.timedelta(minutes=20), midnight)
    for n, (begin, minutes, resolved) in enumerate([(start, 4, True), (start + dt.timedelta(minutes=5), 6, False),
                                                   (midnight - dt.timedelta(hours=2), 30, True)]):
        service.log_contact(db, actor, patient_id=make_patient().id, channel="phone", direction="inbound",
                            reason="billing", started_at=begin, ended_at=begin + dt.timedelta(minutes=minutes),
                            agent_id=me.id, resolved=resolved, route=False, note=f"call {n}")
    db.commit()
    assert day() == "<strong>Today:</strong> 2 contacts, average handling time 5:00, 1 resolved in the contact."
