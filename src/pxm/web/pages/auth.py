"""Sign-in and sign-out pages. The login form is protected by a pre-session double-submit CSRF token."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require_login
from pxm.platform.auth.login import clear_session_cookie, set_session_cookie, sign_in, sign_out
from pxm.platform.auth.service import LoginError, resolve_session
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.web.pages import render

router = APIRouter(include_in_schema=False)
PUBLIC = {"x-pxm-public": True}
LOGIN_CSRF_COOKIE = "pxm_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, settings: Settings, *, status: int = 200, error: str | None = None,
                username: str = "", next_url: str = "/", notice: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    request.state.pre_session_csrf = token
    response = render(request, "login.html", {"page_title": "Sign in", "error": error, "username": username,
                                              "next_url": next_url, "notice": notice}, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure,
                        path="/login", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
def login_form(request: Request, next: str | None = None, signed_out: bool = False,
               db: Session = DB, settings: Settings = Depends(get_settings_dep)) -> Response:
    token = request.cookies.get(settings.session_cookie_name)
    if token and resolve_session(db, settings, token) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = "You have signed out." if signed_out else None
    return _login_page(request, settings, next_url=_safe_next(next), notice=notice)


@router.post("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
def login_submit(request: Request, username: str = Form(""), password: str = Form(""),
                 csrf_token: str = Form(""), next: str = Form("/"), db: Session = DB,
                 settings: Settings = Depends(get_settings_dep)) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_token or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, settings, status=403, username=username, next_url=_safe_next(next),
                           error="Your sign-in form expired. Please try again.")
    if not username.strip() or not password:
        return _login_page(request, settings, status=422, username=username, next_url=_safe_next(next),
                           error="Enter your username and your password.")
    try:
        token, _ws, _user = sign_in(request, db, settings, username.strip(), password)
    except LoginError as exc:  # sign_in has already committed the failure count and the audit row
        return _login_page(request, settings, status=exc.status, username=username, next_url=_safe_next(next),
                           error=exc.message[0].upper() + exc.message[1:] + ".")
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, settings, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, db: Session = DB, settings: Settings = Depends(get_settings_dep),
           actor: Actor = Depends(require_login)) -> Response:
    sign_out(request, db, settings, actor)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session_cookie(response, settings)
    return response
