"""In a real browser at phone width: an agent opens a case from their queue and resolves it in a contact."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server, sign_in

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user
from pxm.platform.people import service as people
from pxm.platform.people.schemas import PatientCreate, StaffCreate
from pxm.practices.resolution import service

pytestmark = pytest.mark.browser


def test_agent_resolves_a_case_at_375px(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        system = Actor.system("tests")
        with factory() as s:
            user = create_user(s, system, username="desk1", display_name="Desk One", role="agent", password=PASSWORD)
            staff = people.create_staff(s, system, StaffCreate(username="desk1", display_name="Desk One",
                                                               job_role="agent", user_id=user.id))
            patient = people.create_patient(s, system, PatientCreate(mrn="BR-1", given_name="Rosa",
                                                                     family_name="Browser"))
            case = service.open_case(s, system, patient_id=patient.id, reason="test_results", route=False)
            service.assign(s, system, case.id, staff.id, reason_text="test")
            s.commit()
            case_id = case.id
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            page.set_default_timeout(30_000)  # a loaded CI machine can be slow; nothing here measures speed
            sign_in(page, base_url, "desk1")
            page.goto(base_url + "/practices/resolution")
            page.get_by_role("link", name=f"#{case_id}").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(f"Case #{case_id}", timeout=15_000)
            expect(page.locator("aside")).to_contain_text("Rosa Browser")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
            page.get_by_label("Channel").select_option("phone")
            page.get_by_label("Minutes spent").fill("7")
            page.get_by_label("Resolved in this contact").check()
            page.get_by_label("Resolution code (if resolved)").select_option("results_explained")
            page.get_by_role("button", name="Log contact").focus()
            page.keyboard.press("Enter")
            expect(page.locator(".flash--success")).to_have_text("Contact logged.", timeout=15_000)
            expect(page.locator("main > p").first).to_contain_text("resolved")
            expect(page.locator("#contacts-h + .table-wrap")).to_contain_text("resolved the case")
            page.close()
