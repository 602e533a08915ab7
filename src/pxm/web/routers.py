"""Every feature's JSON API router and page router, mounted in one place."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from pxm.web import health

    app.include_router(health.router)
