"""Service desk settings page (/practices/resolution/settings): read-only for readers, forms for desk:configure, errors
next to their fields, CSRF, audit; and in a real browser an administrator edits a policy and sees it in the table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from tests.helpers.auth import PASSWORD, login
from tests.helpers.server import launch_chromium, live_server, sign_in

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user
from pxm.practices.resolution.models import BusinessCalendar, ContactReason, SlaPolicy

PAGE = "/practices/resolution/settings"
WAIT = 15_000  # ms: a loaded CI machine can be slow; nothing here measures speed


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _policy(db, reason: str | None, priority: str | None) -> SlaPolicy:  # type: ignore[no-untyped-def]
    return db.execute(select(SlaPolicy).where(
        SlaPolicy.reason.is_(None) if reason is None else SlaPolicy.reason == reason,
        SlaPolicy.priority.is_(None) if priority is None else SlaPolicy.priority == priority)).scalar_one()


def test_readers_see_the_settings_without_forms(client, db) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "agent")
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.text
    assert "<h1>Service desk settings</h1>" in html
    assert "Changes apply to new cases." in html and "are not recomputed" in html
    assert "its reason <em>and</em> priority" in html and "the default policy (any reason, any priority)" in html
    assert "Medical advice" in html and "1 h" in html  # the seeded medical-advice policy: 60 min first response
    assert "08:00–18:00" in html  # the default calendar, read-only
    assert "Changing them needs the <code>desk:configure</code> permission" in html
    assert f'action="{PAGE}/policies"' not in html and "Add a reason" not in html
    assert f'<a href="{PAGE}" aria-current="page">Service desk settings</a>' in html
    assert '<a href="/practices/resolution" aria-current="page">' not in html  # only the settings entry is current


def test_policy_form_errors_sit_next_to_their_fields(client, db) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "admin")
    token = _csrf(client.get(PAGE).text)
    r = client.post(f"{PAGE}/policies", data={"csrf_token": token, "reason": "billing", "priority": "normal",
                                              "first_response_minutes": "90", "resolution_minutes": "30",
                                              "business_hours": "on"})
    assert r.status_code == 422
    html = r.text
    assert 'role="alert">The change was not saved' in html
    assert '<span class="field-error" id="pol-resolution-error">must be at least the first-response target ' \
           '(90 minutes)</span>' in html
    field = re.search(r'<input type="number" id="pol-resolution"[^>]*>', html).group(0)  # type: ignore[union-attr]
    assert 'aria-invalid="true"' in field and "pol-resolution-error" in field and 'value="30"' in field
    assert 'id="pol-first" name="first_response_minutes" value="90"' in html  # what was typed is kept
    assert '<option value="billing" selected>' in html
    assert db.execute(select(SlaPolicy).where(SlaPolicy.reason == "billing")).first() is None
    # the seeded (any reason, high) exists: the duplicate is named on both fields
    r = client.post(f"{PAGE}/policies", data={"csrf_token": token, "reason": "", "priority": "high",
                                              "first_response_minutes": "30", "resolution_minutes": "60"})
    assert r.status_code == 409 and 'id="pol-priority-error"' in r.text and "already exists" in r.text


def test_admin_edits_policy_calendar_and_reasons(client, db) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "admin")
    token = _csrf(client.get(PAGE).text)
    policy = _policy(db, "medical_advice", None)
    edit = client.get(PAGE, params={"edit": policy.id})
    assert "Edit the policy for Medical advice, any priority" in edit.text
    assert f'action="{PAGE}/policies/{policy.id}"' in edit.text
    r = client.post(f"{PAGE}/policies/{policy.id}", data={
        "csrf_token": token, "reason": "medical_advice", "priority": "", "first_response_minutes": "45",
        "resolution_minutes": "480", "active": "on"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(PAGE).text
    assert "SLA policy saved: reason medical_advice, priority any: first response 45 min" in page
    assert "around the clock" in page and "It applies to cases opened from now on" in page
    db.expire_all()
    assert (policy.first_response_minutes, policy.business_hours) == (45, False)  # unticked box: around the clock

    cal = db.execute(select(BusinessCalendar).where(BusinessCalendar.facility_id.is_(None))).scalar_one()
    week = {f"{k}_{d}": v for d in range(1, 6) for k, v in (("open", "on"), ("opens", "07:30"), ("closes", "19:00"))}
    r = client.post(f"{PAGE}/calendars/{cal.id}", data={
        "csrf_token": token, "name": "Main clinic", "timezone": "America/Chicago", **week, "open_6": "on",
        "opens_6": "13:00", "closes_6": "09:00", "holidays": "2025-12-25\n2025-07-04 2025-12-25"})
    assert r.status_code == 422
    assert f'id="cal{cal.id}-d6-error">Saturday: closing time (09:00) must be after opening time (13:00)' in r.text
    r = client.post(f"{PAGE}/calendars/{cal.id}", data={
        "csrf_token": token, "name": "Main clinic", "timezone": "America/Chicago", **week,
        "holidays": "2025-12-25\n2025-07-04 2025-12-25"}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert cal.timezone == "America/Chicago" and cal.holidays == ["2025-07-04", "2025-12-25"]
    assert cal.hours == {str(d): ["07:30", "19:00"] for d in range(1, 6)}

    r = client.post(f"{PAGE}/reasons", data={"csrf_token": token, "code": "Bad code", "label": "X"})
    assert r.status_code == 422 and 'id="new-reason-code-error"' in r.text
    r = client.post(f"{PAGE}/reasons", data={"csrf_token": token, "code": "lab_results", "label": "Lab results"},
                    follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{PAGE}/reasons/lab_results/label", data={"csrf_token": token, "label": "Lab & imaging"},
                    follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{PAGE}/reasons/lab_results/active", data={"csrf_token": token, "active": "false"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(PAGE).text
    assert "Reason &#39;lab_results&#39; deactivated" in page
    row = db.get(ContactReason, "lab_results")
    db.refresh(row)
    assert (row.label, row.active) == ("Lab & imaging", False)
    # a reason in use (a seeded policy names it) is refused with the way out, in its row
    r = client.post(f"{PAGE}/reasons/medical_advice/delete", data={"csrf_token": token})
    assert r.status_code == 409
    assert re.search(r'role="alert">the reason &#39;medical_advice&#39; is in use \(1 SLA policy\); '
                     r'deactivate it instead', r.text)
    assert db.get(ContactReason, "medical_advice") is not None
    actions = {e.action for e in db.execute(select(AuditEvent).where(AuditEvent.actor.like("user:admin%"))).scalars()}
    assert {"sla_policy.update", "business_calendar.update", "contact_reason.create", "contact_reason.update"} <= actions


def test_writes_need_desk_configure_and_csrf(client, db) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "agent")
    page = client.get(PAGE)
    assert page.status_code == 200 and "Add a policy" not in page.text
    token = _csrf(page.text)
    r = client.post(f"{PAGE}/reasons", data={"csrf_token": token, "code": "lab_results", "label": "Lab"},
                    headers={"Accept": "text/html"})
    assert r.status_code == 403 and "desk:configure" in r.text
    client.cookies.clear()
    login(client, db, "admin")
    r = client.post(f"{PAGE}/reasons", data={"code": "lab_results", "label": "Lab"}, headers={"Accept": "text/html"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert db.get(ContactReason, "lab_results") is None


@pytest.mark.browser
def test_admin_edits_a_policy_in_the_browser(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    """A CX manager (permission desk:configure) edits a policy on the page and sees it in the table."""
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        with factory() as s:
            create_user(s, Actor.system("tests"), username="settings1", display_name="Sam Settings", role="cx_manager",
                        password=PASSWORD)
            s.commit()
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)  # a loaded CI machine can be slow; nothing here measures speed
            sign_in(page, base_url, "settings1")
            page.get_by_role("link", name="Service desk settings").first.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Service desk settings", timeout=WAIT)
            page.get_by_role("link", name="Edit policy for Test results, any priority").click()
            heading = page.get_by_role("heading", name="Edit the policy for Test results, any priority")
            expect(heading).to_be_visible(timeout=WAIT)
            page.get_by_label("First response target (minutes)").fill("120")
            page.get_by_label("Resolution target (minutes)").fill("90")
            page.get_by_role("button", name="Save policy").click()
            # refused: the error is announced and sits next to its field, the typed values are kept
            expect(page.locator("#pol-resolution-error")).to_have_text(
                "must be at least the first-response target (120 minutes)", timeout=WAIT)
            expect(page.get_by_label("Resolution target (minutes)")).to_have_attribute("aria-invalid", "true")
            page.get_by_label("Resolution target (minutes)").fill("600")
            page.get_by_role("button", name="Save policy").click()
            expect(page.locator(".flash--success")).to_contain_text("first response 2 h, resolution 10 h",
                                                                 timeout=WAIT)
            table = page.get_by_role("table", name="SLA policies, most specific first")
            row = table.get_by_role("row").filter(has_text="Test results")
            expect(row).to_contain_text("2 h (120 min)")
            expect(row).to_contain_text("10 h (600 min)")
            page.reload()  # stored, not just shown
            expect(table.get_by_role("row").filter(has_text="Test results")).to_contain_text("2 h (120 min)",
                                                                                            timeout=WAIT)
            page.close()
