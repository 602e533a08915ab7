"""Server-rendered pages: the shared Jinja2 environment and ``render()``.

Every page template extends ``base.html`` and fills ``{% block content %}``; ``render`` supplies the signed-in
actor, the CSRF token for forms, the navigation (``pxm.web.nav``) and flash messages.

    from pxm.web.pages import render
    @router.get("/practices/feedback", response_class=HTMLResponse)
    def page(request: Request, actor: Actor = Depends(require(Permission.surveys_read))) -> HTMLResponse:
        return render(request, "feedback/index.html", {"page_title": "Feedback", ...})

Forms that POST include ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``; the auth
dependency refuses cookie-authenticated POSTs without it.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from pxm import __version__
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import verify_csrf
from pxm.web.nav import nav_for

__all__ = ["templates", "render", "flash", "install", "verify_csrf", "STATIC_DIR", "TEMPLATE_DIR"]

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
FLASH_COOKIE = "pxm_flash"
FLASH_KINDS = ("info", "success", "warning", "error")

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def static_url(name: str) -> str:
    return f"/static/{name}?v={__version__}"


templates.env.globals["static_url"] = static_url
templates.env.globals["version"] = __version__


@functools.lru_cache(maxsize=32)
def display_zone(name: str) -> ZoneInfo:
    """The zone pages show times in (``PXM_TIMEZONE``: the desk's, where its people read the clock)."""
    return ZoneInfo(name)


def local_time(ts: dt.datetime, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """``{{ ts | local(zone) }}``: a stored (UTC) time as the page's zone reads it, with the zone's name."""
    if not isinstance(zone, dt.tzinfo):
        raise TypeError("local_time needs the page's zone (render() passes it as `zone`)")
    return (ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)).astimezone(zone).strftime(fmt)


templates.env.filters["local"] = local_time


def current_actor_of(request: Request) -> Actor | None:
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else None


def csrf_token_of(request: Request) -> str | None:
    token = getattr(request.state, "csrf_token", None)
    if token:
        return str(token)
    pre = getattr(request.state, "pre_session_csrf", None)
    return str(pre) if pre else None


# Flash messages live in a short cookie signed with the session's own CSRF secret (server-side, per session).
def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def flash(request: Request, response: Response, message: str, kind: str = "info") -> None:
    """Show ``message`` on the next page this signed-in user sees (e.g. after a POST-redirect-GET)."""
    secret = csrf_token_of(request)
    if secret is None or kind not in FLASH_KINDS:
        return
    existing = _read_flashes(request, secret)
    payload = base64.urlsafe_b64encode(json.dumps(existing + [[kind, message[:500]]]).encode()).decode()
    response.set_cookie(FLASH_COOKIE, f"{payload}.{_sign(secret, payload)}", httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure, max_age=300)


def _read_flashes(request: Request, secret: str) -> list[list[str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, sig = raw.rsplit(".", 1)
    if not hmac.compare_digest(sig, _sign(secret, payload)):
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return []
    return [[str(k), str(m)] for k, m in data if k in FLASH_KINDS] if isinstance(data, list) else []


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HTMLResponse:
    """Render ``template`` inside the site layout."""
    actor = current_actor_of(request)
    csrf = csrf_token_of(request)
    flashes = _read_flashes(request, csrf) if csrf and actor else []
    ctx: dict[str, Any] = {
        "actor": actor,
        "csrf_token": csrf or "",
        "nav": nav_for(actor, request.url.path),
        "flashes": [tuple(f) for f in flashes],
        "zone": display_zone(request.app.state.settings.timezone),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def render_error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Page not found", 405: "Not allowed", 409: "Conflict",
              422: "Please check your input", 429: "Too many attempts"}
    return render(request, "error.html",
                  {"page_title": titles.get(status, "Something went wrong"), "status": status, "message": message},
                  status=status)


def install(app: FastAPI) -> None:
    """Mount /static (served locally) and register the HTML error page."""
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.state.render_error_page = render_error_page
