"""Users, signed-in clients and API tokens for tests.

    from tests.helpers.auth import login, make_user, token_headers

    def test_x(client, db):
        headers = login(client, db, "cx_manager")       # cookie session + X-CSRF-Token header
        client.post("/api/v1/...", json={...}, headers=headers)

    def test_y(client, db):
        client.get("/api/v1/...", headers=token_headers(db, "agent"))   # Bearer token
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User
from pxm.platform.auth.service import create_api_token, create_user

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


def make_user(db: Session, role: str, username: str | None = None, *, password: str = PASSWORD,
              display_name: str | None = None) -> User:
    """Create (and commit to the test's savepoint) an active user with ``role``; password is ``PASSWORD``."""
    username = username or f"{role}-{next(_seq)}-{uuid.uuid4().hex[:6]}"
    user = create_user(db, Actor.system("tests"), username=username, display_name=display_name or username.title(),
                       role=str(role), password=password)
    db.commit()
    return user


def login(client: Any, db: Session, role: str, username: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` and sign the TestClient in through ``POST /api/v1/auth/login``.

    The client keeps the session cookie; the returned headers carry the CSRF token that cookie-authenticated
    writes need (``{"X-CSRF-Token": ...}``). Pass them on POST/PUT/PATCH/DELETE.
    """
    user = make_user(db, role, username)
    resp = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"X-CSRF-Token": resp.json()["csrf_token"]}


def token_headers(db: Session, role: str, username: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` and an API token; return ``{"Authorization": "Bearer pxm_..."}``."""
    user = make_user(db, role, username)
    secret, _tok = create_api_token(db, Actor.system("tests"), user, "tests")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}
