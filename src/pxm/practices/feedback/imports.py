"""CSV import of survey responses: all rows valid or nothing stored; re-importing a file adds nothing.

Columns: ``response_id`` (required, unique), ``patient_mrn`` (optional), ``submitted_at`` (ISO 8601 with a
time zone; a date alone means midnight UTC), then one column per item code of the instrument. Multiple
choice answers are separated by ``;``. Errors name the file line (the header is line 1) and the item.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest
from pxm.platform.people.models import Patient
from pxm.platform.people.service import mrn_index
from pxm.practices.feedback.definition import AnswerError, clean_answers, items_by_code
from pxm.practices.feedback.models import Response
from pxm.practices.feedback.service import get_instrument, record_response

FIXED = ("response_id", "patient_mrn", "submitted_at")
MAX_ERRORS = 50


@dataclass
class ImportResult:
    instrument: str
    version: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "version": self.version, "rows": self.rows, "added": self.added,
                "already_present": self.already_present, "errors": self.errors}


def _parse_time(value: str) -> dt.datetime:
    value = value.strip()
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        if len(value) == 10:
            return parsed.replace(tzinfo=dt.UTC)
        raise ValueError("needs a time zone, e.g. 2026-03-01T10:00:00Z")
    return parsed


def import_responses_csv(session: Session, actor: Actor, content: str, instrument_code: str,
                         *, progress: Any = None) -> ImportResult:
    """Validate every row, then store the new ones in one savepoint. Raises ``BadRequest`` listing errors."""
    inst = get_instrument(session, instrument_code)
    items = items_by_code(inst.definition)
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    result = ImportResult(inst.code, inst.version)
    if "response_id" not in header or "submitted_at" not in header:
        raise BadRequest("the CSV header needs response_id and submitted_at columns, then one column per item code")
    unknown = [h for h in header if h not in FIXED and h not in items]
    if unknown:
        raise BadRequest(f"line 1: column {unknown[0]!r} is not an item of {inst.code} "
                         f"(items: {', '.join(items)})")
    existing = set(session.execute(select(Response.external_id).where(Response.external_id.is_not(None))).scalars())
    seen: dict[str, int] = {}
    planned: list[dict[str, Any]] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        result.rows += 1
        rid = row.get("response_id", "")
        where = f"line {line}" + (f" (response_id {rid})" if rid else "")
        if not rid:
            result.errors.append(f"{where}: response_id is empty")
            continue
        if rid in seen:
            result.errors.append(f"{where}: response_id repeats line {seen[rid]}")
            continue
        seen[rid] = line
        if rid in existing:
            result.already_present += 1
            continue
        try:
            submitted = _parse_time(row.get("submitted_at", ""))
        except ValueError as exc:
            result.errors.append(f"{where}: submitted_at {row.get('submitted_at')!r} is not ISO 8601 ({exc})")
            continue
        patient_id = None
        mrn = row.get("patient_mrn")
        if mrn:
            patient_id = session.execute(select(Patient.id).where(Patient.mrn_index == mrn_index(mrn))).scalar()
            if patient_id is None:
                result.errors.append(f"{where}: patient_mrn is not a known patient")
                continue
        answers = {k: v for k, v in row.items() if k in items and v != ""}
        try:
            clean_answers(inst.definition, answers, complete=True)
        except AnswerError as exc:
            result.errors.append(f"{where}: item {exc.item} {exc.message}")
            continue
        planned.append({"external_id": rid, "submitted_at": submitted, "patient_id": patient_id,
                        "answers": answers})
        if len(result.errors) >= MAX_ERRORS:
            break
    if result.errors:
        raise BadRequest(f"{len(result.errors)} problem(s) in the file; nothing was imported. "
                         + "; ".join(result.errors[:5]), details={"errors": result.errors})
    with session.begin_nested():
        for n, p in enumerate(planned):
            record_response(session, actor, instrument=inst, source="csv", **p)
            result.added += 1
            if progress is not None:
                progress(n + 1, len(planned))
    return result
