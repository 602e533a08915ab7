"""In a real browser: the live page updates itself (server-sent events) when a contact arrives via the API."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from playwright.sync_api import expect
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server, sign_in

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_api_token, create_user
from pxm.platform.people import service as people
from pxm.platform.people.schemas import PatientCreate
from pxm.practices.resolution import service as desk_service

pytestmark = pytest.mark.browser


def _live_page(browser, base_url):  # type: ignore[no-untyped-def]
    """The supervisor ("sup") signed in on the live page, its event stream connected."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base_url, "sup")
    page.goto(base_url + "/operations/live")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=10_000)
    return page


def test_live_page_shows_a_new_contact_without_reload(committed_db_url, key_dir):
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        system = Actor.system("tests")
        with factory() as s:
            create_user(s, system, username="sup", display_name="Sup", role="cx_manager", password=PASSWORD)
            desk = create_user(s, system, username="desk", display_name="Desk", role="agent", password=PASSWORD)
            token, _ = create_api_token(s, system, desk, "phone system")
            patient = people.create_patient(s, system, PatientCreate(mrn="LIVE-1", given_name="Lee",
                                                                     family_name="Live", preferred_language="es"))
            other = people.create_patient(s, system, PatientCreate(mrn="LIVE-3", given_name="Risa",
                                                                   family_name="Due"))
            at_risk = desk_service.open_case(s, system, patient_id=other.id, reason="referral", channel="portal")
            at_risk.first_response_due_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
            s.commit()
            patient_id, risk_link = patient.id, f'#risk-body a[href="/practices/resolution/cases/{at_risk.id}"]'
        with launch_chromium() as browser:
            page = _live_page(browser, base_url)
            expect(page.locator("#live-waiting")).to_have_text("1")  # the case at risk waits too
            expect(page.locator(risk_link)).to_have_count(1)
            loads = page.evaluate("performance.getEntriesByType('navigation').length")

            expect(page.locator("#live-aht")).to_have_text("\u2013")
            now = dt.datetime.now(dt.UTC)
            start = max(now - dt.timedelta(minutes=5), now.replace(hour=0, minute=0, second=0, microsecond=0))
            r = httpx.post(base_url + "/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}, json={
                "patient_id": patient_id, "channel": "phone", "direction": "inbound", "reason": "billing",
                "started_at": start.isoformat(), "queued_at": start.isoformat(),
                "ended_at": (start + dt.timedelta(seconds=250)).isoformat()})  # a voicemail: no agent took it
            assert r.status_code == 201, r.text

            # No agent is available, so the new case waits in the queue: the page shows it within 2 seconds.
            expect(page.locator("#live-waiting")).to_have_text("2", timeout=2_000)
            expect(page.locator("#queue-body")).to_contain_text("billing", timeout=2_000)
            expect(page.locator("#live-contacts")).to_have_text("1", timeout=2_000)
            expect(page.locator("#live-aht")).to_have_text("4:10")  # as pushed, m:ss as the template writes it
            expect(page.locator(risk_link)).to_have_count(1)  # the pushed table links the case at risk too
            expect(page.locator("#live-zone")).to_have_text("UTC")
            expect(page.locator("#live-as-of")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))  # as pushed
            assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # no reload
            page.close()


def test_live_page_ticks_a_long_wait_in_hours(committed_db_url, key_dir):
    """The longest wait counts up in the browser between server pushes, written h:mm:ss past an hour."""
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        system = Actor.system("tests")
        with factory() as s:
            create_user(s, system, username="sup", display_name="Sup", role="cx_manager", password=PASSWORD)
            patient = people.create_patient(s, system, PatientCreate(mrn="LIVE-2", given_name="Wai",
                                                                     family_name="Ting"))
            desk_service.open_case(s, system, patient_id=patient.id, reason="billing", channel="portal",
                                   opened_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2, minutes=5))
            s.commit()
        with launch_chromium() as browser:
            page = _live_page(browser, base_url)
            wait = page.locator("#live-longest-wait")
            expect(wait).to_have_text(re.compile(r"^2:05:\d\d$"))
            first = wait.inner_text()
            expect(wait).not_to_have_text(first, timeout=3_000)  # the page's own clock moves it on
            expect(wait).to_have_text(re.compile(r"^2:05:\d\d$"))
            expect(page.locator("#live-as-of")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
            page.close()
