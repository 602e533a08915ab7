"""Per-request context as a plain ASGI middleware: request id, security headers and the JSON request log.

A plain ASGI wrapper rather than ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware), which runs the
rest of the app in a separate task and streams the response through a memory channel: measurable CPU on every
request of the contact-creation path.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pxm.platform.logs import request_id_var

log = logging.getLogger("pxm.http")

_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                     (b"x-frame-options", b"DENY"))


def _clean_id(raw: str | None) -> str:
    rid = "".join(ch for ch in (raw or "") if ch.isalnum() or ch in "-_")[:64]
    return rid or uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        rid = _clean_id(raw.decode("latin-1") if raw is not None else None)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode("latin-1")))
                headers.extend((k, v) for k, v in _SECURITY_HEADERS if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        token = request_id_var.set(rid)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)
            actor = state.get("actor")
            # The route template ("/s/{token}"), not the concrete path: path parameters can be secrets.
            # Paths carry no PHI by design (identifiers are opaque ids); query strings are not logged.
            route = scope.get("route")
            path = getattr(route, "path", None) or scope.get("path", "")
            log.info("request", extra={"request_id": rid, "method": scope.get("method"), "path": path,
                                       "status": status, "actor": getattr(actor, "label", None),
                                       "ms": round((time.perf_counter() - started) * 1000, 1)})
