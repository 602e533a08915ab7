"""SLA targets: pick the policy for a case, compute due times in business hours, schedule the checks.

Policy lookup goes from most to least specific: (reason, priority), (reason, any), (any, priority),
(any, any). With ``business_hours`` the minutes count only while the facility's calendar is open (its
own calendar, else the default one whose ``facility_id`` is NULL); otherwise they run around the clock.
Policies and calendars are read through ``reference.cached`` (a per-process copy, at most 10 s old).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.db.prebuilt import Batch
from pxm.platform.jobs.service import NewJob, enqueue_many
from pxm.practices.resolution import reference
from pxm.practices.resolution.models import BusinessCalendar, Case, SlaPolicy

SLA_JOB = "sla.check"
TARGETS = ("first_response", "resolution")


@dataclass(frozen=True)
class Hours:
    """Opening hours of one calendar, in its own time zone."""

    tz: ZoneInfo
    days: dict[int, tuple[dt.time, dt.time]]  # ISO weekday -> (open, close)
    holidays: frozenset[dt.date]

    @classmethod
    def from_calendar(cls, cal: BusinessCalendar | None) -> Hours | None:
        if cal is None:
            return None
        days: dict[int, tuple[dt.time, dt.time]] = {}
        for key, span in (cal.hours or {}).items():
            opens, closes = dt.time.fromisoformat(span[0]), dt.time.fromisoformat(span[1])
            if closes > opens:
                days[int(key)] = (opens, closes)
        holidays = frozenset(dt.date.fromisoformat(d) for d in (cal.holidays or []))
        return cls(ZoneInfo(cal.timezone), days, holidays)

    def add(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """``start`` plus ``minutes`` of open time (UTC in, UTC out)."""
        if not self.days:
            return start + dt.timedelta(minutes=minutes)
        remaining = dt.timedelta(minutes=minutes)
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(3660):  # ten years of days: a calendar with open hours always finishes sooner
            span = self.days.get(day.isoweekday())
            if span is not None and day not in self.holidays:
                opens = dt.datetime.combine(day, span[0], self.tz)
                closes = dt.datetime.combine(day, span[1], self.tz)
                begin = max(opens, local) if local.date() == day else opens
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(dt.UTC)
                    remaining -= available
            day += dt.timedelta(days=1)
        raise ValueError("business calendar has no open hours")


@dataclass(frozen=True)
class Policy:
    """One active SLA policy row, as a plain value (see ``reference``)."""

    reason: str | None
    priority: str | None
    first_response_minutes: int
    resolution_minutes: int
    business_hours: bool


@dataclass(frozen=True)
class Targets:
    """The active policies and the calendars (facility id -> hours; ``None`` is the default calendar)."""

    policies: dict[tuple[str | None, str | None], Policy]
    calendars: dict[int | None, Hours | None]

    def policy(self, reason: str, priority: str) -> Policy | None:
        for key in ((reason, priority), (reason, None), (None, priority), (None, None)):
            if key in self.policies:
                return self.policies[key]
        return None

    def calendar(self, facility_id: int | None) -> Hours | None:
        if facility_id is not None and self.calendars.get(facility_id) is not None:
            return self.calendars[facility_id]
        return self.calendars.get(None)


def _load_targets(session: Session) -> Targets:
    policies = {(p.reason, p.priority): Policy(p.reason, p.priority, p.first_response_minutes,
                                                p.resolution_minutes, bool(p.business_hours))
                for p in session.execute(select(SlaPolicy).where(SlaPolicy.active.is_(True))).scalars()}
    calendars: dict[int | None, Hours | None] = {}
    for cal in session.execute(select(BusinessCalendar).order_by(BusinessCalendar.id)).scalars():
        calendars.setdefault(cal.facility_id, Hours.from_calendar(cal))
    return Targets(policies, calendars)


reference.watch(SlaPolicy, BusinessCalendar)


def policies_and_calendars(session: Session) -> Targets:
    """SLA policies and calendars, read at most every ``reference.TTL`` seconds per process."""
    return reference.cached(session, "sla.targets", _load_targets)


def calendar_for(session: Session, facility_id: int | None) -> Hours | None:
    """The facility's calendar, else the default one (``facility_id`` NULL)."""
    return policies_and_calendars(session).calendar(facility_id)


def policy_for(session: Session, reason: str, priority: str) -> Policy | None:
    return policies_and_calendars(session).policy(reason, priority)


def due_times(session: Session, case: Case, start: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First-response and resolution due times for ``case`` counted from ``start``."""
    known = policies_and_calendars(session)
    policy = known.policy(case.reason, case.priority)
    if policy is None:
        return None, None
    hours = known.calendar(case.facility_id) if policy.business_hours else None
    if hours is None:
        return (start + dt.timedelta(minutes=policy.first_response_minutes),
                start + dt.timedelta(minutes=policy.resolution_minutes))
    return hours.add(start, policy.first_response_minutes), hours.add(start, policy.resolution_minutes)


def schedule_checks(session: Session, case: Case, *, targets: tuple[str, ...] = TARGETS,
                    moved: bool = False, batch: Batch | None = None) -> None:
    """Enqueue one ``sla.check`` job per target, due when the target is. One job per case, target and cycle;
    ``moved`` (the due times were recomputed, e.g. after a priority change) adds a check at the new time.
    The jobs are written in one statement (queued in ``batch`` if given); a job whose dedupe key exists
    already is left as it is."""
    dues = {"first_response": case.first_response_due_at, "resolution": case.resolution_due_at}
    enqueue_many(session, check_jobs(case.id, case.reopened_count, {t: dues[t] for t in targets}, moved=moved),
                 batch=batch)


def check_jobs(case_id: int, cycle: int, dues: Mapping[str, dt.datetime | None], *,
               moved: bool = False) -> list[NewJob]:
    """The ``sla.check`` jobs of a case's cycle, one per target with a due time (``dues``: target -> due);
    for writers that have the case's values but not the object (``schedule_checks``, bulk loads)."""
    rows = []
    for target, due in dues.items():
        if due is None:
            continue
        key = f"sla:{case_id}:{target}:{cycle}"
        if moved:
            key += f":{due.isoformat()}"
        rows.append(NewJob(SLA_JOB, {"case_id": case_id, "target": target, "cycle": cycle},
                           dedupe_key=key, run_after=due))
    return rows
