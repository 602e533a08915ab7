"""Drop a PostgreSQL backend under a pooled connection, as a server restart would: for tests of what a request
meets then. Needs ``PXM_TEST_DATABASE_URL``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from tests.conftest import PG_URL

from pxm.platform.db import make_engine


@contextmanager
def one_connection_engine(ping_after_seconds: float) -> Iterator[Engine]:
    """An engine on the test database whose pool holds a single connection (disposed afterwards)."""
    engine = make_engine(PG_URL or "", ping_after_seconds=ping_after_seconds, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        engine.dispose()


def backend_pid(engine: Engine) -> int:
    """The server process behind the connection ``engine`` hands out next."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    """End that server process from another connection, and give it time to exit."""
    other = make_engine(PG_URL or "")
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)
    finally:
        other.dispose()
