"""Survey metrics from stored responses: NPS, CSAT, CES, top-box by measure, response rate, survey FCR.

Each function returns a dict ready for JSON (``overall`` plus ``groups`` when ``by`` is given). Groups:
``department``, ``provider``, ``channel``, ``month`` (``YYYY-MM`` of ``submitted_at``), ``segment`` (age band
of the patient, de-identified), ``language`` and ``instrument``.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest
from pxm.platform.people.models import OrgUnit, Patient, Staff
from pxm.practices.feedback import stats
from pxm.practices.feedback.definition import NUMERIC, items_by_code, numeric_range, text
from pxm.practices.feedback.models import Instrument, Invitation, Response

GROUPS = ("department", "provider", "channel", "month", "segment", "language", "instrument")
AGE_BANDS = ((0, 17, "0-17"), (18, 44, "18-44"), (45, 64, "45-64"), (65, 200, "65+"))


@dataclass(frozen=True)
class Filters:
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    instrument: str | None = None
    department_id: int | None = None


@dataclass(frozen=True)
class _Inst:
    """An instrument version with its items indexed (parsed once per query, not once per response)."""

    id: int
    code: str
    definition: dict[str, Any]
    items: dict[str, dict[str, Any]]


_COLUMNS = (Response.id, Response.instrument_id, Response.answers, Response.submitted_at, Response.patient_id,
            Response.department_id, Response.provider_id, Response.channel, Response.language, Response.case_id)


def _rows(session: Session, f: Filters) -> list[tuple[Any, _Inst]]:
    """Complete responses in the filter as light rows (free text is never loaded), with their instrument."""
    insts = {i.id: _Inst(i.id, i.code, i.definition, items_by_code(i.definition))
             for i in session.execute(select(Instrument)).scalars()}
    q = select(*_COLUMNS).where(Response.status == "complete")
    if f.start:
        q = q.where(Response.submitted_at >= f.start)
    if f.end:
        q = q.where(Response.submitted_at < f.end)
    if f.instrument:
        q = q.where(Response.instrument_id.in_([i.id for i in insts.values() if i.code == f.instrument]))
    if f.department_id:
        q = q.where(Response.department_id == f.department_id)
    rows = session.connection().execute(q.order_by(Response.submitted_at))  # Core: no ORM row overhead
    return [(r, insts[r.instrument_id]) for r in rows]


def _grouper(session: Session, by: str | None) -> Callable[[Any, _Inst], str]:
    if by is None:
        return lambda r, i: "all"
    if by not in GROUPS:
        raise BadRequest(f"by must be one of {', '.join(GROUPS)}")
    if by == "department":
        names = dict(session.execute(select(OrgUnit.id, OrgUnit.name)).all())
        return lambda r, i: names.get(r.department_id, "(none)") if r.department_id else "(none)"
    if by == "provider":
        staff = dict(session.execute(select(Staff.id, Staff.display_name)).all())
        return lambda r, i: staff.get(r.provider_id, "(none)") if r.provider_id else "(none)"
    if by == "channel":
        return lambda r, i: r.channel or "(none)"
    if by == "month":
        return lambda r, i: r.submitted_at.strftime("%Y-%m")
    if by == "language":
        return lambda r, i: r.language
    if by == "instrument":
        return lambda r, i: i.code
    years = dict(session.execute(select(Patient.id, Patient.birth_year)).all())
    this_year = utcnow().year

    def band(r: Any, i: _Inst) -> str:
        by_ = years.get(r.patient_id) if r.patient_id else None
        if by_ is None:
            return "(unknown)"
        age = this_year - by_
        return next(label for lo, hi, label in AGE_BANDS if lo <= age <= hi)

    return band


def _answers_of_type(resp: Any, inst: _Inst, kinds: Iterable[str]) -> list[int]:
    items = inst.items
    return [int(v) for code, v in (resp.answers or {}).items()
            if code in items and items[code]["type"] in kinds and isinstance(v, int)]


def _grouped(session: Session, f: Filters, by: str | None,
             compute: Callable[[list[tuple[Any, _Inst]]], dict[str, Any]]) -> dict[str, Any]:
    rows = _rows(session, f)
    key = _grouper(session, by)
    groups: dict[str, list[tuple[Any, _Inst]]] = defaultdict(list)
    for r, i in rows:
        groups[key(r, i)].append((r, i))
    out: dict[str, Any] = {"filters": _filters_dict(f), "by": by, "overall": compute(rows)}
    if by:
        out["groups"] = [{"group": g, **compute(v)} for g, v in sorted(groups.items())]
    return out


def _filters_dict(f: Filters) -> dict[str, Any]:
    return {"from": f.start.isoformat() if f.start else None, "to": f.end.isoformat() if f.end else None,
            "instrument": f.instrument, "department_id": f.department_id}


def nps_metric(session: Session, f: Filters = Filters(), by: str | None = None) -> dict[str, Any]:
    """NPS over every 0-10 likelihood-to-recommend item (type ``nps``)."""
    def compute(rows: list[tuple[Any, _Inst]]) -> dict[str, Any]:
        return stats.nps(v for r, i in rows for v in _answers_of_type(r, i, ("nps",))).to_dict()
    return _grouped(session, f, by, compute)


def csat_metric(session: Session, f: Filters = Filters(), by: str | None = None) -> dict[str, Any]:
    """CSAT: % of 4-5 answers on 1-5 satisfaction items (type ``csat``); with the mean and CES alongside."""
    def compute(rows: list[tuple[Any, _Inst]]) -> dict[str, Any]:
        scores = [v for r, i in rows for v in _answers_of_type(r, i, ("csat",))]
        ces = [float(v) for r, i in rows for v in _answers_of_type(r, i, ("ces",))]
        return {**stats.csat(scores).to_dict(), "mean": stats.mean([float(s) for s in scores]).mean,
                "ces": stats.mean(ces).to_dict(),
                "ces_easy": stats.proportion(sum(1 for v in ces if v >= 5), len(ces)).to_dict()}
    return _grouped(session, f, by, compute)


def topbox_metric(session: Session, f: Filters = Filters(), by: str | None = None) -> dict[str, Any]:
    """HCAHPS-style top-box, bottom-box and linear mean (0-100) per measure of an instrument.

    Pools every answer to the measure's items (so a composite weighs its items by how often they are
    answered); yes/no items count yes as top box and no as bottom box.
    """
    f = Filters(f.start, f.end, f.instrument or "inpatient", f.department_id)

    def compute(rows: list[tuple[Any, _Inst]]) -> dict[str, Any]:
        tops: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # top, bottom, n
        linear: dict[str, list[float]] = defaultdict(list)
        names: dict[str, str] = {}
        for r, inst in rows:
            d = inst.definition
            for m in d.get("measures", []):
                names.setdefault(m["code"], text(m["name"], "en"))
            items = inst.items
            for code, v in (r.answers or {}).items():
                item = items.get(code)
                if item is None or not item.get("measure"):
                    continue
                m = item["measure"]
                if item["type"] == "yesno":
                    top, bottom, lin = v == "yes", v == "no", 100.0 if v == "yes" else 0.0
                elif item["type"] in NUMERIC and isinstance(v, int):
                    rng = numeric_range(d, item)
                    top, bottom = v in rng.top, v in rng.bottom
                    lin = stats.linear_score(v, rng.low, rng.high)
                else:
                    continue
                t = tops[m]
                t[0] += int(top)
                t[1] += int(bottom)
                t[2] += 1
                linear[m].append(lin)
        measures = []
        for code in list(names) + [m for m in tops if m not in names]:
            if code not in tops:
                continue
            top, bottom, n = tops[code]
            measures.append({"measure": code, "name": names.get(code, code),
                             "top_box": stats.proportion(top, n).to_dict(),
                             "bottom_box": stats.proportion(bottom, n).to_dict(),
                             "linear_mean": stats.mean(linear[code]).to_dict()})
        return {"responses": len(rows), "small_sample": len(rows) < stats.SMALL_SAMPLE, "measures": measures}

    return _grouped(session, f, by, compute)


def response_rate(session: Session, f: Filters = Filters()) -> dict[str, Any]:
    """Responded invitations / invitations actually sent (Wilson interval)."""
    q = select(func.count(), func.count(Invitation.responded_at)).where(Invitation.sent_at.is_not(None))
    if f.start:
        q = q.where(Invitation.sent_at >= f.start)
    if f.end:
        q = q.where(Invitation.sent_at < f.end)
    if f.instrument:
        q = q.join(Instrument, Instrument.id == Invitation.instrument_id).where(Instrument.code == f.instrument)
    sent, responded = session.execute(q).one()
    return stats.proportion(int(responded), int(sent)).to_dict()


def survey_fcr(session: Session, f: Filters = Filters(), by: str | None = None) -> dict[str, Any]:
    """Survey-based FCR: share of pulse responses answering RESOLVED = yes.

    ``by`` may be ``channel``, ``agent`` or ``reason`` (taken from the linked case through the resolution
    service) or any of the usual groups.
    """
    f = Filters(f.start, f.end, "pulse", f.department_id)
    rows = [(r, i) for r, i in _rows(session, f) if (r.answers or {}).get("RESOLVED") in ("yes", "no")]
    if by in ("agent", "reason", "channel"):
        key = _case_grouper(session, by)
    else:
        key = _grouper(session, by)
    groups: dict[str, list[bool]] = defaultdict(list)
    for r, i in rows:
        groups[key(r, i)].append(r.answers["RESOLVED"] == "yes")
    flat = [x for v in groups.values() for x in v]
    out: dict[str, Any] = {"filters": _filters_dict(f), "by": by,
                           "overall": stats.proportion(sum(flat), len(flat)).to_dict()}
    if by:
        out["groups"] = [{"group": g, **stats.proportion(sum(v), len(v)).to_dict()}
                         for g, v in sorted(groups.items())]
    return out


def _case_grouper(session: Session, by: str) -> Callable[[Any, _Inst], str]:
    try:
        resolution = importlib.import_module("pxm.practices.resolution.service")
    except ModuleNotFoundError:
        resolution = None
    staff = dict(session.execute(select(Staff.id, Staff.display_name)).all())
    cache: dict[int, Any] = {}

    def key(r: Any, i: _Inst) -> str:
        if by == "channel" and r.case_id is None:
            return r.channel or "(none)"
        if r.case_id is None or resolution is None:
            return "(no case)"
        if r.case_id not in cache:
            try:
                cache[r.case_id] = resolution.get_case(session, r.case_id)
            except Exception:  # the case was removed or the service refused: count it apart
                cache[r.case_id] = None
        case = cache[r.case_id]
        if case is None:
            return "(no case)"
        if by == "agent":
            return staff.get(case.assigned_staff_id, "(unassigned)") if case.assigned_staff_id else "(unassigned)"
        value = getattr(case, by, None)
        return str(value) if value else "(none)"

    return key


METRICS: dict[str, Callable[..., dict[str, Any]]] = {"nps": nps_metric, "csat": csat_metric,
                                                      "topbox": topbox_metric, "fcr": survey_fcr}
