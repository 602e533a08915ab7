"""The live operations page: rendered with the current snapshot, then kept fresh by server-sent events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from pxm.operations.live.service import PRIORITIES, snapshot
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.config import Settings
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.web.pages import render

router = APIRouter(include_in_schema=False)

SPARK_W, SPARK_H = 120, 28
TRENDS = (("contacts", "Contacts / hour"), ("asa_seconds", "ASA (s)"), ("service_level", "Service level"),
          ("abandonment_rate", "Abandonment"), ("aht_seconds", "AHT (s)"))


def sparkline(values: list[Any], w: int = SPARK_W, h: int = SPARK_H) -> str:
    """SVG polyline points for ``values`` (None is drawn as 0); the same drawing as live.js."""
    vals = [float(v) if v is not None else 0.0 for v in values]
    if not vals:
        return ""
    top = max(vals) or 1.0
    step = w / max(1, len(vals) - 1)
    return " ".join(f"{i * step:.1f},{h - 2 - (v / top) * (h - 4):.1f}" for i, v in enumerate(vals))


@router.get("/operations/live", response_class=HTMLResponse)
def live_page(request: Request, db: Session = DB, settings: Settings = Depends(get_settings_dep),
              actor: Actor = Depends(require(Permission.live_read))) -> HTMLResponse:
    snap = snapshot(db, timezone=settings.timezone)
    trend = snap["today"]["trend"]
    sparks = [{"key": k, "label": label, "points": sparkline([h[k] for h in trend])} for k, label in TRENDS]
    return render(request, "live/index.html", {"page_title": "Live operations", "s": snap,
                                               "priorities": PRIORITIES, "sparks": sparks,
                                               "spark_w": SPARK_W, "spark_h": SPARK_H,
                                               "can_open_cases": actor.can(Permission.cases_read)})
