"""Service desk settings: the SLA policies, business calendars and contact reasons a CX manager edits.

Every function takes ``(session, actor, ...)``, validates the whole change (all problems at once, each naming
its field), only flushes, and writes an audit event whose details hold the values before and after (these
rows carry no PHI).

Changes apply to cases opened afterwards (and to targets computed afterwards: a reopening, a priority
change); due times already set on cases are **not** recomputed.

Values accepted from a form arrive as strings: minutes may be given as digit strings, ``""`` is never "any"
(callers pass ``None`` for "any reason" / "any priority").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest, Conflict
from pxm.platform.http.lookup import get_or_404
from pxm.platform.people.models import Staff
from pxm.practices.resolution import sla
from pxm.practices.resolution.models import (
    PRIORITY_ORDER,
    BusinessCalendar,
    Case,
    Contact,
    ContactReason,
    SlaPolicy,
)

MAX_MINUTES = 60 * 24 * 365  # one year: a longer target is a typo
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
MAX_HOLIDAYS = 1000
# Reasons other features open cases with: deactivating or deleting them would make those features fail.
PROTECTED_REASONS = {"complaint": "the feedback feature opens service-recovery cases with it"}
# How sla.policy_for picks a case's policy: the first step with an active policy wins.
LOOKUP_ORDER = ("reason and priority", "reason, any priority", "priority, any reason", "default (any, any)")
POLICY_FIELDS = ("reason", "priority", "first_response_minutes", "resolution_minutes", "business_hours", "active")
CALENDAR_FIELDS = ("name", "timezone", "hours", "holidays")
REASON_FIELDS = ("label", "active")


class _Problems:
    """Collects every problem of one change, then raises one 422 whose details name each field."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, problem: str) -> None:
        self.items.append({"field": field, "problem": problem})

    def raise_if_any(self) -> None:
        if self.items:
            text = "; ".join(f"{i['field']}: {i['problem']}" for i in self.items)
            raise BadRequest(f"please correct: {text}", details=self.items)


def _unknown(changes: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(changes) - set(allowed))
    if extra:
        raise BadRequest(f"{', '.join(extra)}: not a setting here; use {', '.join(allowed)}",
                         details=[{"field": f, "problem": "unknown field"} for f in extra])


def _minutes(value: Any, field: str, problems: _Problems) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(field, "enter a whole number of minutes, e.g. 240")
        return None
    if not 1 <= value <= MAX_MINUTES:
        problems.add(field, f"must be between 1 and {MAX_MINUTES} minutes (one year)")
        return None
    return value


# -- SLA policies ---------------------------------------------------------------------------------------
def lookup_step(policy: SlaPolicy) -> int:
    """1..4: where the policy sits in the lookup order (1 = most specific)."""
    return 1 + 2 * (policy.reason is None) + (policy.priority is None)


def _priority_rank(priority: str | None) -> int:
    codes = [p.value for p in PRIORITY_ORDER]
    return codes.index(priority) if priority in codes else len(codes)


def list_policies(session: Session) -> list[SlaPolicy]:
    """All policies (active and not) in lookup order: most specific first."""
    rows = session.execute(select(SlaPolicy)).scalars().all()
    return sorted(rows, key=lambda p: (lookup_step(p), p.reason or "", _priority_rank(p.priority), p.id))


def policy_values(policy: SlaPolicy) -> dict[str, Any]:
    return {f: getattr(policy, f) for f in POLICY_FIELDS}


def _describe(reason: str | None, priority: str | None) -> str:
    return f"reason {reason or 'any'} and priority {priority or 'any'}"


def _check_policy(session: Session, values: dict[str, Any], policy_id: int | None,
                  before: dict[str, Any] | None) -> dict[str, Any]:
    problems = _Problems()
    out = dict(values)
    reason = values["reason"]
    if reason is not None:
        row = session.get(ContactReason, reason) if isinstance(reason, str) else None
        if row is None:
            problems.add("reason", f"no contact reason {reason!r}; pick one from the list or 'any reason'")
        elif not row.active and values["active"]:
            problems.add("reason", f"the reason {reason!r} is inactive; reactivate it first")
    priority = values["priority"]
    codes = [p.value for p in PRIORITY_ORDER]
    if priority is not None and priority not in codes:
        problems.add("priority", f"must be one of {', '.join(codes)} or any (got {priority!r})")
    first = _minutes(values["first_response_minutes"], "first_response_minutes", problems)
    resolution = _minutes(values["resolution_minutes"], "resolution_minutes", problems)
    if first is not None and resolution is not None and resolution < first:
        problems.add("resolution_minutes", f"must be at least the first-response target ({first} minutes)")
    out["first_response_minutes"], out["resolution_minutes"] = first, resolution
    for flag in ("business_hours", "active"):
        if not isinstance(values[flag], bool):
            problems.add(flag, "must be true or false")
    was_default = before is not None and before["reason"] is None and before["priority"] is None and before["active"]
    if was_default and not (reason is None and priority is None and values["active"] is True):
        field = "active" if values["active"] is not True else ("reason" if reason is not None else "priority")
        problems.add(field, "this is the default policy (any reason, any priority): it cannot be deactivated or "
                            "narrowed, or cases matching no other policy would get no due times; change its "
                            "minutes instead")
    if resolution is not None and values["business_hours"] is True and values["active"] is True:
        for cal in session.execute(select(BusinessCalendar)).scalars():
            if not _fits(cal, resolution):
                problems.add("resolution_minutes", f"the calendar {cal.name!r} is open too few hours to count "
                                                   f"{resolution} business minutes; shorten the target or count "
                                                   "it around the clock")
    problems.raise_if_any()
    dup = session.execute(select(SlaPolicy).where(
        SlaPolicy.reason.is_(None) if reason is None else SlaPolicy.reason == reason,
        SlaPolicy.priority.is_(None) if priority is None else SlaPolicy.priority == priority,
        SlaPolicy.id != (policy_id or 0),
    )).scalars().first()
    if dup is not None:  # NULLs never collide in the unique constraint, so the check is here
        state = "" if dup.active else ", inactive"
        message = (f"a policy for {_describe(reason, priority)} already exists (#{dup.id}{state}); "
                   "edit that policy instead")
        raise Conflict(message, details=[{"field": "reason", "problem": message},
                                         {"field": "priority", "problem": message}])
    return out


def _fits(cal: BusinessCalendar, minutes: int) -> bool:
    """Whether ``minutes`` of this calendar's open time can be counted (sla.Hours gives up after ten years)."""
    try:
        hours = sla.Hours.from_calendar(cal)
        if hours is not None:
            hours.add(utcnow(), minutes)
    except (ValueError, KeyError, TypeError):
        return False
    return True


def _audit(session: Session, actor: Actor, action: str, resource_type: str, resource_id: str | int,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    if before is not None and after is not None:
        changed = sorted(k for k in after if before.get(k) != after.get(k))
        details: dict[str, Any] = {"changed": changed, "before": {k: before[k] for k in changed},
                                   "after": {k: after[k] for k in changed}}
    else:
        details = {"before": before, "after": after}
    audit.record(session, actor, action, resource_type, resource_id, details=details)


def create_policy(session: Session, actor: Actor, *, reason: str | None, priority: str | None,
                  first_response_minutes: Any, resolution_minutes: Any, business_hours: bool = True) -> SlaPolicy:
    """Add a policy (active). The most specific active policy for a case wins (see ``LOOKUP_ORDER``)."""
    values = _check_policy(session, {"reason": reason, "priority": priority,
                                     "first_response_minutes": first_response_minutes,
                                     "resolution_minutes": resolution_minutes, "business_hours": business_hours,
                                     "active": True}, None, None)
    policy = SlaPolicy(**values)
    session.add(policy)
    session.flush()
    _audit(session, actor, "sla_policy.create", "sla_policy", policy.id, None, policy_values(policy))
    return policy


def update_policy(session: Session, actor: Actor, policy_id: int, **changes: Any) -> SlaPolicy:
    """Change any of ``POLICY_FIELDS`` (``active=False`` deactivates, ``True`` reactivates)."""
    _unknown(changes, POLICY_FIELDS)
    policy = get_or_404(session, SlaPolicy, policy_id, "SLA policy")
    before = policy_values(policy)
    values = _check_policy(session, {**before, **changes}, policy.id, before)
    if values == before:
        return policy
    for field, value in values.items():
        setattr(policy, field, value)
    session.flush()
    _audit(session, actor, "sla_policy.update", "sla_policy", policy.id, before, policy_values(policy))
    return policy


def deactivate_policy(session: Session, actor: Actor, policy_id: int) -> SlaPolicy:
    return update_policy(session, actor, policy_id, active=False)


# -- business calendars ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def list_calendars(session: Session) -> list[BusinessCalendar]:
    """The default calendar (no facility) first, then the facilities' calendars."""
    rows = session.execute(select(BusinessCalendar)).scalars().all()
    return sorted(rows, key=lambda c: (c.facility_id is not None, c.facility_id or 0, c.id))


def calendar_values(cal: BusinessCalendar) -> dict[str, Any]:
    return {"name": cal.name, "timezone": cal.timezone, "hours": dict(cal.hours or {}),
            "holidays": list(cal.holidays or [])}


def _check_hours(value: Any, problems: _Problems) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        problems.add("hours", 'give opening hours per ISO weekday, e.g. {"1": ["08:00", "17:00"]}')
        return {}
    out: dict[str, list[str]] = {}
    for key, span in value.items():
        day = int(key) if isinstance(key, int | str) and str(key).isdigit() else 0
        if day not in WEEKDAYS:
            problems.add(f"hours.{key}", 'weekdays are "1" (Monday) to "7" (Sunday)')
            continue
        if span is None:
            continue  # closed that day
        name = WEEKDAYS[day]
        if not (isinstance(span, list | tuple) and len(span) == 2 and all(isinstance(t, str) for t in span)):
            problems.add(f"hours.{day}", f'{name}: give opening and closing times, e.g. ["08:00", "17:00"]')
            continue
        opens, closes = (t.strip() for t in span)
        bad = [t for t in (opens, closes) if not TIME_RE.match(t)]
        if bad:
            problems.add(f"hours.{day}", f"{name}: {bad[0]!r} is not a time; use HH:MM, 24-hour (e.g. 08:00)")
        elif closes <= opens:
            problems.add(f"hours.{day}", f"{name}: closing time ({closes}) must be after opening time ({opens})")
        else:
            out[str(day)] = [opens, closes]
    if not out and not any(i["field"].startswith("hours") for i in problems.items):
        problems.add("hours", "the calendar has no open day; open at least one day of the week")
    return dict(sorted(out.items()))


def _check_holidays(value: Any, problems: _Problems) -> list[str]:
    if not isinstance(value, list | tuple):
        problems.add("holidays", "give a list of dates (YYYY-MM-DD)")
        return []
    days: set[dt.date] = set()
    for item in value:
        text = item.strip() if isinstance(item, str) else item
        try:
            if not (isinstance(text, str) and DATE_RE.match(text)):
                raise ValueError
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            problems.add("holidays", f"{item!r} is not a date; use YYYY-MM-DD, e.g. 2025-12-25")
    if len(days) > MAX_HOLIDAYS:
        problems.add("holidays", f"at most {MAX_HOLIDAYS} holidays")
    return [d.isoformat() for d in sorted(days)]


def _check_calendar(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    problems = _Problems()
    name = values["name"].strip() if isinstance(values["name"], str) else ""
    if not 1 <= len(name) <= 120:
        problems.add("name", "give the calendar a name (at most 120 characters)")
    tz = values["timezone"].strip() if isinstance(values["timezone"], str) else ""
    if tz not in timezones():
        problems.add("timezone", f"{values['timezone']!r} is not an IANA time zone; use e.g. America/New_York")
    hours = _check_hours(values["hours"], problems)
    holidays = _check_holidays(values["holidays"], problems)
    out = {"name": name, "timezone": tz, "hours": hours, "holidays": holidays}
    if not problems.items:
        longest = session.execute(select(func.max(SlaPolicy.resolution_minutes)).where(
            SlaPolicy.active.is_(True), SlaPolicy.business_hours.is_(True))).scalar_one_or_none()
        if longest and not _fits(BusinessCalendar(**out), int(longest)):
            problems.add("hours", f"too few open hours: an active policy's target of {longest} business minutes "
                                  "could not be counted; open more hours or shorten that target")
    problems.raise_if_any()
    return out


def update_calendar(session: Session, actor: Actor, calendar_id: int, **changes: Any) -> BusinessCalendar:
    """Change a calendar's name, timezone, hours (the whole week) or holidays (the whole list)."""
    _unknown(changes, CALENDAR_FIELDS)
    cal = get_or_404(session, BusinessCalendar, calendar_id, "business calendar")
    before = calendar_values(cal)
    values = _check_calendar(session, {**before, **changes})
    if values == before:
        return cal
    for field, value in values.items():
        setattr(cal, field, value)
    session.flush()
    _audit(session, actor, "business_calendar.update", "business_calendar", cal.id, before, calendar_values(cal))
    return cal


# -- contact reasons ------------------------------------------------------------------------------------
def list_reasons(session: Session) -> list[ContactReason]:
    """All reasons, active and not, in their display order."""
    return list(session.execute(select(ContactReason).order_by(ContactReason.sort_order, ContactReason.code))
                .scalars())


def reason_values(reason: ContactReason) -> dict[str, Any]:
    return {"code": reason.code, "label": reason.label, "active": reason.active, "sort_order": reason.sort_order}


def reason_usage(session: Session) -> dict[str, dict[str, int]]:
    """Per reason code: how many cases, contacts, SLA policies and staff skills use it."""
    usage: dict[str, dict[str, int]] = {}
    for what, column in (("cases", Case.reason), ("contacts", Contact.reason), ("SLA policies", SlaPolicy.reason)):
        for code, n in session.execute(select(column, func.count()).where(column.is_not(None)).group_by(column)):
            usage.setdefault(str(code), {})[what] = int(n)
    for skills in session.execute(select(Staff.reasons)).scalars():
        for code in set(skills or []):
            bucket = usage.setdefault(str(code), {})
            bucket["staff skills"] = bucket.get("staff skills", 0) + 1
    return usage


_SINGULAR = {"cases": "case", "contacts": "contact", "SLA policies": "SLA policy", "staff skills": "staff skill"}


def usage_text(used: Mapping[str, int]) -> str:
    """{"cases": 1, "SLA policies": 2} -> "1 case, 2 SLA policies"."""
    return ", ".join(f"{n} {what if n != 1 else _SINGULAR.get(what, what)}" for what, n in used.items())


def _label(value: Any, problems: _Problems) -> str:
    label = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(label) <= 120:
        problems.add("label", "give a label of 1 to 120 characters, e.g. Billing")
    return label


def create_reason(session: Session, actor: Actor, *, code: Any, label: Any) -> ContactReason:
    """Add an active reason at the end of the list."""
    problems = _Problems()
    code = code.strip() if isinstance(code, str) else ""
    if not CODE_RE.match(code):
        problems.add("code", "2 to 40 characters: lower-case letters, digits and _, starting with a letter "
                             "(e.g. lab_results)")
    label = _label(label, problems)
    problems.raise_if_any()
    existing = session.get(ContactReason, code)
    if existing is not None:
        state = "" if existing.active else " (inactive: reactivate it instead)"
        message = f"the reason code {code!r} already exists{state}"
        raise Conflict(message, details=[{"field": "code", "problem": message}])
    last = session.execute(select(func.max(ContactReason.sort_order))).scalar_one_or_none()
    row = ContactReason(code=code, label=label, active=True, sort_order=(last or 0) + 1)
    session.add(row)
    session.flush()
    _audit(session, actor, "contact_reason.create", "contact_reason", code, None, reason_values(row))
    return row


def update_reason(session: Session, actor: Actor, code: str, **changes: Any) -> ContactReason:
    """Rename (``label``), deactivate (``active=False``) or reactivate a reason. The code never changes."""
    _unknown(changes, REASON_FIELDS)
    row = get_or_404(session, ContactReason, code, "contact reason")
    before = reason_values(row)
    problems = _Problems()
    label = _label(changes.get("label", row.label), problems)
    active = changes.get("active", row.active)
    if not isinstance(active, bool):
        problems.add("active", "must be true or false")
    elif not active and code in PROTECTED_REASONS:
        problems.add("active", f"{code!r} cannot be deactivated: {PROTECTED_REASONS[code]}")
    problems.raise_if_any()
    if (label, active) == (row.label, row.active):
        return row
    row.label, row.active = label, active
    session.flush()
    _audit(session, actor, "contact_reason.update", "contact_reason", code, before, reason_values(row))
    return row


def deactivate_reason(session: Session, actor: Actor, code: str) -> ContactReason:
    return update_reason(session, actor, code, active=False)


def delete_reason(session: Session, actor: Actor, code: str) -> None:
    """Delete a reason nothing uses (a mistake just added); a reason in use is deactivated instead."""
    row = get_or_404(session, ContactReason, code, "contact reason")
    if code in PROTECTED_REASONS:
        raise Conflict(f"{code!r} cannot be deleted: {PROTECTED_REASONS[code]}")
    used = reason_usage(session).get(code, {})
    if used:
        raise Conflict(f"the reason {code!r} is in use ({usage_text(used)}); deactivate it instead: it stays on past "
                       "records but cannot be chosen for new ones", details={"in_use": used})
    before = reason_values(row)
    session.delete(row)
    session.flush()
    _audit(session, actor, "contact_reason.delete", "contact_reason", code, before, None)
