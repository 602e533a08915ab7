"""``pxm user create / list / token`` against a real (committed) database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pxm.cli.main import app as cli
from pxm.platform.auth.models import User
from pxm.platform.auth.service import resolve_api_token
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


def test_create_list_and_token(cli_db):
    r = runner.invoke(cli, ["user", "create", "ops", "--role", "admin", "--generate-password", "--format", "json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.output)
    assert created["username"] == "ops" and created["role"] == "admin" and len(created["password"]) >= 20
    r = runner.invoke(cli, ["user", "create", "ann", "--role", "agent", "--display-name", "Ann Agent"],
                      input="ann-password-1\nann-password-1\n")
    assert r.exit_code == 0, r.output
    assert "created user ann" in r.output

    listed = json.loads(runner.invoke(cli, ["user", "list", "--format", "json"]).output)
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [("ann", "agent", True),
                                                                        ("ops", "admin", True)]
    assert runner.invoke(cli, ["user", "list"]).output.count("active") == 2

    r = runner.invoke(cli, ["user", "token", "ann", "--name", "export", "--format", "json"])
    assert r.exit_code == 0, r.output
    secret = json.loads(r.output)["token"]
    with cli_db() as s:
        user = resolve_api_token(s, secret)
        assert user is not None and user.username == "ann"
        assert s.execute(select(User.display_name).where(User.username == "ann")).scalar_one() == "Ann Agent"


def test_bad_input_exits_2_with_a_message(cli_db):
    r = runner.invoke(cli, ["user", "create", "x1", "--role", "wizard", "--password", "long-enough-pw"])
    assert r.exit_code == 2 and "unknown role 'wizard'" in r.output
    r = runner.invoke(cli, ["user", "create", "x2", "--role", "agent", "--password", "short"])
    assert r.exit_code == 2 and "at least 10 characters" in r.output
    runner.invoke(cli, ["user", "create", "x3", "--role", "agent", "--password", "long-enough-pw"])
    r = runner.invoke(cli, ["user", "create", "x3", "--role", "agent", "--password", "long-enough-pw"])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(cli, ["user", "create", "bad name", "--role", "agent", "--password", "long-enough-pw"])
    assert r.exit_code == 2 and "username" in r.output
    r = runner.invoke(cli, ["user", "token", "nobody", "--name", "n"])
    assert r.exit_code == 2 and "not found" in r.output
