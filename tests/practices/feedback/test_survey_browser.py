"""A patient answers a survey through the token link on a phone; a CX manager sees it counted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user
from pxm.platform.jobs import run_pending
from pxm.platform.people.models import Patient
from pxm.platform.people.service import email_index, mrn_index
from pxm.practices.feedback import invitations as inv_service
from pxm.practices.feedback.invitations import InvitationPolicy
from pxm.practices.feedback.models import MessageOutbox


def _deliver(factory: sessionmaker[Session], invitation_id: int) -> str:
    """Run the delivery jobs (compose, then send through the outbox sender) and read the link from the message."""
    run_pending(factory)
    run_pending(factory)
    with factory() as s:
        msg = s.execute(select(MessageOutbox).where(MessageOutbox.invitation_id == invitation_id)).scalar_one()
        assert msg.status == "sent" and msg.to == "rosa@example.org"
        found = re.search(r"/s/([A-Za-z0-9_\-]+)", msg.body)
        assert found is not None
        return found.group(1)


@pytest.mark.browser
def test_patient_answers_on_phone_and_manager_sees_it(committed_db_url: str, key_dir: Path) -> None:
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        actor = Actor.system("test")
        with factory() as s:
            p = Patient(mrn="BR-1", mrn_index=mrn_index("BR-1"), given_name="Rosa", family_name="Diaz",
                        email="rosa@example.org", email_index=email_index("rosa@example.org"),
                        preferred_language="es", consent_email=True, consent_surveys=True)
            s.add(p)
            s.flush()
            inv = inv_service.create_invitation(s, actor, patient_id=p.id, instrument="pulse", trigger="manual",
                                                policy=InvitationPolicy(delay_hours=0))
            create_user(s, actor, username="cxm", display_name="CX Manager", role="cx_manager", password=PASSWORD)
            s.commit()
            inv_id = inv.id
        token = _deliver(factory, inv_id)
        with launch_chromium() as browser:
            phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
            page = phone.new_page()
            page.goto(f"{base_url}/s/{token}")
            assert page.locator("html").get_attribute("lang") == "es"
            assert not page.get_by_text("¿Qué sigue pendiente?").is_visible()  # shown only when not resolved
            page.get_by_label("Sí").check()
            page.get_by_label("No", exact=True).check()
            expect(page.get_by_text("¿Qué sigue pendiente?")).to_be_visible()
            page.get_by_label("Todavía espero una llamada").check()
            page.get_by_role("button", name="Guardar y terminar después").click()
            expect(page.get_by_text("Sus respuestas se guardaron")).to_be_visible()
            page.goto(f"{base_url}/s/{token}")  # resume: earlier answers are kept
            assert page.get_by_label("Todavía espero una llamada").is_checked()
            page.locator('label[for="in-CSAT-2"]').click()
            page.keyboard.press("Tab")  # keyboard reachable
            page.get_by_label("¿Algo más que quiera decirnos?").fill("Sigo esperando mi receta")
            page.get_by_role("button", name="Enviar mis respuestas").click()
            expect(page.get_by_role("heading", name="Gracias")).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375  # no sideways scrolling on a phone
            page.goto(f"{base_url}/s/{token}")
            expect(page.get_by_role("heading", name="Esta encuesta ya fue respondida")).to_be_visible()

            desk = browser.new_context(viewport={"width": 1280, "height": 900})
            manager = desk.new_page()
            manager.goto(base_url + "/login")
            manager.get_by_label("Username").fill("cxm")
            manager.get_by_label("Password").fill(PASSWORD)
            manager.get_by_role("button", name="Sign in").click()
            manager.goto(base_url + "/practices/feedback")
            expect(manager.get_by_test_id("responses-count")).to_have_text("1")
            expect(manager.locator("#card-fcr .stat")).to_have_text("0%")  # the one pulse answer: not resolved
