"""Live operations API: the snapshot as JSON and as a server-sent event stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from pxm.operations.live.service import snapshot
from pxm.operations.live.stream import KEEPALIVE_SECONDS, cache_for, events
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB, get_settings_dep

router = APIRouter(prefix="/api/v1/live", tags=["live operations"])
LiveRead = Depends(require(Permission.live_read))


@router.get("/snapshot", summary="Queue, SLA risk, agents by status and today's figures (aggregates only)")
def live_snapshot(db: Session = DB, settings: Settings = Depends(get_settings_dep),
                  actor: Actor = LiveRead) -> dict[str, Any]:
    return snapshot(db, timezone=settings.timezone)


@router.get("/stream", summary="Server-sent events: a `snapshot` event at once and on every change",
            response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"}})
def live_stream(request: Request, db: Session = DB, actor: Actor = LiveRead) -> EventSourceResponse:
    # The sign-in check is done: end the request's transaction now so a long stream holds no database
    # connection or lock (SQLite transactions take the write lock up front).
    db.commit()
    db.close()
    cache = cache_for(request.app.state)
    return EventSourceResponse(events(cache.get, request.is_disconnected), ping=int(KEEPALIVE_SECONDS * 2),
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
