"""A patient answers a survey through the token link on a phone; a CX manager sees it counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user
from pxm.platform.people.models import Patient
from pxm.platform.people.service import email_index, mrn_index
from pxm.practices.feedback import invitations as inv_service
from pxm.practices.feedback.invitations import InvitationPolicy, new_token


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
            token, inv.token_hash = new_token()
            inv.status = "sent"
            create_user(s, actor, username="cxm", display_name="CX Manager", role="cx_manager", password=PASSWORD)
            s.commit()
        with launch_chromium() as browser:
            phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
            page = phone.new_page()
            page.goto(f"{base_url}/s/{token}")
            assert page.locator("html").get_attribute("lang") == "es"
            assert not page.get_by_text("¿Qué sigue pendiente?").is_visible()  # shown only when not resolved
            page.get_by_label("Sí").check()
            page.get_by_label("No", exact=True).check()
            assert page.get_by_text("¿Qué sigue pendiente?").is_visible()
            page.get_by_label("Todavía espero una llamada").check()
            page.get_by_role("button", name="Guardar y terminar después").click()
            assert page.get_by_text("Sus respuestas se guardaron").is_visible()
            page.goto(f"{base_url}/s/{token}")  # resume: earlier answers are kept
            assert page.get_by_label("Todavía espero una llamada").is_checked()
            page.locator('label[for="in-CSAT-2"]').click()
            page.keyboard.press("Tab")  # keyboard reachable
            page.get_by_label("¿Algo más que quiera decirnos?").fill("Sigo esperando mi receta")
            page.get_by_role("button", name="Enviar mis respuestas").click()
            assert page.get_by_role("heading", name="Gracias").is_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375  # no sideways scrolling on a phone
            page.goto(f"{base_url}/s/{token}")
            assert page.get_by_role("heading", name="Esta encuesta ya fue respondida").is_visible()

            desk = browser.new_context(viewport={"width": 1280, "height": 900})
            manager = desk.new_page()
            manager.goto(base_url + "/login")
            manager.get_by_label("Username").fill("cxm")
            manager.get_by_label("Password").fill(PASSWORD)
            manager.get_by_role("button", name="Sign in").click()
            manager.goto(base_url + "/practices/feedback")
            assert manager.get_by_test_id("responses-count").inner_text() == "1"
            assert "0%" in manager.locator("#card-fcr").inner_text()  # the one pulse answer: not resolved
