"""Every feature's JSON API router and page router, mounted in one place."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from pxm.web import health, pages

    pages.install(app)  # /static and the HTML error page
    app.include_router(health.router)
    from pxm.platform.people import routes as people_routes

    app.include_router(people_routes.router)
