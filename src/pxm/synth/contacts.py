"""Step "contacts": a year of service-desk contacts and cases for the patients of this run.

About two contacts per patient (≈40,000 for the 20,000-patient demo), from a subset of patients. Arrivals
follow the week (Monday peak, quiet weekends) and the day (mid-morning and early-afternoon peaks, local
time). Each case starts with a first contact (5% outbound); whether it is resolved there depends on the
reason and on the agent (agents differ by about ±10 points). Some resolved cases bring a repeat contact
within the week (half reopen the case, half open a new one); unresolved cases get follow-ups until
resolved. Follow-ups and repeats happen in the day's hours (07:00-20:00 local). Phone and chat contacts
queue, and a patient whose patience runs out abandons and calls back. FCR lands around 65-80% and varies by
agent and reason. Each case gets the history (``case_events``) the desk would write for its contacts, and
its SLA escalations cycle by cycle, each acknowledged by the supervisor it names within hours of their working
day (those from the last hours before the end, or from the evening before, still wait). Written with SQLAlchemy
Core in bulk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Table, func, insert, select

from pxm.operations.routing.service import reroute_queue
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.service import enqueue_many
from pxm.platform.people.models import Patient, Staff
from pxm.practices.resolution import sla
from pxm.practices.resolution.models import Case, CaseEvent, Contact, Escalation
from pxm.practices.resolution.tasks import raised
from pxm.synth.org import ORG_TIMEZONE, OrgRefs
from pxm.synth.registry import SynthContext, register_step

# No sealed columns in these tables: the mapped tables themselves serve Core inserts.
CASES = cast(Table, Case.__table__)
CONTACTS = cast(Table, Contact.__table__)
EVENTS = cast(Table, CaseEvent.__table__)
ESCALATIONS = cast(Table, Escalation.__table__)

# reason: (share of cases, chance the first contact resolves it, chance of a repeat after a resolution)
REASONS: dict[str, tuple[float, float, float]] = {
    "appointment_scheduling": (0.30, 0.93, 0.05), "billing": (0.18, 0.80, 0.12),
    "prescription_refill": (0.14, 0.88, 0.07), "test_results": (0.12, 0.84, 0.09),
    "referral": (0.07, 0.76, 0.12), "records_request": (0.06, 0.90, 0.05),
    "medical_advice": (0.06, 0.72, 0.14), "complaint": (0.03, 0.58, 0.18), "other": (0.04, 0.86, 0.06),
}
CHANNELS = ("phone", "chat", "portal", "email", "sms", "walk_in")
CHANNEL_SHARE = (0.52, 0.16, 0.13, 0.09, 0.05, 0.05)
HANDLE_MINUTES = {"phone": 6.5, "chat": 9.0, "portal": 3.5, "email": 4.0, "sms": 2.0, "walk_in": 8.0}
WEEKDAY = (1.25, 1.1, 1.0, 1.0, 0.95, 0.22, 0.08)  # Monday..Sunday
HOURS = [0, 0, 0, 0, 0, 0, 0, 2, 8, 10, 9, 7, 6, 8, 8, 7, 5, 3, 1, 0.5, 0.3, 0, 0, 0]
TZ = ZoneInfo(ORG_TIMEZONE)
CLOSE_AFTER = dt.timedelta(days=3)  # a resolved case is closed three days later
CODES = {"appointment_scheduling": "appointment_booked", "billing": "billing_corrected",
         "prescription_refill": "refill_sent", "test_results": "results_explained", "referral": "referral_made",
         "records_request": "records_sent", "medical_advice": "clinical_callback", "complaint": "complaint_resolved",
         "other": "answered"}


@dataclass
class DeskCase:
    patient_id: int
    reason: str
    channel: str
    opened_at: dt.datetime
    agent: int | None
    contacts: list[dict[str, Any]] = field(default_factory=list)
    resolved_at: dt.datetime | None = None
    reopened: int = 0
    status: str = "new"
    cycles: list[tuple[dt.datetime, dt.datetime | None]] = field(default_factory=list)  # see ``cycles_of``
    # a case the desk opened itself (service recovery, ``synth.recovery``): its source, team, priority and
    # summary, when routing assigned it (before any contact), and the note of its resolution
    source: str = "contact"
    team: str | None = None
    priority: str = "normal"
    summary: str | None = None
    assigned_at: dt.datetime | None = None
    resolve_note: str | None = None

    def settle(self, cutoff: dt.datetime) -> None:
        """Where the case stands at ``cutoff``, from its contacts: its SLA cycles, resolution and reopenings;
        closed three days after it was resolved; in progress once an agent has handled a contact; else assigned
        when routing gave it to someone, or new and nobody's."""
        self.cycles = cycles_of(self.opened_at, self.contacts)
        self.resolved_at, self.reopened = self.cycles[-1][1], len(self.cycles) - 1
        if self.resolved_at is not None:
            self.status = "closed" if cutoff - self.resolved_at > CLOSE_AFTER else "resolved"
        elif any(c["agent_id"] for c in self.contacts):
            self.status = "in_progress"
        elif self.assigned_at is not None:
            self.status = "assigned"
        else:
            self.status, self.agent = "new", None  # nobody has taken it (waiting, or the patient hung up)


class _Maker:
    def __init__(self, rng: np.random.Generator, agents: list[int], as_of: dt.datetime) -> None:
        self.rng = rng
        self.agents = agents
        # agent differences: resolution skill and handling speed
        self.skill = dict(zip(agents, np.clip(rng.normal(1.0, 0.08, len(agents)), 0.8, 1.15), strict=True))
        self.speed = dict(zip(agents, np.clip(rng.normal(1.0, 0.15, len(agents)), 0.7, 1.4), strict=True))
        self.as_of = as_of

    def contact(self, case: DeskCase, at: dt.datetime, *, channel: str, direction: str, agent: int,
                resolved: bool) -> dt.datetime:
        rng = self.rng
        queued = answered = None
        if direction == "inbound" and channel in ("phone", "chat"):
            hour = at.astimezone(TZ).hour
            busy = 1.0 + HOURS[hour] / 10
            # most contacts are picked up at once; the rest wait longer when the hour is busy
            wait = float(rng.uniform(0, 8)) if rng.random() < 0.55 else \
                float(rng.exponential(30 if channel == "phone" else 20) * busy)
            patience = float(rng.exponential(420))
            if patience < wait:  # gave up in the queue, then tried again a few minutes later
                case.contacts.append(dict(channel=channel, direction="inbound", agent_id=None, started_at=at,
                                          queued_at=at, answered_at=None, ended_at=at + dt.timedelta(seconds=patience),
                                          abandoned=True, resolved=False))
                at = at + dt.timedelta(seconds=patience + float(rng.uniform(120, 900)))
                wait = float(rng.exponential(20))
            queued, answered = at, at + dt.timedelta(seconds=wait)
        minutes = float(rng.lognormal(np.log(HANDLE_MINUTES[channel] * self.speed[agent]), 0.45))
        start = answered or at
        end = start + dt.timedelta(minutes=minutes)
        case.contacts.append(dict(channel=channel, direction=direction, agent_id=agent, started_at=at,
                                  queued_at=queued, answered_at=answered, ended_at=end, abandoned=False,
                                  resolved=resolved))
        return end


def daytime(at: dt.datetime) -> dt.datetime:
    """A follow-up or repeat drawn at night happens in the morning instead (from 08:00 local, spread over two
    hours by the minute it was drawn at): patients call, and agents call back, in the day's hours (07:00-20:00)."""
    local = at.astimezone(TZ)
    if 7 <= local.hour < 20:
        return at
    day = local.date() + dt.timedelta(days=1 if local.hour >= 20 else 0)
    spread = dt.timedelta(minutes=2 * local.minute, seconds=local.second)
    return (dt.datetime.combine(day, dt.time(8), TZ) + spread).astimezone(dt.UTC)


def _arrivals(rng: np.random.Generator, n: int, start: dt.date) -> list[dt.datetime]:
    days = np.arange(365)
    w = np.array(WEEKDAY)[(start.weekday() + days) % 7]
    day_idx = rng.choice(365, size=n, p=w / w.sum())
    hours = np.array(HOURS, dtype=float)
    hour_idx = rng.choice(24, size=n, p=hours / hours.sum())
    secs = rng.uniform(0, 3600, size=n)
    out = []
    for d, h, s in zip(day_idx, hour_idx, secs, strict=True):
        local = dt.datetime.combine(start + dt.timedelta(days=int(d)), dt.time(int(h)), TZ)
        out.append((local + dt.timedelta(seconds=float(s))).astimezone(dt.UTC))
    return sorted(out)


def _arrivals_until(rng: np.random.Generator, n: int, start: dt.date, since: dt.datetime,
                    until: dt.datetime) -> list[dt.datetime]:
    """Arrivals in [since, until) at the year's rate: ``n`` cases over the 365 days from ``start``, shaped by
    the local weekday and hour (a Poisson count per hour). The demo's "day in progress"."""
    days = np.arange(365)
    year_weight = float(np.array(WEEKDAY)[(start.weekday() + days) % 7].sum())
    hour_total = float(sum(HOURS))
    out: list[dt.datetime] = []
    at = since
    while at < until:
        stop = min(at + dt.timedelta(hours=1) - dt.timedelta(minutes=at.minute, seconds=at.second,
                                                              microseconds=at.microsecond), until)
        local = at.astimezone(TZ)
        rate = n / year_weight * WEEKDAY[local.weekday()] * HOURS[local.hour] / hour_total
        span = (stop - at).total_seconds()
        for _ in range(int(rng.poisson(rate * span / 3600))):
            out.append(at + dt.timedelta(seconds=float(rng.uniform(0, span))))
        at = stop
    return sorted(out)


def build_cases(rng: np.random.Generator, patient_ids: list[int], agents: list[int], start: dt.date,
                as_of: dt.datetime, n_cases: int, until: dt.datetime | None = None) -> list[DeskCase]:
    """A year of cases up to ``as_of`` (midnight); with ``until``, the day goes on to that moment: contacts
    still being handled then have no end yet, and patients still waiting leave unassigned new cases."""
    maker = _Maker(rng, agents, as_of)
    arrivals = _arrivals(rng, n_cases, start)
    cutoff = as_of
    if until is not None and until > as_of:
        arrivals += _arrivals_until(rng, n_cases, start, as_of, until)
        cutoff = until
    reasons = list(REASONS)
    shares = np.array([REASONS[r][0] for r in reasons])
    # a few thousand patients make most contacts: draw case owners from ~30% of the patients
    pool = rng.choice(patient_ids, size=max(1, int(len(patient_ids) * 0.3)), replace=False)
    cases: list[DeskCase] = []
    for at in arrivals:
        reason = reasons[int(rng.choice(len(reasons), p=shares / shares.sum()))]
        channel = CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNEL_SHARE))]
        agent = agents[int(rng.integers(len(agents)))]
        case = DeskCase(int(pool[int(rng.integers(len(pool)))]), reason, channel, at, agent)
        outbound = rng.random() < 0.05
        p_first = REASONS[reason][1] * maker.skill[agent] * (0.9 if channel in ("email", "portal", "sms") else 1.0)
        first_resolves = (not outbound) and rng.random() < min(p_first, 0.99)
        end = maker.contact(case, at, channel="phone" if outbound else channel,
                            direction="outbound" if outbound else "inbound", agent=agent, resolved=first_resolves)
        if first_resolves:
            case.resolved_at = end
        else:  # follow-ups until resolved (by the third at the latest): callbacks and the patient's own calls
            follow_ups = int(rng.integers(1, 4))
            for k in range(follow_ups):
                at2 = daytime(end + dt.timedelta(hours=float(rng.uniform(2, 72))))
                last = rng.random() < 0.6 or k == follow_ups - 1
                direction = "outbound" if rng.random() < 0.5 else "inbound"
                end = maker.contact(case, at2, channel="phone" if direction == "outbound" else channel,
                                    direction=direction, agent=agent, resolved=last)
                if last:
                    case.resolved_at = end
                    break
        cases.append(case)
        repeat_p = REASONS[reason][2] * (2.0 - maker.skill[agent])
        if case.resolved_at is not None and rng.random() < repeat_p:
            at3 = daytime(case.resolved_at + dt.timedelta(hours=float(rng.uniform(4, 150))))
            agent2 = agents[int(rng.integers(len(agents)))]
            if rng.random() < 0.5:  # the repeat reopens the case
                case.reopened += 1
                end = maker.contact(case, at3, channel=channel, direction="inbound", agent=agent2, resolved=True)
                case.resolved_at = end
            else:  # the repeat opens a new case
                new = DeskCase(case.patient_id, reason, channel, at3, agent2)
                new.resolved_at = maker.contact(new, at3, channel=channel, direction="inbound", agent=agent2,
                                                resolved=True)
                cases.append(new)
    kept = []
    for case in cases:  # nothing after "now": later contacts are dropped, their cases stay open
        waiting = False
        contacts = []
        first = case.contacts[0] if case.contacts else None
        if until is not None and first is not None and first["direction"] == "inbound" and \
                first["channel"] in ("email", "portal", "sms") and first["started_at"] <= cutoff and \
                first["started_at"] > cutoff - dt.timedelta(minutes=float(rng.exponential(180))):
            case.contacts = []  # a message not answered yet: in the queue until an agent picks it up
            waiting = True
        for c in case.contacts:
            if c["started_at"] > cutoff:
                continue
            if c["ended_at"] > cutoff:  # still going on at the cutoff
                if c["answered_at"] is not None and c["answered_at"] > cutoff or c["agent_id"] is None:
                    waiting = True  # in the queue: not answered yet
                    continue
                c = {**c, "ended_at": None, "resolved": False}
            contacts.append(c)
        case.contacts = contacts
        if not contacts and not waiting:
            continue
        case.settle(cutoff)  # a case nobody has taken is new and unassigned: the live queue shows it
        kept.append(case)
    return kept


def cycles_of(opened_at: dt.datetime, contacts: list[dict[str, Any]]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """The case's SLA cycles from the contacts made by the cutoff: (start, resolved at, or None while open). The
    first starts when the case opens; as the service desk does it, an answered inbound contact reopens a resolved
    case and starts the next. A repeat made after the cutoff has not reopened it yet."""
    cycles: list[tuple[dt.datetime, dt.datetime | None]] = [(opened_at, None)]
    for c in contacts:
        if cycles[-1][1] is not None and c["direction"] == "inbound" and not c["abandoned"]:
            cycles.append((c["started_at"], None))
        if c["resolved"] and c["ended_at"] is not None:
            cycles[-1] = (cycles[-1][0], c["ended_at"])
    return cycles


def _due(hours: sla.Hours | None, start: dt.datetime, minutes: int) -> dt.datetime:
    """An SLA target's due time: ``minutes`` after ``start``, counted in business hours when given."""
    return hours.add(start, minutes) if hours is not None else start + dt.timedelta(minutes=minutes)


def _escalations(case: DeskCase, first_response: tuple[dt.datetime, dt.datetime | None],
                 resolution_dues: list[dt.datetime], as_of: dt.datetime,
                 supervisor: int | None) -> list[dict[str, Any]]:
    """The SLA escalations of a case, as ``sla.check`` writes them when a target passes unmet: the first
    response (due, answered at) and each cycle's resolution (``resolution_dues``, one per cycle); each raises
    the priority one step from where the last left it."""
    fr_due, answered = first_response
    late = [("first_response", 0, fr_due)] if (answered or as_of) > fr_due else []
    late += [("resolution", k, due) for k, ((_, resolved), due) in enumerate(zip(case.cycles, resolution_dues,
                                                                                 strict=True))
             if (resolved or as_of) > due]
    rows, priority = [], case.priority
    for target, cycle, due in sorted(late, key=lambda x: x[2]):
        seen = _acknowledged(due) if supervisor is not None else None
        rows.append(dict(target=target, cycle=cycle, due_at=due, escalated_at=due, previous_priority=priority,
                         new_priority=raised(priority), supervisor_staff_id=supervisor,
                         acknowledged_at=seen if seen is not None and seen <= as_of else None, job_id=None))
        priority = raised(priority)
    return rows


# what a supervisor wrote when acknowledging an escalation (the case event's note)
ACK_NOTES = ("called the patient back", "reassigned to a colleague with room", "reviewed with the agent",
             "patient informed of the delay", "escalated to the department lead")


def _acknowledged(escalated_at: dt.datetime) -> dt.datetime:
    """When the named supervisor acknowledged an escalation: 20 minutes to about 6 hours into their working
    day (weekdays from 08:00, Chicago time), so that one from the evening or the weekend waits for the next
    morning. Derived from the time itself, not drawn, so that adding it left every other draw of the demo as
    it was; one not yet due at the end of the year is still waiting."""
    local = escalated_at.astimezone(TZ)
    if local.weekday() >= 5 or local.hour >= 17:  # the supervisors have gone home: the next weekday morning
        local = (local + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    elif local.hour < 8:
        local = local.replace(hour=8, minute=0, second=0, microsecond=0)
    while local.weekday() >= 5:
        local += dt.timedelta(days=1)
    delay = 20 + (escalated_at.minute * 61 + escalated_at.second * 7) % 340
    return (local + dt.timedelta(minutes=delay)).astimezone(dt.UTC)


def _insert_returning_ids(db: Any, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    result = db.connection().execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [int(i) for i in result.scalars().all()]


def _event(case_id: int, at: dt.datetime, kind: str, from_status: str | None, to_status: str | None, *,
           actor: str = "system:synth", note: str | None = None, **details: Any) -> dict[str, Any]:
    return dict(case_id=case_id, at=at, actor=actor, kind=kind, from_status=from_status, to_status=to_status,
                note=note, details=details)


def case_history(case_id: int, case: DeskCase, row: dict[str, Any], contact_ids: list[int],
                 escalations: list[tuple[dict[str, Any], int]],
                 usernames: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The ``case_events`` of a synthetic case, as the service desk writes them for the same contacts: opened,
    assigned to the agent who takes its first answered contact, one ``contact`` event per contact, in progress
    once answered, resolved in the contact that settles it, closed three days later, reopened (from resolved or
    closed) by an answered inbound repeat, and the SLA escalations (``_escalations``) with their ids. The
    case's row (status, agent, resolution and close times) is where the history ends."""
    events = [_event(case_id, case.opened_at, "opened", None, "new", reason=case.reason, priority=case.priority,
                     source=case.source)]
    status = "new"
    if case.assigned_at is not None and row["assigned_staff_id"] is not None:
        events.append(_event(case_id, case.assigned_at, "assign", "new", "assigned", actor="system:routing",
                             staff_id=row["assigned_staff_id"]))
        status = "assigned"
    resolved_at: dt.datetime | None = None
    for contact_id, x in zip(contact_ids, case.contacts, strict=True):
        answered = not x["abandoned"] and x["agent_id"] is not None
        start = x["started_at"]
        if resolved_at is not None and x["direction"] == "inbound" and not x["abandoned"]:
            if status == "resolved" and start - resolved_at > CLOSE_AFTER:
                events.append(_event(case_id, resolved_at + CLOSE_AFTER, "transition", "resolved", "closed"))
                status = "closed"
            events.append(_event(case_id, start, "reopen", status, "in_progress",
                                 note="reopened by a repeat contact"))
            status, resolved_at = "in_progress", None
        if answered and status == "new" and row["assigned_staff_id"] is not None:
            events.append(_event(case_id, start, "assign", "new", "assigned", staff_id=row["assigned_staff_id"]))
            status = "assigned"
        events.append(_event(case_id, start, "contact", None, None, contact_id=contact_id, channel=x["channel"],
                             direction=x["direction"]))
        if answered and status in ("new", "assigned"):
            events.append(_event(case_id, x["answered_at"] or start, "transition", status, "in_progress"))
            status = "in_progress"
        if x["resolved"] and x["ended_at"] is not None:
            events.append(_event(case_id, x["ended_at"], "transition", status, "resolved", note=case.resolve_note,
                                 resolution_code=CODES[case.reason]))
            status, resolved_at = "resolved", x["ended_at"]
    if row["closed_at"] is not None:
        events.append(_event(case_id, row["closed_at"], "transition", status, "closed"))
    for esc, esc_id in escalations:
        events.append(_event(case_id, esc["escalated_at"], "escalation", None, None, actor="system:sla",
                             target=esc["target"], cycle=esc["cycle"], escalation_id=esc_id,
                             priority=[esc["previous_priority"], esc["new_priority"]],
                             supervisor_staff_id=esc["supervisor_staff_id"]))
        if esc["acknowledged_at"] is not None:  # by the supervisor it names, as the escalations page records it
            who = (usernames or {}).get(esc["supervisor_staff_id"], "synth")
            events.append(_event(case_id, esc["acknowledged_at"], "acknowledge", None, None, actor=f"user:{who}",
                                 note=ACK_NOTES[esc_id % len(ACK_NOTES)], escalation_id=esc_id,
                                 target=esc["target"]))
    return sorted(events, key=lambda e: e["at"])  # stable: same-time events keep the desk's order


def write_cases(ctx: SynthContext, cases: list[DeskCase], as_of: dt.datetime, *, step: str
                ) -> tuple[list[int], int, int, int]:
    """Write ``cases`` in chunks as the desk would have: each case (in its patient's home facility, its SLA due
    times counted in that facility's hours, cycle by cycle), its contacts, its SLA escalations, its history, and
    for one still open the SLA checks. Returns the case ids (in order) and the contacts, events and escalations
    written."""
    org: OrgRefs = ctx.state["org"]
    db = ctx.db
    # a case belongs to the patient's home facility, as on the desk, and its SLA counts that facility's hours
    wanted = sorted({c.patient_id for c in cases})
    home = {pid: fac for i in range(0, len(wanted), 1000) for pid, fac in db.execute(
        select(Patient.id, Patient.home_facility_id).where(Patient.id.in_(wanted[i:i + 1000]))).tuples()}
    calendars = {fac: sla.calendar_for(db, fac) for fac in set(home.values())}
    policies: dict[tuple[str, str], tuple[int, int, bool]] = {}
    supervisors = sorted(org.supervisors)
    usernames = {int(i): str(u) for i, u in db.execute(select(Staff.id, Staff.username).where(
        Staff.id.in_(supervisors)))} if supervisors else {}
    n_contacts = n_events = n_esc = 0
    all_ids: list[int] = []
    for i in range(0, len(cases), ctx.chunk_size):
        chunk = cases[i:i + ctx.chunk_size]
        rows: list[dict[str, Any]] = []
        escalations: list[list[dict[str, Any]]] = []  # per case of the chunk
        for c in chunk:
            key = (c.reason, c.priority)
            if key not in policies:
                p = sla.policy_for(db, c.reason, c.priority)
                policies[key] = (p.first_response_minutes, p.resolution_minutes, p.business_hours) if p else (240, 1200, True)
            fr_min, res_min, business = policies[key]
            use = calendars[home[c.patient_id]] if business else None
            fr_due = _due(use, c.opened_at, fr_min)
            res_dues = [_due(use, start, res_min) for start, _ in c.cycles]  # each reopening starts a new cycle
            res_due = res_dues[-1]
            answered = [x for x in c.contacts if not x["abandoned"]]
            first_resp = (answered[0]["answered_at"] or answered[0]["started_at"]) if answered else None
            escalations.append(_escalations(c, (fr_due, first_resp), res_dues, as_of,
                                            supervisors[len(escalations) % len(supervisors)] if supervisors else None))
            rows.append(dict(
                external_ref=None, patient_id=c.patient_id, reason=c.reason,
                priority=escalations[-1][-1]["new_priority"] if escalations[-1] else c.priority, status=c.status,
                channel=c.channel, source=c.source, team=c.team, facility_id=home[c.patient_id],
                assigned_staff_id=c.agent,
                summary=c.summary, opened_at=c.opened_at, first_response_at=first_resp, resolved_at=c.resolved_at,
                closed_at=c.resolved_at + CLOSE_AFTER if c.status == "closed" and c.resolved_at else None,
                reopened_count=c.reopened, resolution_code=CODES[c.reason] if c.resolved_at else None,
                first_response_due_at=fr_due, resolution_due_at=res_due,
                first_response_breached=(first_resp or as_of) > fr_due,
                resolution_breached=bool((c.resolved_at or as_of) > res_due), updated_at=c.resolved_at or c.opened_at))
        ids = db.execute(insert(CASES).returning(CASES.c.id, sort_by_parameter_order=True), rows).scalars().all()
        all_ids += ids
        contact_rows, event_rows, esc_rows, checks = [], [], [], []
        for case_id, c, row, escs in zip(ids, chunk, rows, escalations, strict=True):
            if c.resolved_at is None:  # still open: its SLA targets are watched as any open case's are
                dues = {t: cast(dt.datetime, row[f"{t}_due_at"]) for t in sla.TARGETS}
                checks += sla.check_jobs(case_id, c.reopened, dues)
            for x in c.contacts:
                contact_rows.append(dict(external_id=None, patient_id=c.patient_id, case_id=case_id, reason=c.reason,
                                         outcome=None, created_at=x["started_at"], **x))
            esc_rows += [{**e, "case_id": case_id} for e in escs]
        contact_ids = _insert_returning_ids(db, CONTACTS, contact_rows)
        escalated: dict[int, list[tuple[dict[str, Any], int]]] = {}
        for e, esc_id in zip(esc_rows, _insert_returning_ids(db, ESCALATIONS, esc_rows), strict=True):
            escalated.setdefault(e["case_id"], []).append((e, esc_id))
        at = 0
        for case_id, c, row in zip(ids, chunk, rows, strict=True):
            event_rows += case_history(case_id, c, row, contact_ids[at:at + len(c.contacts)],
                                       escalated.get(case_id, []), usernames)
            at += len(c.contacts)
        if event_rows:
            db.connection().execute(insert(EVENTS), event_rows)
        enqueue_many(db, checks)
        n_contacts += len(contact_rows)
        n_events += len(event_rows)
        n_esc += len(esc_rows)
        ctx.progress(step, min(i + len(chunk), len(cases)), len(cases))
    return all_ids, n_contacts, n_events, n_esc


@register_step("contacts", order=45)
def load_contacts(ctx: SynthContext) -> dict[str, int]:
    """Service-desk cases and contacts for a year (about two contacts per patient of this run)."""
    org: OrgRefs = ctx.state["org"]
    db = ctx.db
    after = int(ctx.state.get("patients_after_id", 0))
    # later steps (feedback) take the cases of this run only: those with an id above this
    ctx.state["cases_after_id"] = int(db.execute(select(func.coalesce(func.max(Case.id), 0))).scalar_one())
    # in id order: the rows' order on disk differs between databases (PostgreSQL moves an updated row)
    patient_ids = [int(i) for (i,) in db.execute(select(Patient.id).where(Patient.id > after).order_by(Patient.id))]
    if not patient_ids or not org.agents:
        return {"cases": 0, "contacts": 0}
    start, end = ctx.window
    as_of = dt.datetime.combine(end, dt.time(0), dt.UTC)
    cases = build_cases(ctx.rng("contacts"), patient_ids, sorted(org.agents), start, as_of,
                        n_cases=int(len(patient_ids) * 1.45), until=ctx.until)
    _ids, n_contacts, n_events, n_esc = write_cases(ctx, cases, ctx.cutoff, step="contacts")
    counts = {"cases": len(cases), "contacts": n_contacts, "case_events": n_events, "escalations": n_esc}
    if ctx.until is not None:
        # the patients still waiting now go through routing, as a new case does: those an available agent can
        # take are assigned, the rest wait with the reason recorded and the queue's sweep scheduled
        counts["routed_now"] = reroute_queue(db, Actor.system("synth"), now=ctx.until)["assigned"]
    return counts
