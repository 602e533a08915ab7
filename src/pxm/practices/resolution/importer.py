"""Import contacts from CSV: validate every row first, then write all of it or nothing.

Columns: contact_id, patient_mrn, channel, direction, reason, started_at, ended_at, agent, case_ref, resolved.
Contacts are keyed by ``contact_id`` (re-importing a file adds nothing); ``case_ref`` groups contacts into
cases (stored as the case's ``external_ref``; a blank case_ref gives the contact a case of its own). MRNs are
matched through the HMAC index, so no PHI is decrypted to import.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError
from pxm.platform.people import service as people
from pxm.platform.people.models import Patient, Staff
from pxm.platform.people.schemas import PatientCreate, StaffCreate
from pxm.practices.resolution import service, sla
from pxm.practices.resolution.models import DONE_STATUSES, Case, Channel, Contact, Direction

COLUMNS = ("contact_id", "patient_mrn", "channel", "direction", "reason", "started_at", "ended_at", "agent",
           "case_ref", "resolved")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


@dataclass
class ImportReport:
    imported_contacts: int = 0
    cases_created: int = 0
    skipped_existing: int = 0
    created_patients: int = 0
    created_agents: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"imported_contacts": self.imported_contacts, "cases_created": self.cases_created,
                "skipped_existing": self.skipped_existing, "created_patients": self.created_patients,
                "created_agents": self.created_agents, "errors": self.errors}


@dataclass
class _Row:
    line: int
    contact_id: str
    mrn: str
    channel: str
    direction: str
    reason: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    agent: str | None
    case_ref: str | None
    resolved: bool


def _time(value: str, column: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{column} {value!r} is not an ISO 8601 time (e.g. 2025-03-03T09:30:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{column} {value!r} has no time zone; add Z or an offset such as -05:00")
    return parsed.astimezone(dt.UTC)


def _parse(raw: dict[str, str | None], line: int, reasons: set[str]) -> _Row:
    v = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    if not v["contact_id"]:
        raise ValueError("contact_id is empty")
    if len(v["contact_id"]) > 80:
        raise ValueError("contact_id is longer than 80 characters")
    if not v["patient_mrn"]:
        raise ValueError("patient_mrn is empty")
    if v["channel"] not in {c.value for c in Channel}:
        raise ValueError(f"channel {v['channel']!r} is not one of {'|'.join(c.value for c in Channel)}")
    if v["direction"] not in {d.value for d in Direction}:
        raise ValueError(f"direction {v['direction']!r} is not one of inbound|outbound")
    if v["reason"] not in reasons:
        raise ValueError(f"reason {v['reason']!r} is not one of {'|'.join(sorted(reasons))}")
    started = _time(v["started_at"], "started_at")
    ended = _time(v["ended_at"], "ended_at") if v["ended_at"] else None
    if ended is not None and ended < started:
        raise ValueError("ended_at is before started_at")
    if v["resolved"].lower() not in _TRUE | _FALSE:
        raise ValueError(f"resolved {v['resolved']!r} is not true or false")
    if len(v["case_ref"]) > 80:
        raise ValueError("case_ref is longer than 80 characters")
    return _Row(line, v["contact_id"], v["patient_mrn"], v["channel"], v["direction"], v["reason"], started,
                ended, v["agent"] or None, v["case_ref"] or None, v["resolved"].lower() in _TRUE)


def import_contacts(
    session: Session,
    actor: Actor,
    text: str,
    *,
    create_patients: bool = False,
    create_agents: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and import. With any error nothing is written (the caller rolls back) and errors name lines."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        report.errors.append({"line": 1, "message": f"missing column(s): {', '.join(missing)}; "
                                                     f"expected {','.join(COLUMNS)}"})
        return report
    reader.fieldnames = header
    reasons = set(service.reason_codes(session))
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        try:
            row = _parse(raw, line, reasons)
        except ValueError as exc:
            report.errors.append({"line": line, "message": str(exc)})
            continue
        if row.contact_id in seen:
            report.errors.append({"line": line, "message": f"contact_id {row.contact_id!r} repeats line "
                                                             f"{seen[row.contact_id]}"})
            continue
        seen[row.contact_id] = line
        rows.append(row)

    existing = {cid for (cid,) in session.execute(
        select(Contact.external_id).where(Contact.external_id.in_(list(seen))))} if seen else set()
    new_rows = [r for r in rows if r.contact_id not in existing]
    report.skipped_existing = len(rows) - len(new_rows)

    patient_ids: dict[str, int | None] = {}
    for r in new_rows:
        if r.mrn not in patient_ids:
            found = session.execute(select(Patient.id).where(Patient.mrn_index == people.mrn_index(r.mrn))).first()
            patient_ids[r.mrn] = None if found is None else int(found[0])
        if patient_ids[r.mrn] is None and not create_patients:
            report.errors.append({"line": r.line, "message": "patient_mrn matches no patient; register the "
                                                              "patient first or pass --create-patients"})
    staff_ids: dict[str, int | None] = {}
    for r in new_rows:
        if r.agent is None:
            continue
        if r.agent not in staff_ids:
            found = session.execute(select(Staff.id).where(Staff.username == r.agent)).first()
            staff_ids[r.agent] = None if found is None else int(found[0])
        if staff_ids[r.agent] is None:
            if not create_agents:
                report.errors.append({"line": r.line, "message": f"agent {r.agent!r} matches no staff member; "
                                                                  "add them first or pass --create-agents"})
            elif not _valid_username(r.agent):
                report.errors.append({"line": r.line, "message": f"agent {r.agent!r} is not a valid username "
                                                                  "(lower-case letters, digits, . _ -)"})

    # a case per case_ref; a row without one is a case of its own (keyed by its contact_id)
    cases: dict[tuple[str | None, str], list[_Row]] = defaultdict(list)
    for r in new_rows:
        cases[(r.case_ref, "") if r.case_ref else (None, r.contact_id)].append(r)
    refs = [ref for ref, _ in cases if ref is not None]
    known_cases = {ref: (cid, pid) for ref, cid, pid in session.execute(
        select(Case.external_ref, Case.id, Case.patient_id).where(Case.external_ref.in_(refs)))} if refs else {}
    for (ref, _), members in cases.items():
        mrns = {m.mrn for m in members}
        if len(mrns) > 1:
            first = min(m.line for m in members)
            for m in members:
                if m.line != first and m.mrn != members[0].mrn:
                    report.errors.append({"line": m.line, "message": f"case_ref {ref!r} was used for another "
                                                                      f"patient on line {first}"})
        if ref in known_cases and patient_ids.get(members[0].mrn) not in (None, known_cases[ref][1]):
            report.errors.append({"line": members[0].line, "message": f"case_ref {ref!r} already belongs to "
                                                                       "another patient's case"})
    report.errors.sort(key=lambda e: e["line"])
    if report.errors:
        return report

    for mrn, pid in list(patient_ids.items()):
        if pid is None:
            patient = people.create_patient(session, actor, PatientCreate(mrn=mrn, given_name="Unknown",
                                                                          family_name="Imported"))
            patient_ids[mrn] = patient.id
            report.created_patients += 1
    for username, sid in list(staff_ids.items()):
        if sid is None:
            staff = people.create_staff(session, actor, StaffCreate(username=username, display_name=username,
                                                                    job_role="agent", team=None, capacity=5))
            staff_ids[username] = staff.id
            report.created_agents += 1

    done = 0
    touched: list[int] = []
    for (ref, _), members in cases.items():
        members.sort(key=lambda m: (m.started_at, m.line))
        head = members[0]
        pid = patient_ids[head.mrn]
        assert pid is not None
        if ref in known_cases:
            case_id = known_cases[ref][0]
        else:
            case = service.open_case(session, actor, patient_id=pid, reason=head.reason, channel=head.channel,
                                     opened_at=head.started_at, route=False, schedule_sla=False,
                                     external_ref=ref)
            case_id = case.id
            report.cases_created += 1
        for m in members:
            service.log_contact(session, actor, patient_id=pid, channel=m.channel, direction=m.direction,
                                reason=m.reason, started_at=m.started_at, ended_at=m.ended_at,
                                agent_id=staff_ids.get(m.agent) if m.agent else None, case_id=case_id,
                                resolved=m.resolved, external_id=m.contact_id, route=False)
            report.imported_contacts += 1
            done += 1
            if progress is not None:
                progress(done)
        touched.append(case_id)
    for case_id in touched:  # unresolved cases get their SLA checks (already-late ones escalate at once)
        touched_case = session.get(Case, case_id)
        if touched_case is not None and touched_case.status not in DONE_STATUSES:
            sla.schedule_checks(session, touched_case)
    audit.record(session, actor, "contacts.import", "contact", None,
                 details={k: v for k, v in report.to_dict().items() if k != "errors"})
    session.flush()
    return report


def _valid_username(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[a-z0-9][a-z0-9._\-]*", name)) and len(name) <= 80


def safe_import(session: Session, actor: Actor, text: str, **kwargs: Any) -> ImportReport:
    """``import_contacts`` that turns a service refusal during the write into a report error (nothing kept)."""
    try:
        return import_contacts(session, actor, text, **kwargs)
    except APIError as exc:
        return ImportReport(errors=[{"line": 0, "message": exc.message}])
