"""The desk's reports and lists as tables for CSV: the FCR report with the contact-centre measures, and cases.

Supervisors and the patient-access manager take these to a spreadsheet. Rates are fractions (0.725, as in the
JSON of ``pxm metrics``), times ISO 8601 with the desk's offset, counts plain numbers. A case row names its
agent and team, never the patient: the patient's id is there to join on, and the case's summary (free text that
may name the patient) is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select
from sqlalchemy.orm import Session

from pxm.practices.resolution.models import Case

FCR_COLUMNS = ("cases", "eligible", "resolved_first_contact", "pending", "fcr_rate")
CONTACT_COLUMNS = ("contacts", "aht_seconds", "asa_seconds", "abandonment_rate", "service_level",
                   "repeat_contact_rate", "contacts_per_resolved_case")
ALL_KEY = "all"  # the first row: the whole selection


def fcr_table(report: Mapping[str, Any], ops: Mapping[str, Any],
              names: Mapping[str, str] | None = None) -> tuple[list[str], list[list[Any]]]:
    """The FCR page's two tables in one: the FCR counts and rate of the cases each group's first contacts opened,
    beside the measures of the group's contacts (``report_table`` of the two reports)."""
    return report_table([(report, FCR_COLUMNS), (ops, CONTACT_COLUMNS)], names)


def report_table(parts: Sequence[tuple[Mapping[str, Any], Sequence[str]]],
                 names: Mapping[str, str] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Reports grouped alike (``pxm metrics`` JSON: totals and ``groups``), side by side: a row for the whole
    selection (key ``all``), then one per group key, with each report's ``columns``.

    Two reports may group different things (FCR counts cases by their first contact, the contact measures count
    contacts by their own), so a key can be in one only (an agent who took only repeats); its other cells are
    empty. ``names`` (by agent: username to the person's name) adds a ``name`` column."""
    by = next((r.get("by") for r, _ in parts if r.get("by")), None)
    header = [str(by or "group"), *(["name"] if names else []), *(c for _, cols in parts for c in cols)]
    grouped = [{str(g["key"]): g for g in r.get("groups", [])} for r, _ in parts]
    keys = sorted(set().union(*grouped)) if grouped else []

    def row(key: str, reports: Sequence[Mapping[str, Any] | None]) -> list[Any]:
        name = [names.get(key, "")] if names else []
        return [key, *name, *((r or {}).get(c) for r, (_, cols) in zip(reports, parts, strict=True) for c in cols)]

    return header, [row(ALL_KEY, [r for r, _ in parts]), *(row(k, [g.get(k) for g in grouped]) for k in keys)]


CASE_HEADER = ("case_id", "patient_id", "reason", "priority", "status", "source", "channel", "agent", "team",
               "opened_at", "first_response_due_at", "first_response_at", "first_response_breached",
               "resolution_due_at", "resolved_at", "resolution_breached", "resolution_code", "closed_at",
               "reopened_count")
_CASE_COLUMNS = (Case.id, Case.patient_id, Case.reason, Case.priority, Case.status, Case.source, Case.channel,
                 Case.assigned_staff_id, Case.team, Case.opened_at, Case.first_response_due_at,
                 Case.first_response_at, Case.first_response_breached, Case.resolution_due_at, Case.resolved_at,
                 Case.resolution_breached, Case.resolution_code, Case.closed_at, Case.reopened_count)
_AGENT = CASE_HEADER.index("agent")  # the column of the assigned staff id, written as the name


def case_rows(session: Session, stmt: Select[Any], staff: Mapping[int, str], zone: ZoneInfo) -> Iterator[list[Any]]:
    """The cases ``stmt`` (a ``queries.case_query``, ordered) selects, as rows under ``CASE_HEADER``: the agent
    by name, times in ``zone``, flags as true/false. Only these columns are read, not whole cases."""
    for row in session.execute(stmt.with_only_columns(*_CASE_COLUMNS)):
        cells: list[Any] = [_cell(v, zone) for v in row]
        agent = row.assigned_staff_id
        cells[_AGENT] = None if agent is None else staff.get(agent, str(agent))
        yield cells


def _cell(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
        return aware.astimezone(zone).isoformat(timespec="seconds")
    return value
