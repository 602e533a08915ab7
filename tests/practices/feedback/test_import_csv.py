"""CSV import of responses: errors name line and item, a bad file imports nothing, re-import adds nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pxm.platform.auth.actor import Actor
from pxm.platform.config import get_settings
from pxm.platform.http.errors import BadRequest
from pxm.platform.people.models import Patient
from pxm.practices.feedback.imports import import_responses_csv
from pxm.practices.feedback.models import Response

GOOD = """response_id,patient_mrn,submitted_at,CSAT,RESOLVED,CES,UNRESOLVED_WHY,COMMENT
r1,{mrn},2026-02-01T09:00:00Z,5,yes,7,,Quick and kind
r2,,2026-02-02,2,no,3,waiting,
"""


def _count(db: Session) -> int:
    return int(db.execute(select(func.count()).select_from(Response)).scalar_one())


def test_import_then_reimport_adds_nothing(db: Session, actor: Actor, make_patient: Callable[..., Patient]) -> None:
    p = make_patient()
    content = GOOD.format(mrn=p.mrn)
    first = import_responses_csv(db, actor, content, "pulse")
    assert (first.added, first.already_present) == (2, 0)
    r1 = db.execute(select(Response).where(Response.external_id == "r1")).scalar_one()
    assert r1.patient_id == p.id and r1.answers == {"CSAT": 5, "RESOLVED": "yes", "CES": 7}
    assert r1.comment == "Quick and kind" and r1.source == "csv"
    again = import_responses_csv(db, actor, content, "pulse")
    assert (again.added, again.already_present) == (0, 2)
    assert _count(db) == 2


def test_errors_name_line_and_item_and_nothing_is_written(db: Session, actor: Actor) -> None:
    bad = ("response_id,submitted_at,CSAT,RESOLVED\n"
           "a1,2026-02-01T09:00:00Z,4,yes\n"
           "a2,2026-02-01T09:00:00Z,9,yes\n"
           "a3,yesterday,4,yes\n"
           "a4,2026-02-01T09:00:00Z,4,maybe\n")
    with pytest.raises(BadRequest) as exc:
        import_responses_csv(db, actor, bad, "pulse")
    errors = exc.value.details["errors"]
    assert errors[0] == "line 3 (response_id a2): item CSAT must be from 1 to 5, got 9"
    assert errors[1].startswith("line 4 (response_id a3): submitted_at 'yesterday'")
    assert errors[2].startswith("line 5 (response_id a4): item RESOLVED must be yes or no")
    assert _count(db) == 0


def test_unknown_column_and_unknown_mrn(db: Session, actor: Actor) -> None:
    with pytest.raises(BadRequest, match="column 'NPS' is not an item of pulse"):
        import_responses_csv(db, actor, "response_id,submitted_at,NPS\nx,2026-01-01,5\n", "pulse")
    with pytest.raises(BadRequest, match="line 2 .*patient_mrn"):
        import_responses_csv(db, actor, "response_id,patient_mrn,submitted_at,NPS\nx,NOPE,2026-01-01,5\n", "nps")


def test_cli_import_and_metrics(committed_db_url: str, key_dir: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pxm.cli.main import app

    monkeypatch.setenv("PXM_DATABASE_URL", committed_db_url)
    monkeypatch.setenv("PXM_KEY_DIR", str(key_dir))
    get_settings.cache_clear()
    try:
        good = tmp_path / "nps.csv"
        good.write_text("response_id,submitted_at,NPS\nn1,2026-01-05T10:00:00Z,10\nn2,2026-01-06T10:00:00Z,9\n"
                        "n3,2026-02-01T10:00:00Z,2\n", encoding="utf-8")
        bad = tmp_path / "bad.csv"
        bad.write_text("response_id,submitted_at,NPS\nb1,2026-01-05T10:00:00Z,11\n", encoding="utf-8")
        runner = CliRunner()
        r = runner.invoke(app, ["import", "responses", str(good), "--instrument", "nps", "--format", "json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["added"] == 3
        r = runner.invoke(app, ["import", "responses", str(good), "--instrument", "nps", "--format", "json"])
        assert json.loads(r.output)["added"] == 0 and json.loads(r.output)["already_present"] == 3
        r = runner.invoke(app, ["import", "responses", str(bad), "--instrument", "nps"])
        assert r.exit_code == 2 and "line 2 (response_id b1): item NPS must be from 0 to 10, got 11" in r.output
        r = runner.invoke(app, ["metrics", "nps", "--by", "month", "--format", "json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["overall"]["nps"] == pytest.approx(100 * (2 - 1) / 3)
        assert [(g["group"], g["n"]) for g in out["groups"]] == [("2026-01", 2), ("2026-02", 1)]
        r = runner.invoke(app, ["metrics", "nps", "--from", "2026-02-01", "--to", "2026-02-28"])
        assert r.exit_code == 0 and "n<30" in r.output
        r = runner.invoke(app, ["metrics", "csat", "--by", "weather"])
        assert r.exit_code == 2
        r = runner.invoke(app, ["metrics", "topbox", "--format", "json"])
        assert r.exit_code == 0 and json.loads(r.output)["overall"]["measures"] == []
        r = runner.invoke(app, ["feedback", "instruments", "--format", "json"])
        assert {i["code"] for i in json.loads(r.output)} == {"pulse", "nps", "inpatient", "cxm"}
        r = runner.invoke(app, ["feedback", "wave", "--instrument", "nps", "--wave", "w1", "--segment", "[1]"])
        assert r.exit_code == 2 and "JSON object" in r.output
        r = runner.invoke(app, ["feedback", "wave", "--instrument", "nps", "--wave", "w1",
                                "--segment", '{"colour": "red"}'])
        assert r.exit_code == 2 and "unknown filter 'colour'" in r.output
        r = runner.invoke(app, ["feedback", "scan", "--format", "json"])
        assert r.exit_code == 0 and json.loads(r.output)["invitations"] == {}
    finally:
        get_settings.cache_clear()
