"""Feedback pages: survey results with charts (inline SVG, no scripts or CDNs), instruments, the outbox."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.db.base import utcnow
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import NotFound
from pxm.platform.http.pagination import PageParams, page_params, paginate
from pxm.practices.feedback import metrics
from pxm.practices.feedback.definition import iter_items, text
from pxm.practices.feedback.models import Instrument, Invitation, MessageOutbox, Response
from pxm.practices.feedback.service import list_instruments
from pxm.web.pages import render

router = APIRouter(prefix="/practices/feedback", include_in_schema=False)
SurveysRead = Depends(require(Permission.surveys_read))
SurveysManage = Depends(require(Permission.surveys_manage))
PAGE_GROUPS = ("month", "department", "provider", "channel", "segment", "language")


def bar_chart(title: str, rows: list[dict[str, Any]], *, lo: float, hi: float, unit: str = "",
              chart_id: str) -> Markup:
    """Horizontal bars with 95% interval whiskers, drawn as accessible inline SVG (a table follows it)."""
    label_w, bar_w, row_h = 230, 300, 30
    height = row_h * max(len(rows), 1) + 30
    span = hi - lo or 1.0

    def x(v: float) -> float:
        return label_w + bar_w * (min(max(v, lo), hi) - lo) / span

    parts = [f'<svg class="chart" viewBox="0 0 {label_w + bar_w + 60} {height}" role="img" '
             f'aria-labelledby="{chart_id}-t" preserveAspectRatio="xMinYMin meet">',
             f'<title id="{chart_id}-t">{escape(title)} (the table below gives the numbers)</title>']
    zero = x(0.0) if lo < 0 < hi else label_w
    parts.append(f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 25}" stroke="#555" />')
    for i, r in enumerate(rows):
        y = i * row_h + 5
        v = r.get("value")
        parts.append(f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="13" fill="#1a1a1a">'
                     f'{escape(_short(str(r["label"])))}</text>')
        if v is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 17}" font-size="12" fill="#555">no answers</text>')
            continue
        start, end = sorted((zero, x(v)))
        fill = "#8a5a00" if r.get("small") else "#0b3d66"
        parts.append(f'<rect x="{start:.1f}" y="{y + 4}" width="{max(end - start, 1):.1f}" height="18" fill="{fill}" />')
        if r.get("ci_low") is not None and r.get("ci_high") is not None:
            a, b = x(r["ci_low"]), x(r["ci_high"])
            parts.append(f'<line x1="{a:.1f}" y1="{y + 13}" x2="{b:.1f}" y2="{y + 13}" stroke="#1a1a1a" stroke-width="1.5"/>'
                         f'<line x1="{a:.1f}" y1="{y + 7}" x2="{a:.1f}" y2="{y + 19}" stroke="#1a1a1a"/>'
                         f'<line x1="{b:.1f}" y1="{y + 7}" x2="{b:.1f}" y2="{y + 19}" stroke="#1a1a1a"/>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 17}" font-size="13" fill="#1a1a1a">'
                     f'{v:.0f}{unit}{"*" if r.get("small") else ""}</text>')
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" fill="#555">'
                     f'{tick:.0f}{unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through html.escape


def _short(label: str, limit: int = 30) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


@router.get("", response_class=HTMLResponse)
def results_page(request: Request, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
                 by: str = Query("month"), db: Session = DB, actor: Actor = SurveysRead) -> HTMLResponse:
    today = utcnow().date()
    first = _date(start, today - dt.timedelta(days=365))
    last = _date(end, today)
    by = by if by in PAGE_GROUPS else "month"
    f = metrics.Filters(start=dt.datetime.combine(first, dt.time(), dt.UTC),
                        end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC))
    nps = metrics.nps_metric(db, f, by=by)
    csat = metrics.csat_metric(db, f, by=by)
    topbox = metrics.topbox_metric(db, f)
    fcr = metrics.survey_fcr(db, f)
    rate = metrics.response_rate(db, f)
    responses = db.execute(select(func.count()).select_from(Response).where(
        Response.status == "complete", Response.submitted_at >= f.start, Response.submitted_at < f.end)).scalar_one()

    def rows(groups: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [{"label": g["group"], "value": g[key], "ci_low": g["ci_low"], "ci_high": g["ci_high"],
                 "small": g["small_sample"]} for g in groups]

    measures = topbox["overall"]["measures"]
    charts = {
        "nps": bar_chart(f"NPS by {by}", rows(nps["groups"], "nps"), lo=-100, hi=100, chart_id="nps-chart"),
        "csat": bar_chart(f"CSAT % satisfied by {by}", rows(csat["groups"], "pct"), lo=0, hi=100, unit="%",
                          chart_id="csat-chart"),
        "topbox": bar_chart("Inpatient top-box % by measure",
                            [{"label": m["name"], "value": m["top_box"]["pct"], "ci_low": m["top_box"]["ci_low"],
                              "ci_high": m["top_box"]["ci_high"], "small": m["top_box"]["small_sample"]}
                             for m in measures], lo=0, hi=100, unit="%", chart_id="topbox-chart"),
    }
    return render(request, "feedback/results.html", {
        "page_title": "Survey results", "first": first.isoformat(), "last": last.isoformat(), "by": by,
        "groups": PAGE_GROUPS, "nps": nps, "csat": csat, "topbox": topbox, "fcr": fcr, "rate": rate,
        "responses": int(responses), "charts": charts, "can_manage": actor.can(Permission.surveys_manage),
    })


@router.get("/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, db: Session = DB, actor: Actor = SurveysRead) -> HTMLResponse:
    rows = list_instruments(db)
    counts = dict(db.execute(select(Response.instrument_id, func.count()).group_by(Response.instrument_id)).all())
    items = [{"row": r, "items": sum(1 for _ in iter_items(r.definition)), "responses": counts.get(r.id, 0)}
             for r in rows]
    return render(request, "feedback/instruments.html", {"page_title": "Survey instruments", "instruments": items})


@router.get("/instruments/{instrument_id}", response_class=HTMLResponse)
def instrument_page(instrument_id: int, request: Request, lang: str = Query("en", pattern="^(en|es)$"),
                    db: Session = DB, actor: Actor = SurveysRead) -> HTMLResponse:
    row = db.get(Instrument, instrument_id)
    if row is None:
        raise NotFound("instrument", instrument_id)
    d = row.definition
    sections = [{"code": s["code"], "title": text(s.get("title", s["code"]), lang), "items": [
        {"code": it["code"], "type": it["type"] + (f" ({it['scale']})" if it.get("scale") else ""),
         "text": text(it["text"], lang), "required": bool(it.get("required")), "measure": it.get("measure"),
         "show_if": it.get("show_if"),
         "options": ", ".join(f"{o['value']}: {text(o['label'], lang)}" for o in it.get("options", []))}
        for it in s["items"]]} for s in d["sections"]]
    return render(request, "feedback/instrument.html", {
        "page_title": f"{row.title} v{row.version}", "inst": row, "sections": sections, "lang": lang,
        "description": text(d.get("description", ""), lang)})


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, db: Session = DB, params: PageParams = Depends(page_params),
                actor: Actor = SurveysManage) -> HTMLResponse:
    rows, total = paginate(db, select(MessageOutbox).order_by(MessageOutbox.id.desc()), params)
    by_status = dict(db.execute(select(MessageOutbox.status, func.count()).group_by(MessageOutbox.status)).all())
    invites = dict(db.execute(select(Invitation.status, func.count()).group_by(Invitation.status)).all())
    return render(request, "feedback/outbox.html", {
        "page_title": "Message outbox", "messages": rows, "total": total, "params": params,
        "by_status": by_status, "invites": invites})


@router.get("/outbox/{message_id}", response_class=HTMLResponse)
def outbox_message_page(message_id: int, request: Request, db: Session = DB,
                        actor: Actor = SurveysManage) -> HTMLResponse:
    msg = db.get(MessageOutbox, message_id)
    if msg is None:
        raise NotFound("message", message_id)
    audit.record(db, actor, "message.read", "message_outbox", msg.id, patient_id=msg.patient_id)
    return render(request, "feedback/message.html", {"page_title": f"Message {msg.id}", "msg": msg})
