"""A real PXM server for browser tests: uvicorn in a thread on a free port, against a committed database.

    from tests.helpers.server import live_server, launch_chromium

    def test_page(committed_db_url, key_dir):
        with live_server(committed_db_url, key_dir) as (base_url, factory):
            with factory() as s: ...; s.commit()         # seed data (real commits)
            with launch_chromium() as browser: page = browser.new_page(); page.goto(base_url + "/login")
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(db_url: str, key_dir: Path, **settings_overrides: Any) -> Iterator[tuple[str, sessionmaker[Session]]]:
    import uvicorn

    from pxm.platform.config import Settings
    from pxm.web.app import create_app

    port = free_port()
    settings = Settings(database_url=db_url, key_dir=key_dir, host="127.0.0.1", port=port, log_json=True,
                        jobs_mode="embedded", **settings_overrides)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app.state.session_factory
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        app.state.engine.dispose()


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base_url: str, username: str) -> None:
    """Sign ``username`` in through the login form (password ``tests.helpers.auth.PASSWORD``) and wait for the
    overview page it lands on."""
    from tests.helpers.auth import PASSWORD

    page.goto(base_url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")
