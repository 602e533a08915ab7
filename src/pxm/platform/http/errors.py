"""One error envelope for the whole API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("pxm.http")


class APIError(Exception):
    """Raise from services or routes; becomes a 4xx with a message that says what to fix."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class NotFound(APIError):
    def __init__(self, what: str, ident: object = None) -> None:
        msg = f"{what} not found" if ident is None else f"{what} {ident} not found"
        super().__init__(404, "not_found", msg)


class Conflict(APIError):
    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(409, "conflict", message, details)


class BadRequest(APIError):
    def __init__(self, message: str, details: Any = None, code: str = "invalid_request") -> None:
        super().__init__(422, code, message, details)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


_STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                 422: "invalid_request", 429: "too_many_requests"}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _html_page(request: Request, status: int, message: str) -> Any:
    """A browser asking for a page gets the web layer's error page (registered as app.state.render_error_page)."""
    renderer = getattr(request.app.state, "render_error_page", None)
    if renderer is None or not _wants_html(request):
        return None
    return renderer(request, status, message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> Any:
        page = _html_page(request, exc.status, exc.message)
        if page is not None:
            return page
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "problem": err.get("msg"),
             "type": err.get("type")}
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] or "body" for d in details[:5])
        return JSONResponse(error_body("invalid_request", f"invalid input: {fields}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 401 and _wants_html(request):
            from urllib.parse import quote

            from fastapi.responses import RedirectResponse

            target = "/login" if request.url.path == "/" else "/login?next=" + quote(request.url.path, safe="/")
            return RedirectResponse(target, status_code=303)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        page = _html_page(request, exc.status_code, message)
        if page is not None:
            return page
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error", extra={"error": type(exc.orig).__name__})
        return JSONResponse(error_body("conflict", "the change conflicts with data already stored"),
                            status_code=409)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "an unexpected error occurred; it has been logged"),
                            status_code=500)
