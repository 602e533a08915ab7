"""Server-sent events for the live view: poll the snapshot about every 0.5 s, push when it changes.

Every process polls the database itself, so a change made by any process (web, worker, import) reaches
every open page within a poll interval, with no broker. Within one process the snapshot is computed at
most once per interval however many pages are open (:class:`SnapshotCache`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from sqlalchemy.orm import Session, sessionmaker

from pxm.operations.live.service import snapshot

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


class SnapshotCache:
    """The latest snapshot of one database, recomputed when older than ``max_age`` seconds."""

    def __init__(self, session_factory: sessionmaker[Session], *, timezone: str = "UTC",
                 max_age: float = POLL_SECONDS * 0.8) -> None:
        self.session_factory = session_factory
        self.timezone = timezone
        self.max_age = max_age
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._at = 0.0

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is not None and time.monotonic() - self._at < self.max_age:
                return self._value
            with self.session_factory() as s:
                value = snapshot(s, timezone=self.timezone)
                s.rollback()
            self._value, self._at = value, time.monotonic()
            return value


def cache_for(app_state: Any) -> SnapshotCache:
    """One cache per application (created on first use)."""
    cache = getattr(app_state, "live_cache", None)
    if cache is None:
        cache = SnapshotCache(app_state.session_factory, timezone=app_state.settings.timezone)
        app_state.live_cache = cache
    return cache


async def events(get_snapshot: Callable[[], dict[str, Any]], is_disconnected: Callable[[], Awaitable[bool]],
                 *, poll_seconds: float = POLL_SECONDS, keepalive_seconds: float = KEEPALIVE_SECONDS,
                 max_events: int | None = None) -> AsyncIterator[dict[str, Any]]:
    """SSE messages: a ``snapshot`` at once, another whenever the snapshot's version changes, and a
    ``ping`` (the current clock, no data) after ``keepalive_seconds`` of quiet."""
    last_version: str | None = None
    last_sent = time.monotonic()
    sent = 0
    while True:
        if await is_disconnected():
            return
        snap = await anyio.to_thread.run_sync(get_snapshot)
        if snap["version"] != last_version:
            last_version = snap["version"]
            last_sent = time.monotonic()
            yield {"event": "snapshot", "id": snap["version"], "data": json.dumps(snap, default=str)}
            sent += 1
            if max_events is not None and sent >= max_events:
                return
        elif time.monotonic() - last_sent >= keepalive_seconds:
            last_sent = time.monotonic()
            yield {"event": "ping", "data": json.dumps({"as_of": snap["as_of"]})}
        await anyio.sleep(poll_seconds)
