"""PostgreSQL pool checks: a connection that sat idle is checked before use and replaced if the server dropped it;
one in steady use is not checked (no ``SELECT 1`` round trip per request), so a drop fails the request that meets
it and the pool reconnects for the next."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, exc, text
from tests.conftest import PG_URL

from pxm.platform.db import make_engine

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL pool checks need PXM_TEST_DATABASE_URL")


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    other = make_engine(PG_URL or "")
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)  # the backend exits
    finally:
        other.dispose()


def test_a_connection_idle_past_the_limit_is_checked_and_replaced_when_dropped() -> None:
    engine = make_engine(PG_URL or "", ping_after_seconds=0.2, pool_size=1, max_overflow=0)
    try:
        pid = _backend_pid(engine)
        time.sleep(0.3)
        _terminate(pid)
        assert _backend_pid(engine) != pid  # the check found it dead; the request got a new connection
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_checked_and_a_drop_fails_one_request_only() -> None:
    engine = make_engine(PG_URL or "", ping_after_seconds=3600, pool_size=1, max_overflow=0)
    try:
        pid = _backend_pid(engine)
        assert _backend_pid(engine) == pid  # reused at once: no check
        _terminate(pid)
        with pytest.raises(exc.OperationalError) as failed:
            _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert _backend_pid(engine) != pid  # the next request reconnects
    finally:
        engine.dispose()


def test_zero_checks_on_every_checkout() -> None:
    engine = make_engine(PG_URL or "", ping_after_seconds=0, pool_size=1, max_overflow=0)
    try:
        pid = _backend_pid(engine)
        _terminate(pid)
        assert _backend_pid(engine) != pid
    finally:
        engine.dispose()
