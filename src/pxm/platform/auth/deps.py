"""``Depends(require(Permission.X))``: 401 without a login, 403 without the permission."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission
from pxm.platform.auth.service import resolve_api_token, resolve_session
from pxm.platform.config import Settings
from pxm.platform.http.deps import get_db, get_settings_dep

_bearer = HTTPBearer(auto_error=False, description="API token (pxm_...)")
_cookie = APIKeyCookie(name="pxm_session", auto_error=False, description="browser session cookie")


def current_actor(
    request: Request,
    db: Session = Depends(get_db),
    settings: Settings = Depends(get_settings_dep),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    cookie: str | None = Depends(_cookie),
) -> Actor:
    request_id = getattr(request.state, "request_id", None)
    if bearer is not None:
        user = resolve_api_token(db, bearer.credentials)
        if user is not None:
            actor = Actor.for_user(user.id, user.username, user.role, kind="token", request_id=request_id)
            request.state.actor = actor
            return actor
        raise HTTPException(401, "invalid or expired API token", headers={"WWW-Authenticate": "Bearer"})
    token = request.cookies.get(settings.session_cookie_name) or cookie
    if token:
        found = resolve_session(db, settings, token)
        if found is not None:
            user, ws = found
            request.state.web_session = ws
            actor = Actor.for_user(user.id, user.username, user.role, request_id=request_id)
            request.state.actor = actor
            return actor
        raise HTTPException(401, "your session has expired; please sign in again")
    raise HTTPException(401, "sign-in required", headers={"WWW-Authenticate": "Bearer"})


def require(permission: Permission) -> Callable[..., Actor]:
    def dependency(actor: Actor = Depends(current_actor)) -> Actor:
        if not actor.can(permission):
            raise HTTPException(403, f"your role ({actor.role}) lacks the permission {permission.value}")
        return actor

    dependency.__name__ = f"require_{permission.name}"
    dependency.pxm_permission = permission  # type: ignore[attr-defined]
    return dependency
