"""FHIR R4 round trips: instrument <-> Questionnaire, response <-> QuestionnaireResponse, Bundles."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest
from pxm.practices.feedback import fhir
from pxm.practices.feedback.definition import clean_answers
from pxm.practices.feedback.service import all_answers, get_instrument, record_response


@pytest.mark.parametrize("code", ["pulse", "nps", "inpatient", "cxm"])
def test_instrument_round_trips_through_questionnaire(db: Session, code: str) -> None:
    inst = get_instrument(db, code)
    q = fhir.to_questionnaire(inst)
    assert q["resourceType"] == "Questionnaire" and q["url"] == f"urn:pxm:instrument:{code}"
    assert fhir.from_questionnaire(q) == inst.definition


def test_foreign_questionnaire_is_read_from_standard_fields() -> None:
    q = {"resourceType": "Questionnaire", "status": "active", "name": "clinic", "version": "3",
         "title": "Clinic visit", "item": [
             {"linkId": "SAT", "type": "choice", "text": "Satisfied?", "required": True,
              "answerOption": [{"valueInteger": i} for i in range(1, 6)]},
             {"linkId": "BACK", "type": "boolean", "text": "Would you come back?"},
             {"linkId": "WHY", "type": "text", "text": "Why not?",
              "enableWhen": [{"question": "BACK", "operator": "=", "answerBoolean": False}]}]}
    d = fhir.from_questionnaire(q)
    items = {it["code"]: it for s in d["sections"] for it in s["items"]}
    assert items["SAT"]["type"] == "scale" and d["scales"][items["SAT"]["scale"]] == {"min": 1, "max": 5}
    assert items["WHY"]["show_if"] == {"item": "BACK", "equals": "no"}
    assert clean_answers(d, {"SAT": 4, "BACK": "no", "WHY": "parking"}, complete=True)["WHY"] == "parking"


def test_response_round_trips_through_questionnaire_response(db: Session, actor: Actor) -> None:
    original = record_response(db, actor, instrument="nps", external_id="rt-1",
                               submitted_at=dt.datetime(2026, 2, 3, 9, 30, tzinfo=dt.UTC),
                               answers={"NPS": 6, "NPS_REASON": ["wait", "billing"], "COMMENT": "Long wait"})
    qr = fhir.to_questionnaire_response(db, actor, original)
    assert qr["questionnaire"] == "urn:pxm:instrument:nps|1.0.0" and qr["status"] == "completed"
    qr["identifier"]["value"] = "rt-2"
    copy = fhir.import_questionnaire_response(db, actor, qr)
    assert all_answers(copy) == all_answers(original)
    assert copy.submitted_at == original.submitted_at and copy.source == "fhir"


def test_bundle_is_all_or_nothing_and_names_the_entry(db: Session, actor: Actor) -> None:
    good = {"resourceType": "QuestionnaireResponse", "status": "completed", "id": "b1",
            "questionnaire": "urn:pxm:instrument:pulse",
            "item": [{"linkId": "CSAT", "answer": [{"valueInteger": 5}]},
                     {"linkId": "RESOLVED", "answer": [{"valueBoolean": True}]}]}
    bad = dict(good, id="b2", item=[{"linkId": "CSAT", "answer": [{"valueInteger": 8}]},
                                    {"linkId": "RESOLVED", "answer": [{"valueBoolean": True}]}])
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": good}, {"resource": bad}]}
    with pytest.raises(BadRequest, match=r"entry\[1\].*CSAT"):
        fhir.import_bundle(db, actor, bundle)
    ok = fhir.import_bundle(db, actor, {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": good}]})
    assert ok[0].answers == {"CSAT": 5, "RESOLVED": "yes"} and ok[0].external_id == "b1"
    with pytest.raises(BadRequest, match="not valid FHIR"):
        fhir.import_questionnaire_response(db, actor, {"resourceType": "QuestionnaireResponse", "status": "completed",
                                                           "authored": "yesterday"})
