"""Prebuilt statements sent straight through libpq (psycopg's ``pq`` layer), in one pipeline per batch.

psycopg's cursor spends about 35-40 microseconds of Python on each statement (a cursor, the query's
conversion, the prepared-statement bookkeeping, a generator per step), and it sends the transaction's BEGIN in a
round trip of its own before the first statement. For the statements ``prebuilt`` runs, whose SQL never
changes, this sends them as named prepared statements in a libpq pipeline: the BEGIN (when the transaction
has not started), each statement's PREPARE the first time this connection sees its SQL, the executions, a
COMMIT when asked, then one sync; one write, and the results read once at the sync. A batch of ten INSERTs with
BEGIN and COMMIT took 0.20-0.23 ms of CPU this way against 0.53-0.65 ms through cursors in one pipeline.

Parameters are sent as text with no type (the SQL that SQLAlchemy's psycopg dialect renders casts each one:
``%(x)s::INTEGER``), so the server's types for a statement never depend on the values, and one prepared
statement serves every execution. Rows are loaded by psycopg's own loaders (the connection's adapters).

The connection is left as psycopg would leave it: out of pipeline mode, in a transaction (or not, after a
COMMIT). A failure other than a statement's error (a lost connection, an interrupt) closes the connection:
results may still be on the wire, and SQLAlchemy then replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, OperationalError, errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.waiting import Ready, Wait

_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")
_TEXT: dict[int, list[PyFormat]] = {}
_FATAL = pq.ExecStatus.FATAL_ERROR
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_IDLE = pq.TransactionStatus.IDLE


@dataclass(frozen=True)
class Numbered:
    """A ``%(name)s`` statement as PostgreSQL takes it (``$1``, ``$2``, ...) and the names in that order."""

    sql: str
    names: tuple[str, ...]


_NUMBERED: dict[str, Numbered] = {}


def numbered(sql: str) -> Numbered:
    found = _NUMBERED.get(sql)
    if found is None:
        names: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m.group(1) is None:  # %% is a literal %
                return "%"
            if m.group(1) not in names:
                names.append(m.group(1))
            return f"${names.index(m.group(1)) + 1}"

        found = _NUMBERED.setdefault(sql, Numbered(_PLACEHOLDER.sub(number, sql), tuple(names)))
    return found


class _State:
    """What one connection has prepared, and its transformer (psycopg's dumpers and loaders, per connection)."""

    def __init__(self, conn: Connection[Any]) -> None:
        self.prepared: dict[str, bytes] = {}  # SQL -> the prepared statement's name
        self.made = 0
        self.named = True  # False: every statement parsed afresh, as the unnamed statement (``unnamed``)
        self.tx = Transformer(conn)
        _forget_at_deallocate_all(conn, self)


def _state(conn: Connection[Any]) -> _State:
    # kept on the connection object (a cycle through the transformer, freed with the connection)
    found: _State | None = getattr(conn, "_pxm_libpq", None)
    if found is None:
        found = _State(conn)
        conn._pxm_libpq = found  # type: ignore[attr-defined]
    return found


def _forget_at_deallocate_all(conn: Connection[Any], state: _State) -> None:
    """psycopg prepares a query it has run 5 times on a connection, and once it holds any it sends DEALLOCATE ALL
    at a rollback (or after a DROP or an ALTER), right after clearing its own cache: PXM's statements go too.
    Forget ours when psycopg clears its cache, so the next batch prepares them again. This shadows one method
    of this connection's psycopg ``PrepareManager`` (private); a psycopg without it has its own preparing
    turned off instead (``prepare_threshold``, public), so that nothing deallocates ours."""
    manager = getattr(conn, "_prepared", None)
    clear = getattr(manager, "clear", None)
    if clear is None:
        conn.prepare_threshold = None
        return

    def clear_and_forget() -> Any:
        deallocating = clear()
        if deallocating:
            state.prepared.clear()
        return deallocating

    manager.clear = clear_and_forget  # type: ignore[union-attr]


def unnamed(conn: Connection[Any]) -> None:
    """Send this connection's statements unprepared (each parsed and planned by the server every time): for a
    pooler that cannot keep a client's prepared statements (``PXM_DB_PREPARED_STATEMENTS=false``); psycopg's own
    preparing is turned off too."""
    conn.prepare_threshold = None
    _state(conn).named = False


def usable(conn: Any) -> bool:
    """Whether a batch can go this way on ``conn``: a psycopg connection not already in a pipeline (and a psycopg
    that still has the method giving its BEGIN, isolation level included: a private one)."""
    pgconn = getattr(conn, "pgconn", None)
    return pgconn is not None and hasattr(conn, "_get_tx_start_command") and not conn.closed \
        and not pgconn.pipeline_status


@dataclass
class Statement:
    """One statement of a batch: its SQL (``%(name)s`` style), one parameter dict per execution; after ``run``,
    the result of each execution."""

    sql: str
    param_sets: Sequence[Any]
    results: list[pq.abc.PGresult] | None = None


class Failed(Exception):
    """A statement of the batch failed: ``index`` is its position (None: the BEGIN or the COMMIT)."""

    def __init__(self, index: int | None, error: errors.Error) -> None:
        super().__init__(str(error))
        self.index, self.error = index, error


_BEGIN, _COMMIT = -1, -2


def run(conn: Connection[Any], statements: Sequence[Statement], *, commit: bool = False) -> None:
    """Send ``statements`` (and a COMMIT) in one pipeline and read their results into ``statement.results``.

    Raises ``Failed`` for the first statement that failed; the ones after it did not run (and the transaction,
    as always after an error, must be rolled back)."""
    if conn.closed:
        raise OperationalError("the connection is closed")
    pgconn = conn.pgconn
    state = _state(conn)
    encoding = conn.info.encoding
    # what to send, worked out before anything is (a value that cannot be adapted fails here, connection intact),
    # and what each result will answer, in order
    sends: list[tuple[bytes | None, bytes | None, Any]] = []  # (statement name, SQL, values): see below
    tags: list[int | tuple[str, bytes]] = []
    if not conn.autocommit and pgconn.transaction_status == _IDLE:
        sends.append((None, conn._get_tx_start_command(), None))
        tags.append(_BEGIN)
    preparing: dict[str, bytes] = {}
    for i, st in enumerate(statements):
        num = numbered(st.sql)
        sql = num.sql.encode(encoding) if not state.named else None
        name = (state.prepared.get(st.sql) or preparing.get(st.sql)) if state.named else None
        if state.named and name is None:
            name = preparing[st.sql] = f"_pxm_{state.made}".encode()
            state.made += 1
            sends.append((name, num.sql.encode(encoding), None))
            tags.append((st.sql, name))
        formats = _TEXT.get(len(num.names))
        if formats is None:
            formats = _TEXT.setdefault(len(num.names), [PyFormat.TEXT] * len(num.names))
        for params in st.param_sets:
            sends.append((name, sql, state.tx.dump_sequence([params[n] for n in num.names], formats)))
            tags.append(i)
    if commit:
        sends.append((None, b"COMMIT", None))
        tags.append(_COMMIT)
    pgconn.enter_pipeline_mode()
    try:
        for name, sql, values in sends:
            if name is None:  # unprepared: BEGIN, COMMIT, any statement when ``unnamed``
                pgconn.send_query_params(sql or b"", values)
            elif sql is not None:  # PREPARE
                pgconn.send_prepare(name, sql, None)
            else:
                pgconn.send_query_prepared(name, values)
        pgconn.pipeline_sync()
        results = conn.wait(_exchange(pgconn))
        pgconn.exit_pipeline_mode()
    except BaseException:
        conn.close()  # results may be left unread: nothing else can use this connection
        raise
    failure: Failed | None = None
    for st in statements:
        st.results = []
    for tag, res in zip(tags, results, strict=True):
        if isinstance(tag, tuple):
            if res.status == pq.ExecStatus.COMMAND_OK:
                state.prepared[tag[0]] = tag[1]
            elif failure is None and res.status == _FATAL:
                failure = Failed(next(i for i, st in enumerate(statements) if st.sql == tag[0]),
                                 errors.error_from_result(res, encoding=encoding))
        elif failure is None and res.status == _FATAL:
            failure = Failed(tag if tag >= 0 else None, errors.error_from_result(res, encoding=encoding))
        elif tag >= 0:
            statements[tag].results.append(res)  # type: ignore[union-attr]
    if failure is not None:
        if isinstance(failure.error, (errors.InvalidSqlStatementName, errors.FeatureNotSupported)):
            # a prepared statement gone (a DEALLOCATE ALL) or stale ("cached plan must not change result
            # type"): this transaction has failed, the next ones prepare afresh under new names
            state.prepared.clear()
        raise failure


def rows(conn: Connection[Any], result: pq.abc.PGresult) -> tuple[list[tuple[Any, ...]], list[int]]:
    """The rows of a result, loaded by the connection's loaders, and the type of each column."""
    tx = _state(conn).tx
    tx.set_pgresult(result)
    try:
        return tx.load_rows(0, result.ntuples, tuple), [result.ftype(i) for i in range(result.nfields)]
    finally:
        tx.set_pgresult(None)


def _exchange(pgconn: pq.abc.PGconn) -> Generator[Wait, Ready | int, list[pq.abc.PGresult]]:
    """Write what libpq holds, then read results up to the pipeline's sync (psycopg's waiting protocol)."""
    while pgconn.flush():  # (non-blocking: 1 while some is left to write)
        ready = yield Wait.RW
        if ready & Ready.R:
            pgconn.consume_input()
    results: list[pq.abc.PGresult] = []
    while True:
        while not pgconn.is_busy():
            res = pgconn.get_result()
            if res is None:  # the end of one statement's results
                continue
            if res.status == _SYNC:
                return results
            results.append(res)
        while not (yield Wait.R):
            pass
        pgconn.consume_input()
        while (notify := pgconn.notifies()) is not None:
            if pgconn.notify_handler is not None:
                pgconn.notify_handler(notify)
