"""JSON API for analysed comments (masked) under /api/v1/feedback/comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.pagination import PageParams, page_params
from pxm.practices.feedback.text import service, themes

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback text"])
Read = Depends(require(Permission.responses_read))


@router.get("/comments", summary="Analysed comments with PHI masked, newest first")
def list_comments(db: Session = DB, actor: Actor = Read, params: PageParams = Depends(page_params),
                  theme: str | None = Query(None, max_length=40),
                  sentiment: str | None = Query(None, max_length=10), department_id: int | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    items, total = service.list_comments(db, params, theme=theme, label=sentiment, department_id=department_id,
                                         since=since, until=until)
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}


@router.get("/comments/themes", summary="Comments per theme and sentiment")
def theme_summary(db: Session = DB, actor: Actor = Read, department_id: int | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, Any]:
    return service.theme_summary(db, department_id=department_id, since=since, until=until)


@router.get("/themes", summary="The theme catalog")
def catalog(actor: Actor = Read) -> list[dict[str, str]]:
    return [{"code": t.code, "label_en": t.label_en, "label_es": t.label_es} for t in themes.catalog().values()]


@router.post("/comments/{response_id}/raw", summary="The unmasked comment (needs patients:read; audited)")
def raw_comment(response_id: int, db: Session = DB,
                actor: Actor = Depends(require(Permission.patients_read))) -> dict[str, Any]:
    return service.read_raw_comment(db, actor, response_id)
