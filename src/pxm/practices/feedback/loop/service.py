"""The closed loop: open a service-recovery case when feedback says something went wrong, and close it.

Triggers (checked on every response by ``feedback.service.record_response``, again after its comment is
analysed, and on every complaint):

=====================  ==========================================================  =================
trigger                fires when                                                  case priority
=====================  ==========================================================  =================
detractor              an ``nps`` item answered 0-6                                high if 0-3
low_csat               a ``csat`` item answered 1-2                                high if 1
not_resolved           a ``yesno`` item coded ``RESOLVED`` answered "no"           normal
negative_sentiment     the comment's sentiment is strongly negative (<= -0.6)      high
complaint              a complaint is recorded (not a compliment)                  by severity
=====================  ==========================================================  =================

The case is opened with ``resolution.open_case(reason="complaint", team="service_recovery",
source="survey"|"complaint")`` so routing assigns it and the complaint SLA policy applies. A
``recovery_links`` row (unique per response and per complaint) makes the check idempotent: processing the same
response twice opens one case. A response without a linked patient cannot open a case (there is nobody to call
back); it is counted in the metrics as ``unlinked``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest, NotFound
from pxm.practices.feedback.loop.models import RecoveryLink, Trigger
from pxm.practices.resolution import service as resolution
from pxm.practices.resolution.models import DONE_STATUSES, Case, CaseStatus, Channel

log = logging.getLogger("pxm.feedback.loop")

TEAM = "service_recovery"
REASON = "complaint"
SEVERITY_PRIORITY = {"low": "low", "medium": "normal", "high": "high", "critical": "urgent"}
_PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
TRIGGER_LABELS = {
    Trigger.detractor: "Detractor (NPS 0-6)",
    Trigger.low_csat: "Low satisfaction (CSAT 1-2)",
    Trigger.not_resolved: "Issue not resolved",
    Trigger.negative_sentiment: "Strongly negative comment",
    Trigger.complaint: "Complaint",
}


def _items(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for section in definition.get("sections", []) for item in section.get("items", [])]


def response_triggers(response: Any, *, strongly_negative: bool | None = None) -> tuple[list[str], str, dict[str, Any]]:
    """Which triggers a response fires, the case priority they call for, and the scores that fired (no PHI)."""
    definition = response.instrument.definition if response.instrument is not None else {}
    answers = response.answers or {}
    triggers: list[str] = []
    details: dict[str, Any] = {}
    priority = "normal"

    def bump(p: str) -> None:
        nonlocal priority
        if _PRIORITY_RANK[p] > _PRIORITY_RANK[priority]:
            priority = p

    for item in _items(definition):
        code, kind = str(item.get("code")), item.get("type")
        value = answers.get(code)
        if value is None:
            continue
        if kind == "nps" and isinstance(value, int) and value <= 6:
            triggers.append(Trigger.detractor.value)
            details[code] = value
            bump("high" if value <= 3 else "normal")
        elif kind == "csat" and isinstance(value, int) and value <= 2:
            triggers.append(Trigger.low_csat.value)
            details[code] = value
            bump("high" if value == 1 else "normal")
        elif kind == "yesno" and str(code).upper() == "RESOLVED" and value == "no":
            triggers.append(Trigger.not_resolved.value)
            details[code] = value
    if strongly_negative is None:
        from pxm.practices.feedback.text.models import CommentAnalysis

        session = Session.object_session(response)
        analysis = session.get(CommentAnalysis, response.id) if session is not None else None
        strongly_negative = bool(analysis and analysis.strongly_negative)
    if strongly_negative:
        triggers.append(Trigger.negative_sentiment.value)
        details["sentiment"] = "strongly_negative"
        bump("high")
    return list(dict.fromkeys(triggers)), priority, details


def link_for_response(session: Session, response_id: int) -> RecoveryLink | None:
    return session.execute(select(RecoveryLink).where(RecoveryLink.response_id == response_id)).scalar_one_or_none()


def link_for_complaint(session: Session, complaint_id: int) -> RecoveryLink | None:
    return session.execute(select(RecoveryLink).where(RecoveryLink.complaint_id == complaint_id)).scalar_one_or_none()


def check_response(session: Session, actor: Actor, response: Any, *,
                   strongly_negative: bool | None = None) -> Case | None:
    """Open a service-recovery case for ``response`` if a trigger fires; at most one case per response.

    Returns the response's recovery case (new or existing), or None when no trigger fires or the response has
    no patient. A later trigger (e.g. sentiment found after the survey answers) is added to the existing link.
    """
    if getattr(response, "status", "complete") != "complete":
        return None
    triggers, priority, details = response_triggers(response, strongly_negative=strongly_negative)
    existing = link_for_response(session, response.id)
    if existing is not None:
        new = [t for t in triggers if t not in existing.triggers]
        if new:
            existing.triggers = [*existing.triggers, *new]
            existing.details = {**existing.details, **details}
            session.flush()
        return resolution.get_case(session, existing.case_id)
    if not triggers or response.patient_id is None:
        return None
    channel = response.channel if response.channel in {c.value for c in Channel} else None
    labels = ", ".join(TRIGGER_LABELS[Trigger(t)] for t in triggers)
    case = resolution.open_case(
        session, actor, patient_id=response.patient_id, reason=REASON, priority=priority, channel=channel,
        source="survey", team=TEAM,
        summary=f"Service recovery for survey response #{response.id}: {labels}. "
                "Read the masked comment in the comment explorer, call the patient, record what was done.",
    )
    session.add(RecoveryLink(case_id=case.id, response_id=response.id, trigger=triggers[0], triggers=triggers,
                             details=details, department_id=response.department_id, opened_at=case.opened_at))
    session.flush()
    return case


def check_complaint(session: Session, actor: Actor, complaint: Any) -> Case | None:
    """Open the recovery case of a complaint (not a compliment); idempotent per complaint."""
    if complaint.kind != "complaint":
        return None
    existing = link_for_complaint(session, complaint.id)
    if existing is not None:
        return resolution.get_case(session, existing.case_id)
    if complaint.patient_id is None:
        return None
    case = resolution.open_case(
        session, actor, patient_id=complaint.patient_id, reason=REASON,
        priority=SEVERITY_PRIORITY.get(complaint.severity, "normal"), source="complaint", team=TEAM,
        summary=f"Complaint #{complaint.id} ({complaint.category}, {complaint.severity}): service recovery.",
    )
    session.add(RecoveryLink(case_id=case.id, complaint_id=complaint.id, trigger=Trigger.complaint.value,
                             triggers=[Trigger.complaint.value], details={"severity": complaint.severity},
                             department_id=complaint.department_id, opened_at=case.opened_at))
    complaint.case_id = case.id
    session.flush()
    return case


def close_recovery(session: Session, actor: Actor, case_id: int, *, action_taken: str,
                   resolution_code: str = "complaint_resolved", at: dt.datetime | None = None) -> Case:
    """Close the loop: resolve the recovery case with what was done (kept as the case's resolution note)."""
    link = session.execute(select(RecoveryLink).where(RecoveryLink.case_id == case_id)).scalars().first()
    if link is None:
        raise NotFound("service-recovery case", case_id)
    action = (action_taken or "").strip()
    if len(action) < 5:
        raise BadRequest("action_taken: say what was done for the patient (at least 5 characters)")
    case = resolution.get_case(session, case_id)
    if case.status in DONE_STATUSES:
        raise BadRequest(f"case {case_id} is already {case.status}")
    return resolution.transition(session, actor, case_id, CaseStatus.resolved.value, note=action,
                                 resolution_code=resolution_code, at=at)
