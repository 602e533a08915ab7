"""``Depends(require(Permission.X))``: 401 without a login, 403 without the permission."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.auth.service import api_token_owner, resolve_session
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB

_bearer = HTTPBearer(auto_error=False, description="API token (pxm_...)")
_cookie = APIKeyCookie(name="pxm_session", auto_error=False, description="browser session cookie")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the ``X-CSRF-Token`` header, else the ``csrf_token`` form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.method not in SAFE_METHODS and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        form = await request.form()  # cached by Starlette: the route still sees the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def csrf_matches(expected: str | None, submitted: str | None) -> bool:
    return bool(expected) and bool(submitted) and hmac.compare_digest(str(expected), str(submitted))


@dataclass(frozen=True)
class Presented:
    """What a request presents to prove who it is, read without I/O (headers, cookie, CSRF token)."""

    request: Request
    bearer: HTTPAuthorizationCredentials | None
    cookie: str | None
    csrf: str | None


async def presented(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    cookie: str | None = Depends(_cookie),
    csrf: str | None = Depends(submitted_csrf),
) -> Presented:
    return Presented(request, bearer, cookie, csrf)


def authenticate(db: Session, presented: Presented) -> Actor:
    """Who is calling: a Bearer API token, else the session cookie.

    Cookie-authenticated requests that change state (POST, PUT, PATCH, DELETE) must carry the session's CSRF
    token (form field ``csrf_token`` or header ``X-CSRF-Token``); Bearer-token calls are exempt.
    """
    request = presented.request
    settings: Settings = request.app.state.settings
    request_id = getattr(request.state, "request_id", None)
    if presented.bearer is not None:
        owner = api_token_owner(db, presented.bearer.credentials)
        if owner is not None:
            actor = Actor.for_user(owner.user_id, owner.username, owner.role, kind="token", request_id=request_id)
            request.state.actor = actor
            return actor
        raise HTTPException(401, "invalid or expired API token", headers={"WWW-Authenticate": "Bearer"})
    token = request.cookies.get(settings.session_cookie_name) or presented.cookie
    if token:
        found = resolve_session(db, settings, token)
        if found is not None:
            user, ws = found
            if request.method not in SAFE_METHODS and not csrf_matches(ws.csrf_token, presented.csrf):
                raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
            request.state.web_session = ws
            request.state.csrf_token = ws.csrf_token  # a plain copy: usable after the db session closes
            actor = Actor.for_user(user.id, user.username, user.role, request_id=request_id)
            request.state.actor = actor
            return actor
        raise HTTPException(401, "your session has expired; please sign in again")
    raise HTTPException(401, "sign-in required", headers={"WWW-Authenticate": "Bearer"})


def current_actor(request: Request, db: Session = DB,
                  who: Presented = Depends(presented)) -> Actor:
    """:func:`authenticate` as a dependency.

    This is the one sync dependency of authentication (it reads the database, so FastAPI runs it in the
    thread pool); the permission checks around it are ``async def``, which costs no thread hop.
    """
    return authenticate(db, who)


async def require_login(actor: Actor = Depends(current_actor)) -> Actor:
    """Any signed-in user, whatever the role (own profile, own tokens, sign out)."""
    return actor


require_login.pxm_any_role = True  # type: ignore[attr-defined]


def verify_csrf(request: Request, actor: Actor = Depends(current_actor),
                csrf: str | None = Depends(submitted_csrf)) -> None:
    """Explicit CSRF check for page form POSTs (``current_actor`` already enforces it for cookie sessions)."""
    ws = getattr(request.state, "web_session", None)
    if request.method in SAFE_METHODS:
        return
    if ws is not None and not csrf_matches(ws.csrf_token, csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def require(permission: Permission) -> Callable[..., Awaitable[Actor]]:
    async def dependency(actor: Actor = Depends(current_actor)) -> Actor:  # no I/O: no thread hop
        if not actor.can(permission):
            raise HTTPException(403, f"your role ({actor.role}) lacks the permission {permission.value}")
        return actor

    dependency.__name__ = f"require_{permission.name}"
    dependency.pxm_permission = permission  # type: ignore[attr-defined]
    return dependency


@dataclass(frozen=True)
class Gate:
    """Authentication and a permission check that a handler runs itself, in its own thread-pool call.

    For the busiest endpoints: ``Depends(require(...))`` authenticates in a thread-pool call of its own and
    the handler's work runs in another; ``gate.actor(db)`` inside the handler does the same checks (401,
    CSRF, 403) in the handler's call. The route still declares the permission (OpenAPI, the route walk)."""

    presented: Presented
    permission: Permission

    def actor(self, db: Session) -> Actor:
        actor = authenticate(db, self.presented)
        if not actor.can(self.permission):
            raise HTTPException(403, f"your role ({actor.role}) lacks the permission {self.permission.value}")
        return actor


def gate(permission: Permission) -> Callable[..., Awaitable[Gate]]:
    """``Depends(gate(...))``: what the request presents, for ``Gate.actor`` to check in the handler's own call.

    Flat for the busiest endpoint: it reads the credentials itself (the same readers ``presented`` depends on),
    so FastAPI solves one dependency, not five. The route documents the credentials it accepts with
    ``openapi_extra=GATE_SECURITY``, as a route that depends on ``require`` has them documented."""
    async def dependency(request: Request) -> Gate:  # no I/O: no thread hop
        who = Presented(request, await _bearer(request), await _cookie(request), await submitted_csrf(request))
        settings: Settings = request.app.state.settings
        if who.bearer is None and not (who.cookie or request.cookies.get(settings.session_cookie_name)):
            # as early as require(): a caller with no credentials learns nothing about the body it sent
            raise HTTPException(401, "sign-in required", headers={"WWW-Authenticate": "Bearer"})
        return Gate(who, permission)

    dependency.__name__ = f"gate_{permission.name}"
    dependency.pxm_permission = permission  # type: ignore[attr-defined]
    return dependency


# the OpenAPI security of a route that depends on ``gate``: the schemes ``presented`` would have documented
GATE_SECURITY: dict[str, Any] = {"security": [{_bearer.scheme_name: []}, {_cookie.scheme_name: []}]}
