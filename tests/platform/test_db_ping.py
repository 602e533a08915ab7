"""PostgreSQL pool checks: a connection that sat idle is checked before use and replaced if the server dropped it;
one in steady use is not checked (no ``SELECT 1`` round trip per request), so a drop fails the request that meets
it and the pool reconnects for the next."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import exc
from tests.conftest import PG_URL
from tests.helpers.postgres import backend_pid, one_connection_engine, terminate

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL pool checks need PXM_TEST_DATABASE_URL")


def test_a_connection_idle_past_the_limit_is_checked_and_replaced_when_dropped() -> None:
    with one_connection_engine(ping_after_seconds=0.2) as engine:
        pid = backend_pid(engine)
        time.sleep(0.3)
        terminate(pid)
        assert backend_pid(engine) != pid  # the check found it dead; the request got a new connection


def test_a_connection_in_steady_use_is_not_checked_and_a_drop_fails_one_request_only() -> None:
    with one_connection_engine(ping_after_seconds=3600) as engine:
        pid = backend_pid(engine)
        assert backend_pid(engine) == pid  # reused at once: no check
        terminate(pid)
        with pytest.raises(exc.OperationalError) as failed:
            backend_pid(engine)
        assert failed.value.connection_invalidated
        assert backend_pid(engine) != pid  # the next request reconnects


def test_zero_checks_on_every_checkout() -> None:
    with one_connection_engine(ping_after_seconds=0) as engine:
        pid = backend_pid(engine)
        terminate(pid)
        assert backend_pid(engine) != pid
