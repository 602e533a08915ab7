"""Fetch a row by primary key or answer 404 naming what was not found."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from pxm.platform.http.errors import NotFound

T = TypeVar("T")


def get_or_404(session: Session, model: type[T], ident: Any, what: str) -> T:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(what, ident)
    return row
