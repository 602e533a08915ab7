"""Walk every route of the app: non-public operations answer 401 without a login and 403 to every role that
lacks the permission the route declares. Routes added later by any feature are covered automatically."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.responses import StreamingResponse
from tests.helpers.auth import token_headers

from pxm.platform.auth.permissions import Permission, Role, permissions_for


def _walk(dependant: Dependant, perms: set[Permission], flags: set[str]) -> None:
    for sub in dependant.dependencies:
        call = sub.call
        perm = getattr(call, "pxm_permission", None)
        if isinstance(perm, Permission):
            perms.add(perm)
        if getattr(call, "pxm_any_role", False):
            flags.add("any_role")
        _walk(sub, perms, flags)


def route_requirements(route: Any) -> tuple[set[Permission], bool]:
    perms: set[Permission] = set()
    flags: set[str] = set()
    _walk(route.dependant, perms, flags)
    return perms, "any_role" in flags


def is_public(route: Any) -> bool:
    return bool((route.openapi_extra or {}).get("x-pxm-public"))


def api_routes(app: Any) -> list[Any]:
    """Every API route with its effective path and dependencies (router prefixes and router-level
    dependencies applied). FastAPI >= 0.16x mounts included routers lazily; iter_route_contexts flattens."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied flat into app.routes
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [ctx for ctx in iter_route_contexts(app.routes) if isinstance(ctx.original_route, APIRoute)]


def operations(app: Any) -> list[tuple[str, str, Any]]:
    ops = []
    for route in api_routes(app):
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            ops.append((method, route.path_format, route))
    assert ops, "no API routes found: the route walk is broken"
    return ops


def is_stream(route: Any) -> bool:
    """Endless responses (server-sent events): a permitted GET would never finish, so it is not fetched."""
    rc = getattr(route, "response_class", None)
    rc = getattr(rc, "value", rc)  # a FastAPI DefaultPlaceholder wraps the default class
    if isinstance(rc, type) and (issubclass(rc, StreamingResponse) or "EventSource" in rc.__name__):
        return True
    responses = getattr(route, "responses", None) or {}
    return any("text/event-stream" in (r.get("content") or {}) for r in responses.values() if isinstance(r, dict))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_non_public_route_declares_a_permission(app):
    missing = [f"{m} {p}" for m, p, r in operations(app)
               if not is_public(r) and route_requirements(r) == (set(), False)]
    assert not missing, ("these routes are neither public (openapi_extra={'x-pxm-public': True}) nor protected "
                         f"by Depends(require(Permission.X)) / require_login: {missing}")


def test_openapi_document_matches_the_routes(app):
    doc = app.openapi()
    by_key = {(m, p): r for m, p, r in operations(app)}
    seen = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            route = by_key.get((method.upper(), path))
            assert route is not None, f"{method.upper()} {path} is in the OpenAPI document but not routed"
            assert bool(op.get("x-pxm-public")) == is_public(route)
            seen += 1
    assert seen >= 10  # the platform alone documents more than this


def test_public_marker_is_rare_and_deliberate(app):
    public = sorted(f"{m} {p}" for m, p, r in operations(app) if is_public(r))
    assert "POST /api/v1/auth/login" in public and "GET /api/v1/health" in public
    assert "GET /" not in public and "GET /api/v1/overview" not in public


def test_unauthenticated_requests_get_401(client, app):
    failures = []
    checked = 0
    for method, path, route in operations(app):
        if is_public(route):
            continue
        resp = client.request(method, concrete(path), headers={"Accept": "application/json"})
        checked += 1
        if resp.status_code != 401:
            failures.append(f"{method} {path} -> {resp.status_code}")
        elif resp.headers.get("content-type", "").startswith("application/json"):
            assert resp.json()["error"]["code"] == "not_authenticated"
    assert checked > 0
    assert not failures, failures


def test_html_page_without_login_redirects_to_sign_in(client):
    resp = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    resp = client.get("/admin/users", headers={"Accept": "text/html"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=/admin/users"


def test_roles_without_the_permission_get_403(client, app, db):
    headers = {role: token_headers(db, role.value) for role in Role}
    failures = []
    checked = 0
    for method, path, route in operations(app):
        if is_public(route):
            continue
        perms, _any = route_requirements(route)
        for role in Role:
            if perms <= permissions_for(role):
                continue
            resp = client.request(method, concrete(path), headers=headers[role])
            checked += 1
            if resp.status_code != 403:
                failures.append(f"{role.value}: {method} {path} -> {resp.status_code}")
            else:
                assert resp.json()["error"]["code"] == "forbidden"
    assert checked > 0
    assert not failures, failures


@pytest.mark.parametrize("role", list(Role))
def test_roles_with_the_permission_are_not_refused(client, app, db, role):
    """The other side: a role that holds the permission passes the gate (any status but 401/403)."""
    headers = token_headers(db, role.value)
    refused = []
    for method, path, route in operations(app):
        if is_public(route) or method != "GET" or "{" in path or is_stream(route):
            continue
        perms, _any = route_requirements(route)
        if perms <= permissions_for(role):
            resp = client.request(method, path, headers=headers)
            if resp.status_code in (401, 403):
                refused.append(f"{method} {path} -> {resp.status_code}")
    assert not refused, refused
