"""The sign-in flow shared by the login page and ``POST /api/v1/auth/login``.

A failed attempt is COMMITTED before the error goes back (the failure count, the lock-out and the audit row
must survive the request's rollback).
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User, WebSession
from pxm.platform.auth.service import LoginError, authenticate, end_session, start_session
from pxm.platform.auth.throttle import IpLimiter
from pxm.platform.config import Settings


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def ip_limiter(request: Request, settings: Settings) -> IpLimiter:
    limiter = getattr(request.app.state, "login_ip_limiter", None)
    if not isinstance(limiter, IpLimiter):
        limiter = IpLimiter(settings.login_ip_max_failures, settings.login_ip_window_minutes * 60)
        request.app.state.login_ip_limiter = limiter
    return limiter


def sign_in(request: Request, db: Session, settings: Settings, username: str,
            password: str) -> tuple[str, WebSession, User]:
    """Check the password and start a NEW session (the one the browser presented, if any, is revoked).

    Raises ``LoginError`` (401 wrong credentials, 429 throttled) after committing what the attempt recorded.
    """
    request_id = getattr(request.state, "request_id", None)
    limiter = ip_limiter(request, settings)
    ip = client_ip(request)
    wait = limiter.retry_after(ip)
    if wait is not None:
        record(db, Actor.system("auth", request_id=request_id), "auth.login", "user", None, outcome="denied",
               details={"reason": "address throttled"})
        db.commit()
        raise LoginError(f"too many failed sign-in attempts from your address; try again in "
                         f"{(wait + 59) // 60} minute(s)", 429, "login_throttled")
    try:
        user = authenticate(db, settings, username, password, request_id=request_id)
    except LoginError:
        limiter.failed(ip)
        db.commit()  # keep the failure count / lock-out and the audit row
        raise
    old = request.cookies.get(settings.session_cookie_name)
    if old:
        end_session(db, old)  # session fixation: never keep a pre-login session id
    token, ws = start_session(db, user)
    return token, ws, user


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(settings.session_cookie_name, token, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/", max_age=settings.session_absolute_hours * 3600)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(settings.session_cookie_name, path="/", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)


def sign_out(request: Request, db: Session, settings: Settings, actor: Actor) -> bool:
    token = request.cookies.get(settings.session_cookie_name)
    if not token:
        return False
    end_session(db, token)
    record(db, actor, "auth.logout", "user", actor.user_id)
    return True
