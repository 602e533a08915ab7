"""The ASGI application: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine

from pxm import __version__
from pxm.platform.config import Settings, get_settings
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.http.errors import install_error_handlers
from pxm.platform.logs import request_id_var
from pxm.platform.people.crypto import configure_keyring

log = logging.getLogger("pxm.http")


def create_app(settings: Settings | None = None, engine: Engine | None = None, *,
               start_worker: bool = False) -> FastAPI:
    """The application. ``start_worker`` starts the job machinery with the app (``pxm serve`` does):
    the embedded worker thread in embedded mode, the Redis enqueue listener in dramatiq mode."""
    settings = settings or get_settings()
    configure_keyring(settings.phi_key_path)
    engine = engine or make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from pxm.platform.jobs.lifecycle import start_jobs, stop_jobs

        app.state.worker = start_jobs(app.state.session_factory, settings) if start_worker else None
        try:
            yield
        finally:
            stop_jobs(app.state.worker)

    app = FastAPI(title="PXM", version=__version__, docs_url="/api/docs", openapi_url="/api/v1/openapi.json",
                  redoc_url=None, lifespan=lifespan)
    app.state.worker = None
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_error_handlers(app)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        rid = "".join(ch for ch in rid if ch.isalnum() or ch in "-_")[:64] or uuid.uuid4().hex
        request.state.request_id = rid
        token = request_id_var.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-ID"] = rid
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        actor = getattr(request.state, "actor", None)
        # Paths carry no PHI by design (identifiers are opaque ids); query strings are not logged.
        route = request.scope.get("route")
        # The route template ("/s/{token}"), not the concrete path: path parameters can be secrets.
        path = getattr(route, "path", None) or request.url.path
        log.info("request", extra={"request_id": rid, "method": request.method, "path": path,
                                   "status": response.status_code, "actor": getattr(actor, "label", None),
                                   "ms": round((time.perf_counter() - started) * 1000, 1)})
        return response

    from pxm.web import routers

    routers.include_all(app)
    return app
