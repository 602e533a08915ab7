"""Fast loading: SQLAlchemy Core ``insert()`` executemany on a light table whose sealed columns take bytes.

The ORM's ``Sealed`` type seals on bind; bulk loaders seal themselves (``keyring().seal(value,
"patients.<col>")``, the same context the model uses) and write the bytes through this table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, LargeBinary, TableClause, column, insert, table
from sqlalchemy.orm import Session

from pxm.platform.people.crypto import Sealed
from pxm.platform.people.models import Encounter, Patient


def raw_table(model: type[Any], skip: Sequence[str] = ("id",)) -> TableClause:
    cols = []
    for c in model.__table__.columns:
        if c.name in skip:
            continue
        cols.append(column(c.name, LargeBinary() if isinstance(c.type, Sealed) else c.type))
    return table(model.__tablename__, *cols)


PATIENTS = raw_table(Patient)
ENCOUNTERS = raw_table(Encounter)
SEALED_COLUMNS = tuple(c.name for c in Patient.__table__.columns if isinstance(c.type, Sealed))


def sealed_context(col: str) -> str:
    col_type = Patient.__table__.columns[col].type
    assert isinstance(col_type, Sealed)
    return col_type.context


def tune_for_bulk(session: Session, cache_mib: int = 256) -> None:
    """SQLite: a larger page cache for the load (random-keyed indexes such as ``mrn_index`` otherwise thrash the
    default 2 MiB cache once a table passes a few hundred thousand rows). A no-op on other databases."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size = -{int(cache_mib) * 1024}")


def insert_rows(session: Session, target: Any, rows: list[dict[str, Any]]) -> int:
    """Core executemany of ``rows`` into ``target`` (a table or this module's raw tables); returns the count."""
    if rows:
        session.connection().execute(insert(target), rows)
    return len(rows)


def copy_rows(session: Session, target: TableClause, rows: list[dict[str, Any]]) -> int:
    """Like ``insert_rows``, but PostgreSQL gets ``COPY ... FROM STDIN`` (several times faster than executemany).

    COPY skips SQLAlchemy's type processing, so values must already be what the column stores: bytes for
    sealed columns, aware UTC datetimes, plain Python lists/dicts for JSON (serialised here). Use it for
    tables whose columns are that simple (patients, encounters); otherwise use ``insert_rows``.
    """
    if not rows:
        return 0
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return insert_rows(session, target, rows)
    names = list(rows[0])
    json_cols = {c.name for c in target.columns if isinstance(c.type, JSON)}
    encode = [(json.dumps if name in json_cols else None) for name in names]
    cols = ", ".join(f'"{n}"' for n in names)
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur, cur.copy(f'COPY "{target.name}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([v if f is None or v is None else f(v)
                            for v, f in zip((row[n] for n in names), encode, strict=True)])
    return len(rows)
