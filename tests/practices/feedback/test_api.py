"""The feedback JSON API: responses (JSON, FHIR), metrics, instruments, permissions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from tests.helpers.auth import token_headers


def test_post_response_then_metrics(client: Any, db: Session) -> None:
    h = token_headers(db, "cx_manager")
    body = {"instrument": "nps", "answers": {"NPS": 10, "COMMENT": "Dr. Lee explained everything"},
            "external_id": "api-1", "submitted_at": "2026-03-02T10:00:00Z", "channel": "email"}
    r = client.post("/api/v1/responses", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["answers"] == {"NPS": 10} and created["has_comment"] and "comment" not in created
    replay = client.post("/api/v1/responses", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert replay.json()["id"] == created["id"]
    dup = client.post("/api/v1/responses", json=body, headers=h)
    assert dup.status_code == 409 and "api-1" in dup.json()["error"]["message"]
    bad = client.post("/api/v1/responses", json={**body, "external_id": "api-2", "answers": {"NPS": 11}},
                      headers=h)
    assert bad.status_code == 422 and "NPS" in bad.json()["error"]["message"]
    listed = client.get("/api/v1/responses?instrument=nps", headers=h).json()
    assert listed["total"] == 1 and listed["items"][0]["has_comment"] and "text_answers" not in listed["items"][0]
    detail = client.get(f"/api/v1/responses/{created['id']}", headers=h).json()
    assert detail["text_answers"] == {"COMMENT": "Dr. Lee explained everything"}
    m = client.get("/api/v1/feedback/metrics/nps?from=2026-03-01&to=2026-03-31&by=channel", headers=h).json()
    assert m["overall"]["promoters"] == 1 and m["groups"][0]["group"] == "email"
    assert client.get("/api/v1/feedback/metrics/nps?by=weather", headers=h).status_code == 422
    assert client.get("/api/v1/feedback/metrics/bogus", headers=h).status_code == 404


def test_fhir_endpoints_round_trip(client: Any, db: Session) -> None:
    h = token_headers(db, "cx_manager")
    instruments = client.get("/api/v1/feedback/instruments", headers=h).json()
    pulse = next(i for i in instruments if i["code"] == "pulse")
    q = client.get(f"/api/v1/fhir/Questionnaire/{pulse['id']}", headers=h)
    assert q.headers["content-type"].startswith("application/fhir+json")
    assert q.json()["item"][0]["item"][0]["linkId"] == "CSAT"
    qr = {"resourceType": "QuestionnaireResponse", "status": "completed", "id": "fhir-1",
          "questionnaire": "urn:pxm:instrument:pulse|1.0.0", "authored": "2026-03-03T08:00:00Z",
          "item": [{"linkId": "CONTACT", "item": [
              {"linkId": "CSAT", "answer": [{"valueInteger": 4}]},
              {"linkId": "RESOLVED", "answer": [{"valueBoolean": True}]}]}]}
    r = client.post("/api/v1/fhir/QuestionnaireResponse", json=qr, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["created"][0]
    back = client.get(f"/api/v1/fhir/QuestionnaireResponse/{rid}", headers=h).json()
    assert back["identifier"]["value"] == "fhir-1" and back["item"] == qr["item"]
    wrong = client.post("/api/v1/fhir/QuestionnaireResponse", json={"resourceType": "Patient"}, headers=h)
    assert wrong.status_code == 422


def test_permissions(client: Any, db: Session) -> None:
    agent = token_headers(db, "agent")
    assert client.get("/api/v1/feedback/metrics/nps").status_code == 401
    assert client.get("/api/v1/feedback/metrics/nps", headers=agent).status_code == 403
    assert client.post("/api/v1/responses", json={"instrument": "nps", "answers": {"NPS": 1}},
                       headers=agent).status_code == 403
    assert client.get("/api/v1/feedback/outbox", headers=token_headers(db, "analyst")).status_code == 403
