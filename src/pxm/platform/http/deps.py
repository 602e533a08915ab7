"""Request-scoped dependencies: the database session (committed at the edge) and settings."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pxm.platform.config import Settings
from pxm.platform.jobs.service import notify_committed

T = TypeVar("T")


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def commit_now(session: Session) -> None:
    """Commit and tell the job listeners; also inside a handler, before the teardown would.

    On SQLite the transaction holds the single writer until it commits; committing at the end of the handler
    releases it before the request goes back to the event loop (which would run other requests' parsing and
    validation first). The teardown's commit then has nothing to do; a failed commit still rolls back there."""
    session.commit()
    notify_committed(session)


def _finish(session: Session, ok: bool) -> None:
    try:
        if ok:
            commit_now(session)
        else:
            session.rollback()
    finally:
        session.close()


def with_session(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` with a request session, in the calling thread: committed if it returns, rolled back if it
    raises, closed either way (``get_db`` without the dependency, for a handler that does all its database
    work in one thread-pool call)."""
    session: Session = request.app.state.session_factory()
    try:
        result = work(session)
    except BaseException:
        _finish(session, False)
        raise
    _finish(session, True)
    return result


async def run_write(request: Request, work: Callable[[Session], T]) -> T:
    """``with_session(request, work)`` in the app's write pool: at most ``PXM_WRITE_THREADS`` at a time per process.

    For the busiest write handlers. With FastAPI's default pool (40 threads) a burst of them all run at once
    and the one that holds SQLite's writer (or PostgreSQL's routing lock) keeps waiting for the GIL while the
    others do their share of Python; two at a time kept the lock holder running (service-desk benchmark,
    docs/benchmarks.md). The pool is a plain ``ThreadPoolExecutor`` entered through the event loop: the hop
    costs about half the CPU of anyio's worker threads (``benchmarks/thread_hop.py``: 38-40 against 77-84 us a
    call), and the context (the request id of the log lines) goes with the call. Without the app's lifespan (a
    test client used without ``with``) anyio's default pool runs it."""
    pool: ThreadPoolExecutor | None = getattr(request.app.state, "write_pool", None)
    if pool is None:
        return await anyio.to_thread.run_sync(with_session, request, work)
    call = functools.partial(contextvars.copy_context().run, with_session, request, work)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the handler returns, rolled back when it raises.

    Opening a session does no I/O, so it happens on the event loop; the commit (or rollback) and close run in
    one thread-pool call (a sync generator would cost a thread hop on the way in as well)."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    await run_in_threadpool(_finish, session, True)


# ``db: Session = DB`` in a route: the request's session. Scope "function": the commit runs when the handler
# returns and before the response is sent. FastAPI's default for a dependency with ``yield`` ends it after the
# response has gone out, so a client could be told a write succeeded that then failed to commit, and its next
# request (a redirect after a form post, say) could arrive before the commit and miss the write.
DB = Depends(get_db, scope="function")
