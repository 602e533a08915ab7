"""Import path for ASGI servers: ``uvicorn --factory pxm.web.asgi:serving_app`` (settings from PXM_*)."""

from __future__ import annotations

from fastapi import FastAPI

from pxm.platform.config import get_settings
from pxm.platform.logs import configure_logging
from pxm.web.app import create_app


def serving_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings, start_worker=True)
