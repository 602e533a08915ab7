"""HL7 FHIR R4 (R4B models of fhir.resources) Questionnaire / QuestionnaireResponse import and export.

Instruments map to a Questionnaire: sections are ``group`` items, numeric scales ``choice`` items with
``valueInteger`` options, yes/no ``boolean``, single/multi choice ``choice`` with ``valueCoding`` options
(``repeats`` for multi), free text ``text``; display conditions become ``enableWhen``. Everything FHIR has no
field for (Spanish text, measure, scale name) travels in a PXM extension on each item, so
export -> import gives back the same definition. A Questionnaire from elsewhere (without the extensions) is
read from its standard fields.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pxm.platform import audit
from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import APIError, BadRequest
from pxm.platform.people.models import Patient
from pxm.practices.feedback.definition import NUMERIC, iter_items, numeric_range, text
from pxm.practices.feedback.models import Instrument, Response
from pxm.practices.feedback.service import all_answers, get_instrument, record_response

EXT_ITEM = "https://pxm.dev/fhir/StructureDefinition/pxm-item"
EXT_DEFINITION = "https://pxm.dev/fhir/StructureDefinition/pxm-instrument"
URL_PREFIX = "urn:pxm:instrument:"
_OPS = {"equals": "=", "not_equals": "!=", "gte": ">=", "lte": "<="}


def _problem(exc: ValidationError, what: str) -> BadRequest:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return BadRequest(f"{what} is not valid FHIR R4: {where}: {first.get('msg')}")


# --------------------------------------------------------------------------- Questionnaire

def _answer_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    return {"valueCoding": {"code": str(value)}}


def _enable_when(item: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    cond = item.get("show_if")
    if not cond:
        return [], None
    q = cond["item"]
    if "answered" in cond:
        return [{"question": q, "operator": "exists", "answerBoolean": bool(cond["answered"])}], None
    if "in" in cond:
        return [{"question": q, "operator": "=", **_fhir_answer(v)} for v in cond["in"]], "any"
    op = next(o for o in _OPS if o in cond)
    return [{"question": q, "operator": _OPS[op], **_fhir_answer(cond[op])}], None


def _fhir_answer(value: Any) -> dict[str, Any]:
    if value in ("yes", "no"):
        return {"answerBoolean": value == "yes"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"answerInteger": int(value)}
    return {"answerCoding": {"code": str(value)}}


def _question(definition: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    kind = item["type"]
    q: dict[str, Any] = {"linkId": item["code"], "text": text(item["text"], "en"),
                         "required": bool(item.get("required", False)),
                         "extension": [{"url": EXT_ITEM, "valueString": json.dumps(item, ensure_ascii=False)}]}
    if kind in NUMERIC:
        rng = numeric_range(definition, item)
        q["type"] = "choice"
        q["answerOption"] = [{"valueInteger": v} for v in range(rng.low, rng.high + 1)]
    elif kind == "yesno":
        q["type"] = "boolean"
    elif kind in ("single", "multi"):
        q["type"] = "choice"
        q["repeats"] = kind == "multi"
        q["answerOption"] = [{"valueCoding": {"code": o["value"], "display": text(o["label"], "en")}}
                             for o in item["options"]]
    else:
        q["type"] = "text"
    when, behavior = _enable_when(item)
    if when:
        q["enableWhen"] = when
        if behavior or len(when) > 1:
            q["enableBehavior"] = behavior or "all"
    return q


def to_questionnaire(instrument: Instrument) -> dict[str, Any]:
    d = instrument.definition
    extra = {k: d[k] for k in ("title", "description", "scales", "measures", "source") if k in d}
    body = {
        "resourceType": "Questionnaire",
        "url": f"{URL_PREFIX}{instrument.code}",
        "version": instrument.version,
        "name": instrument.code,
        "title": text(d["title"], "en"),
        "status": "active" if instrument.active else "retired",
        "description": text(d.get("description", ""), "en") or None,
        "extension": [{"url": EXT_DEFINITION, "valueString": json.dumps(extra, ensure_ascii=False)}],
        "item": [{"linkId": s["code"], "type": "group", "text": text(s.get("title", s["code"]), "en"),
                  "extension": [{"url": EXT_ITEM, "valueString": json.dumps(
                      {"title": s.get("title", {"en": s["code"]})}, ensure_ascii=False)}],
                  "item": [_question(d, it) for it in s["items"]]} for s in d["sections"]],
    }
    return Questionnaire.model_validate(body).model_dump(mode="json", exclude_none=True)


def _ext(obj: dict[str, Any], url: str) -> Any:
    for e in obj.get("extension") or []:
        if e.get("url") == url:
            return json.loads(e["valueString"])
    return None


def _item_from_fhir(q: dict[str, Any], scales: dict[str, Any]) -> dict[str, Any]:
    own = _ext(q, EXT_ITEM)
    if own is not None:
        return dict(own)
    item: dict[str, Any] = {"code": q["linkId"], "text": {"en": q.get("text") or q["linkId"]},
                            "required": bool(q.get("required"))}
    kind = q.get("type")
    options = q.get("answerOption") or []
    if kind == "boolean":
        item["type"] = "yesno"
    elif kind in ("choice", "open-choice") and options and all("valueInteger" in o for o in options):
        values = [o["valueInteger"] for o in options]
        name = f"int_{min(values)}_{max(values)}"
        scales[name] = {"min": min(values), "max": max(values)}
        item.update(type="scale", scale=name)
    elif kind in ("choice", "open-choice") and options:
        item["type"] = "multi" if q.get("repeats") else "single"
        item["options"] = [{"value": (o.get("valueCoding") or {}).get("code") or str(o.get("valueString")),
                            "label": {"en": (o.get("valueCoding") or {}).get("display") or
                                      (o.get("valueCoding") or {}).get("code") or str(o.get("valueString"))}}
                           for o in options]
    else:
        item["type"] = "text"
    when = q.get("enableWhen") or []
    if when:
        w = when[0]
        value = next((v for k, v in w.items() if k.startswith("answer")), None)
        if isinstance(value, dict):
            value = value.get("code")
        if isinstance(value, bool) and w["operator"] != "exists":
            value = "yes" if value else "no"
        if w["operator"] == "exists":
            item["show_if"] = {"item": w["question"], "answered": bool(value)}
        elif len(when) > 1:
            vals = [next((v.get("code") if isinstance(v, dict) else v) for k, v in x.items() if k.startswith("answer"))
                    for x in when]
            item["show_if"] = {"item": w["question"], "in": ["yes" if v is True else "no" if v is False else v
                                                               for v in vals]}
        else:
            op = {v: k for k, v in _OPS.items()}.get(w["operator"], "equals")
            item["show_if"] = {"item": w["question"], op: value}
    return item


def from_questionnaire(data: dict[str, Any]) -> dict[str, Any]:
    """A PXM instrument definition from a Questionnaire (validated as FHIR first)."""
    try:
        q = Questionnaire.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise _problem(exc, "Questionnaire") from None
    extra = _ext(q, EXT_DEFINITION) or {}
    code = q.get("name") or (q.get("url") or "").removeprefix(URL_PREFIX) or None
    if not code:
        raise BadRequest("Questionnaire needs a name (used as the instrument code)")
    scales: dict[str, Any] = dict(extra.get("scales") or {})
    sections = []
    loose = []
    for top in q.get("item") or []:
        if top.get("type") == "group":
            own = _ext(top, EXT_ITEM) or {}
            sections.append({"code": top["linkId"], "title": own.get("title") or {"en": top.get("text") or top["linkId"]},
                             "items": [_item_from_fhir(x, scales) for x in top.get("item") or []]})
        else:
            loose.append(_item_from_fhir(top, scales))
    if loose:
        sections.append({"code": "MAIN", "title": {"en": q.get("title") or code}, "items": loose})
    definition: dict[str, Any] = {"code": code, "version": q.get("version") or "1.0.0",
                                  "title": extra.get("title") or {"en": q.get("title") or code}}
    for key in ("description", "source", "measures"):
        if key in extra:
            definition[key] = extra[key]
    if "description" not in definition and q.get("description"):
        definition["description"] = {"en": q["description"]}
    if scales:
        definition["scales"] = scales
    definition["sections"] = sections
    return definition


# --------------------------------------------------------------------------- QuestionnaireResponse

def to_questionnaire_response(session: Session, actor: Actor, response: Response) -> dict[str, Any]:
    """Export a response (free text included: the read is audited)."""
    inst = response.instrument
    answers = all_answers(response)
    if response.text_answers:
        audit.record(session, actor, "response.exported", "survey_response", response.id,
                     patient_id=response.patient_id, details={"format": "fhir"})
    groups = []
    for s in inst.definition["sections"]:
        items = []
        for it in s["items"]:
            if it["code"] not in answers:
                continue
            v = answers[it["code"]]
            if it["type"] == "yesno":
                vals = [{"valueBoolean": v == "yes"}]
            elif it["type"] == "text":
                vals = [{"valueString": v}]
            elif it["type"] == "multi":
                vals = [_answer_value(x) for x in v]
            else:
                vals = [_answer_value(v)]
            items.append({"linkId": it["code"], "answer": vals})
        if items:
            groups.append({"linkId": s["code"], "item": items})
    body: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": "urn:pxm:response", "value": response.external_id or f"pxm-{response.id}"},
        "questionnaire": f"{URL_PREFIX}{inst.code}|{inst.version}",
        "status": "completed" if response.status == "complete" else "in-progress",
        "authored": response.submitted_at.isoformat(),
        "item": groups,
    }
    if response.patient_id:
        body["subject"] = {"reference": f"Patient/{response.patient_id}"}
    return QuestionnaireResponse.model_validate(body).model_dump(mode="json", exclude_none=True)


def _collect(items: list[dict[str, Any]], out: dict[str, Any]) -> None:
    for it in items:
        values = []
        for a in it.get("answer") or []:
            if "valueBoolean" in a:
                values.append("yes" if a["valueBoolean"] else "no")
            elif "valueInteger" in a:
                values.append(a["valueInteger"])
            elif "valueCoding" in a:
                values.append(a["valueCoding"].get("code"))
            elif "valueString" in a:
                values.append(a["valueString"])
            elif "valueDecimal" in a:
                values.append(a["valueDecimal"])
            _collect(a.get("item") or [], out)
        if values:
            out[it["linkId"]] = values if len(values) > 1 else values[0]
        _collect(it.get("item") or [], out)


def import_questionnaire_response(session: Session, actor: Actor, data: dict[str, Any]) -> Response:
    """Store a QuestionnaireResponse; its identifier (or id) becomes the response's external id."""
    try:
        qr = QuestionnaireResponse.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise _problem(exc, "QuestionnaireResponse") from None
    canonical = qr.get("questionnaire") or ""
    url, _, version = canonical.partition("|")
    code = url.removeprefix(URL_PREFIX).rsplit("/", 1)[-1]
    if not code:
        raise BadRequest("QuestionnaireResponse.questionnaire must name the instrument, e.g. urn:pxm:instrument:pulse")
    inst = get_instrument(session, code, version or None)
    answers: dict[str, Any] = {}
    _collect(qr.get("item") or [], answers)
    items = {it["code"]: it for it in iter_items(inst.definition)}
    for k, v in list(answers.items()):
        if k in items and items[k]["type"] == "multi" and not isinstance(v, list):
            answers[k] = [v]
    external = (qr.get("identifier") or {}).get("value") or qr.get("id")
    authored = qr.get("authored")
    submitted = dt.datetime.fromisoformat(authored) if authored else None
    if submitted is not None and submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=dt.UTC)
    patient_id = None
    ref = (qr.get("subject") or {}).get("reference", "")
    if ref.startswith("Patient/") and ref[8:].isdigit() and session.get(Patient, int(ref[8:])) is not None:
        patient_id = int(ref[8:])
    status = "complete" if qr.get("status") in ("completed", "amended") else "partial"
    return record_response(session, actor, instrument=inst, answers=answers, submitted_at=submitted,
                           external_id=external, patient_id=patient_id, source="fhir", status=status)


def import_bundle(session: Session, actor: Actor, data: dict[str, Any]) -> list[Response]:
    """Store every QuestionnaireResponse of a Bundle, all or nothing (the caller's transaction)."""
    try:
        bundle = Bundle.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise _problem(exc, "Bundle") from None
    out = []
    with session.begin_nested():  # a bad entry leaves nothing of the earlier ones
        for n, entry in enumerate(bundle.get("entry") or []):
            res = entry.get("resource") or {}
            if res.get("resourceType") != "QuestionnaireResponse":
                raise BadRequest(f"Bundle.entry[{n}]: only QuestionnaireResponse resources are accepted")
            try:
                out.append(import_questionnaire_response(session, actor, res))
            except APIError as exc:
                exc.message = f"Bundle.entry[{n}]: {exc.message}"
                exc.args = (exc.message,)
                raise
    if not out:
        raise BadRequest("the Bundle holds no QuestionnaireResponse entries")
    return out
