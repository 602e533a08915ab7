"""Sign-in, sessions, lock-out, cookies and CSRF through the real app."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from tests.helpers.auth import PASSWORD, login, make_user

from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth.models import User, WebSession
from pxm.platform.auth.service import hash_password, sha256


def test_passwords_are_argon2id(db):
    user = make_user(db, "agent")
    assert user.password_hash.startswith("$argon2id$")
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted


def test_api_login_success_returns_session_cookie_and_me(client, db):
    user = make_user(db, "cx_manager")
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["username"] == user.username and body["user"]["role"] == "cx_manager"
    assert "patients:read" in body["permissions"] and "users:manage" not in body["permissions"]
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == user.id and me.json()["auth"] == "user"


def test_cookie_flags_httponly_samesite(client, db, settings):
    user = make_user(db, "agent")
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(settings.session_cookie_name + "="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # settings.cookie_secure is False in tests


def test_cookie_is_secure_when_configured(client, db, app):
    app.state.settings = app.state.settings.model_copy(update={"cookie_secure": True})
    user = make_user(db, "agent")
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("pxm_session="))
    assert "secure" in [p.strip().lower() for p in cookie.split(";")]


def test_wrong_password_401_with_envelope(client, db):
    user = make_user(db, "agent")
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": "not-the-password"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "login_failed"
    assert "pxm_session" not in r.headers.get("set-cookie", "")
    r = client.post("/api/v1/auth/login", json={"username": "nobody-here", "password": "whatever-123"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "wrong username or password"


def test_lockout_after_max_failures_is_committed(client, db, app):
    settings = app.state.settings = app.state.settings.model_copy(update={"login_max_failures": 3})
    user = make_user(db, "agent")
    for _ in range(settings.login_max_failures):
        r = client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong-password!"})
        assert r.status_code == 401
    db.expire_all()
    stored = db.get(User, user.id)
    assert stored is not None and stored.locked_until is not None  # the failed requests still wrote the lock
    failures = db.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "auth.login", AuditEvent.outcome == "failure")).scalar_one()
    assert failures >= settings.login_max_failures
    # even the right password is refused now, with the lock-out message
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "too many failed attempts" in r.json()["error"]["message"]


def test_failure_count_persists_between_attempts(client, db):
    user = make_user(db, "agent")
    client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong-password!"})
    client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong-password!"})
    db.expire_all()
    assert db.get(User, user.id).failed_logins == 2  # type: ignore[union-attr]
    client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    db.expire_all()
    assert db.get(User, user.id).failed_logins == 0  # type: ignore[union-attr]


def test_per_address_limit_blocks_spraying_across_usernames(client, db, app):
    app.state.settings = app.state.settings.model_copy(update={"login_ip_max_failures": 3})
    user = make_user(db, "agent")
    for i in range(3):
        r = client.post("/api/v1/auth/login", json={"username": f"ghost{i}", "password": "whatever-123"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "from your address" in r.json()["error"]["message"]


def _session_row(db, client, settings) -> WebSession:
    token = client.cookies.get(settings.session_cookie_name)
    ws = db.get(WebSession, sha256(token))
    assert ws is not None
    return ws


def test_idle_timeout(client, db, settings):
    login(client, db, "agent")
    assert client.get("/api/v1/auth/me").status_code == 200
    ws = _session_row(db, client, settings)
    ws.last_seen_at = ws.last_seen_at - dt.timedelta(minutes=settings.session_idle_minutes + 1)
    db.commit()
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_activity_within_idle_limit_keeps_session(client, db, settings):
    login(client, db, "agent")
    ws = _session_row(db, client, settings)
    ws.last_seen_at = ws.last_seen_at - dt.timedelta(minutes=settings.session_idle_minutes - 1)
    db.commit()
    assert client.get("/api/v1/auth/me").status_code == 200


def test_absolute_timeout(client, db, settings):
    login(client, db, "agent")
    ws = _session_row(db, client, settings)
    ws.created_at = ws.created_at - dt.timedelta(hours=settings.session_absolute_hours, minutes=1)
    db.commit()  # last_seen_at is fresh: only the absolute limit applies
    assert client.get("/api/v1/auth/me").status_code == 401


def test_logout_revokes_session(client, db, settings):
    headers = login(client, db, "agent")
    token = client.cookies.get(settings.session_cookie_name)
    r = client.post("/api/v1/auth/logout", headers=headers)
    assert r.status_code == 204
    db.expire_all()
    assert db.get(WebSession, sha256(token)).revoked is True  # type: ignore[union-attr]
    client.cookies.set(settings.session_cookie_name, token)  # replaying the old cookie does not work
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_regenerates_session_id(client, db, settings):
    user = make_user(db, "agent")
    client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    first = client.cookies.get(settings.session_cookie_name)
    client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    second = client.cookies.get(settings.session_cookie_name)
    assert first and second and first != second
    db.expire_all()
    assert db.get(WebSession, sha256(first)).revoked is True  # type: ignore[union-attr]


def test_cookie_json_write_requires_csrf_header(client, db):
    headers = login(client, db, "agent")
    r = client.post("/api/v1/auth/tokens", json={"name": "no csrf"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = client.post("/api/v1/auth/tokens", json={"name": "wrong"}, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    r = client.post("/api/v1/auth/tokens", json={"name": "with csrf"}, headers=headers)
    assert r.status_code == 201
