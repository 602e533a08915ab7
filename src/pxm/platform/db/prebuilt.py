"""Statements compiled once and run straight on the DB-API cursor: for the few that every contact runs.

``Connection.execute`` builds an execution context, a cursor wrapper and a result object around each
statement: about 30-60 microseconds of Python per call, more than SQLite itself takes for a one-row
INSERT. The service desk's hot path runs about a dozen statements per contact, all fixed in shape, so
:class:`Prebuilt` compiles each once per dialect (SQL text, parameter order, the types' bind and result
processors) and then only converts the parameters, executes and converts the rows. On PostgreSQL it goes
below psycopg's cursor too: statements and batches are sent through libpq as prepared statements in one pipeline,
with the transaction's BEGIN and the audit hook's COMMIT in it (``libpq``); elsewhere on the DB-API cursor.

What it keeps of ``Connection.execute``: the transaction (it runs on the connection SQLAlchemy began, so
SQLite's writer lock and PostgreSQL's transaction are the usual ones), the engine's ``before_cursor_execute``
and ``after_cursor_execute`` events (the audit chain's read-your-writes hook, statement counters), the type
conversions, and errors: a DB-API error is raised as SQLAlchemy's exception (``IntegrityError`` and so on)
and a lost connection is invalidated. What it drops: statement logging (``echo``) and the execution context
(event listeners are given ``None`` for it, and for the cursor on PostgreSQL). Use it only for statements built
once at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine, Pool, Table, bindparam, event, exc, func, insert, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from pxm.platform.db import libpq

Params = Mapping[str, Any]


_REQUIRED = object()


@dataclass(frozen=True)
class _Slot:
    """One parameter of the SQL, in order: where its value comes from and the type's processor."""

    name: str
    proc: Callable[[Any], Any] | None
    fixed: Any = _REQUIRED  # a literal of the statement, an item of a literal IN list, or a scalar column default
    make: Callable[[Any], Any] | None = None  # a Python-side column default computed per execution


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[_Slot, ...]
    positional: bool
    result_types: tuple[Any, ...] | None  # the type of each result column; None: no rows

    def args(self, params: Params) -> Any:
        values = []
        for slot in self.slots:
            if slot.name in params:
                value = params[slot.name]
            elif slot.make is not None:
                value = slot.make(None)  # SQLAlchemy wraps a no-argument default to take a context
            elif slot.fixed is not _REQUIRED:
                value = slot.fixed
            else:
                raise exc.InvalidRequestError(f"A value is required for bind parameter {slot.name!r}")
            values.append(value if slot.proc is None else slot.proc(value))
        if self.positional:
            return tuple(values)
        return {slot.name: v for slot, v in zip(self.slots, values, strict=True)}


def _defaults(compiled: SQLCompiler) -> dict[str, _Slot]:
    """Python-side column defaults (INSERT) and onupdate values (UPDATE) for the columns a caller leaves out."""
    out: dict[str, _Slot] = {}
    for columns, attr in ((compiled.insert_prefetch, "default"), (compiled.update_prefetch, "onupdate")):
        for col in columns:
            default = getattr(col, attr)
            if default is not None and default.is_scalar:
                out[col.key] = _Slot(col.key, None, fixed=default.arg)
            elif default is not None and default.is_callable:
                out[col.key] = _Slot(col.key, None, make=default.arg)
            else:
                raise TypeError(f"Prebuilt does not compute the default of {col.key}; pass a value")
    return out


def _compile(stmt: ClauseElement, dialect: Dialect, keys: list[str] | None) -> _Compiled:
    compiled = stmt.compile(dialect=dialect, column_keys=keys)
    assert isinstance(compiled, SQLCompiler)
    if compiled.escaped_bind_names:
        raise TypeError(f"Prebuilt needs plain bind names: {sorted(compiled.escaped_bind_names)}")
    for bp in compiled.post_compile_params:
        if bp.required or bp.callable is not None:
            raise TypeError(f"Prebuilt renders only literal IN lists, not a parameter given later ({bp.key})")
    # Literal IN lists are rendered once, as SQLAlchemy does on each execution; the other parameters do not
    # change the SQL, so placeholders stand in for them here.
    state = compiled.construct_expanded_state({name: None for name, bp in compiled.binds.items() if bp.required})
    names = tuple(state.positiontup) if compiled.positional and state.positiontup is not None \
        else tuple(n for n in state.parameters if n not in state.parameter_expansion)
    procs = {**compiled._bind_processors, **state.processors}
    defaults = _defaults(compiled)
    slots = []
    for name in names:
        proc = procs.get(name)
        if proc is not None and not callable(proc):
            raise TypeError(f"Prebuilt does not handle tuple parameters ({name})")
        param = compiled.binds.get(name)
        if name in defaults:
            slots.append(replace(defaults[name], proc=proc))
        elif param is not None and param.required:
            slots.append(_Slot(name, proc))
        elif param is not None:
            slots.append(_Slot(name, proc, fixed=param.effective_value))
        else:  # an item of an expanded literal IN list
            slots.append(_Slot(name, proc, fixed=state.parameters[name]))
    result_types = tuple(col[3] for col in compiled._result_columns) if compiled._result_columns else None
    return _Compiled(state.statement, tuple(slots), compiled.positional, result_types)


class Prebuilt:
    """A statement built once; ``rows``, ``first``, ``run`` and ``run_many`` execute it on ``conn``'s cursor.

    ``keys``: for an INSERT without ``.values()``, the columns given (as ``Connection.execute`` would take
    from the first parameter set).
    """

    def __init__(self, stmt: ClauseElement, keys: Iterable[str] | None = None) -> None:
        self.stmt = stmt
        self.keys = list(keys) if keys is not None else None
        self._by_dialect: dict[str, _Compiled] = {}
        # per dialect: the result processors, made from the driver's column types on the first run (as Core
        # does for each result: some types convert by what the driver returns)
        self._results: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect.setdefault(dialect.name, _compile(self.stmt, dialect, self.keys))
        return found

    def rows(self, conn: Connection, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Execute once; the result rows (converted by the column types), [] for a statement without rows."""
        return self._execute(conn, [params or {}], many=False)

    def first(self, conn: Connection, params: Params | None = None) -> tuple[Any, ...] | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def run(self, conn: Connection, params: Params | None = None) -> None:
        """Execute once, for its effect."""
        self._execute(conn, [params or {}], many=False)

    def run_many(self, conn: Connection, param_sets: Sequence[Params]) -> None:
        """Execute for each parameter set (``executemany``; no rows)."""
        if param_sets:
            self._execute(conn, param_sets, many=len(param_sets) > 1)

    def _execute(self, conn: Connection, param_sets: Sequence[Params], *, many: bool) -> list[tuple[Any, ...]]:
        call = Call(self, conn, param_sets, many)
        ahead = _reads_ahead(conn)
        if ahead is not None:
            read = ahead.take(call)
            if read is not None:
                return read.rows
        carried = ahead.carry() if ahead is not None else []
        try:
            if libpq.usable(call.dbapi_conn):
                _send_pq(call.dbapi_conn, [call, *carried], commit=False)
            else:  # (nothing is queued where libpq is not used)
                carried = []
                call.send()
            rows = call.receive()
            if ahead is not None and carried:
                for read in carried:
                    read.receive()
                ahead.done = carried  # (the ones read before: dropped by this statement)
            return rows
        except conn.dialect.loaded_dbapi.Error as e:
            raise call.failed(e) from e
        finally:
            call.close()

    def _convert(self, conn: Connection, cursor: Any, many: bool) -> list[tuple[Any, ...]]:
        if self._for(conn.dialect).result_types is None or many:  # (rows of an executemany are not read)
            return []
        # (the driver builds ``description`` afresh on each access: read it once per statement and dialect)
        procs = self._results.get(conn.dialect.name)
        if procs is None:
            description = cursor.description
            if description is None:
                return []
            procs = self._procs(conn.dialect, [d[1] for d in description])
        return self._processed(procs, cursor.fetchall())

    def _convert_pq(self, conn: Connection, dbapi_conn: Any, statement: libpq.Statement, many: bool
                    ) -> list[tuple[Any, ...]]:
        if self._for(conn.dialect).result_types is None or many or not statement.results:
            return []
        raw, types = libpq.rows(dbapi_conn, statement.results[0])
        procs = self._results.get(conn.dialect.name)
        if procs is None:
            procs = self._procs(conn.dialect, types)
        return self._processed(procs, raw)

    def _procs(self, dialect: Dialect, type_codes: Sequence[Any]) -> tuple[Callable[[Any], Any] | None, ...]:
        return self._results.setdefault(dialect.name, tuple(
            t._cached_result_processor(dialect, code)
            for t, code in zip(self._for(dialect).result_types or (), type_codes, strict=True)))

    @staticmethod
    def _processed(procs: tuple[Callable[[Any], Any] | None, ...], raw: Iterable[Sequence[Any]]
                   ) -> list[tuple[Any, ...]]:
        if not any(procs):
            return [tuple(r) for r in raw]
        return [tuple(v if p is None else p(v) for p, v in zip(procs, r, strict=True)) for r in raw]


class Call:
    """One execution of a prebuilt statement on its own cursor: sent, then its rows received."""

    def __init__(self, stmt: Prebuilt, conn: Connection, param_sets: Sequence[Params], many: bool,
                 in_batch: bool = False) -> None:
        c = stmt._for(conn.dialect)
        self.stmt, self.conn, self.many, self.sql = stmt, conn, many, c.sql
        self.args: Any = [c.args(p) for p in param_sets] if many else c.args(param_sets[0])
        self.dbapi_conn: Any = conn.connection.dbapi_connection
        assert self.dbapi_conn is not None
        pgconn = getattr(self.dbapi_conn, "pgconn", None)
        if not many and pgconn is not None and pgconn.pipeline_status and not in_batch:
            # its rows would come back only at the pipeline's sync, after this call has returned
            raise RuntimeError("a prebuilt statement cannot run on its own while a Batch is being sent")
        self.events = conn._has_events or conn.engine._has_events
        self.cursor: Any = None  # the DB-API cursor (``send``); None when sent through libpq (``pq_statement``)
        self.statement: libpq.Statement | None = None
        self.rows: list[tuple[Any, ...]] = []

    def before(self) -> None:
        """The engine's ``before_cursor_execute`` listeners (given no cursor on the libpq path)."""
        if self.events:
            for fn in self.conn.dispatch.before_cursor_execute:
                out = fn(self.conn, self.cursor, self.sql, self.args, None, self.many)
                if out is not None:  # retval listeners may rewrite the statement
                    self.sql, self.args = out

    def send(self) -> None:
        """Execute on a DB-API cursor."""
        self.cursor = self.dbapi_conn.cursor()
        self.before()
        if self.many:
            self.cursor.executemany(self.sql, self.args)
        else:
            self.cursor.execute(self.sql, self.args)

    def pq_statement(self) -> libpq.Statement:
        """This call as a statement of a libpq pipeline (``before`` has run)."""
        self.statement = libpq.Statement(self.sql, self.args if self.many else [self.args])
        return self.statement

    def receive(self) -> list[tuple[Any, ...]]:
        if self.statement is not None:
            self.rows = self.stmt._convert_pq(self.conn, self.dbapi_conn, self.statement, self.many)
        else:
            self.rows = self.stmt._convert(self.conn, self.cursor, self.many)
        if self.events:
            for fn in self.conn.dispatch.after_cursor_execute:
                fn(self.conn, self.cursor, self.sql, self.args, None, self.many)
        return self.rows

    def failed(self, e: Any) -> exc.StatementError:
        """SQLAlchemy's exception for a DB-API error (a lost connection is invalidated first)."""
        if self.conn.dialect.is_disconnect(e, self.dbapi_conn, self.cursor):
            self.conn.invalidate(e)
        return exc.DBAPIError.instance(self.sql, self.args, e, self.conn.dialect.loaded_dbapi.Error,
                                       dialect=self.conn.dialect)

    def close(self) -> None:
        if self.cursor is not None:
            self.cursor.close()


class Batch:
    """Prebuilt statements sent together: with psycopg in one pipeline (one round trip to PostgreSQL for all
    of them, each still its own statement, run in order), elsewhere one after another.

    ``add`` queues a statement and returns its call; after ``send`` its ``rows`` hold the result. For the
    writes that follow a decision while a lock is held, where each round trip lengthens everyone's wait.
    The first failing statement's error is raised (as SQLAlchemy's exception); the ones after it do not run.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.calls: list[Call] = conn.info.pop(_DEFERRED, [])  # deferred writes go first (``defer``)

    def defer(self) -> None:
        """Send these statements with the connection's next statement or batch (or before its COMMIT), not
        now: for writes whose results nobody needs before then. With the next batch (the audit events and the
        COMMIT, for a request) they take no round trip of their own. Any other statement on the connection sends
        them first, so the transaction reads its own writes; a rollback drops them. An error in one is raised
        when they are sent, by whatever sends them."""
        if self.calls:
            self.conn.info[_DEFERRED] = self.calls

    def add(self, stmt: Prebuilt, params: Params | None = None) -> Call:
        call = Call(stmt, self.conn, [params or {}], False, in_batch=True)
        self.calls.append(call)
        return call

    def add_many(self, stmt: Prebuilt, param_sets: Sequence[Params]) -> Call | None:
        if not param_sets:
            return None
        call = Call(stmt, self.conn, param_sets, len(param_sets) > 1, in_batch=True)
        self.calls.append(call)
        return call

    def send(self, *, commit: bool = False) -> None:
        """Run the statements. ``commit``: then COMMIT the connection's transaction, on PostgreSQL in the same
        round trip (the statements and the COMMIT in one pipeline, with one sync); the caller's transaction object
        (SQLAlchemy's) is left to end itself, which then finds nothing to commit. For the last writes of a
        transaction, from the session's ``before_commit`` hook (see ``pxm.platform.audit``)."""
        dbapi_conn: Any = self.conn.connection.dbapi_connection
        current: Call | None = None
        try:
            if libpq.usable(dbapi_conn):
                _send_pq(dbapi_conn, self.calls, commit=commit)
                for call in self.calls:
                    call.receive()
            else:
                for current in self.calls:
                    current.send()
                    current.receive()
                current = None
                if commit:
                    dbapi_conn.commit()
        except self.conn.dialect.loaded_dbapi.Error as e:
            if current is not None:
                raise current.failed(e) from e
            if self.conn.dialect.is_disconnect(e, dbapi_conn, None):
                self.conn.invalidate(e)
            raise exc.DBAPIError.instance("COMMIT", None, e, self.conn.dialect.loaded_dbapi.Error,
                                          dialect=self.conn.dialect) from e
        finally:
            for call in self.calls:
                call.close()


def _send_pq(dbapi_conn: Any, calls: Sequence[Call], *, commit: bool) -> None:
    """``calls`` (and a COMMIT) in one libpq pipeline, with the transaction's BEGIN when it has not begun
    (``libpq``). A failed statement is raised as its call's SQLAlchemy exception (``Call.failed``); an error of
    the BEGIN or the COMMIT, or of the connection, as psycopg's error."""
    for call in calls:
        call.before()
    try:
        libpq.run(dbapi_conn, [call.pq_statement() for call in calls], commit=commit)
    except libpq.Failed as f:
        if f.index is None:
            raise f.error from None
        raise calls[f.index].failed(f.error) from f.error


def read_ahead(conn: Connection, stmt: Prebuilt, params: Params) -> bool:
    """Queue a read to go in the same round trip as the connection's next prebuilt statement (after it); a later
    ``stmt.rows(conn, params)`` or ``first`` with the same parameters is then answered from it, with no round
    trip of its own. For a read that a request is sure to make but may not make yet: the contact path's first
    lookup waits for the request's authentication, and goes with its token lookup.

    The rows are given once, and only while no other statement has run on the connection since they were read
    (it might have changed them); the transaction's end drops them. Through libpq (PostgreSQL) only; elsewhere
    nothing is queued (False) and the later read runs as usual."""
    if not libpq.usable(conn.connection.dbapi_connection):
        return False
    ahead = _reads_ahead(conn)
    if ahead is None:
        ahead = conn.info[_AHEAD] = _ReadsAhead()
    ahead.queued.append(Call(stmt, conn, [params], False, in_batch=True))
    return True


@dataclass
class _ReadsAhead:
    """A connection's reads queued by ``read_ahead`` and the ones sent, with their rows, not yet taken."""

    queued: list[Call] = field(default_factory=list)
    done: list[Call] = field(default_factory=list)

    def take(self, call: Call) -> Call | None:
        """The read done ahead that answers ``call`` (removed); else None, and the same read no longer queued (the
        call itself makes it)."""
        for reads in (self.done, self.queued):
            for i, read in enumerate(reads):
                if read.stmt is call.stmt and not call.many and read.args == call.args:
                    del reads[i]
                    return read if reads is self.done else None
        return None

    def carry(self) -> list[Call]:
        queued, self.queued = self.queued, []
        return queued


_AHEAD = "pxm_reads_ahead"
_DEFERRED = "pxm_deferred_calls"


def _reads_ahead(conn: Connection) -> _ReadsAhead | None:
    if conn.closed or conn.invalidated:  # (``info`` would try to reconnect)
        return None
    found: _ReadsAhead | None = conn.info.get(_AHEAD)
    return found


def _deferred(conn: Connection) -> list[Call] | None:
    if conn.closed or conn.invalidated:  # (``info`` would try to reconnect)
        return None
    found: list[Call] | None = conn.info.get(_DEFERRED)
    return found


# Deferred writes (``Batch.defer``) go before any other statement or the COMMIT and are dropped by a rollback;
# reads done ahead (``read_ahead``) are dropped by any statement after them and by the transaction's end.
@event.listens_for(Engine, "before_cursor_execute")
def _before_statement(conn: Connection, *_args: Any) -> None:
    ahead = _reads_ahead(conn)
    if ahead is not None:
        ahead.done.clear()  # a statement (this one) has run since they were read
    if _deferred(conn):
        Batch(conn).send()


@event.listens_for(Engine, "commit")
def _before_commit(conn: Connection) -> None:
    if _deferred(conn):
        Batch(conn).send()
    if _reads_ahead(conn) is not None:
        conn.info.pop(_AHEAD, None)


@event.listens_for(Engine, "rollback")
def _at_rollback(conn: Connection) -> None:
    if _deferred(conn):
        _close(conn.info.pop(_DEFERRED, []))
    if _reads_ahead(conn) is not None:
        conn.info.pop(_AHEAD, None)


@event.listens_for(Pool, "checkin")
def _at_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:  # a connection given back without commit or rollback (an error path)
        _close(record.info.pop(_DEFERRED, []))
        record.info.pop(_AHEAD, None)


def _close(calls: list[Call]) -> None:
    for call in calls:
        call.close()


_INSERTS: dict[tuple[Table, tuple[str, ...], bool], Prebuilt] = {}


def insert_returning_id(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """``INSERT INTO table (the keys of values) VALUES (...) RETURNING id``, prebuilt per table and key set."""
    return int(insert_returning(table, values).rows(conn, values)[0][0])


def insert_returning(table: Table, keys: Iterable[str]) -> Prebuilt:
    """The prebuilt ``INSERT ... RETURNING id`` of ``table`` for these columns (one per table and key set)."""
    return _insert(table, keys, True)


def insert_into(table: Table, keys: Iterable[str]) -> Prebuilt:
    """The prebuilt plain ``INSERT`` of ``table`` for these columns: for a row whose id the caller already has
    (reserved from the sequence), so that nothing waits for its result."""
    return _insert(table, keys, False)


def _insert(table: Table, keys: Iterable[str], returning: bool) -> Prebuilt:
    key = (table, tuple(keys), returning)  # the Table itself: two metadata may each have a table of one name
    stmt = _INSERTS.get(key)
    if stmt is None:
        built = insert(table).returning(table.c.id) if returning else insert(table)
        stmt = _INSERTS.setdefault(key, Prebuilt(built, key[1]))
    return stmt


def next_id(table: str) -> Any:
    """SQL for the next value of ``table``'s ``id`` sequence (PostgreSQL): an id reserved before its row is written,
    so that the INSERT can go with a later batch (nothing waits for its ``RETURNING``).

    The sequence is named as a ``serial`` column names it (``<table>_id_seq``, the migrations' id columns), cast to
    ``regclass`` in the SQL, so a prepared statement resolves it once; ``pg_get_serial_sequence`` would look it up
    in ``pg_depend`` on every call (0.3 ms each on a catalog left unvacuumed)."""
    if not table.isidentifier():
        raise ValueError(f"not a plain table name: {table!r}")
    return func.nextval(literal_column(f"'{table}_id_seq'::regclass"))


def numbered_values(table: Table, keys: Sequence[str], n: int) -> list[dict[str, Any]]:
    """Parameters of an ``n``-row ``VALUES`` list (``insert(table).values(...)``): ``<key>_<row>``, typed as the
    column. Pass the rows with :func:`numbered_params`."""
    return [{k: bindparam(f"{k}_{i}", type_=table.c[k].type) for k in keys} for i in range(n)]


def numbered_params(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of :func:`numbered_values` for ``rows``."""
    return {f"{k}_{i}": v for i, row in enumerate(rows) for k, v in row.items()}
