"""The public survey page: no login, language, display conditions, resume, one response per token, kind pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.people.models import Patient
from pxm.practices.feedback import invitations as inv_service
from pxm.practices.feedback.invitations import InvitationPolicy, new_token
from pxm.practices.feedback.models import Invitation, Response


def _invited(db: Session, actor: Actor, patient: Patient, instrument: str = "pulse",
             expiry_days: int = 14) -> tuple[Invitation, str]:
    inv = inv_service.create_invitation(db, actor, patient_id=patient.id, instrument=instrument, trigger="manual",
                                        policy=InvitationPolicy(delay_hours=0, expiry_days=expiry_days))
    token, inv.token_hash = new_token()
    inv.status = "sent"
    db.commit()
    return inv, token


def test_spanish_patient_sees_spanish_and_can_switch(client: Any, db: Session, actor: Actor,
                                                    make_patient: Callable[..., Patient]) -> None:
    _, token = _invited(db, actor, make_patient(preferred_language="es"))
    r = client.get(f"/s/{token}")
    assert r.status_code == 200 and '<html lang="es">' in r.text
    assert "¿Se resolvió su asunto?" in r.text and 'for="in-RESOLVED-1"' in r.text
    en = client.get(f"/s/{token}?lang=en")
    assert "Was your issue resolved?" in en.text
    assert r.headers["referrer-policy"] == "no-referrer"


def test_resume_then_submit_once(client: Any, db: Session, actor: Actor,
                                 make_patient: Callable[..., Patient]) -> None:
    inv, token = _invited(db, actor, make_patient())
    saved = client.post(f"/s/{token}", data={"CSAT": "2", "action": "save"})
    assert saved.status_code == 200 and "Your answers are saved" in saved.text
    again = client.get(f"/s/{token}")
    assert 'value="2" checked' in again.text  # the partial answer comes back
    missing = client.post(f"/s/{token}", data={"CSAT": "2", "action": "submit"})
    assert missing.status_code == 422 and "is required" in missing.text
    assert 'href="#q-RESOLVED"' in missing.text
    done = client.post(f"/s/{token}", data={"CSAT": "2", "RESOLVED": "no", "UNRESOLVED_WHY": "waiting",
                                            "COMMENT": "Still waiting for my refill", "action": "submit"})
    assert done.status_code == 200 and "Thank you" in done.text
    db.expire_all()
    rows = db.execute(select(Response).where(Response.invitation_id == inv.id)).scalars().all()
    assert len(rows) == 1 and rows[0].status == "complete"
    assert rows[0].answers == {"CSAT": 2, "RESOLVED": "no", "UNRESOLVED_WHY": "waiting"}
    assert rows[0].comment == "Still waiting for my refill" and rows[0].source == "web"
    used = client.get(f"/s/{token}")
    assert used.status_code == 410 and "already answered" in used.text
    repost = client.post(f"/s/{token}", data={"CSAT": "5", "RESOLVED": "yes", "action": "submit"})
    assert repost.status_code == 410
    assert len(db.execute(select(Response).where(Response.invitation_id == inv.id)).all()) == 1


def test_hidden_item_answer_is_dropped(client: Any, db: Session, actor: Actor,
                                       make_patient: Callable[..., Patient]) -> None:
    inv, token = _invited(db, actor, make_patient())
    client.post(f"/s/{token}", data={"CSAT": "5", "RESOLVED": "yes", "UNRESOLVED_WHY": "waiting",
                                     "action": "submit"})
    db.expire_all()
    row = db.execute(select(Response).where(Response.invitation_id == inv.id)).scalar_one()
    assert row.answers == {"CSAT": 5, "RESOLVED": "yes"}


def test_expired_and_unknown_links_get_kind_pages(client: Any, db: Session, actor: Actor,
                                                  make_patient: Callable[..., Patient]) -> None:
    inv, token = _invited(db, actor, make_patient())
    inv.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db.commit()
    r = client.get(f"/s/{token}")
    assert r.status_code == 410 and "has expired" in r.text
    r = client.get("/s/not-a-real-token")
    assert r.status_code == 404 and "could not find this survey" in r.text


@pytest.mark.parametrize(("code", "expected"), [
    ("inpatient", ["Always", "Definitely yes", "10 - Best possible"]),
    ("nps", ["10 - Extremely likely", 'type="checkbox"']),
    ("cxm", ["Strongly agree", "PPE1"]),
])
def test_every_builtin_instrument_renders_with_labels(client: Any, db: Session, actor: Actor,
                                                      make_patient: Callable[..., Patient], code: str,
                                                      expected: list[str]) -> None:
    _, token = _invited(db, actor, make_patient(), instrument=code)
    r = client.get(f"/s/{token}")
    assert r.status_code == 200
    for text in expected:
        assert text in r.text
    assert r.text.count("<legend>") + r.text.count("<label for=\"in-COMMENT\"") >= 3
