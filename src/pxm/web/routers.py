"""Every feature's JSON API router and page router, mounted in one place."""

from __future__ import annotations

from fastapi import FastAPI


def include_all(app: FastAPI) -> None:
    from pxm.web import health, pages

    pages.install(app)  # /static and the HTML error page
    # Routes are matched in the order they are included, and every router tried costs CPU on each request:
    # the machine-to-machine traffic (contacts from the telephony/CTI integration, at contact-center volume)
    # is matched first; pages are human-paced.
    from pxm.practices.resolution import routes as resolution_routes

    app.include_router(resolution_routes.router)
    app.include_router(health.router)
    from pxm.platform.audit import routes as audit_routes

    app.include_router(audit_routes.router)
    from pxm.web.pages import audit as audit_pages

    app.include_router(audit_pages.router)
    from pxm.platform.auth import routes as auth_routes
    from pxm.web.pages import admin as admin_pages
    from pxm.web.pages import auth as auth_pages
    from pxm.web.pages import overview as overview_pages

    app.include_router(auth_routes.router)
    app.include_router(auth_routes.users)
    app.include_router(auth_pages.router)
    app.include_router(overview_pages.router)
    app.include_router(overview_pages.api)
    app.include_router(admin_pages.router)
    from pxm.platform.people import routes as people_routes

    app.include_router(people_routes.router)
    from pxm.operations.staffing import routes as staffing_routes
    from pxm.web.pages import staffing as staffing_pages

    app.include_router(staffing_routes.router)
    app.include_router(staffing_pages.router)
    from pxm.operations.routing import routes as routing_routes
    from pxm.web.pages import routing as routing_pages

    app.include_router(routing_routes.router)
    app.include_router(routing_pages.router)
    from pxm.practices.resolution import settings_routes as desk_settings_routes

    app.include_router(desk_settings_routes.router)
    from pxm.web.pages import desk_settings as desk_settings_pages
    from pxm.web.pages import escalations as escalation_pages
    from pxm.web.pages import resolution as resolution_pages

    app.include_router(resolution_pages.router)
    app.include_router(escalation_pages.router)
    app.include_router(desk_settings_pages.router)
    from pxm.operations.live import routes as live_routes
    from pxm.web.pages import live as live_pages

    app.include_router(live_routes.router)
    app.include_router(live_pages.router)
    from pxm.practices.feedback import routes as feedback_routes
    from pxm.web.pages import survey_public

    app.include_router(feedback_routes.router)
    app.include_router(survey_public.router)
    from pxm.web.pages import feedback as feedback_pages

    app.include_router(feedback_pages.router)
    from pxm.practices.feedback.complaints import routes as complaints_routes
    from pxm.practices.feedback.loop import routes as loop_routes
    from pxm.practices.feedback.reviews import routes as reviews_routes
    from pxm.practices.feedback.text import routes as feedback_text_routes
    from pxm.web.pages import feedback_text as feedback_text_pages

    for r in (complaints_routes.router, loop_routes.router, reviews_routes.router, feedback_text_routes.router,
              feedback_text_pages.router):
        app.include_router(r)
    from pxm.analytics.study import routes as study_routes
    from pxm.web.pages import study as study_pages

    app.include_router(study_routes.router)
    app.include_router(study_pages.router)
