"""The audit chain: append-only in the database, verified link by link."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pxm.platform.audit import record, verify_chain
from pxm.platform.auth.actor import Actor


def _write(db, n: int) -> None:
    actor = Actor.system("test", request_id="r1")
    for i in range(n):
        record(db, actor, "patient.read", "patient", i, patient_id=i, details={"i": i})
    db.flush()


def _without_guard(db, sql: str, **params) -> None:
    """Tamper the way an attacker with raw database access would: lift the trigger, change, restore."""
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            db.execute(text(f"DROP TRIGGER audit_events_no_{verb}"))
        db.execute(text(sql), params)
        for verb in ("UPDATE", "DELETE"):
            db.execute(text(f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"))
    else:
        db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        db.execute(text(sql), params)
        db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))


def _base(db) -> int:
    return int(db.execute(text("SELECT coalesce(max(seq), 0) FROM audit_events")).scalar_one())


def test_intact_chain_verifies(db):
    before = _base(db)
    _write(db, 5)
    report = verify_chain(db)
    assert report.intact and report.events == before + 5 and report.first_broken_seq is None


@pytest.mark.parametrize("verb", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
def test_database_refuses_update_and_delete(db, verb):
    _write(db, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin_nested():
            db.execute(text(verb))


def test_tampered_row_is_named(db):
    start = _base(db)
    _write(db, 6)
    _without_guard(db, "UPDATE audit_events SET action = 'patient.export' WHERE seq = :s", s=start + 3)
    report = verify_chain(db)
    assert not report.intact and report.first_broken_seq == start + 3
    assert "altered" in (report.problem or "")


def test_deleted_row_is_named(db):
    start = _base(db)
    _write(db, 6)
    _without_guard(db, "DELETE FROM audit_events WHERE seq = :s", s=start + 4)
    report = verify_chain(db)
    assert not report.intact and report.first_broken_seq == start + 4
    assert "missing" in (report.problem or "")


def test_deleted_tail_is_caught(db):
    start = _base(db)
    _write(db, 3)
    _without_guard(db, "DELETE FROM audit_events WHERE seq = :s", s=start + 3)
    report = verify_chain(db)
    assert not report.intact and report.first_broken_seq == start + 3


def test_reordered_rows_are_named(db):
    start = _base(db)
    _write(db, 6)
    a, b = start + 2, start + 5
    _without_guard(db, "UPDATE audit_events SET seq = -1 WHERE seq = :a", a=a)
    _without_guard(db, "UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    _without_guard(db, "UPDATE audit_events SET seq = :b WHERE seq = -1", b=b)
    report = verify_chain(db)
    assert not report.intact and report.first_broken_seq == a
