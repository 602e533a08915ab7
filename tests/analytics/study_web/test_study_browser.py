"""An analyst uploads the example CSV through the Study page and reads Table 4 in the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from tests.helpers.auth import PASSWORD
from tests.helpers.server import launch_chromium, live_server

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.service import create_user

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "study" / "cxm_example.csv"


@pytest.mark.browser
def test_analyst_uploads_csv_and_sees_table_4(committed_db_url: str, key_dir: Path) -> None:
    with live_server(committed_db_url, key_dir) as (base_url, factory):
        with factory() as s:
            create_user(s, Actor.system("test"), username="ana", display_name="Ana Analyst", role="analyst",
                        password=PASSWORD)
            s.commit()
        with launch_chromium() as browser:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base_url + "/login")
            page.get_by_label("Username").fill("ana")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="CXM impact study").first.click()
            expect(page.get_by_role("heading", name="CXM impact study")).to_be_visible()
            page.get_by_label("Survey answers").set_input_files(str(EXAMPLE))
            page.get_by_label("Title", exact=True).fill("Browser wave")
            page.get_by_role("button", name="Run the study", exact=True).click()
            expect(page.get_by_role("heading", name="Table 4. Hypotheses")).to_be_visible(timeout=60_000)
            table = page.locator("#table-4")
            for h in ("H1", "H2", "H3", "H4", "H5"):
                expect(table.get_by_role("rowheader", name=h, exact=True)).to_be_visible()
            betas = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
            assert len(betas) == 5 and all(b.strip()[:1] in "-0123456789" for b in betas)
            expect(page.get_by_role("img", name="Path diagram: practices to Business performance")).to_be_visible()
            expect(page.get_by_role("link", name="Download report (HTML)")).to_be_visible()
