"""The live operations snapshot: one set of aggregate queries, counts and timings only (no PHI).

What a supervisor sees: the queue of unassigned open cases by reason and priority, the longest wait, cases
at risk of an SLA breach (due within the horizon) or already breached, agents by status, and today's
contact-centre figures with hourly trends. The measures follow the service desk's definitions
(``pxm.practices.resolution.metrics``), restricted to contacts that started today:

- **AHT**: mean of ``ended_at - (answered_at or started_at)`` over handled contacts (not abandoned, ended);
- **ASA**: mean of ``answered_at - queued_at`` over answered queued contacts;
- **abandonment**: abandoned / offered (queued) contacts;
- **service level**: answered within the target / (answered + abandoned);
- **FCR today (provisional)**: inbound, unabandoned contacts resolved during the contact / those contacts.
  The final FCR (no repeat within 7 days) is in the service desk's FCR report once the window has passed.

"Today" starts at midnight in ``timezone``; the hourly buckets are UTC hours (they match local hours in
zones with whole-hour offsets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from pxm.platform.db.base import utcnow
from pxm.platform.people.models import Staff, StaffStatus
from pxm.practices.resolution.models import OPEN_STATUSES, PRIORITY_ORDER, Case, Contact, Escalation

AT_RISK_MINUTES = 30
AT_RISK_LIST = 10
SERVICE_LEVEL_SECONDS = 20
_OPEN = [s.value for s in OPEN_STATUSES]
PRIORITIES = [p.value for p in reversed(PRIORITY_ORDER)]  # urgent first
VOLATILE = ("as_of", "longest_wait_seconds", "at_risk_items_minutes")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, in SQL."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _hour_bucket(dialect: str, col: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%dT%H", col)
    return func.to_char(func.timezone("UTC", col), literal_column("'YYYY-MM-DD\"T\"HH24'"))


def day_start(now: dt.datetime, timezone: str) -> dt.datetime:
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return dt.datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(dt.UTC)


def _queue(session: Session, now: dt.datetime) -> dict[str, Any]:
    rows = session.execute(
        select(Case.reason, Case.priority, func.count(), func.min(Case.opened_at))
        .where(Case.assigned_staff_id.is_(None), Case.status.in_(_OPEN))
        .group_by(Case.reason, Case.priority)
    ).all()
    by_reason: dict[str, dict[str, int]] = {}
    by_priority = {p: 0 for p in PRIORITIES}
    oldest: dt.datetime | None = None
    for reason, priority, n, first_raw in rows:
        by_reason.setdefault(reason, {p: 0 for p in PRIORITIES})[priority] = int(n)
        by_priority[priority] = by_priority.get(priority, 0) + int(n)
        first = _aware(first_raw)
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    reasons = [{"reason": r, "total": sum(c.values()), **c}
               for r, c in sorted(by_reason.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    return {
        "waiting": sum(by_priority.values()),
        "by_priority": by_priority,
        "by_reason": reasons,
        "oldest_opened_at": oldest.isoformat() if oldest else None,
        "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
    }


def _open_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Case.status, func.count()).where(Case.status.in_(_OPEN)).group_by(Case.status))
    return {str(s): int(n) for s, n in rows}


def _sla(session: Session, now: dt.datetime, horizon_minutes: int) -> dict[str, Any]:
    horizon = now + dt.timedelta(minutes=horizon_minutes)
    fr_pending = and_(Case.first_response_at.is_(None), Case.first_response_due_at.is_not(None))
    rows = session.execute(
        select(Case.id, Case.reason, Case.priority, Case.assigned_staff_id, Case.first_response_at,
               Case.first_response_due_at, Case.resolution_due_at)
        .where(Case.status.in_(_OPEN),
               or_(and_(fr_pending, Case.first_response_due_at <= horizon), Case.resolution_due_at <= horizon))
        .order_by(Case.resolution_due_at).limit(2000)
    ).all()
    items: list[dict[str, Any]] = []
    breached = at_risk = 0
    for cid, reason, priority, staff_id, fr_at, fr_due, res_due in rows:
        candidates: list[tuple[str, dt.datetime | None]] = []
        if fr_at is None:
            candidates.append(("first response", _aware(fr_due)))
        candidates.append(("resolution", _aware(res_due)))
        dues = [(t, d) for t, d in candidates if d is not None and d <= horizon]
        if not dues:
            continue
        target, due = min(dues, key=lambda td: td[1])
        if due < now:
            breached += 1
        else:
            at_risk += 1
        items.append({"case_id": int(cid), "reason": reason, "priority": priority, "target": target,
                      "due_at": due.isoformat(), "assigned": staff_id is not None,
                      "minutes_left": int((due - now).total_seconds() // 60)})
    items.sort(key=lambda i: i["due_at"])
    # escalations no supervisor has acknowledged yet (the Escalations page lists them)
    waiting = session.execute(select(func.count()).select_from(Escalation)
                              .where(Escalation.acknowledged_at.is_(None))).scalar_one()
    return {"horizon_minutes": horizon_minutes, "at_risk": at_risk, "breached": breached,
            "escalations_waiting": int(waiting), "items": [i for i in items if i["minutes_left"] >= 0][:AT_RISK_LIST]}


def _agents(session: Session) -> dict[str, Any]:
    """The desk's staff by status: everyone routing may give cases to (active, capacity above 0), whatever
    their job title (agents, billing specialists, supervisors who take cases); not nurses or physicians."""
    rows = session.execute(
        select(Staff.status, func.count()).where(Staff.active.is_(True), Staff.capacity > 0)
        .group_by(Staff.status)
    ).all()
    by_status = {s.value: 0 for s in StaffStatus}
    for status, n in rows:
        by_status[str(status)] = int(n)
    return {"total": sum(by_status.values()), "by_status": by_status}


def _today(session: Session, since: dt.datetime, target_seconds: int) -> dict[str, Any]:
    dialect = session.get_bind().dialect.name
    c = Contact
    wait = _seconds(dialect, c.queued_at, c.answered_at)
    handle = _seconds(dialect, func.coalesce(c.answered_at, c.started_at), c.ended_at)
    queued = c.queued_at.is_not(None)
    answered = and_(queued, c.answered_at.is_not(None), c.abandoned.is_(False))
    handled = and_(c.abandoned.is_(False), c.ended_at.is_not(None))
    first_line = and_(c.direction == "inbound", c.abandoned.is_(False))

    def count_if(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0)).cast(Integer)

    bucket = _hour_bucket(dialect, c.started_at).label("bucket")
    rows = session.execute(
        select(
            bucket, func.count(), count_if(queued), count_if(answered),
            count_if(and_(queued, c.abandoned.is_(True))),
            count_if(and_(answered, wait <= target_seconds + 0.0005)),  # julianday rounding
            func.sum(case((answered, wait), else_=0.0)),
            count_if(handled), func.sum(case((handled, handle), else_=0.0)),
            count_if(first_line), count_if(and_(first_line, c.resolved.is_(True))),
        ).where(c.started_at >= since).group_by(bucket).order_by(bucket)
    ).all()
    keys = ("contacts", "offered", "answered", "abandoned", "within", "wait_sum", "handled", "handle_sum",
            "inbound", "resolved")
    hours = []
    totals = dict.fromkeys(keys, 0.0)
    for row in rows:
        values = {k: float(v or 0) for k, v in zip(keys, row[1:], strict=True)}
        for k in keys:
            totals[k] += values[k]
        hours.append({"hour": str(row[0]) + ":00Z", **_measures(values)})
    return {"since": since.isoformat(), "service_level_seconds": target_seconds, **_measures(totals),
            "trend": _fill_hours(hours, since)}


def _measures(v: dict[str, float]) -> dict[str, Any]:
    def ratio(a: float, b: float, nd: int = 4) -> float | None:
        return round(a / b, nd) if b else None

    return {
        "contacts": int(v["contacts"]), "offered": int(v["offered"]), "answered": int(v["answered"]),
        "abandoned": int(v["abandoned"]), "aht_seconds": ratio(v["handle_sum"], v["handled"], 1),
        "asa_seconds": ratio(v["wait_sum"], v["answered"], 1),
        "abandonment_rate": ratio(v["abandoned"], v["offered"]),
        "service_level": ratio(v["within"], v["answered"] + v["abandoned"]),
        "fcr_rate": ratio(v["resolved"], v["inbound"]),
    }


def _fill_hours(hours: list[dict[str, Any]], since: dt.datetime) -> list[dict[str, Any]]:
    """Every UTC hour from ``since`` to the last hour with data, empty hours included (for the charts)."""
    if not hours:
        return []
    have = {h["hour"]: h for h in hours}
    out = []
    t = since.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    last = max(have)
    empty = _measures(dict.fromkeys(("contacts", "offered", "answered", "abandoned", "within", "wait_sum",
                                     "handled", "handle_sum", "inbound", "resolved"), 0.0))
    while True:
        key = t.strftime("%Y-%m-%dT%H") + ":00Z"
        out.append(have.get(key, {"hour": key, **empty}))
        if key >= last or len(out) > 48:
            return out
        t += dt.timedelta(hours=1)


def snapshot(session: Session, *, now: dt.datetime | None = None, timezone: str = "UTC",
             at_risk_minutes: int = AT_RISK_MINUTES, service_level_seconds: int = SERVICE_LEVEL_SECONDS
             ) -> dict[str, Any]:
    """The live view's data (JSON-ready). Reads aggregates only; nothing about a patient."""
    now = now or utcnow()
    local = now.astimezone(ZoneInfo(timezone))
    snap = {
        # in the desk's time zone (PXM_TIMEZONE), as its "today" is; the zone's abbreviation for the page
        "as_of": local.isoformat(timespec="seconds"),
        "as_of_zone": local.tzname(),
        "queue": _queue(session, now),
        "open_cases": _open_counts(session),
        "sla": _sla(session, now, at_risk_minutes),
        "agents": _agents(session),
        "today": _today(session, day_start(now, timezone), service_level_seconds),
    }
    snap["version"] = fingerprint(snap)
    return snap


def fingerprint(snap: dict[str, Any]) -> str:
    """A hash of what changes when something happens (not the clock): pushes are sent when it moves."""
    stable = {k: v for k, v in snap.items() if k not in ("as_of", "as_of_zone", "version")}
    queue = dict(stable.get("queue", {}))
    queue.pop("longest_wait_seconds", None)
    stable["queue"] = queue
    sla = dict(stable.get("sla", {}))
    sla["items"] = [{k: v for k, v in i.items() if k != "minutes_left"} for i in sla.get("items", [])]
    stable["sla"] = sla
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:16]
