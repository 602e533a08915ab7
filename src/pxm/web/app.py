"""The ASGI application: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from pxm import __version__
from pxm.platform.config import Settings, get_settings
from pxm.platform.db import engine_for, make_session_factory
from pxm.platform.http.errors import install_error_handlers
from pxm.platform.people.crypto import configure_keyring
from pxm.web.request_context import RequestContext


def create_app(settings: Settings | None = None, engine: Engine | None = None, *,
               start_worker: bool = False) -> FastAPI:
    """The application. ``start_worker`` starts the job machinery with the app (``pxm serve`` does):
    the embedded worker thread in embedded mode, the Redis enqueue listener in dramatiq mode."""
    settings = settings or get_settings()
    configure_keyring(settings.phi_key_path)
    engine = engine or engine_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from pxm.platform.jobs.lifecycle import start_jobs, stop_jobs

        app.state.worker = start_jobs(app.state.session_factory, settings) if start_worker else None
        app.state.write_pool = ThreadPoolExecutor(settings.write_threads, thread_name_prefix="pxm-write")  # run_write
        # what exists at startup (modules, routes, the app) lives as long as the process: keep it out of the
        # cyclic collector's generations so collections during requests only walk what requests allocate
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop_jobs(app.state.worker)
            app.state.write_pool.shutdown(wait=True)

    app = FastAPI(title="PXM", version=__version__, docs_url="/api/docs", openapi_url="/api/v1/openapi.json",
                  redoc_url=None, lifespan=lifespan)
    app.state.worker = None
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_error_handlers(app)

    app.add_middleware(RequestContext)

    from pxm.web import routers

    routers.include_all(app)
    return app
