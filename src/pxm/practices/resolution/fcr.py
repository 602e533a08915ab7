"""First contact resolution (FCR), computed from contacts exactly as docs/service-desk.md defines it.

A case is resolved at first contact when its first contact is inbound, the case was resolved during that
contact, and the same patient makes no further inbound contact about the same reason (in that case or a new
one) within the window after that first contact started (default 7 days; a repeat exactly at the window's
end still counts). FCR rate = such cases / eligible cases; a case is eligible once its window has elapsed
(as of the report time); cases still inside their window are *pending*, counted neither way. Cases whose first
contact is outbound are eligible and count as not resolved at first contact. A case is attributed to its
first contact's day, agent, team, reason and channel. Abandoned contacts (the patient left the queue before
anyone answered) are not interactions: they are neither a first contact nor a repeat.

FCR measures the issues patients bring: a case the desk opened itself (``source`` survey or complaint, the
closed loop's service recovery, whose first contact is the desk's call back) is not counted either way, so
running the closed loop does not lower it. Its contacts still count as repeats of the patient's own cases.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.people.models import Staff
from pxm.practices.resolution.models import Case, CaseSource, Contact

GROUPINGS = ("agent", "team", "reason", "channel", "day", "week", "month")
BY_PATTERN = "^(" + "|".join(GROUPINGS) + ")$"


@dataclass(frozen=True)
class ContactRow:
    id: int
    case_id: int
    patient_id: int
    reason: str
    channel: str
    direction: str
    agent_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    abandoned: bool
    resolved: bool


@dataclass
class CaseOutcome:
    case_id: int
    patient_id: int
    first_contact_id: int
    started_at: dt.datetime
    window_end: dt.datetime
    reason: str
    channel: str
    agent_id: int | None
    status: str  # fcr | not_fcr | pending
    cause: str | None = None  # outbound_first | not_resolved_in_contact | repeat
    repeat_contact_ids: list[int] = field(default_factory=list)
    contacts: int = 0


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def load_contacts(session: Session, *, until: dt.datetime | None = None) -> list[ContactRow]:
    """Every contact that started at or before ``until`` (Core rows: fast on a year of contacts)."""
    c = Contact.__table__.c
    stmt = select(c.id, c.case_id, c.patient_id, c.reason, c.channel, c.direction, c.agent_id, c.started_at,
                  c.ended_at, c.queued_at, c.answered_at, c.abandoned, c.resolved)
    if until is not None:
        stmt = stmt.where(c.started_at <= until)
    out = []
    for r in session.execute(stmt.order_by(c.started_at, c.id)):
        out.append(ContactRow(
            int(r.id), int(r.case_id), int(r.patient_id), r.reason, r.channel, r.direction, r.agent_id,
            _aware(r.started_at), r.ended_at and _aware(r.ended_at), r.queued_at and _aware(r.queued_at),
            r.answered_at and _aware(r.answered_at), bool(r.abandoned), bool(r.resolved)))
    return out


def case_outcomes(contacts: Iterable[ContactRow], *, window_days: int, as_of: dt.datetime) -> list[CaseOutcome]:
    """Classify every case that has an (unabandoned) first contact as fcr, not_fcr or pending."""
    window = dt.timedelta(days=window_days)
    by_case: dict[int, list[ContactRow]] = defaultdict(list)
    inbound: dict[tuple[int, str], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for row in contacts:
        if row.abandoned or row.started_at > as_of:
            continue
        by_case[row.case_id].append(row)
        if row.direction == "inbound":
            inbound[(row.patient_id, row.reason)].append((row.started_at, row.id))
    for series in inbound.values():
        series.sort()
    out: list[CaseOutcome] = []
    for case_id, rows in by_case.items():
        first = min(rows, key=lambda r: (r.started_at, r.id))
        end = first.started_at + window
        o = CaseOutcome(case_id, first.patient_id, first.id, first.started_at, end, first.reason, first.channel,
                        first.agent_id, "pending", contacts=len(rows))
        if end > as_of:
            out.append(o)
            continue
        if first.direction != "inbound":
            o.status, o.cause = "not_fcr", "outbound_first"
        elif not first.resolved:
            o.status, o.cause = "not_fcr", "not_resolved_in_contact"
        else:
            series = inbound.get((first.patient_id, first.reason), [])
            lo = bisect.bisect_right(series, (first.started_at, first.id))
            hi = bisect.bisect_right(series, (end, 2**62))
            repeats = [cid for ts, cid in series[lo:hi] if cid != first.id and ts > first.started_at]
            if repeats:
                o.status, o.cause, o.repeat_contact_ids = "not_fcr", "repeat", repeats
            else:
                o.status = "fcr"
        out.append(o)
    out.sort(key=lambda o: (o.started_at, o.case_id))
    return out


def staff_names(session: Session) -> dict[int, tuple[str, str | None]]:
    """staff id -> (username, team)."""
    return {int(i): (u, t) for i, u, t in session.execute(select(Staff.id, Staff.username, Staff.team))}


def group_key(by: str, *, agent_id: int | None, reason: str, channel: str, started_at: dt.datetime,
              staff: dict[int, tuple[str, str | None]], tz: ZoneInfo) -> str:
    if by == "agent":
        return staff[agent_id][0] if agent_id in staff else "(no agent)"
    if by == "team":
        return (staff[agent_id][1] or "(no team)") if agent_id in staff else "(no agent)"
    if by == "reason":
        return reason
    if by == "channel":
        return channel
    if by in ("day", "week", "month"):
        day = started_at.astimezone(tz).date()
        if by == "week":  # ISO 8601 week (Monday to Sunday; its year is the Thursday's): 2026-W01 sorts after 2025-W52
            year, week, _ = day.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return day.isoformat() if by == "day" else f"{day.year:04d}-{day.month:02d}"
    raise ValueError(f"--by must be one of: {', '.join(GROUPINGS)}")


def _counts(items: list[CaseOutcome]) -> dict[str, object]:
    eligible = sum(1 for o in items if o.status != "pending")
    fcr = sum(1 for o in items if o.status == "fcr")
    return {"cases": len(items), "eligible": eligible, "resolved_first_contact": fcr,
            "pending": len(items) - eligible, "fcr_rate": round(fcr / eligible, 4) if eligible else None}


def select_outcomes(outcomes: list[CaseOutcome], *, start: dt.date | None, end: dt.date | None,
                    tz: ZoneInfo) -> list[CaseOutcome]:
    """Cases whose first contact's (local) day falls in [start, end]."""
    return [o for o in outcomes
            if (start is None or o.started_at.astimezone(tz).date() >= start)
            and (end is None or o.started_at.astimezone(tz).date() <= end)]


def _patients_cases(session: Session, outcomes: list[CaseOutcome]) -> list[CaseOutcome]:
    """The outcomes of the cases patients brought (source contact), without those the desk opened itself."""
    opened_by_desk = set(session.execute(select(Case.id).where(Case.source != CaseSource.contact.value)).scalars())
    return [o for o in outcomes if o.case_id not in opened_by_desk]


def _outcomes(session: Session, *, window_days: int, as_of: dt.datetime, start: dt.date | None,
              end: dt.date | None, tz: ZoneInfo) -> list[CaseOutcome]:
    return select_outcomes(_patients_cases(session, case_outcomes(load_contacts(session, until=as_of),
                                                                  window_days=window_days, as_of=as_of)),
                           start=start, end=end, tz=tz)


def fcr_report(session: Session, *, window_days: int = 7, as_of: dt.datetime, start: dt.date | None = None,
               end: dt.date | None = None, by: str | None = None, tz: str = "UTC") -> dict[str, object]:
    """The FCR figures (JSON-ready): totals, and one row per group when ``by`` is given."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of: {', '.join(GROUPINGS)}")
    zone = ZoneInfo(tz)
    outcomes = _outcomes(session, window_days=window_days, as_of=as_of, start=start, end=end, tz=zone)
    report: dict[str, object] = {"window_days": window_days, "as_of": as_of.isoformat(),
                                 "from": start and start.isoformat(), "to": end and end.isoformat(),
                                 "contacts": sum(o.contacts for o in outcomes), **_counts(outcomes),
                                 "by": by, "groups": []}
    if by is not None:
        staff = staff_names(session)
        grouped: dict[str, list[CaseOutcome]] = defaultdict(list)
        for o in outcomes:
            grouped[group_key(by, agent_id=o.agent_id, reason=o.reason, channel=o.channel,
                              started_at=o.started_at, staff=staff, tz=zone)].append(o)
        report["groups"] = [{"key": k, "contacts": sum(o.contacts for o in v), **_counts(v)}
                            for k, v in sorted(grouped.items())]
    return report


def repeat_cases(session: Session, *, window_days: int = 7, as_of: dt.datetime, start: dt.date | None = None,
                 end: dt.date | None = None, by: str | None = None, key: str | None = None,
                 tz: str = "UTC") -> list[CaseOutcome]:
    """The drill-down: cases counted not-FCR because of a repeat contact (optionally within one group)."""
    zone = ZoneInfo(tz)
    outcomes = _outcomes(session, window_days=window_days, as_of=as_of, start=start, end=end, tz=zone)
    hits = [o for o in outcomes if o.cause == "repeat"]
    if by is not None and key is not None:
        staff = staff_names(session)
        hits = [o for o in hits if group_key(by, agent_id=o.agent_id, reason=o.reason, channel=o.channel,
                                             started_at=o.started_at, staff=staff, tz=zone) == key]
    return hits
