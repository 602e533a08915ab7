"""Step "recovery": the closed loop of the demo year, the service-recovery cases its survey answers opened.

Every response of this run that fires a closed-loop trigger (``loop.response_triggers``: a detractor, a CSAT of
1-2, "not resolved", a strongly negative comment) and names its patient opens a case as ``loop.check_response``
does: reason complaint, team service_recovery, source survey, the trigger's priority, a few minutes after the
answer. Routing gives it to an agent who takes complaints; the agent calls the patient back in the day's hours
on a working day, mostly within the first-response target, and settles it in that call (four in five) or in a
second one a day or two later. The case is
resolved with what was done, closed three days later, and the ``recovery_links`` row says which response opened
it. Cases whose callback has not happened by the demo's "now" are still open, in that agent's queue.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, insert, select

from pxm.platform.people.models import Staff
from pxm.practices.feedback.loop.models import RecoveryLink, Trigger
from pxm.practices.feedback.loop.service import REASON, TEAM, TRIGGER_LABELS, response_triggers
from pxm.practices.feedback.models import Instrument, Response
from pxm.practices.feedback.text.models import CommentAnalysis
from pxm.practices.resolution.models import Channel
from pxm.synth.contacts import DeskCase, daytime, write_cases
from pxm.synth.registry import SynthContext, register_step

LINKS = cast(Table, RecoveryLink.__table__)
SETTLED_FIRST_CALL = 0.8
ACTIONS = (
    "Called the patient, apologised and explained what went wrong; they accepted the explanation.",
    "Called back, booked the follow-up the patient had waited for and confirmed it in writing.",
    "Reviewed the bill with the patient and corrected the charge; a new statement is on its way.",
    "Passed the feedback to the department lead, who called the patient; the patient was satisfied.",
    "Listened to the patient's account, logged it with the unit manager and agreed a contact for next time.",
)
_CHANNELS = {c.value for c in Channel}


def _callback(rng: np.random.Generator, after: dt.datetime, hours: tuple[float, float]) -> dt.datetime:
    """A call back in the day's hours on a working day, ``hours`` (low, high) after ``after``."""
    at = after + dt.timedelta(hours=float(rng.uniform(*hours)))
    while at.weekday() >= 5:  # agents call back on working days
        at += dt.timedelta(days=1)
    return daytime(at)


def _case(rng: np.random.Generator, response: Any, triggers: list[str], priority: str, agent: int,
          as_of: dt.datetime) -> DeskCase:
    opened = response.submitted_at + dt.timedelta(minutes=float(rng.uniform(1, 10)))
    labels = ", ".join(TRIGGER_LABELS[Trigger(t)] for t in triggers)
    case = DeskCase(response.patient_id, REASON, response.channel if response.channel in _CHANNELS else "phone",
                    opened, agent, source="survey", team=TEAM, priority=priority, assigned_at=opened,
                    summary=f"Service recovery for survey response #{response.id}: {labels}. Read the masked "
                            "comment in the comment explorer, call the patient, record what was done.",
                    resolve_note=str(ACTIONS[int(rng.integers(len(ACTIONS)))]))
    at = opened
    for call in range(2):
        # the first call within the first-response target mostly (1 h for high priority, 4 business hours
        # otherwise); a second one a day or two later
        at = _callback(rng, at, (24.0, 48.0) if call else (0.2, 1.5) if priority in ("high", "urgent") else (0.5, 5.0))
        if at >= as_of:
            break
        settled = call == 1 or rng.random() < SETTLED_FIRST_CALL
        end = at + dt.timedelta(minutes=float(rng.lognormal(np.log(9.0), 0.4)))
        case.contacts.append(dict(channel="phone", direction="outbound", agent_id=agent, started_at=at,
                                  queued_at=None, answered_at=None, ended_at=end, abandoned=False, resolved=settled))
        if settled:
            break
    case.settle(as_of)
    return case


@register_step("recovery", order=65, description="service-recovery cases opened by the year's survey answers")
def load_recovery(ctx: SynthContext) -> dict[str, int]:
    db = ctx.db
    after = int(ctx.state.get("responses_after_id", 0))
    takers = sorted(int(s.id) for s in db.execute(select(Staff.id, Staff.reasons).where(
        Staff.active.is_(True), Staff.capacity > 0)) if REASON in (s.reasons or []))
    if not takers:
        return {"recovery_cases": 0}
    instruments = {i.id: i for i in db.execute(select(Instrument)).scalars()}
    negative = set(db.execute(select(CommentAnalysis.response_id).where(
        CommentAnalysis.response_id > after, CommentAnalysis.strongly_negative.is_(True))).scalars())
    as_of = ctx.cutoff
    rng = ctx.rng("recovery")
    cases: list[DeskCase] = []
    links: list[dict[str, Any]] = []
    for r in db.execute(select(Response.id, Response.instrument_id, Response.answers, Response.patient_id,
                               Response.department_id, Response.channel, Response.submitted_at)
                        .where(Response.id > after, Response.status == "complete",
                               Response.patient_id.is_not(None)).order_by(Response.id)):
        view = SimpleNamespace(instrument=instruments.get(r.instrument_id), answers=r.answers)
        triggers, priority, details = response_triggers(view, strongly_negative=r.id in negative)
        if not triggers:
            continue
        case = _case(rng, r, triggers, priority, takers[int(rng.integers(len(takers)))], as_of)
        cases.append(case)
        links.append(dict(response_id=r.id, complaint_id=None, trigger=triggers[0], triggers=triggers,
                          details=details, department_id=r.department_id, opened_at=case.opened_at))
    ids, n_contacts, n_events, n_esc = write_cases(ctx, cases, as_of, step="recovery")
    if links:
        db.connection().execute(insert(LINKS), [{**link, "case_id": i} for link, i in zip(links, ids, strict=True)])
    return {"recovery_cases": len(cases), "recovery_contacts": n_contacts, "recovery_case_events": n_events,
            "recovery_escalations": n_esc}
