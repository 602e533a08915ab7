"""Recording responses: validation names the item, display conditions, versions, sealed comments."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.http.errors import BadRequest, Conflict
from pxm.platform.jobs.models import Job
from pxm.practices.feedback import service
from pxm.practices.feedback.models import Response


def test_pulse_response_is_stored_with_sealed_comment_and_analysis_job(db: Session, actor: Actor) -> None:
    r = service.record_response(db, actor, instrument="pulse", external_id="ext-1",
                                answers={"CSAT": 4, "RESOLVED": "yes", "CES": "6", "COMMENT": "Nurse Kim was great"})
    assert r.answers == {"CSAT": 4, "RESOLVED": "yes", "CES": 6}
    assert r.comment == "Nurse Kim was great"
    raw = db.execute(text("SELECT comment FROM survey_responses WHERE id = :i"), {"i": r.id}).scalar_one()
    assert b"Nurse Kim" not in bytes(raw)
    job = db.execute(select(Job).where(Job.dedupe_key == f"feedback.analyze_comment:{r.id}")).scalar_one()
    assert job.payload == {"response_id": r.id}


def test_invalid_answer_names_the_item(db: Session, actor: Actor) -> None:
    with pytest.raises(BadRequest, match="CSAT") as exc:
        service.record_response(db, actor, instrument="pulse", answers={"CSAT": 9, "RESOLVED": "yes"})
    assert "from 1 to 5" in exc.value.message
    with pytest.raises(BadRequest, match="RESOLVED.*required"):
        service.record_response(db, actor, instrument="pulse", answers={"CSAT": 3})
    with pytest.raises(BadRequest, match="BOGUS"):
        service.record_response(db, actor, instrument="pulse", answers={"CSAT": 3, "RESOLVED": "no", "BOGUS": 1})


def test_display_condition_drops_answers_to_hidden_items(db: Session, actor: Actor) -> None:
    shown = service.record_response(db, actor, instrument="pulse",
                                    answers={"CSAT": 2, "RESOLVED": "no", "UNRESOLVED_WHY": "waiting"})
    assert shown.answers["UNRESOLVED_WHY"] == "waiting"
    hidden = service.record_response(db, actor, instrument="pulse",
                                     answers={"CSAT": 5, "RESOLVED": "yes", "UNRESOLVED_WHY": "waiting"})
    assert "UNRESOLVED_WHY" not in hidden.answers


def test_duplicate_external_id_is_refused(db: Session, actor: Actor) -> None:
    service.record_response(db, actor, instrument="nps", external_id="dup", answers={"NPS": 9})
    with pytest.raises(Conflict, match="dup"):
        service.record_response(db, actor, instrument="nps", external_id="dup", answers={"NPS": 3})


def test_new_version_leaves_old_responses_on_their_version(db: Session, actor: Actor) -> None:
    old = service.record_response(db, actor, instrument="nps", answers={"NPS": 10})
    definition = dict(service.get_instrument(db, "nps").definition, version="2.0.0")
    definition["sections"] = [{"code": "S", "title": {"en": "S"}, "items": [
        {"code": "NPS", "type": "nps", "required": True, "text": {"en": "Recommend us?"}}]}]
    v2 = service.create_instrument_version(db, actor, definition)
    new = service.record_response(db, actor, instrument="nps", answers={"NPS": 7})
    assert new.instrument_id == v2.id and new.instrument_version == "2.0.0"
    db.refresh(old)
    assert old.instrument_version == "1.0.0" and old.instrument.definition["version"] == "1.0.0"
    assert db.get(Response, old.id).answers == {"NPS": 10}  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        service.create_instrument_version(db, actor, definition)
