"""Fast loading: SQLAlchemy Core ``insert()`` executemany on a light table whose sealed columns take bytes.

The ORM's ``Sealed`` type seals on bind; bulk loaders seal themselves (``keyring().seal(value,
"patients.<col>")``, the same context the model uses) and write the bytes through this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import LargeBinary, TableClause, column, insert, table
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
