"""Migration 0008: staff skills become jsonb on PostgreSQL (routing's skill test reads them for every new case)
and go back to json on downgrade, the agents' skills kept both ways; on SQLite nothing changes."""

from __future__ import annotations

from sqlalchemy import text

from pxm.platform.db import make_engine
from pxm.platform.db.migrate import current_revision, downgrade, upgrade

_TYPES = ("SELECT data_type FROM information_schema.columns WHERE table_name = 'staff' "
          "AND column_name IN ('languages', 'reasons', 'channels')")


def test_staff_skills_survive_the_type_change_both_ways(committed_db_url: str) -> None:
    engine = make_engine(committed_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO staff (username, display_name, job_role, languages, reasons, channels, "
                              "capacity, status, status_since, active) VALUES ('skills-mig', 'Mig', 'agent', "
                              "'[\"es\", \"en\"]', '[\"billing\"]', '[]', 3, 'available', CURRENT_TIMESTAMP, true)"))
        postgres = engine.dialect.name == "postgresql"
        downgrade(committed_db_url, "0007_feedback_text", engine=engine)
        assert current_revision(engine) == "0007_feedback_text"
        if postgres:
            with engine.connect() as conn:
                assert set(conn.execute(text(_TYPES)).scalars()) == {"json"}
        upgrade(committed_db_url, engine=engine)
        with engine.connect() as conn:
            if postgres:
                assert set(conn.execute(text(_TYPES)).scalars()) == {"jsonb"}
                # containment on the column itself, as routing asks it
                hit = conn.execute(text("SELECT username FROM staff WHERE reasons @> CAST(:r AS jsonb) "
                                        "AND languages @> CAST(:l AS jsonb)"), {"r": '["billing"]', "l": '["es"]'})
                assert hit.scalars().all() == ["skills-mig"]
            row = conn.execute(text("SELECT languages, reasons, channels FROM staff WHERE username = 'skills-mig'"))
            assert [list(v) if isinstance(v, list) else v for v in row.one()] in (
                [["es", "en"], ["billing"], []], ['["es", "en"]', '["billing"]', "[]"])
    finally:
        engine.dispose()
