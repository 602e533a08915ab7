"""CSV contact import: errors by line, all or nothing, idempotent re-import, --create-patients/--create-agents; the
CLI's metrics as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from pxm.practices.resolution.importer import import_contacts
from pxm.practices.resolution.models import Case, Contact

HEADER = "contact_id,patient_mrn,channel,direction,reason,started_at,ended_at,agent,case_ref,resolved\n"


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def _csv(*rows: str) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


def test_import_groups_by_case_ref_and_reimport_adds_nothing(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    make_patient("MRN-1")
    make_patient("MRN-2")
    make_agent("jdoe")
    text = _csv(
        "c1,MRN-1,phone,inbound,billing,2025-03-03T14:00:00Z,2025-03-03T14:06:00Z,jdoe,K1,false",
        "c2,MRN-1,email,outbound,billing,2025-03-04T15:00:00+00:00,,jdoe,K1,true",
        "c3,MRN-2,chat,inbound,test_results,2025-03-03T16:00:00Z,2025-03-03T16:09:00Z,jdoe,K2,true",
    )
    report = import_contacts(db, actor, text)
    assert report.to_dict() | {"errors": []} == {"imported_contacts": 3, "cases_created": 2,
                                                 "skipped_existing": 0, "created_patients": 0,
                                                 "created_agents": 0, "errors": []}
    k1 = db.execute(select(Case).where(Case.external_ref == "K1")).scalar_one()
    assert k1.status == "resolved" and k1.reason == "billing"
    assert _count(db, Contact) == 3
    again = import_contacts(db, actor, text)
    assert (again.imported_contacts, again.cases_created, again.skipped_existing) == (0, 0, 3)
    assert _count(db, Contact) == 3 and _count(db, Case) == 2


def test_errors_are_reported_by_line_and_nothing_is_written(db, actor, make_patient) -> None:  # type: ignore[no-untyped-def]
    make_patient("MRN-9")
    text = _csv(
        "d1,MRN-9,phone,inbound,billing,2025-03-03T14:00:00Z,2025-03-03T14:06:00Z,,K9,true",   # line 2: fine
        "d2,MRN-9,fax,inbound,billing,2025-03-03T14:00:00Z,,,K9,false",                       # line 3
        "d3,MRN-9,phone,inbound,parking,2025-03-03T14:00:00Z,,,K9,false",                     # line 4
        "d4,MRN-9,phone,inbound,billing,03/03/2025,,,K9,false",                                # line 5
        "d5,NOPE,phone,inbound,billing,2025-03-03T14:00:00Z,,,K8,false",                       # line 6
        "d6,MRN-9,phone,inbound,billing,2025-03-03T14:00:00Z,,ghost,K9,false",                 # line 7
        "d1,MRN-9,phone,inbound,billing,2025-03-03T14:00:00Z,,,K9,false",                      # line 8
        "d7,MRN-9,phone,inbound,billing,2025-03-03T14:00:00,,,K9,maybe",                       # line 9
    )
    before = (_count(db, Contact), _count(db, Case))
    report = import_contacts(db, actor, text)
    lines = {e["line"]: e["message"] for e in report.errors}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9]
    assert "channel 'fax'" in lines[3] and "reason 'parking'" in lines[4] and "ISO 8601" in lines[5]
    assert "--create-patients" in lines[6] and "--create-agents" in lines[7] and "repeats line 2" in lines[8]
    assert "time zone" in lines[9]
    assert report.imported_contacts == 0
    assert (_count(db, Contact), _count(db, Case)) == before


def test_create_patients_and_agents(db, actor) -> None:  # type: ignore[no-untyped-def]
    from pxm.platform.people import service as people

    text = _csv("e1,NEW-77,walk_in,inbound,records_request,2025-03-03T14:00:00Z,,newbie,,true")
    report = import_contacts(db, actor, text, create_patients=True, create_agents=True)
    assert (report.created_patients, report.created_agents, report.imported_contacts) == (1, 1, 1)
    patient = people.find_patient_by_mrn(db, actor, "NEW-77")
    assert patient is not None and patient.family_name == "Imported"
    contact = db.execute(select(Contact).where(Contact.external_id == "e1")).scalar_one()
    assert contact.patient_id == patient.id and contact.agent_id is not None


def test_missing_column_is_an_error_on_line_1(db, actor) -> None:  # type: ignore[no-untyped-def]
    report = import_contacts(db, actor, "contact_id,patient_mrn\nx,y\n")
    assert report.errors[0]["line"] == 1 and "missing column(s): channel" in report.errors[0]["message"]


def test_cli_exit_codes_and_json(committed_db_url, key_dir, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pxm.cli.main import app
    from pxm.platform.config import get_settings

    monkeypatch.setenv("PXM_DATABASE_URL", committed_db_url)
    monkeypatch.setenv("PXM_KEY_DIR", str(key_dir))
    get_settings.cache_clear()
    try:
        good = tmp_path / "good.csv"
        good.write_text(_csv("f1,CLI-1,phone,inbound,billing,2025-03-03T14:00:00Z,2025-03-03T14:05:00Z,ann,R1,true"))
        bad = tmp_path / "bad.csv"
        bad.write_text(_csv("f2,CLI-1,phone,sideways,billing,2025-03-03T14:00:00Z,,,R2,true"))
        runner = CliRunner()
        r = runner.invoke(app, ["import", "contacts", str(good), "--format", "json"])
        assert r.exit_code == 2 and json.loads(r.stdout)["errors"][0]["line"] == 2
        r = runner.invoke(app, ["import", "contacts", str(good), "--create-patients", "--create-agents",
                                "--format", "json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert (out["imported_contacts"], out["cases_created"], out["skipped_existing"]) == (1, 1, 0)
        r = runner.invoke(app, ["import", "contacts", str(good), "--format", "json"])
        assert json.loads(r.stdout)["skipped_existing"] == 1
        r = runner.invoke(app, ["import", "contacts", str(bad), "--format", "json"])
        assert r.exit_code == 2 and "direction 'sideways'" in json.loads(r.stdout)["errors"][0]["message"]
        r = runner.invoke(app, ["metrics", "fcr", "--as-of", "2025-04-01T00:00:00Z", "--by", "agent",
                                "--format", "json"])
        assert r.exit_code == 0, r.output
        fcr = json.loads(r.stdout)
        assert (fcr["cases"], fcr["eligible"], fcr["resolved_first_contact"], fcr["fcr_rate"]) == (1, 1, 1, 1.0)
        assert fcr["groups"] == [{"key": "ann", "contacts": 1, "cases": 1, "eligible": 1,
                                  "resolved_first_contact": 1, "pending": 0, "fcr_rate": 1.0}]
        r = runner.invoke(app, ["metrics", "fcr", "--by", "weather"])
        assert r.exit_code == 2
        r = runner.invoke(app, ["metrics", "contacts", "--as-of", "2025-04-01T00:00:00Z", "--format", "json"])
        assert r.exit_code == 0 and json.loads(r.stdout)["aht_seconds"] == 300.0
        # the same figures for a spreadsheet: a row for everything, then one per group
        r = runner.invoke(app, ["metrics", "fcr", "--as-of", "2025-04-01T00:00:00Z", "--by", "agent",
                                "--format", "csv"])
        assert r.exit_code == 0, r.output
        assert r.stdout.splitlines() == ["agent,cases,eligible,resolved_first_contact,pending,fcr_rate",
                                         "all,1,1,1,0,1.0", "ann,1,1,1,0,1.0"]
        r = runner.invoke(app, ["metrics", "contacts", "--as-of", "2025-04-01T00:00:00Z", "--format", "csv"])
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        assert r.exit_code == 0 and [(x["group"], x["contacts"], x["aht_seconds"]) for x in rows] == [("all", "1", "300.0")]
    finally:
        get_settings.cache_clear()
