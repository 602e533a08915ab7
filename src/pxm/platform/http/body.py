"""A JSON body that the handler validates itself, after authentication, with the model still documented.

FastAPI validates a declared body before the handler runs, so a handler that authenticates inside its own
thread-pool call (``auth.deps.Gate``) would answer a bad body with 422 before 401/403. Such a handler reads
the raw bytes instead and calls :func:`parse_body` once it knows who is calling; ``json_body_doc`` puts the
model's schema in the OpenAPI document as if the body were declared.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model`` (nested definitions inlined)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": _inline_refs(schema, schema.get("$defs", {}))}}}}


def parse_body(model: type[M], raw: bytes) -> M:
    """``model`` from a JSON request body; errors are the 422 FastAPI gives for a declared body."""
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err.get("loc", ()))} for err in exc.errors(include_url=False)]) from None
