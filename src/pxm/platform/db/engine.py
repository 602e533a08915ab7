"""Engine and session factory; SQLite gets WAL, foreign keys and real transactions."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings
from pxm.platform.db import libpq
from pxm.platform.db.prebuilt import Prebuilt

log = logging.getLogger("pxm.db")


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        return Path(url[len(prefix):])
    return None


class WriterGate:
    """A first-come-first-served lock in front of SQLite's single writer.

    SQLite's own busy handler retries with sleeps of up to 100 ms, so under concurrent writers a waiting
    thread keeps losing the race to newcomers and can wait for seconds. Queueing the threads of this
    process in arrival order before ``BEGIN IMMEDIATE`` keeps the wait proportional to the queue ahead.
    Other processes on the same file (``pxm serve --workers N``, ``pxm worker``) queue behind
    :class:`ProcessLock`; SQLite's busy timeout remains the last resort.

    Each waiter sleeps on its own lock and ``release`` hands the gate straight to the first of them, so one
    commit wakes one thread (a shared condition would wake every waiter to re-check, each taking the GIL
    from the thread that does the work).
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._held = False
        self.timeout = timeout

    def acquire(self) -> bool:
        """Wait for our turn. After ``timeout`` give up queueing and let SQLite's busy timeout decide."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            baton = threading.Lock()
            baton.acquire()
            self._queue.append(baton)
        if baton.acquire(timeout=self.timeout):
            return True  # handed over by release(): the gate is ours
        with self._mutex:
            if baton in self._queue:
                self._queue.remove(baton)
                log.warning("sqlite writer queue wait exceeded; falling back to the busy timeout",
                            extra={"waited_seconds": self.timeout})
                return False
        # release() handed us the gate just as the wait timed out: take it
        baton.acquire()
        return True

    def release(self) -> None:
        # Transactions may end on another thread than they began (FastAPI's thread pool), so the gate
        # belongs to the connection, not to a thread.
        with self._mutex:
            if self._queue:
                self._queue.popleft().release()  # hand over; the gate stays held
            else:
                self._held = False


class ProcessLock:
    """An exclusive ``flock`` on a file next to the database, held from ``BEGIN IMMEDIATE`` to commit.

    Only the thread that holds this process's :class:`WriterGate` takes it, so each process has at most one
    waiter. The kernel wakes a blocked waiter the moment the holder lets go, so writers in different
    processes alternate instead of starving in SQLite's sleeping busy handler. The kernel also drops the
    lock of a process that dies. A forked child opens its own file (a shared descriptor would share the lock).
    """

    def __init__(self, path: Path, slow_after: float = 5.0) -> None:
        self.path = path
        self.slow_after = slow_after
        self._fd = -1
        self._pid = 0
        self._closer: weakref.finalize[Any, Any] | None = None

    def _file(self) -> int:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                # flock needs no write access, so processes of other users can share a read-only lock file
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError as exc:
                self._fd = -1
                log.warning("cannot open the sqlite writer lock file; other processes' writers are not queued",
                            extra={"path": str(self.path), "error": type(exc).__name__})
                return -1
            self._closer = weakref.finalize(self, os.close, self._fd)
        return self._fd

    def acquire(self) -> None:
        fd = self._file()
        if fd < 0:
            return  # SQLite's busy timeout still keeps writers apart, only less fairly
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        started = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks, without the GIL, until the other process commits
        waited = time.monotonic() - started
        if waited > self.slow_after:
            log.warning("waited for another process's sqlite write transaction",
                        extra={"waited_seconds": round(waited, 1)})

    def release(self) -> None:
        if self._pid == os.getpid() and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._pid == os.getpid() and self._closer is not None:
            self._closer()
        self._fd, self._pid = -1, 0


def read_first(session: Session, stmt: Prebuilt, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The first row of one prebuilt read (an API token's owner, say), outside SQLite's single writer.

    On SQLite every transaction of a session takes the writer (``BEGIN IMMEDIATE``), so a request that
    authenticated inside its transaction would hold the writer while it did. When the session has no
    transaction yet, the statement runs on a pooled connection of its own with no transaction at all (SQLite's
    autocommit: the one statement reads the last commit and waits for no writer), and the session stays
    without one; its writes begin their own. On other databases, inside a transaction, or on a session bound
    to a connection (the tests' savepoint sessions), it runs in the session's transaction.
    """
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite" or session.in_transaction():
        return stmt.first(session.connection(), params)
    with bind.connect() as conn:  # Prebuilt runs on the cursor, so SQLAlchemy begins no transaction here
        return stmt.first(conn, params)


def _install_writer_gate(engine: Engine, lock_path: Path | None) -> None:
    gate = WriterGate()
    plock = ProcessLock(lock_path) if lock_path is not None else None
    holders: set[int] = set()
    dialect = engine.dialect
    orig_commit, orig_rollback = dialect.do_commit, dialect.do_rollback

    def _release(dbapi_conn: Any) -> None:
        # The pool's reset-on-return passes its proxy; commits pass the raw sqlite3 connection.
        dbapi_conn = getattr(dbapi_conn, "dbapi_connection", dbapi_conn)
        if id(dbapi_conn) in holders:
            holders.discard(id(dbapi_conn))
            try:
                if plock is not None:
                    plock.release()  # before the gate: the next thread of this process re-takes it
            finally:
                gate.release()

    def do_commit(dbapi_conn: Any) -> None:
        try:
            orig_commit(dbapi_conn)
        finally:
            _release(dbapi_conn)

    def do_rollback(dbapi_conn: Any) -> None:
        try:
            orig_rollback(dbapi_conn)
        finally:
            _release(dbapi_conn)

    setattr(dialect, "do_commit", do_commit)  # noqa: B010 - wrap the dialect's own hooks
    setattr(dialect, "do_rollback", do_rollback)  # noqa: B010

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if gate.acquire():
            holders.add(id(raw))
            if plock is not None:
                try:
                    plock.acquire()
                except BaseException:
                    holders.discard(id(raw))
                    gate.release()
                    raise
        try:
            # IMMEDIATE takes the write lock up front, so a read-then-write never fails mid-way.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(raw)
            raise

    @event.listens_for(engine, "close")
    def _on_close(dbapi_conn: Any, _record: Any) -> None:
        _release(dbapi_conn)

    if plock is not None:
        @event.listens_for(engine, "engine_disposed")
        def _on_dispose(_engine: Engine) -> None:
            plock.close()  # reopened on next use: a disposed engine may still be used


DEFAULT_PING_AFTER_SECONDS = 5.0


def make_engine(url: str, *, ping_after_seconds: float = DEFAULT_PING_AFTER_SECONDS, prepared_statements: bool = True,
                **kwargs: Any) -> Engine:
    """The engine for ``url``. On PostgreSQL a pooled connection idle for ``ping_after_seconds`` is checked
    before use (``_ping_when_idle``), and ``prepared_statements=False`` sends the prebuilt statements unprepared
    (``libpq.unnamed``); other ``kwargs`` go to ``create_engine``."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Keep a connection per busy thread: the thread pool runs up to 40 requests at once, and a
            # connection opened past the pool (then closed on return) pays the PRAGMAs and SQLite's schema
            # parse again on every request.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (SAVEPOINTs work).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        lock_path = None if path is None else path.with_name(path.name + ".writer-lock")
        _install_writer_gate(engine, lock_path)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if "pool_pre_ping" not in kwargs:  # a caller's own choice stands
        _ping_when_idle(engine, ping_after_seconds)
    if not prepared_statements and engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", lambda dbapi_conn, _record: libpq.unnamed(dbapi_conn))
    return engine


_IDLE_SINCE = "pxm_idle_since"


def _ping_when_idle(engine: Engine, after_seconds: float) -> None:
    """Check a pooled PostgreSQL connection on checkout when it sat idle in the pool for ``after_seconds`` or
    more (0: on every checkout, SQLAlchemy's ``pool_pre_ping``); a connection that failed the check is replaced
    before the request uses it.

    ``pool_pre_ping`` costs every request a round trip (``SELECT 1``) for connections that were in use a few
    milliseconds ago. A connection that dies while in steady use (the server restarted) fails the request that
    meets it instead; SQLAlchemy then drops the pool's connections from before the failure, and later requests
    reconnect."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)  # None: connected just now (``info`` starts empty per connection)
        if since is None or time.monotonic() - since < after_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as e:
            if engine.dialect.is_disconnect(e, dbapi_conn, None):
                raise exc.DisconnectionError("the pooled connection failed its check") from e  # pool reconnects
            raise


def engine_for(settings: Settings) -> Engine:
    """``make_engine`` for a process's settings (``PXM_DATABASE_URL``, ``PXM_DB_PING_AFTER_SECONDS``,
    ``PXM_DB_PREPARED_STATEMENTS``)."""
    return make_engine(settings.database_url, ping_after_seconds=settings.db_ping_after_seconds,
                       prepared_statements=settings.db_prepared_statements)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
