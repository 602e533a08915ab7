"""Structured logs: one JSON line per request with its request id, and never a patient's name."""

from __future__ import annotations

import io
import json
import logging

import pytest
from tests.helpers.auth import token_headers

from pxm.platform.auth.actor import Actor
from pxm.platform.logs import JSONFormatter, configure_logging, request_id_var
from pxm.platform.people import service as people
from pxm.platform.people.schemas import PatientCreate

GIVEN, FAMILY = "Zebulon", "Quarterfield-Oyelaran"


@pytest.fixture
def log_lines():
    """Everything logged at DEBUG and above while the test runs, as the JSON formatter writes it."""
    stream = io.StringIO()
    h = logging.StreamHandler(stream)
    h.setFormatter(JSONFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(h)
    root.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    lines.raw = stream  # type: ignore[attr-defined]
    yield lines
    root.removeHandler(h)
    root.setLevel(old_level)


def test_a_request_is_one_json_line_with_its_id(client, log_lines):
    resp = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    requests = [r for r in log_lines() if r.get("msg") == "request"]
    assert len(requests) == 1
    r = requests[0]
    assert (r["request_id"], r["method"], r["path"], r["status"]) == ("abc-123", "GET", "/api/v1/health", 200)
    assert r["level"] == "info" and r["logger"] == "pxm.http" and isinstance(r["ms"], float)


def test_request_ids_are_generated_and_sanitised(client, log_lines):
    generated = client.get("/api/v1/health").headers["X-Request-ID"]
    assert len(generated) == 32 and generated.isalnum()
    cleaned = client.get("/api/v1/health", headers={"X-Request-ID": "a b<script>\n"}).headers["X-Request-ID"]
    assert cleaned == "abscript"
    assert [r["request_id"] for r in log_lines() if r.get("msg") == "request"] == [generated, cleaned]


def test_patient_names_never_reach_the_logs(client, db, log_lines):
    created = people.create_patient(db, Actor.system("tests"), PatientCreate(
        mrn="LOG-0001", given_name=GIVEN, family_name=FAMILY, email="zq@example.org"))
    db.commit()
    headers = token_headers(db, "cx_manager")
    read = client.get(f"/api/v1/patients/{created.id}", headers=headers)
    assert read.status_code == 200 and read.json()["family_name"] == FAMILY  # the request did touch the name
    made = client.post("/api/v1/patients", headers=headers, json={
        "mrn": "LOG-0002", "given_name": GIVEN, "family_name": FAMILY + "-Jr"})
    assert made.status_code == 201
    refused = client.post("/api/v1/patients", headers=headers, json={
        "mrn": "LOG-0003", "given_name": GIVEN, "family_name": FAMILY, "email": f"{GIVEN} at nowhere"})
    assert refused.status_code == 422
    out = log_lines.raw.getvalue()  # type: ignore[attr-defined]
    assert len([r for r in log_lines() if r.get("msg") == "request"]) == 3
    assert GIVEN not in out and FAMILY not in out and "LOG-000" not in out and "zq@example.org" not in out


def test_exceptions_are_logged_with_their_type(log_lines):
    token = request_id_var.set("rid-9")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("pxm.test").exception("failed", extra={"job_id": 5})
    finally:
        request_id_var.reset(token)
    (rec,) = [r for r in log_lines() if r["logger"] == "pxm.test"]
    assert rec["request_id"] == "rid-9" and rec["job_id"] == 5 and rec["exc_type"] == "ValueError"
    assert rec["level"] == "error" and "Traceback" in rec["exc"]


def test_configure_logging_writes_json_to_stderr(capsys):
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging("INFO", as_json=True)
        configure_logging("INFO", as_json=True)  # idempotent: one handler, not two
        logging.getLogger("pxm.test").info("hello", extra={"n": 1})
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        assert [(x["msg"], x["n"]) for x in lines if x["logger"] == "pxm.test"] == [("hello", 1)]
    finally:
        for h in list(root.handlers):
            if h not in before[0]:
                root.removeHandler(h)
        root.setLevel(before[1])


def test_path_parameters_are_logged_as_the_route_template(client, log_lines):
    """A survey link's token (a bearer secret) must not land in the request log."""
    secret = "tok-DoNotLogMe-123456789"
    client.get(f"/s/{secret}")
    server_lines = [r for r in log_lines() if not r["logger"].startswith("httpx")]  # httpx is the test's client
    assert server_lines and secret not in json.dumps(server_lines)
    requests = [r for r in server_lines if r.get("msg") == "request"]
    assert requests and requests[-1]["path"] == "/s/{token}"
