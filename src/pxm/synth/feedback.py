"""Step "feedback": a year of survey invitations and responses whose answers follow what happened.

Invitations come from discharges (inpatient stays -> ``inpatient``, other visits -> ``pulse``), from resolved
service-desk cases (``pulse``, when the resolution tables hold cases) and from a quarterly NPS wave to a
random 8% of patients; consent, contact route and the 30-day fatigue rule apply as in the live service.
About 28% respond. Answers come from a latent satisfaction score per response: department and provider
effects, a penalty for waits longer than usual for the visit type, a penalty for cases not solved at the
first contact or reopened, and a slow improvement over the year; so long waits and unresolved cases score
lower and the dashboards tell a coherent story. About 40% of responses carry a comment drawn from the
phrase bank ``pxm/practices/feedback/data/comment_bank.json`` (theme and sentiment follow the same score),
analysed as the live service does it (``synth.comment_analysis``).
Invitations still open at the end of the window get their message in the outbox (sealed, like live ones).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
from typing import Any

import numpy as np
from sqlalchemy import func, inspect, select

from pxm.platform.people.crypto import keyring
from pxm.platform.people.models import Encounter, Patient
from pxm.practices.feedback.definition import iter_items
from pxm.practices.feedback.delivery import compose
from pxm.practices.feedback.invitations import new_token
from pxm.practices.feedback.models import Instrument, Invitation, MessageOutbox, Response
from pxm.practices.feedback.service import ensure_builtin_instruments
from pxm.synth.bulk import insert_rows, raw_table
from pxm.synth.comment_analysis import analyse_comments
from pxm.synth.registry import SynthContext, register_step

INVITATIONS = raw_table(Invitation)
RESPONSES = raw_table(Response)
OUTBOX = raw_table(MessageOutbox)
WAIT_MEAN = {"outpatient": 18.0, "telehealth": 6.0, "emergency": 42.0, "inpatient": 95.0}
RESPOND = {"email": 0.30, "sms": 0.24}
FATIGUE = dt.timedelta(days=30)
EXPIRY = dt.timedelta(days=14)


def comment_bank() -> dict[str, Any]:
    path = resources.files("pxm.practices.feedback") / "data" / "comment_bank.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))["themes"])


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Answers:
    """Turns a latent score ``z`` (about N(0, 1), higher = happier) into answers for each instrument."""

    def __init__(self, rng: np.random.Generator, instruments: dict[str, Instrument]) -> None:
        self.rng = rng
        self.defs = {code: inst.definition for code, inst in instruments.items()}
        self.bank = comment_bank()

    def _int(self, centre: float, spread: float, z: float, lo: int, hi: int, noise: float = 0.7) -> int:
        return int(min(hi, max(lo, round(centre + spread * z + self.rng.normal(0, noise)))))

    def _four(self, z: float, bias: float = 0.0) -> int:
        v = z + 0.9 + bias + self.rng.normal(0, 0.6)
        return 4 if v > 0.3 else 3 if v > -0.6 else 2 if v > -1.4 else 1

    def _yes(self, p: float) -> str:
        return "yes" if self.rng.random() < p else "no"

    def build(self, code: str, z: float, *, resolved: bool | None = None) -> dict[str, Any]:
        rng = self.rng
        if code == "nps":
            nps = self._int(7.8, 2.0, z, 0, 10)
            opts = ["staff", "communication", "outcome", "access"] if nps >= 9 else ["wait", "billing", "access"]
            picks = rng.choice(opts, size=int(rng.integers(1, 3)), replace=False)
            return {"NPS": nps, "NPS_REASON": sorted({str(p) for p in picks})}
        if code == "pulse":
            if resolved is None:
                resolved = rng.random() < _sigmoid(1.4 + 1.2 * z)
            out: dict[str, Any] = {"CSAT": self._int(3.9, 1.1, z, 1, 5, 0.5), "RESOLVED": "yes" if resolved else "no",
                                   "CES": self._int(5.2, 1.3, z, 1, 7)}
            if not resolved:
                out["UNRESOLVED_WHY"] = str(rng.choice(["waiting", "wrong_answer", "transferred", "other"],
                                                       p=[0.45, 0.25, 0.2, 0.1]))
            return out
        out = {}
        for item in iter_items(self.defs[code]):
            c, kind = item["code"], item["type"]
            if kind == "text" or (item.get("show_if") and out.get(item["show_if"]["item"]) != "yes"):
                continue
            if c == "NEW_MEDICINE":
                out[c] = self._yes(0.6)
            elif kind == "yesno":
                out[c] = self._yes(_sigmoid(1.8 + 1.0 * z))
            elif kind == "rating":
                out[c] = self._int(9.2, 1.5, z, 0, 10)
            elif kind == "scale":
                bias = {"QUIET": -0.7, "CALL_BUTTON": -0.4, "MED_SIDE_EFFECTS": -0.6, "COORD_PREFS": -0.3}.get(c, 0.0)
                out[c] = self._four(z, bias)
            elif kind == "likert":
                out[c] = self._int(3.8, 0.9, z, 1, int(item.get("points", 5)))
        return out

    def comment(self, z: float, lang: str, themes: list[str]) -> str:
        sentiment = "positive" if z > 0.25 else "negative" if z < -0.25 else str(
            self.rng.choice(["positive", "negative"]))
        pool = [t for t in themes if sentiment in self.bank.get(t, {})] or ["overall"]
        theme = str(self.rng.choice(pool))
        phrases = self.bank[theme][sentiment][lang if lang in ("en", "es") else "en"]
        return str(phrases[int(self.rng.integers(0, len(phrases)))])


def _events(ctx: SynthContext, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int, str, dict[str, Any]]]:
    db = ctx.db
    rng = ctx.rng("feedback-events")
    out: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []
    # Only this run's people: a second `pxm synth` on the same database must not re-invite earlier ones.
    patients_after = int(ctx.state.get("patients_after_id", 0))
    cases_after = int(ctx.state.get("cases_after_id", 0))
    for e in db.execute(select(Encounter.id, Encounter.patient_id, Encounter.type, Encounter.department_id,
                               Encounter.provider_id, Encounter.discharge_at, Encounter.wait_minutes)
                        .where(Encounter.discharge_at >= start, Encounter.discharge_at < end,
                               Encounter.patient_id > patients_after).order_by(Encounter.id)):
        out.append((e.discharge_at, e.patient_id, "encounter", {
            "id": e.id, "type": e.type, "department_id": e.department_id, "provider_id": e.provider_id,
            "wait": e.wait_minutes or 0}))
    if inspect(db.connection()).has_table("cases"):
        from pxm.practices.resolution.models import Case, Contact

        contacts = dict(db.execute(select(Contact.case_id, func.count()).group_by(Contact.case_id)).all())
        for c in db.execute(select(Case.id, Case.patient_id, Case.resolved_at, Case.reopened_count, Case.reason,
                                   Case.channel, Case.assigned_staff_id)
                            .where(Case.resolved_at >= start, Case.resolved_at < end, Case.id > cases_after)
                            .order_by(Case.id)):
            out.append((c.resolved_at, c.patient_id, "case", {
                "id": c.id, "first_contact": contacts.get(c.id, 1) <= 1 and not c.reopened_count,
                "reopened": bool(c.reopened_count), "reason": c.reason, "agent": c.assigned_staff_id}))
    ids = [r[0] for r in db.execute(select(Patient.id).where(Patient.id > patients_after).order_by(Patient.id))]
    for q in range(4):
        when = start + dt.timedelta(days=30 + 91 * q, hours=15)
        if when >= end or not ids:
            continue
        for pid in rng.choice(ids, size=max(1, int(0.08 * len(ids))), replace=False):
            out.append((when, int(pid), "wave", {"wave": f"nps-q{q + 1}"}))
    out.sort(key=lambda ev: (ev[0], ev[1]))
    return out


@register_step("feedback", order=60, description="survey invitations, responses and comments for a year")
def load_feedback(ctx: SynthContext) -> dict[str, int]:
    db = ctx.db
    rng = ctx.rng("feedback")
    instruments = {i.code: i for i in ensure_builtin_instruments(db)}
    first, last = ctx.window
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(last, dt.time(), dt.UTC)
    routes: dict[int, tuple[str, str]] = {}
    for p in db.execute(select(Patient.id, Patient.preferred_language, Patient.preferred_channel,
                               Patient.consent_surveys, Patient.consent_email, Patient.consent_sms,
                               Patient.email_index, Patient.phone.is_not(None).label("has_phone"))):
        if not p.consent_surveys:
            continue
        ok = {"email": bool(p.consent_email and p.email_index), "sms": bool(p.consent_sms and p.has_phone)}
        channel = p.preferred_channel if ok.get(p.preferred_channel) else next((c for c in ok if ok[c]), None)
        if channel:
            routes[p.id] = (channel, p.preferred_language if p.preferred_language in ("en", "es") else "en")
    dept_fx: dict[int, float] = {}
    prov_fx: dict[int, float] = {}
    answers = _Answers(rng, instruments)
    last_invite: dict[int, dt.datetime] = {}
    invites: list[dict[str, Any]] = []
    pending_responses: list[tuple[str, dict[str, Any]]] = []
    open_invites: list[str] = []
    events = _events(ctx, start, end)
    for n, (when, pid, kind, info) in enumerate(events):
        if n % 5000 == 0:
            ctx.progress("feedback", n, len(events))
        route = routes.get(pid)
        if route is None or (pid in last_invite and when - last_invite[pid] < FATIGUE):
            continue
        last_invite[pid] = when
        channel, lang = route
        send = when + dt.timedelta(hours=24)
        if send >= end:
            continue
        trend = 0.35 * (when - start).days / 365.0
        resolved: bool | None = None
        if kind == "encounter":
            code = "inpatient" if info["type"] == "inpatient" else "pulse"
            dept, prov = info["department_id"], info["provider_id"]
            z = dept_fx.setdefault(dept, float(rng.normal(0, 0.35))) + (
                prov_fx.setdefault(prov, float(rng.normal(0, 0.3))) if prov else 0.0)
            z -= min(2.0, 0.9 * max(0.0, info["wait"] / WAIT_MEAN.get(info["type"], 30.0) - 1.0))
            ref, themes = f"encounter:{info['id']}", ["overall", "staff_attitude", "communication"]
            if info["wait"] > 1.5 * WAIT_MEAN.get(info["type"], 30.0):
                themes = ["wait_time", "wait_time", "access"]
            elif code == "inpatient":
                themes += ["cleanliness", "noise"]
        elif kind == "case":
            code, dept, prov = "pulse", None, None
            z = (0.3 if info["first_contact"] else -1.3) - (0.8 if info["reopened"] else 0.0)
            resolved = bool(rng.random() < (0.9 if info["first_contact"] else 0.3))
            ref = f"case:{info['id']}"
            themes = ["resolution", "billing"] if info["reason"] == "billing" else ["resolution", "access"]
        else:
            code, dept, prov = "nps", None, None
            z = 0.1
            ref, themes = f"wave:{info['wave']}:{pid}", ["overall", "access", "billing", "staff_attitude"]
        z += trend + float(rng.normal(0, 0.8))
        expires = send + EXPIRY
        respond_at = send + dt.timedelta(days=float(rng.exponential(1.5)))
        responds = rng.random() < RESPOND[channel] and respond_at < expires
        if responds and respond_at >= end:
            responds = False
        status = "responded" if responds else ("sent" if expires > end else "expired")
        inv = {"patient_id": pid, "instrument_id": instruments[code].id, "channel": channel, "language": lang,
               "token_hash": None, "reminder_token_hash": None, "status": status, "status_reason": None,
               "trigger": kind if kind != "wave" else "wave", "trigger_ref": ref,
               "encounter_id": info["id"] if kind == "encounter" else None,
               "case_id": info["id"] if kind == "case" else None, "department_id": dept, "provider_id": prov,
               "send_after": send, "expires_at": expires, "reminders_sent": 0 if responds else 1, "max_reminders": 1,
               "reminder_after_days": 3, "sent_at": send, "responded_at": respond_at if responds else None,
               "created_at": when}
        invites.append(inv)
        if status == "sent":
            open_invites.append(ref)
        if responds:
            a = answers.build(code, z, resolved=resolved)
            texts: dict[str, str] = {}
            if rng.random() < (0.5 if abs(z) > 1.0 else 0.3):
                texts["COMMENT"] = answers.comment(z, lang, themes)
            pending_responses.append((ref, {
                "instrument_id": instruments[code].id, "instrument_version": instruments[code].version,
                "patient_id": pid, "external_id": None, "submitted_at": respond_at, "channel": channel,
                "language": lang, "source": "synth", "department_id": dept, "provider_id": prov,
                "encounter_id": info["id"] if kind == "encounter" else None,
                "case_id": info["id"] if kind == "case" else None, "contact_id": None, "answers": a,
                "text_answers": texts, "status": "complete", "created_at": respond_at}))
    insert_rows(db, INVITATIONS, invites)
    ids = dict(db.execute(select(Invitation.trigger_ref, Invitation.id).where(
        Invitation.trigger_ref.in_([r for r, _ in pending_responses] + open_invites))).all()) if invites else {}
    ring = keyring()
    rows = []
    for ref, row in pending_responses:
        texts = row.pop("text_answers")
        row["invitation_id"] = ids[ref]
        row["text_answers"] = ring.seal(json.dumps(texts, ensure_ascii=False), "survey_responses.text_answers") \
            if texts else None
        row["comment"] = ring.seal("\n\n".join(texts.values()), "survey_responses.comment") if texts else None
        row["comment_masked"] = None
        rows.append(row)
    after_id = db.execute(select(func.coalesce(func.max(Response.id), 0))).scalar_one()
    ctx.state["responses_after_id"] = after_id  # the recovery step takes this run's responses
    for i in range(0, len(rows), ctx.chunk_size):
        insert_rows(db, RESPONSES, rows[i:i + ctx.chunk_size])
    analysed = analyse_comments(ctx, after_id)
    messages = _outbox(ctx, [ids[r] for r in open_invites])
    ctx.progress("feedback", len(events), len(events))
    return {"survey_instruments": len(instruments), "survey_invitations": len(invites),
            "survey_responses": len(rows), "comment_analyses": analysed, "message_outbox": messages}


def _outbox(ctx: SynthContext, invitation_ids: list[int]) -> int:
    """Messages for the invitations still open at the end of the window (as the outbox sender records them)."""
    db = ctx.db
    ring = keyring()
    rows = []
    for inv in db.execute(select(Invitation).where(Invitation.id.in_(invitation_ids)).order_by(Invitation.id)).scalars():
        patient = db.get(Patient, inv.patient_id)
        to = (patient.email if inv.channel == "email" else patient.phone) if patient else None
        if not to:
            continue
        token, inv.token_hash = new_token()
        subject, body = compose(inv, inv.instrument.definition, token, 0)
        key = f"invitation:{inv.id}:0"
        rows.append({"delivery_key": key, "message_id": f"<pxm.{key.replace(':', '.')}@pxm.invalid>",
                     "channel": inv.channel, "to": ring.seal(to, "message_outbox.to"), "subject": subject,
                     "body": ring.seal(body, "message_outbox.body"), "language": inv.language, "sender": "outbox",
                     "status": "sent", "error": None, "attempts": 1, "invitation_id": inv.id,
                     "patient_id": inv.patient_id, "created_at": inv.sent_at, "sent_at": inv.sent_at})
    db.flush()
    return insert_rows(db, OUTBOX, rows)
