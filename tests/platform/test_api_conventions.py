"""API conventions seen through the users API: error envelope, pagination, Idempotency-Key, tokens."""

from __future__ import annotations

from sqlalchemy import func, select
from tests.helpers.auth import PASSWORD, login, make_user, token_headers

from pxm.platform.auth.models import User


def _envelope(resp):
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    return body["error"]


def _new_user(username: str, role: str = "agent") -> dict:
    return {"username": username, "display_name": username.title(), "role": role, "password": "a-long-password-1"}


def test_404_envelope(client, db):
    r = client.get("/api/v1/users/987654", headers=token_headers(db, "admin"))
    assert r.status_code == 404
    err = _envelope(r)
    assert err["code"] == "not_found" and "987654" in err["message"]
    r = client.get("/api/v1/no-such-thing", headers=token_headers(db, "admin"))
    assert r.status_code == 404 and _envelope(r)["code"] == "not_found"


def test_422_envelope_names_the_fields(client, db):
    r = client.post("/api/v1/users", json={"username": "x", "role": "wizard"}, headers=token_headers(db, "admin"))
    assert r.status_code == 422
    err = _envelope(r)
    assert err["code"] == "invalid_request"
    fields = {d["field"] for d in err["details"]}
    assert {"username", "role", "display_name", "password"} <= fields
    assert "username" in err["message"]


def test_409_envelope_on_duplicate(client, db):
    headers = token_headers(db, "admin")
    assert client.post("/api/v1/users", json=_new_user("dup.user"), headers=headers).status_code == 201
    r = client.post("/api/v1/users", json=_new_user("dup.user"), headers=headers)
    assert r.status_code == 409
    err = _envelope(r)
    assert err["code"] == "conflict" and "dup.user" in err["message"]


def test_pagination_total_limit_offset(client, db):
    headers = token_headers(db, "admin")
    for i in range(5):
        make_user(db, "analyst", username=f"page-{i}")
    r = client.get("/api/v1/users", params={"role": "analyst", "limit": 2, "offset": 0}, headers=headers)
    assert r.status_code == 200
    first = r.json()
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    assert [u["username"] for u in first["items"]] == ["page-0", "page-1"]
    last = client.get("/api/v1/users", params={"role": "analyst", "limit": 2, "offset": 4}, headers=headers).json()
    assert [u["username"] for u in last["items"]] == ["page-4"] and last["total"] == 5
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        r = client.get("/api/v1/users", params=bad, headers=headers)
        assert r.status_code == 422 and _envelope(r)["details"][0]["field"] in ("query.limit", "query.offset")


def _count(db, username: str) -> int:
    return int(db.execute(select(func.count()).select_from(User).where(User.username == username)).scalar_one())


def test_idempotency_key_replays_first_response(client, db):
    headers = {**token_headers(db, "admin"), "Idempotency-Key": "create-carol-1"}
    first = client.post("/api/v1/users", json=_new_user("carol"), headers=headers)
    assert first.status_code == 201
    again = client.post("/api/v1/users", json=_new_user("carol"), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    db.expire_all()
    assert _count(db, "carol") == 1


def test_idempotency_key_with_different_body_is_refused(client, db):
    headers = {**token_headers(db, "admin"), "Idempotency-Key": "create-dave-1"}
    assert client.post("/api/v1/users", json=_new_user("dave"), headers=headers).status_code == 201
    r = client.post("/api/v1/users", json=_new_user("dave2"), headers=headers)
    assert r.status_code == 422 and _envelope(r)["code"] == "idempotency_key_reused"
    db.expire_all()
    assert _count(db, "dave") == 1 and _count(db, "dave2") == 0


def test_idempotency_keys_are_per_actor(client, db):
    a = {**token_headers(db, "admin"), "Idempotency-Key": "same-key"}
    b = {**token_headers(db, "admin"), "Idempotency-Key": "same-key"}
    assert client.post("/api/v1/users", json=_new_user("erin"), headers=a).status_code == 201
    assert client.post("/api/v1/users", json=_new_user("frank"), headers=b).status_code == 201
    db.expire_all()
    assert _count(db, "erin") == 1 and _count(db, "frank") == 1


def test_api_token_works_and_revoked_token_is_401(client, db):
    headers = login(client, db, "analyst")
    created = client.post("/api/v1/auth/tokens", json={"name": "notebook"}, headers=headers)
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("pxm_")
    listed = client.get("/api/v1/auth/tokens").json()
    assert [t["name"] for t in listed] == ["notebook"] and "token" not in listed[0]

    bearer = {"Authorization": f"Bearer {secret}"}
    client.cookies.clear()
    me = client.get("/api/v1/auth/me", headers=bearer)
    assert me.status_code == 200 and me.json()["auth"] == "token" and me.json()["csrf_token"] is None
    # Bearer calls need no CSRF token
    assert client.post("/api/v1/auth/tokens", json={"name": "second"}, headers=bearer).status_code == 201

    assert client.delete(f"/api/v1/auth/tokens/{created.json()['id']}", headers=bearer).status_code == 204
    r = client.get("/api/v1/auth/me", headers=bearer)
    assert r.status_code == 401 and _envelope(r)["code"] == "not_authenticated"
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer pxm_made-up"}).status_code == 401


def test_cannot_revoke_someone_elses_token(client, db):
    owner = token_headers(db, "agent")
    other = token_headers(db, "agent")
    mine = client.get("/api/v1/auth/tokens", headers=owner).json()[0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{mine}", headers=other).status_code == 404
    assert client.get("/api/v1/auth/me", headers=owner).status_code == 200


def test_deactivating_a_user_ends_their_session_and_tokens(client, db, settings):
    admin = token_headers(db, "admin")
    user = make_user(db, "agent")
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200
    session_cookie = client.cookies.get(settings.session_cookie_name)
    secret = client.post("/api/v1/auth/tokens", json={"name": "t"},
                         headers={"X-CSRF-Token": r.json()["csrf_token"]}).json()["token"]
    client.cookies.clear()
    r = client.patch(f"/api/v1/users/{user.id}", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    client.cookies.set(settings.session_cookie_name, session_cookie)
    assert client.get("/api/v1/auth/me").status_code == 401
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 401
