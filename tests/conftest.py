"""Shared fixtures: every database test runs on SQLite and, when PXM_TEST_DATABASE_URL is set, PostgreSQL.

The schema always comes from the Alembic migrations. Each test runs inside a transaction that is rolled
back afterwards; code under test that commits (the web app, the job runner) commits to a SAVEPOINT.
Tests that need real commits across processes use ``committed_db_url``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.db import make_engine
from pxm.platform.db.migrate import upgrade
from pxm.platform.people.crypto import configure_keyring

PG_URL = os.environ.get("PXM_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    configure_keyring(d / "phi.key")
    return d


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite:///{path}"
    eng = make_engine(url)
    upgrade(url, engine=eng)
    eng.dispose()
    return path


def _fresh_sqlite(template: Path, tmp: Path) -> str:
    target = tmp / f"pxm-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, target)
    return f"sqlite:///{target}"


def _reset_postgres(url: str) -> None:
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(url, engine=eng)
    eng.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(backend: str, _sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory,
           key_dir: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        url = _fresh_sqlite(_sqlite_template, tmp_path_factory.mktemp("shared"))
    else:
        assert PG_URL
        url = PG_URL
        _reset_postgres(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[object]:
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: object) -> sessionmaker[Session]:
    """Sessions bound to the test's connection: their commits become SAVEPOINT releases."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint",  # type: ignore[call-overload]
                        expire_on_commit=False)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def settings(engine: Engine, key_dir: Path) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), key_dir=key_dir,
                    log_json=True, jobs_mode="embedded")


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    from pxm.web.app import create_app

    application = create_app(settings, engine=engine)
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def committed_db_url(backend: str, _sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database whose commits are real (for multi-process tests)."""
    if backend == "sqlite":
        yield _fresh_sqlite(_sqlite_template, tmp_path)
        return
    assert PG_URL
    _reset_postgres(PG_URL)
    yield PG_URL
    # leave the shared engine's schema intact for later tests: rebuild it
    _reset_postgres(PG_URL)
