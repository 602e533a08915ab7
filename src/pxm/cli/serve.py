"""``pxm serve`` (the web app, with the embedded worker in embedded mode) and ``pxm worker``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from pxm.cli.common import console, fail
from pxm.platform.config import Settings, get_settings
from pxm.platform.db import engine_for
from pxm.platform.db.migrate import upgrade
from pxm.platform.logs import configure_logging

log = logging.getLogger("pxm.serve")


def serve(settings: Settings, host: str | None = None, port: int | None = None, reload: bool = False,
          workers: int | None = None) -> None:
    """Upgrade the database, then serve the app with uvicorn until interrupted (blocks).

    In embedded jobs mode the app runs its own worker thread (one per web worker process); in dramatiq mode
    it announces jobs on Redis for ``pxm worker``. ``reload`` re-imports code on change; ``reload`` and
    ``workers`` > 1 start the app in child processes, which read their settings from the environment."""
    import uvicorn

    from pxm.web.app import create_app

    configure_logging(settings.log_level, settings.log_json)
    engine = engine_for(settings)
    upgrade(settings.database_url, engine=engine)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    log.info("serving", extra={"host": host, "port": port, "jobs_mode": settings.jobs_mode,
                               "dialect": engine.dialect.name, "workers": workers})
    common: dict[str, Any] = {"host": host, "port": port, "log_config": None, "access_log": False,
                              "proxy_headers": True}
    if reload:
        import pxm

        engine.dispose()
        uvicorn.run("pxm.web.asgi:serving_app", factory=True, reload=True,
                    reload_dirs=[str(Path(pxm.__file__).parent)], **common)
        return
    if workers > 1:
        # One process per worker, sharing the listening socket; each builds its own engine and pool.
        engine.dispose()
        uvicorn.run("pxm.web.asgi:serving_app", factory=True, workers=workers, **common)
        return
    app = create_app(settings, engine=engine, start_worker=True)
    uvicorn.run(app, **common)


def serve_cmd(
    host: str = typer.Option(None, "--host", help="interface to listen on (default PXM_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="port (default PXM_PORT, 8000)"),
    workers: int = typer.Option(None, "--workers", min=1,
                                help="web worker processes (default PXM_WORKERS, 1; about one per core)"),
    reload: bool = typer.Option(False, "--reload", help="restart on code changes (development)"),
) -> None:
    """Serve PXM: upgrade the database, then run the web app (and the embedded job worker)."""
    settings = get_settings()
    if settings.jobs_mode == "dramatiq" and not settings.redis_url:
        fail("PXM_JOBS_MODE=dramatiq needs PXM_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    if reload and (workers or 1) > 1:
        fail("--reload runs one worker: drop --workers")
    serve(settings, host, port, reload, workers)


def worker_cmd(
    processes: int = typer.Option(1, "--processes", min=1, help="consumer processes"),
    threads: int = typer.Option(8, "--threads", min=1, help="threads per process"),
    embedded: bool = typer.Option(False, "--embedded",
                                  help="poll the database instead of consuming from Redis (no Redis needed)"),
    drain: bool = typer.Option(False, "--drain", help="with --embedded: run every due job, then exit"),
) -> None:
    """Run job workers: Dramatiq consumers on Redis plus the outbox sweep (or the polling loop)."""
    from pxm.platform.jobs.consumer import run_dramatiq_worker, run_embedded_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if drain and not embedded:
        fail("--drain needs --embedded")
    if embedded:
        ran = run_embedded_worker(settings, drain=drain)
        if drain:
            console.print(f"ran {ran} job(s)")
        return
    if not settings.redis_url:
        fail("pxm worker consumes jobs from Redis: set PXM_REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
             "and PXM_JOBS_MODE=dramatiq, or run `pxm worker --embedded` to poll the database instead")
    if settings.jobs_mode != "dramatiq":
        log.warning("PXM_JOBS_MODE is not dramatiq: the web app will not announce jobs; "
                    "this worker still picks them up at each sweep")
    run_dramatiq_worker(settings, processes=processes, threads=threads)
