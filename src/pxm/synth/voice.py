"""Step "voice": the year's complaints and compliments, and the public reviews with the organization's replies.

Complaints and compliments (about 1.2 and 0.6 per 100 patients of this run) follow a visit: received one to ten
days after it, about what the comment bank says of that theme, by phone, email, letter, portal or in person.
A complaint is acknowledged within about a day (a few late), resolved with an outcome letter (complex ones take
longer), closed a week later, and its patient gets a service-recovery case as ``loop.check_complaint`` opens
one (team service_recovery, priority by severity), worked as the survey ones are (``synth.recovery``). Those
received lately are still on the board, in the column their dates say.

Public reviews (about 1 per 100 patients) come from the usual sites, mostly 4-5 stars, with sentiment and
themes as ``reviews.record_review`` computes them; most older ones carry a published reply, newer ones a
draft or an approved one, the newest none.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, insert, select

from pxm.platform.people.models import Encounter, Patient
from pxm.practices.feedback.complaints.models import Complaint, ComplaintStatus
from pxm.practices.feedback.complaints.service import due_dates, get_settings
from pxm.practices.feedback.loop.models import RecoveryLink, Trigger
from pxm.practices.feedback.loop.service import REASON, SEVERITY_PRIORITY, TEAM
from pxm.practices.feedback.reviews.models import PublicReview, ReplyStatus
from pxm.practices.feedback.text import phi_mask, sentiment, themes
from pxm.practices.feedback.text.service import name_forms
from pxm.synth.bulk import raw_table
from pxm.synth.contacts import DeskCase, daytime, write_cases
from pxm.synth.feedback import comment_bank
from pxm.synth.registry import SynthContext, register_step

COMPLAINTS = cast(Table, Complaint.__table__)  # its Sealed columns seal what is bound, as the model does
REVIEWS = raw_table(PublicReview)
LINKS = cast(Table, RecoveryLink.__table__)
ACTOR = "system:synth"
CATEGORIES = {"wait_time": "wait_time", "staff_attitude": "staff_attitude", "communication": "communication",
              "billing": "billing", "resolution": "other", "cleanliness": "cleanliness", "noise": "cleanliness",
              "access": "access", "overall": "clinical_care"}
ASKS = ("I would like someone to call me back about this.", "Please look into it so it does not happen again.",
        "I expect an explanation.", "I hope this feedback is passed on.")
LETTER = ("Dear patient, thank you for telling us about your experience. We looked into it with the team "
          "involved, {action} We are sorry it fell short of what you should expect from us.")
LETTER_ACTIONS = ("and have changed how we keep patients informed while they wait.",
                  "and corrected your account; a new statement is on its way.",
                  "and discussed it with the staff member concerned.",
                  "and the unit manager will follow up with the whole team.")
SEVERITY = (("low", 0.3), ("medium", 0.5), ("high", 0.17), ("critical", 0.03))
STARS = (0.15, 0.1, 0.1, 0.2, 0.45)  # 1..5
SITES = {"google": "maps.google.com/riverbend", "yelp": "www.yelp.com/biz/riverbend-health",
         "healthgrades": "www.healthgrades.com/riverbend", "facebook": "www.facebook.com/riverbendhealth/reviews"}
AUTHORS = ("Maria G.", "James T.", "Linda P.", "Carlos R.", "Ashley W.", "D. Nguyen", "Sam K.", "Ana M.",
           "Robert B.", "Keisha J.", "Tom H.", "Guadalupe S.")
REPLIES = {"positive": "Thank you for taking the time to share this. We will pass your kind words on to the team.",
           "negative": "We are sorry to read this. Please call our patient relations line at 555-0100 so we can "
                       "look into it with you."}


def _pick(rng: np.random.Generator, options: Any) -> Any:
    return options[int(rng.integers(len(options)))]


def _after(rng: np.random.Generator, at: dt.datetime, low_h: float, high_h: float) -> dt.datetime:
    return daytime(at + dt.timedelta(hours=float(rng.uniform(low_h, high_h))))


def _complaint(rng: np.random.Generator, bank: dict[str, Any], enc: Any, lang: str, as_of: dt.datetime,
               settings: Any) -> tuple[dict[str, Any], str, DeskCase | None] | None:
    kind = "complaint" if rng.random() < 2 / 3 else "compliment"
    theme = str(_pick(rng, [t for t in bank if ("negative" if kind == "complaint" else "positive") in bank[t]]))
    mood = "negative" if kind == "complaint" else "positive"
    text = str(_pick(rng, bank[theme][mood]["es" if lang == "es" else "en"]))
    if kind == "complaint":
        text += " " + str(_pick(rng, ASKS))
    received = daytime(enc.discharge_at + dt.timedelta(days=float(rng.uniform(1, 10))))
    if received >= as_of:
        return None
    severity = str(rng.choice([s for s, _ in SEVERITY], p=[p for _, p in SEVERITY])) if kind == "complaint" else "low"
    complex_ = kind == "complaint" and rng.random() < 0.15
    ack_due, res_due = due_dates(settings, kind, complex_, received)
    acked = _after(rng, received, 2, 30 if rng.random() < 0.9 else 80)
    resolved = _after(rng, acked, 24, 24 * (16 if complex_ else 6))
    closed = resolved + dt.timedelta(days=7)
    at = {"acknowledged": acked, "investigating": acked + (resolved - acked) / 3, "resolved": resolved,
          "closed": closed}
    status = ComplaintStatus.received.value
    for step, when in at.items():
        if when <= as_of:
            status = step
    letter = LETTER.format(action=_pick(rng, LETTER_ACTIONS)) if kind == "complaint" and status in (
        "resolved", "closed") else None
    row = dict(kind=kind, channel=str(_pick(rng, ("phone", "email", "letter", "portal", "in_person"))),
               category=CATEGORIES[theme], severity=severity, complex=complex_, patient_id=enc.patient_id,
               encounter_id=enc.id, department_id=enc.department_id, received_at=received,
               acknowledge_due_at=ack_due, resolution_due_at=res_due,
               acknowledged_at=acked if status != "received" else None,
               resolved_at=resolved if status in ("resolved", "closed") else None,
               closed_at=closed if status == "closed" else None, status=status, outcome_letter=letter, case_id=None,
               created_by=ACTOR, created_at=received, updated_at=at.get(status, received))
    case = None
    if kind == "complaint":
        case = DeskCase(enc.patient_id, REASON, "phone", received + dt.timedelta(minutes=float(rng.uniform(1, 5))),
                        None, source="complaint", team=TEAM, priority=SEVERITY_PRIORITY[severity])
        case.assigned_at = case.opened_at
        for when, settles in ((acked, False), (resolved, True)):
            if when < as_of:
                case.contacts.append(dict(channel="phone", direction="outbound", agent_id=None, started_at=when,
                                          queued_at=None, answered_at=None,
                                          ended_at=when + dt.timedelta(minutes=float(rng.lognormal(np.log(12), 0.4))),
                                          abandoned=False, resolved=settles))
        case.resolve_note = "Called the patient about the outcome; the outcome letter went out."
    return row, text, case


def _review(rng: np.random.Generator, bank: dict[str, Any], n: int, posted: dt.datetime, facility: int | None,
            as_of: dt.datetime) -> dict[str, Any]:
    stars = int(rng.choice(5, p=STARS)) + 1
    mood = "positive" if stars >= 4 or (stars == 3 and rng.random() < 0.5) else "negative"
    theme = str(_pick(rng, [t for t in bank if mood in bank[t]]))
    text = str(_pick(rng, bank[theme][mood]["en"]))
    site = str(_pick(rng, list(SITES)))
    senti = sentiment.analyze(text)
    row: dict[str, Any] = dict(
        source=site, rating=stars, text=text, text_masked=phi_mask.mask(text).text,
        url=f"https://{SITES[site]}/review/{n:05d}", author=str(_pick(rng, AUTHORS)), posted_at=posted,
        facility_id=facility, sentiment_score=senti.score, sentiment_label=senti.label, themes=themes.detect(text),
        reply_status=ReplyStatus.none.value, reply_text=None, reply_drafted_by=None, reply_drafted_at=None,
        reply_approved_by=None, reply_approved_at=None, reply_published_by=None, reply_published_at=None,
        created_by=ACTOR, created_at=min(as_of, posted + dt.timedelta(hours=float(rng.uniform(1, 20)))))
    drafted = row["created_at"] + dt.timedelta(hours=float(rng.uniform(2, 30)))
    approved = drafted + dt.timedelta(hours=float(rng.uniform(2, 30)))
    published = approved + dt.timedelta(hours=float(rng.uniform(0.5, 6)))
    if rng.random() < 0.85 and drafted <= as_of:
        row.update(reply_status=ReplyStatus.draft.value, reply_text=REPLIES[mood], reply_drafted_by="user:cx_manager",
                   reply_drafted_at=drafted)
        if approved <= as_of:
            row.update(reply_status=ReplyStatus.approved.value, reply_approved_by="user:admin",
                       reply_approved_at=approved)
        if published <= as_of:
            row.update(reply_status=ReplyStatus.published.value, reply_published_by="user:cx_manager",
                       reply_published_at=published)
    return row


@register_step("voice", order=67, description="complaints, compliments and public reviews for a year")
def load_voice(ctx: SynthContext) -> dict[str, int]:
    db = ctx.db
    after = int(ctx.state.get("patients_after_id", 0))
    encounters = db.execute(select(Encounter.id, Encounter.patient_id, Encounter.department_id,
                                   Encounter.discharge_at, Patient.preferred_language)
                            .join(Patient, Patient.id == Encounter.patient_id)
                            .where(Encounter.patient_id > after, Encounter.discharge_at.is_not(None))
                            .order_by(Encounter.id)).all()
    if not encounters:
        return {"complaints": 0, "public_reviews": 0}
    _start, _end = ctx.window
    as_of = ctx.cutoff
    patients = len({e.patient_id for e in encounters})
    rng = ctx.rng("voice")
    bank = comment_bank()
    settings = get_settings(db)
    org = ctx.state["org"]
    takers = sorted(org.agents)
    picks = rng.choice(len(encounters), size=int(patients * 0.018), replace=False)
    made = [m for m in (_complaint(rng, bank, encounters[int(i)], encounters[int(i)].preferred_language or "en",
                                   as_of, settings) for i in sorted(picks)) if m is not None]
    names: dict[int, list[str]] = {}
    wanted = sorted({row["patient_id"] for row, _, _ in made})
    for i in range(0, len(wanted), 500):
        for p in db.execute(select(Patient.id, Patient.given_name, Patient.family_name)
                            .where(Patient.id.in_(wanted[i:i + 500]))):
            names[p.id] = name_forms(p.given_name, p.family_name)
    rows = [{**row, "description": text, "description_masked": phi_mask.mask(text, names.get(row["patient_id"], [])).text}
            for row, text, _case in made]
    ids = db.connection().execute(insert(COMPLAINTS).returning(COMPLAINTS.c.id, sort_by_parameter_order=True),
                                  rows).scalars().all() if rows else []
    cases, owners = [], []
    for complaint_id, (row, _text, case) in zip(ids, made, strict=True):
        if case is None:
            continue
        agent = takers[int(rng.integers(len(takers)))]
        case.agent = agent
        for c in case.contacts:
            c["agent_id"] = agent
        case.settle(as_of)
        case.summary = f"Complaint #{complaint_id} ({row['category']}, {row['severity']}): service recovery."
        cases.append(case)
        owners.append((complaint_id, row))
    case_ids, n_contacts, n_events, _n_esc = write_cases(ctx, cases, as_of, step="voice")
    if case_ids:
        db.connection().execute(insert(LINKS), [
            dict(case_id=case_id, response_id=None, complaint_id=complaint_id, trigger=Trigger.complaint.value,
                 triggers=[Trigger.complaint.value], details={"severity": row["severity"]},
                 department_id=row["department_id"], opened_at=case.opened_at)
            for case_id, (complaint_id, row), case in zip(case_ids, owners, cases, strict=True)])
        db.connection().execute(
            COMPLAINTS.update().where(COMPLAINTS.c.id == bindparam("complaint")).values(case_id=bindparam("case")),
            [{"complaint": complaint_id, "case": case_id} for case_id, (complaint_id, _row) in zip(case_ids, owners,
                                                                                                  strict=True)])
    facilities = sorted(org.facilities.values())
    start = dt.datetime.combine(_start, dt.time(0), dt.UTC)
    span = (as_of - start).total_seconds()
    reviews = [_review(rng, bank, n, start + dt.timedelta(seconds=float(s)), _pick(rng, facilities) if facilities
                       else None, as_of)
               for n, s in enumerate(sorted(rng.uniform(0, span, size=int(patients * 0.01))))]
    if reviews:
        db.connection().execute(insert(REVIEWS), reviews)
    return {"complaints": sum(1 for r in rows if r["kind"] == "complaint"),
            "compliments": sum(1 for r in rows if r["kind"] == "compliment"), "complaint_cases": len(cases),
            "complaint_contacts": n_contacts, "complaint_case_events": n_events, "public_reviews": len(reviews)}
