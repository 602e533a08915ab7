"""Offset pagination with a total, the same shape on every list endpoint."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: int = Query(50, ge=1, le=500, description="items per page (1-500)"),
    offset: int = Query(0, ge=0, description="items to skip"),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def count_rows(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    """How many rows ``stmt`` selects (its order dropped)."""
    return int(session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one())


def paginate(session: Session, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    total = count_rows(session, stmt)
    rows = session.execute(stmt.limit(params.limit).offset(params.offset)).scalars().all()
    return list(rows), total
