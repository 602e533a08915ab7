"""``pxm audit verify`` and ``pxm audit log`` on a real (committed) database, and the audit JSON API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from pxm.cli.main import app as cli
from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.config import get_settings
from pxm.platform.db import make_engine, make_session_factory

runner = CliRunner()


@pytest.fixture
def cli_db(committed_db_url: str, key_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PXM_DATABASE_URL", committed_db_url)
    monkeypatch.setenv("PXM_KEY_DIR", str(key_dir))
    get_settings.cache_clear()
    engine = make_engine(committed_db_url)
    yield make_session_factory(engine)
    engine.dispose()
    get_settings.cache_clear()


def _write(sf, n: int) -> None:
    with sf() as s, s.begin():
        actor = Actor.system("tests", request_id="req-1")
        for i in range(n):
            record(s, actor, "patient.read" if i % 2 else "case.update", "patient", i + 1, patient_id=100 + i % 3)


def _tamper(sf, seq: int) -> None:
    """Change one event the way someone with raw database access would: lift the guard, update, restore."""
    with sf() as s, s.begin():
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("DROP TRIGGER audit_events_no_update"))
            s.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = :s"), {"s": seq})
            s.execute(text("CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                           "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"))
        else:
            s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            s.execute(text("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = :s"), {"s": seq})
            s.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def test_verify_reports_an_intact_chain_with_its_count(cli_db):
    _write(cli_db, 7)
    res = runner.invoke(cli, ["audit", "verify", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"intact": True, "events": 7, "last_seq": 7, "first_broken_seq": None,
                                      "problem": None}
    text_out = runner.invoke(cli, ["audit", "verify"])
    assert text_out.exit_code == 0 and "intact" in text_out.stdout and "7 events" in text_out.stdout


def test_verify_names_the_tampered_event_and_exits_1(cli_db):
    _write(cli_db, 6)
    _tamper(cli_db, 4)
    res = runner.invoke(cli, ["audit", "verify", "--format", "json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["intact"] is False and out["first_broken_seq"] == 4 and "altered" in out["problem"]
    text_out = runner.invoke(cli, ["audit", "verify"])
    assert text_out.exit_code == 1 and "BROKEN at seq 4" in text_out.stdout


def test_verify_on_an_empty_log(cli_db):
    res = runner.invoke(cli, ["audit", "verify", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["events"] == 0


def test_log_filters_by_patient_and_action(cli_db):
    _write(cli_db, 9)  # patients 100,101,102 in turn; odd i are patient.read
    res = runner.invoke(cli, ["audit", "log", "--patient-id", "101", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["total"] == 3 and [e["seq"] for e in out["items"]] == [8, 5, 2]  # newest first
    assert all(e["patient_id"] == 101 for e in out["items"])
    res = runner.invoke(cli, ["audit", "log", "--action", "patient.read", "--limit", "2", "--format", "json"])
    out = json.loads(res.stdout)
    assert out["total"] == 4 and len(out["items"]) == 2 and {e["action"] for e in out["items"]} == {"patient.read"}
    table = runner.invoke(cli, ["audit", "log", "--action", "case.*"])
    assert table.exit_code == 0 and "audit events (5 of 5)" in table.stdout


def test_log_refuses_bad_input(cli_db):
    res = runner.invoke(cli, ["audit", "log", "--limit", "0"])
    assert res.exit_code == 2
