"""``Idempotency-Key`` on POSTs that create: a replay returns the first response; a new body is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError
from pxm.platform.http.models import IdempotencyRecord

_KEY_HEADER, _KEY_MAX, _KEY_DESCRIPTION = "Idempotency-Key", 200, "Retry-safe key: a replay returns the first response"


async def idempotency_key(
    idempotency_key: str | None = Header(None, alias=_KEY_HEADER, max_length=_KEY_MAX, description=_KEY_DESCRIPTION),
) -> str | None:
    return idempotency_key


def idempotency_key_of(request: Request) -> str | None:
    """The ``Idempotency-Key`` header read in the handler, not by a dependency: for the busiest endpoint, whose
    route documents it with ``openapi_extra=IDEMPOTENCY_KEY_DOC``. Too long a key is the 422 the dependency
    gives."""
    key = request.headers.get(_KEY_HEADER)
    if key is not None and len(key) > _KEY_MAX:
        raise RequestValidationError([{"type": "string_too_long", "loc": ("header", _KEY_HEADER),
                                       "msg": f"String should have at most {_KEY_MAX} characters", "input": key,
                                       "ctx": {"max_length": _KEY_MAX}}])
    return key


IDEMPOTENCY_KEY_DOC: dict[str, Any] = {"parameters": [{
    "name": _KEY_HEADER, "in": "header", "required": False, "description": _KEY_DESCRIPTION,
    "schema": {"anyOf": [{"type": "string", "maxLength": _KEY_MAX}, {"type": "null"}], "title": _KEY_HEADER,
               "description": _KEY_DESCRIPTION}}]}


def body_fingerprint(body: Any) -> str:
    data = jsonable_encoder(body)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _json(value: Any) -> Any:
    """JSON-ready data; a pydantic model dumps itself (several times faster than ``jsonable_encoder``)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return jsonable_encoder(value)


def run_idempotent(
    session: Session,
    actor: Actor,
    request: Request,
    key: str | None,
    body: Any,
    create: Callable[[], Any],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` once per (actor, key); store and replay its response."""
    if key is None:
        return JSONResponse(_json(create()), status_code=status_code)
    fingerprint = body_fingerprint(body)
    prior = session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.actor == actor.label, IdempotencyRecord.key == key)
    ).scalar_one_or_none()
    if prior is not None:
        if prior.body_hash != fingerprint or prior.path != request.url.path:
            raise APIError(422, "idempotency_key_reused",
                           "this Idempotency-Key was already used with a different request body or path")
        return JSONResponse(prior.response_body, status_code=prior.status_code,
                            headers={"Idempotent-Replayed": "true"})
    payload = _json(create())
    session.add(IdempotencyRecord(actor=actor.label, key=key, method=request.method, path=request.url.path,
                                  body_hash=fingerprint, status_code=status_code, response_body=payload))
    session.flush()
    return JSONResponse(payload, status_code=status_code)
