"""Contact-centre measures: AHT, ASA, abandonment, service level, repeat-contact rate, contacts per resolved case.

Definitions (all over the contacts that started in the selected days, grouped by the contact's own day,
agent, team, reason or channel):

- **AHT** (average handle time, seconds): mean of ``ended_at - (answered_at or started_at)`` over handled
  contacts (not abandoned, with an end time).
- **ASA** (average speed of answer, seconds): mean of ``answered_at - queued_at`` over queued contacts that
  were answered.
- **Offered** = queued contacts (phone/chat with ``queued_at``); **abandonment** = abandoned / offered.
- **Service level** = queued contacts answered within the target (default 20 s) / queued contacts that were
  answered or abandoned.
- **Repeat-contact rate** = repeat contacts / inbound contacts (abandoned excluded), where a contact is a
  repeat when the same patient had an earlier contact about the same reason that started within the
  window (default 7 days) before it.
- **Contacts per resolved case** = contacts of cases that are resolved or closed / those cases (a case is
  grouped by its first contact).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.practices.resolution.fcr import GROUPINGS, ContactRow, group_key, load_contacts, staff_names
from pxm.practices.resolution.models import DONE_STATUSES, Case


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _repeat_ids(rows: list[ContactRow], window_days: int) -> set[int]:
    window = dt.timedelta(days=window_days)
    history: dict[tuple[int, str], list[dt.datetime]] = defaultdict(list)
    repeats: set[int] = set()
    for r in sorted((r for r in rows if not r.abandoned), key=lambda r: (r.started_at, r.id)):
        series = history[(r.patient_id, r.reason)]
        if r.direction == "inbound" and series:
            i = bisect.bisect_left(series, r.started_at - window)
            if any(ts < r.started_at for ts in series[i:]):
                repeats.add(r.id)
        series.append(r.started_at)
    return repeats


def _measures(rows: list[ContactRow], repeats: set[int], target: dt.timedelta,
              case_sizes: dict[int, int], resolved_cases: set[int]) -> dict[str, object]:
    handled = [r for r in rows if not r.abandoned and r.ended_at is not None]
    aht = [(r.ended_at - (r.answered_at or r.started_at)).total_seconds() for r in handled if r.ended_at]
    queued = [r for r in rows if r.queued_at is not None]
    answered = [r for r in queued if r.answered_at is not None and not r.abandoned]
    asa = [(r.answered_at - r.queued_at).total_seconds() for r in answered if r.answered_at and r.queued_at]
    abandoned = sum(1 for r in queued if r.abandoned)
    within = sum(1 for r in answered if r.answered_at and r.queued_at and r.answered_at - r.queued_at <= target)
    inbound = [r for r in rows if r.direction == "inbound" and not r.abandoned]
    firsts = {r.case_id for r in rows if r.case_id in resolved_cases}
    return {
        "contacts": len(rows), "inbound": sum(1 for r in rows if r.direction == "inbound"),
        "handled": len(handled), "aht_seconds": _mean(aht), "offered": len(queued), "answered": len(answered),
        "abandoned": abandoned, "abandonment_rate": _rate(abandoned, len(queued)), "asa_seconds": _mean(asa),
        "answered_within_target": within, "service_level": _rate(within, len(answered) + abandoned),
        "repeat_contacts": sum(1 for r in inbound if r.id in repeats),
        "repeat_contact_rate": _rate(sum(1 for r in inbound if r.id in repeats), len(inbound)),
        "resolved_cases": len(firsts),
        "contacts_per_resolved_case": (round(sum(case_sizes[c] for c in firsts) / len(firsts), 2)
                                       if firsts else None),
    }


def contacts_report(session: Session, *, as_of: dt.datetime, start: dt.date | None = None,
                    end: dt.date | None = None, by: str | None = None, window_days: int = 7,
                    service_level_seconds: int = 20, tz: str = "UTC") -> dict[str, object]:
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of: {', '.join(GROUPINGS)}")
    zone = ZoneInfo(tz)
    every = load_contacts(session, until=as_of)
    repeats = _repeat_ids(every, window_days)
    case_sizes: dict[int, int] = defaultdict(int)
    first_of: dict[int, ContactRow] = {}
    for r in every:
        case_sizes[r.case_id] += 1
        if r.case_id not in first_of:
            first_of[r.case_id] = r  # rows come ordered by start time
    resolved = {int(i) for (i,) in session.execute(
        select(Case.id).where(Case.status.in_([s.value for s in DONE_STATUSES]), Case.resolved_at <= as_of))}
    # a resolved case is counted once, on the row of its first contact
    resolved_firsts = {first_of[c].id for c in resolved if c in first_of}

    def in_range(r: ContactRow) -> bool:
        day = r.started_at.astimezone(zone).date()
        return (start is None or day >= start) and (end is None or day <= end)

    rows = [r for r in every if in_range(r)]
    target = dt.timedelta(seconds=service_level_seconds)

    def measure(subset: list[ContactRow]) -> dict[str, object]:
        cases = {r.case_id for r in subset if r.id in resolved_firsts}
        return _measures(subset, repeats, target, case_sizes, cases)

    report: dict[str, object] = {"as_of": as_of.isoformat(), "from": start and start.isoformat(),
                                 "to": end and end.isoformat(), "window_days": window_days,
                                 "service_level_seconds": service_level_seconds, **measure(rows),
                                 "by": by, "groups": []}
    if by is not None:
        staff = staff_names(session)
        grouped: dict[str, list[ContactRow]] = defaultdict(list)
        for r in rows:
            grouped[group_key(by, agent_id=r.agent_id, reason=r.reason, channel=r.channel,
                              started_at=r.started_at, staff=staff, tz=zone)].append(r)
        report["groups"] = [{"key": k, **measure(v)} for k, v in sorted(grouped.items())]
    return report
