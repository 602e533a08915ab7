"""JSON API for public reviews and replies under /api/v1/reviews."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import PageParams, page_params
from pxm.practices.feedback.reviews import service

router = APIRouter(prefix="/api/v1", tags=["reviews"])
Read = Depends(require(Permission.complaints_read))
Write = Depends(require(Permission.complaints_write))


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(max_length=40, description=", ".join(service.SOURCES))
    rating: int = Field(description="1 to 5 stars")
    text: str = Field(min_length=1, max_length=20000)
    url: str = Field(max_length=500)
    posted_at: dt.datetime
    facility_id: int | None = None
    author: str | None = Field(None, max_length=120)


class ReplyDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


@router.post("/reviews", status_code=201, summary="Record a public review from an outside site")
def create(body: ReviewCreate, request: Request, db: Session = DB, actor: Actor = Write,
           key: str | None = Depends(idempotency_key)) -> JSONResponse:
    return run_idempotent(db, actor, request, key, body, lambda: service.review_view(service.record_review(
        db, actor, source=body.source, rating=body.rating, text=body.text, url=body.url, posted_at=body.posted_at,
        facility_id=body.facility_id, author=body.author)))


@router.get("/reviews", summary="Public reviews, newest first")
def list_(db: Session = DB, actor: Actor = Read, params: PageParams = Depends(page_params),
          reply_status: str | None = Query(None, max_length=12),
          source: str | None = Query(None, max_length=40)) -> dict[str, Any]:
    rows, total = service.list_reviews(db, params, reply_status=reply_status, source=source)
    return {"items": [service.review_view(r) for r in rows], "total": total, "limit": params.limit,
            "offset": params.offset}


@router.get("/reviews/{review_id}", summary="One review with its reply")
def get(review_id: int, db: Session = DB, actor: Actor = Read) -> dict[str, Any]:
    return service.review_view(service.get_review(db, review_id))


@router.put("/reviews/{review_id}/reply", summary="Draft (or redraft) the public reply")
def draft(review_id: int, body: ReplyDraft, db: Session = DB, actor: Actor = Write) -> dict[str, Any]:
    return service.review_view(service.draft_reply(db, actor, review_id, body.text))


@router.post("/reviews/{review_id}/reply/approve", summary="Approve the draft reply (CX manager)")
def approve(review_id: int, db: Session = DB, actor: Actor = Write) -> dict[str, Any]:
    return service.review_view(service.approve_reply(db, actor, review_id))


@router.post("/reviews/{review_id}/reply/publish", summary="Mark the approved reply as posted on the site")
def publish(review_id: int, db: Session = DB, actor: Actor = Write) -> dict[str, Any]:
    return service.review_view(service.publish_reply(db, actor, review_id))
