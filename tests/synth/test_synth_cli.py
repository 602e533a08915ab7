"""``pxm demo --no-serve`` and ``pxm synth`` on a fresh database, then ``pxm audit verify``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pxm.cli.main import app
from pxm.platform.audit.models import AuditEvent
from pxm.platform.auth import service as auth_service
from pxm.platform.auth.models import User
from pxm.platform.config import Settings, get_settings
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.http.errors import APIError
from pxm.platform.people.models import Patient, Staff

runner = CliRunner()


@pytest.fixture
def env(committed_db_url, key_dir, monkeypatch):
    monkeypatch.setenv("PXM_DATABASE_URL", committed_db_url)
    monkeypatch.setenv("PXM_KEY_DIR", str(key_dir))
    monkeypatch.setenv("PXM_TIMEZONE", "-")  # recorded, so that what ``pxm demo`` sets is undone afterwards
    monkeypatch.delenv("PXM_TIMEZONE")
    get_settings.cache_clear()
    yield committed_db_url
    get_settings.cache_clear()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_demo_then_audit_verify(env, key_dir, monkeypatch):
    out = _json(["demo", "--no-serve", "--patients", "300", "--seed", "5", "--format", "json"])
    assert out["generated"] is True and out["synth"]["counts"]["patients"] == 300
    assert out["timezone"] == "America/Chicago"  # the demo organization's days, unless PXM_TIMEZONE says otherwise
    logins = {x["username"]: x for x in out["logins"]}
    assert set(logins) == {"admin", "cx_manager", "agent", "analyst", "auditor"}
    engine = make_engine(env)
    factory = make_session_factory(engine)
    settings = Settings(database_url=env, key_dir=key_dir)
    with factory() as db:
        user = auth_service.authenticate(db, settings, "admin", logins["admin"]["password"])
        assert user.role == "admin"
        agent = db.execute(select(User).where(User.username == "agent")).scalar_one()
        assert db.execute(select(Staff.job_role).where(Staff.user_id == agent.id)).scalar_one() == "agent"
        db.commit()
    # a second run keeps the data, issues new passwords and retires the old ones
    monkeypatch.setenv("PXM_TIMEZONE", "Europe/Lisbon")
    get_settings.cache_clear()
    again = _json(["demo", "--no-serve", "--format", "json"])
    assert again["generated"] is False and again["timezone"] == "Europe/Lisbon"
    new_admin = {x["username"]: x for x in again["logins"]}["admin"]["password"]
    assert new_admin != logins["admin"]["password"]
    with factory() as db:
        assert db.execute(select(func.count()).select_from(Patient)).scalar_one() == 300
        with pytest.raises(APIError):
            auth_service.authenticate(db, settings, "admin", logins["admin"]["password"])
        db.commit()
        events = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        synth_events = db.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "synth.load")).scalar_one()
    engine.dispose()
    assert synth_events == len(out["synth"]["steps"])
    verify = _json(["audit", "verify", "--format", "json"])
    assert verify["intact"] is True and verify["events"] == events and verify["problem"] is None


def test_synth_command_reports_counts_as_json(env):
    out = _json(["synth", "--patients", "150", "--seed", "3", "--format", "json"])
    assert out["counts"]["patients"] == 150 and out["counts"]["encounters"] > 150
    assert out["rows_per_second"] > 0 and out["seed"] == 3
    assert [s["name"] for s in out["steps"]][:3] == ["org", "patients", "encounters"]


def test_synth_command_prints_a_table_and_refuses_bad_input(env):
    text = runner.invoke(app, ["synth", "--patients", "20"])
    assert text.exit_code == 0 and "rows/second" in text.stdout and "20 patients" in text.stdout
    bad = runner.invoke(app, ["synth", "--patients", "-5"])
    assert bad.exit_code == 2
