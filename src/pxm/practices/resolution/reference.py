"""Reference data read on every contact, kept by each server process for a few seconds.

Contact reasons, SLA policies and business calendars change rarely, by a manager (the settings page), SQL or a
migration; routing settings change through their API. Reading them on every contact cost four or five
statements and a few dozen ORM objects, so ``cached`` keeps one copy per engine and name for ``TTL``
seconds. The copies are plain frozen values (never ORM rows), safe to share between threads.

When a change is seen:

* a change made in this process through the ORM (insert, update or delete of a row of a registered model,
  e.g. ``update_routing_settings``) drops the copies of that engine at once, and marks the connection:
  until that connection's transaction ends, reads on it bypass the copies (the change is not committed yet,
  or may still roll back), and the copies are dropped again when the transaction ends, however it ends;
* another server process (or engine), or a change made in SQL, is seen within ``TTL`` seconds.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

TTL = 10.0  # seconds
T = TypeVar("T")

_WRITTEN = "pxm_reference_written"
# per engine (not per URL: a test suite re-creates the same database under another engine, and a dropped
# engine takes its copies with it), then per name: (monotonic time read, value)
_copies: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Any]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_watched: set[type] = set()


def cached(session: Session, name: str, load: Callable[[Session], T], ttl: float = TTL) -> T:
    """``load(session)``, or the copy of it this process read less than ``ttl`` seconds ago."""
    conn = session.connection()
    if conn.info.get(_WRITTEN):
        return load(session)
    now = time.monotonic()
    mine = _copies.get(conn.engine)
    hit = mine.get(name) if mine is not None else None
    if hit is not None and now - hit[0] < ttl:
        return hit[1]  # type: ignore[no-any-return]
    value = load(session)
    with _lock:
        _copies.setdefault(conn.engine, {})[name] = (now, value)
    return value


def invalidate(engine: Engine | None = None) -> None:
    """Drop the copies of one engine (all engines without ``engine``)."""
    with _lock:
        if engine is None:
            _copies.clear()
        else:
            _copies.pop(engine, None)


def watch(*models: type) -> None:
    """Drop the copies when a row of one of ``models`` is written through the ORM in this process."""
    for model in models:
        if model in _watched:
            continue
        _watched.add(model)
        for name in ("after_insert", "after_update", "after_delete"):
            event.listen(model, name, _written)


def _written(_mapper: Any, connection: Connection, _target: Any) -> None:
    connection.info[_WRITTEN] = True
    invalidate(connection.engine)


def _transaction_ended(conn: Connection) -> None:
    if _lost(conn) or conn.info.pop(_WRITTEN, False):
        invalidate(conn.engine)


def _savepoint_rolled_back(conn: Connection, _name: Any, _context: Any) -> None:
    if _lost(conn) or conn.info.get(_WRITTEN):
        invalidate(conn.engine)


def _lost(conn: Connection) -> bool:
    """The connection broke (or was closed): its ``info`` went with it (reading it would raise instead of the
    database's error), so whether this transaction wrote reference rows is unknown; the copies are dropped."""
    return conn.closed or conn.invalidated


event.listen(Engine, "commit", _transaction_ended)
event.listen(Engine, "rollback", _transaction_ended)
event.listen(Engine, "rollback_savepoint", _savepoint_rolled_back)
