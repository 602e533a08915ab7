"""In a real browser: sign in through the form, land on the overview, use the site by keyboard and on a phone."""

from __future__ import annotations

import pytest
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user

pytestmark = pytest.mark.browser


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/")
    assert page.url.endswith("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")
    assert page.get_by_role("heading", name="Overview", level=1).is_visible()


def test_sign_in_overview_keyboard_and_phone(committed_db_url, key_dir):
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        with factory() as s:
            create_user(s, Actor.system("tests"), username="ada", display_name="Ada", role="admin",
                        password=PASSWORD)
            s.commit()
        with launch_chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            _sign_in(page, base_url, "ada")
            assert page.get_by_text("Signed in as").is_visible()

            # First Tab lands on the skip link, which becomes visible and has a focus ring.
            page.keyboard.press("Tab")
            focused = page.evaluate("""() => { const el = document.activeElement; const r = el.getBoundingClientRect();
                return {text: el.textContent.trim(), top: r.top, outline: getComputedStyle(el).outlineStyle}; }""")
            assert focused["text"] == "Skip to main content" and focused["top"] >= 0 and focused["outline"] != "none"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"

            # Keyboard through the sidebar to the admin page.
            link = page.locator("nav.nav-desktop a", has_text="Users & tokens")
            assert link.is_visible()
            for _ in range(40):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.textContent.trim()") == "Users & tokens":
                    break
            else:
                pytest.fail("Users & tokens is not reachable by Tab")
            page.keyboard.press("Enter")
            page.wait_for_url(base_url + "/admin/users")
            assert page.get_by_role("heading", name="Users & tokens", level=1).is_visible()
            assert page.locator('nav.nav-desktop a[aria-current="page"]').inner_text() == "Users & tokens"
            # "coming" entries are text, not links
            assert page.locator("nav.nav-desktop .nav-coming").count() > 0
            assert page.locator("nav.nav-desktop a", has_text="Loyalty").count() == 0

            # A 375px phone: the sidebar is hidden, a Menu disclosure opens by keyboard, no horizontal scroll.
            phone = browser.new_page(viewport={"width": 375, "height": 740})
            _sign_in(phone, base_url, "ada")
            assert not phone.locator("nav.nav-desktop").is_visible()
            overview_link = phone.locator("details.nav-mobile a", has_text="Users & tokens")
            assert not overview_link.is_visible()
            phone.locator("details.nav-mobile > summary").focus()
            phone.keyboard.press("Enter")
            assert overview_link.is_visible()
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375
            overview_link.focus()
            phone.keyboard.press("Enter")
            phone.wait_for_url(base_url + "/admin/users")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375
