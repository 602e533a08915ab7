"""JSON API of stored CXM impact studies."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from pxm.analytics.study import service
from pxm.analytics.study.models import Study
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require
from pxm.platform.auth.permissions import Permission
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import PageParams, page_params, paginate

router = APIRouter(prefix="/api/v1/studies", tags=["studies"])
StudiesRead = Depends(require(Permission.studies_read))
StudiesRun = Depends(require(Permission.studies_run))


def study_json(study: Study, *, results: bool = True) -> dict[str, Any]:
    out = service.study_summary(study)
    if results:
        out["results"] = study.results
    return out


@router.post("", status_code=201, summary="Upload survey answers and run the study")
async def create_study(
    request: Request,
    file: UploadFile = File(..., description="CSV, Excel (.xlsx) or SPSS (.sav), one row per respondent"),
    title: str = Form("", max_length=200),
    bootstrap: int = Form(0, description="bootstrap resamples (0 = none; > 0 runs as a background job)"),
    seed: int | None = Form(None),
    mapping: str = Form("", description="column mapping, one OLD=NEW per line"),
    key: str | None = Depends(idempotency_key),
    db: Session = DB,
    actor: Actor = StudiesRun,
) -> JSONResponse:
    content = await file.read()
    names = service.parse_mapping_text(mapping)
    body = {"file": hashlib.sha256(content).hexdigest(), "filename": file.filename, "title": title,
            "bootstrap": bootstrap, "seed": seed, "mapping": names}

    def create() -> dict[str, Any]:
        study = service.create_study_from_upload(db, actor, file.filename or "upload.csv", content, title=title,
                                                 bootstrap=bootstrap, seed=seed, mapping=names)
        return study_json(study)

    return run_idempotent(db, actor, request, key, body, create)


class FromResponses(BaseModel):
    date_from: dt.date = Field(..., description="first day (UTC) of the responses to analyse, e.g. 2026-01-01")
    date_to: dt.date = Field(..., description="last day (UTC), included")
    title: str = Field("", max_length=200)
    bootstrap: int = Field(0, description="bootstrap resamples (0 = none; > 0 runs as a background job)")
    seed: int | None = None


@router.post("/from-responses", status_code=201,
             summary="Run the study on the cxm survey responses stored in PXM for a date range")
def create_study_from_responses(body: FromResponses, request: Request, key: str | None = Depends(idempotency_key),
                                db: Session = DB, actor: Actor = StudiesRun) -> JSONResponse:
    def create() -> dict[str, Any]:
        study = service.create_study_from_responses(db, actor, date_from=body.date_from, date_to=body.date_to,
                                                    title=body.title, bootstrap=body.bootstrap, seed=body.seed)
        return study_json(study)

    return run_idempotent(db, actor, request, key, body.model_dump(mode="json"), create)


@router.get("", summary="Stored studies, newest first")
def list_studies(params: PageParams = Depends(page_params), db: Session = DB,
                 actor: Actor = StudiesRead) -> dict[str, Any]:
    rows, total = paginate(db, service.list_studies_stmt(), params)
    return {"items": [study_json(s, results=False) for s in rows], "total": total, "limit": params.limit,
            "offset": params.offset}


@router.get("/compare", summary="Compare two studies: same data, same options, differences in results")
def compare_studies(a: int = Query(...), b: int = Query(...), db: Session = DB,
                    actor: Actor = StudiesRead) -> dict[str, Any]:
    return service.compare(service.get_study(db, a), service.get_study(db, b))


@router.get("/{study_id}", summary="One study: status, progress and results")
def get_study(study_id: int, db: Session = DB, actor: Actor = StudiesRead) -> dict[str, Any]:
    return study_json(service.get_study(db, study_id))


@router.get("/{study_id}/report.html", response_class=HTMLResponse,
            summary="The self-contained HTML report (download)")
def report_html(study_id: int, db: Session = DB, actor: Actor = StudiesRead) -> HTMLResponse:
    from pxm.analytics.study.run import StudyReport

    study = service.get_study(db, study_id)
    if study.results is None:
        raise APIError(409, "conflict", f"study {study_id} has no results yet (status {study.status})")
    return HTMLResponse(StudyReport(study.results).to_html(), headers={
        "Content-Disposition": f'attachment; filename="study-{study_id}.html"'})


@router.post("/{study_id}/rerun", status_code=201, summary="Run again on the same stored data and options")
def rerun_study(study_id: int, request: Request, key: str | None = Depends(idempotency_key),
                db: Session = DB, actor: Actor = StudiesRun) -> JSONResponse:
    return run_idempotent(db, actor, request, key, {"rerun": study_id},
                          lambda: study_json(service.rerun(db, actor, study_id)))
