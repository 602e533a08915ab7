"""CXM impact study pages: list + upload form, a study's report (tables 1-4, diagram, charts), the paper check."""

from __future__ import annotations

import datetime as dt
import threading
from html import escape
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.analytics.study import service
from pxm.analytics.study.models import Study
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams, page_params, paginate
from pxm.web.pages import flash, render

router = APIRouter(prefix="/analytics/study", include_in_schema=False)
StudiesRead = Depends(require(Permission.studies_read))
StudiesRun = Depends(require(Permission.studies_run))
INK, BLUE, RED, GREY = "#1a1a1a", "#0b3d66", "#a4161a", "#555"


def loadings_chart(m: dict[str, Any], chart_id: str) -> Markup:
    """Standardized loadings of one construct's items as bars, with a dashed line at 0.70."""
    label_w, bar_w, row_h = 70, 300, 26
    height = row_h * len(m["items"]) + 28

    def x(v: float) -> float:
        return label_w + bar_w * min(max(v, 0.0), 1.0)

    title = f"Standardized loadings of {m['construct']} ({m['name']}); dashed line at 0.70"
    out = [f'<svg class="chart" viewBox="0 0 {label_w + bar_w + 60} {height}" role="img" '
           f'aria-labelledby="{chart_id}-t" preserveAspectRatio="xMinYMin meet">',
           f'<title id="{chart_id}-t">{escape(title)}</title>']
    for i, it in enumerate(m["items"]):
        y, v = i * row_h + 4, it["loading"]
        fill = RED if it["low"] else BLUE
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="13" fill="{INK}">'
                   f'{escape(it["item"])}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{x(v) - label_w:.1f}" height="16" fill="{fill}"/>')
        out.append(f'<text x="{x(v) + 4:.1f}" y="{y + 15}" font-size="12" fill="{INK}">{v:.2f}</text>')
    out.append(f'<line x1="{x(0.7):.1f}" y1="0" x2="{x(0.7):.1f}" y2="{height - 22}" stroke="{RED}" '
               'stroke-dasharray="4 3" stroke-width="1.5"/>')
    for t in (0.0, 0.5, 0.7, 1.0):
        out.append(f'<text x="{x(t):.1f}" y="{height - 6}" font-size="11" text-anchor="middle" fill="{GREY}">'
                   f'{t:.1f}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every label went through html.escape


def forest_plot(hypotheses: list[dict[str, Any]], chart_id: str) -> Markup:
    """Standardized betas as points with their bootstrap intervals (when run), a line at zero."""
    rows = [h for h in hypotheses if h["beta"] is not None]
    label_w, plot_w, row_h = 90, 320, 30
    height = row_h * max(len(rows), 1) + 30
    values = [0.0] + [h["beta"] for h in rows] + [v for h in rows for v in (h["boot_ci_lower"], h["boot_ci_upper"])
                                                  if v is not None]
    lo, hi = min(min(values), -0.1), max(max(values), 0.5)
    lo, hi = (round(lo - 0.05, 1), round(hi + 0.05, 1))

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo)

    has_ci = any(h["boot_ci_lower"] is not None for h in rows)
    title = ("Effect sizes: standardized path coefficients (beta) of each practice on the outcome"
             + (" with 95% bootstrap intervals" if has_ci else " (no bootstrap intervals: run with bootstrap draws)"))
    out = [f'<svg class="chart" viewBox="0 0 {label_w + plot_w + 70} {height}" role="img" '
           f'aria-labelledby="{chart_id}-t" preserveAspectRatio="xMinYMin meet">',
           f'<title id="{chart_id}-t">{escape(title)}</title>',
           f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{height - 22}" stroke="{GREY}"/>']
    for i, h in enumerate(rows):
        y = i * row_h + 16
        colour = BLUE if h["supported"] else GREY
        out.append(f'<text x="{label_w - 8}" y="{y + 5}" text-anchor="end" font-size="13" fill="{INK}">'
                   f'{escape(h["hypothesis"])} {escape(h["from"])}</text>')
        if h["boot_ci_lower"] is not None and h["boot_ci_upper"] is not None:
            a, b = x(h["boot_ci_lower"]), x(h["boot_ci_upper"])
            out.append(f'<line x1="{a:.1f}" y1="{y}" x2="{b:.1f}" y2="{y}" stroke="{INK}" stroke-width="1.5"/>'
                       f'<line x1="{a:.1f}" y1="{y - 6}" x2="{a:.1f}" y2="{y + 6}" stroke="{INK}"/>'
                       f'<line x1="{b:.1f}" y1="{y - 6}" x2="{b:.1f}" y2="{y + 6}" stroke="{INK}"/>')
        out.append(f'<rect x="{x(h["beta"]) - 5:.1f}" y="{y - 5}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{label_w + plot_w + 8}" y="{y + 5}" font-size="12" fill="{INK}">{h["beta"]:.3f}</text>')
    for t in (lo, 0.0, hi):
        out.append(f'<text x="{x(t):.1f}" y="{height - 6}" font-size="11" text-anchor="middle" fill="{GREY}">'
                   f'{t:.1f}</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every label went through html.escape


def _form_int(value: str, field: str, problems: list[str], *, default: int | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        problems.append(f"{field}: {value!r} is not a whole number")
        return default


def _list_context(db: Session, actor: Actor, params: PageParams) -> dict[str, Any]:
    rows, total = paginate(db, service.list_studies_stmt(), params)
    return {"page_title": "CXM impact study", "studies": rows, "total": total, "params": params,
            "can_run": actor.can(Permission.studies_run), "problems": [], "form": {},
            "responses_problems": [], "rform": {}}


def _form_date(value: str, field: str, problems: list[str]) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        problems.append(f"{field}: give a date (YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.append(f"{field}: {value!r} is not a date; write YYYY-MM-DD, e.g. 2026-01-31")
        return None


@router.get("", response_class=HTMLResponse)
def studies_page(request: Request, params: PageParams = Depends(page_params), db: Session = DB,
                 actor: Actor = StudiesRead) -> HTMLResponse:
    return render(request, "study/index.html", _list_context(db, actor, params))


@router.post("", response_class=HTMLResponse)
async def upload_form(request: Request, file: UploadFile = File(...), title: str = Form(""),
                      bootstrap: str = Form(""), seed: str = Form(""), mapping: str = Form(""),
                      db: Session = DB, actor: Actor = StudiesRun) -> Any:
    problems: list[str] = []
    draws = _form_int(bootstrap, "Bootstrap draws", problems, default=0) or 0
    seed_value = _form_int(seed, "Seed", problems, default=None)
    content = await file.read()
    if not problems:
        try:
            names = service.parse_mapping_text(mapping)
            study = service.create_study_from_upload(db, actor, file.filename or "upload.csv", content,
                                                     title=title, bootstrap=draws, seed=seed_value, mapping=names)
        except APIError as exc:
            db.rollback()  # nothing of a refused upload is kept
            problems = (exc.details or {}).get("problems") or [exc.message]
        else:
            response = RedirectResponse(f"/analytics/study/{study.id}", status_code=303)
            flash(request, response, f"Study {study.id} " + ("queued: the bootstrap runs in the background"
                                                            if draws else "done"), "success")
            return response
    ctx = _list_context(db, actor, page_params(50, 0))
    ctx.update(problems=problems, form={"title": title, "bootstrap": bootstrap, "seed": seed, "mapping": mapping,
                                        "filename": file.filename})
    return render(request, "study/index.html", ctx, status=422)


@router.post("/from-responses", response_class=HTMLResponse)
def responses_form(request: Request, date_from: str = Form(""), date_to: str = Form(""), title: str = Form(""),
                   bootstrap: str = Form(""), seed: str = Form(""), db: Session = DB,
                   actor: Actor = StudiesRun) -> Any:
    """Run the study on the cxm survey responses stored in PXM for a date range."""
    problems: list[str] = []
    start = _form_date(date_from, "From", problems)
    end = _form_date(date_to, "To", problems)
    draws = _form_int(bootstrap, "Bootstrap draws", problems, default=0) or 0
    seed_value = _form_int(seed, "Seed", problems, default=None)
    if not problems and start is not None and end is not None:
        try:
            study = service.create_study_from_responses(db, actor, date_from=start, date_to=end, title=title,
                                                        bootstrap=draws, seed=seed_value)
        except APIError as exc:
            db.rollback()
            problems = (exc.details or {}).get("problems") or [exc.message]
        else:
            response = RedirectResponse(f"/analytics/study/{study.id}", status_code=303)
            flash(request, response, f"Study {study.id} of {study.n_rows} survey responses "
                  + ("queued: the bootstrap runs in the background" if draws else "done"), "success")
            return response
    ctx = _list_context(db, actor, page_params(50, 0))
    ctx.update(responses_problems=problems, rform={"date_from": date_from, "date_to": date_to, "title": title,
                                                   "bootstrap": bootstrap, "seed": seed})
    return render(request, "study/index.html", ctx, status=422)


_PAPER_CACHE: dict[int, dict[str, Any]] = {}
_PAPER_LOCK = threading.Lock()


def paper_content(seed: int) -> dict[str, Any]:
    """``reproduce_paper(seed)`` once per seed per process (it is deterministic for a seed)."""
    with _PAPER_LOCK:
        if seed not in _PAPER_CACHE:
            from pxm.analytics.study.paper import reproduce_paper

            _PAPER_CACHE[seed] = reproduce_paper(seed).to_dict()
            while len(_PAPER_CACHE) > 8:
                _PAPER_CACHE.pop(next(iter(_PAPER_CACHE)))
        return _PAPER_CACHE[seed]


@router.get("/paper", response_class=HTMLResponse)
def paper_page(request: Request, seed: int = Query(352, ge=0, lt=2**32), actor: Actor = StudiesRead) -> HTMLResponse:
    c = paper_content(seed)
    return render(request, "study/paper.html", {"page_title": "Reproduce the paper", "c": c, "seed": seed})


@router.get("/{study_id}", response_class=HTMLResponse)
def study_page(study_id: int, request: Request, compare: int | None = Query(None, alias="compare"),
               db: Session = DB, actor: Actor = StudiesRead) -> HTMLResponse:
    study = service.get_study(db, study_id)
    r = study.results
    charts: dict[str, Any] = {}
    if r:
        charts["loadings"] = [loadings_chart(m, f"load-{m['construct']}") for m in r["measurement"]]
        charts["forest"] = forest_plot(r["hypotheses"], "forest")
    others = db.execute(select(Study.id, Study.title, Study.input_fingerprint).where(Study.id != study.id)
                        .order_by(Study.id.desc()).limit(50)).all()
    comparison = service.compare(study, service.get_study(db, compare)) if compare else None
    return render(request, "study/detail.html", {
        "page_title": f"Study {study.id}: {study.title}", "s": study, "r": r, "charts": charts,
        "running": study.status in ("queued", "running"), "others": others, "comparison": comparison,
        "can_run": actor.can(Permission.studies_run), "diagram": Markup(r["diagram_svg"]) if r else None})  # noqa: S704 - drawn by PXM, labels escaped


@router.post("/{study_id}/rerun")
def rerun_form(study_id: int, request: Request, db: Session = DB, actor: Actor = StudiesRun) -> Any:
    study = service.rerun(db, actor, study_id)
    response = RedirectResponse(f"/analytics/study/{study.id}?compare={study_id}", status_code=303)
    flash(request, response, f"Study {study.id} reruns study {study_id} on the same data and options", "success")
    return response
