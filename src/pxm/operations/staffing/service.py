"""Staffing per hour of the week from the contact history (Erlang C per hour; see ``erlang.py``).

The volume is the number of inbound phone and chat contacts (the channels that queue) that started in each
hour of the week, averaged over the weeks observed in the window. The average handle time comes from the
same contacts (answered to ended; started to ended when no answer time was recorded) unless the caller
gives one. Only timestamps are read: no patient data.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.operations.staffing.erlang import StaffingInputError, calculate
from pxm.platform.db.base import utcnow
from pxm.practices.resolution.models import QUEUED_CHANNELS, Contact, Direction

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_AHT_SECONDS = 300.0
MAX_HANDLE_SECONDS = 4 * 3600  # a contact "open" longer than this is a data error, not handle time


@dataclass(frozen=True)
class HourProposal:
    weekday: int  # 0 = Monday
    hour: int
    contacts: float
    traffic_erlangs: float
    required_agents: int
    rostered_agents: int
    service_level: float
    asa_seconds: float | None
    occupancy: float

    def to_dict(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "weekday_name": WEEKDAYS[self.weekday], "hour": self.hour,
                "contacts": round(self.contacts, 2), "traffic_erlangs": round(self.traffic_erlangs, 3),
                "required_agents": self.required_agents, "rostered_agents": self.rostered_agents,
                "service_level": round(self.service_level, 4),
                "asa_seconds": None if self.asa_seconds is None else round(self.asa_seconds, 2),
                "occupancy": round(self.occupancy, 3)}


@dataclass(frozen=True)
class StaffingProposal:
    window_start: dt.datetime
    window_end: dt.datetime
    timezone: str
    weeks_observed: float
    contacts_observed: int
    aht_seconds: float
    aht_source: str  # "history", "given" or "default"
    target_seconds: float
    target_service_level: float
    shrinkage: float
    hours: list[HourProposal] = field(default_factory=list)

    def grid(self) -> list[list[HourProposal]]:
        """Seven rows (Monday first) of 24 hours."""
        return [self.hours[d * 24:(d + 1) * 24] for d in range(7)]

    @property
    def peak(self) -> HourProposal | None:
        return max(self.hours, key=lambda h: (h.rostered_agents, h.contacts), default=None)

    @property
    def rostered_agent_hours(self) -> int:
        return sum(h.rostered_agents for h in self.hours)

    def to_dict(self) -> dict[str, Any]:
        peak = self.peak
        return {
            "window_start": self.window_start.isoformat(timespec="seconds"),
            "window_end": self.window_end.isoformat(timespec="seconds"),
            "timezone": self.timezone, "weeks_observed": round(self.weeks_observed, 2),
            "contacts_observed": self.contacts_observed, "aht_seconds": round(self.aht_seconds, 1),
            "aht_source": self.aht_source, "target_seconds": self.target_seconds,
            "target_service_level": self.target_service_level, "shrinkage": self.shrinkage,
            "rostered_agent_hours_per_week": self.rostered_agent_hours,
            "peak": None if peak is None else peak.to_dict(),
            "hours": [h.to_dict() for h in self.hours],
        }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StaffingInputError(f"timezone {name!r} is unknown; use an IANA name such as America/New_York") from None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def propose(
    session: Session,
    *,
    weeks: int = 8,
    target_seconds: float = 20.0,
    target_service_level: float = 0.8,
    shrinkage: float = 0.3,
    aht_seconds: float | None = None,
    timezone: str = "UTC",
    now: dt.datetime | None = None,
) -> StaffingProposal:
    """Agents needed (and rostered after shrinkage) for each of the 168 hours of the week."""
    if not 1 <= weeks <= 104:
        raise StaffingInputError("weeks must be between 1 and 104")
    if aht_seconds is not None and (not math.isfinite(aht_seconds) or aht_seconds <= 0):
        raise StaffingInputError("aht_seconds must be more than 0 seconds (or leave it out to use the history)")
    tz = _zone(timezone)
    end = now or utcnow()
    start = end - dt.timedelta(weeks=weeks)
    rows = session.execute(
        select(Contact.started_at, Contact.answered_at, Contact.ended_at)
        .where(Contact.direction == Direction.inbound.value, Contact.channel.in_(sorted(QUEUED_CHANNELS)),
               Contact.started_at >= start, Contact.started_at < end)
    ).all()
    counts = [0] * 168
    handle: list[float] = []
    first: dt.datetime | None = None
    for started_raw, answered, ended_raw in rows:
        started = _aware(started_raw)
        assert started is not None
        first = started if first is None or started < first else first
        local = started.astimezone(tz)
        counts[local.weekday() * 24 + local.hour] += 1
        ended = _aware(ended_raw)
        begin = _aware(answered) or started
        if ended is not None and ended > begin:
            secs = (ended - begin).total_seconds()
            if secs <= MAX_HANDLE_SECONDS:
                handle.append(secs)
    # Weeks observed: the whole or partial weeks from the first contact in the window to its end (>= 1).
    span = (end - first).total_seconds() / (7 * 86400) if first is not None else float(weeks)
    weeks_observed = float(max(1, min(weeks, math.ceil(round(span, 6)))))
    if aht_seconds is not None:
        aht, source = float(aht_seconds), "given"
    elif handle:
        aht, source = sum(handle) / len(handle), "history"
    else:
        aht, source = DEFAULT_AHT_SECONDS, "default"
    hours: list[HourProposal] = []
    for i, n in enumerate(counts):
        volume = n / weeks_observed
        r = calculate(volume, 60, aht, target_seconds, target_service_level, shrinkage=shrinkage)
        hours.append(HourProposal(
            weekday=i // 24, hour=i % 24, contacts=volume, traffic_erlangs=r.traffic_erlangs,
            required_agents=r.required_agents or 0, rostered_agents=r.rostered_agents or 0,
            service_level=r.service_level,
            asa_seconds=r.asa_seconds if math.isfinite(r.asa_seconds) else None, occupancy=r.occupancy))
    return StaffingProposal(window_start=start, window_end=end, timezone=timezone, weeks_observed=weeks_observed,
                            contacts_observed=len(rows), aht_seconds=aht, aht_source=source,
                            target_seconds=target_seconds, target_service_level=target_service_level,
                            shrinkage=shrinkage, hours=hours)
