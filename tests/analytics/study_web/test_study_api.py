"""The study JSON API: upload, store, compare, refuse bad data, permissions, idempotency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.helpers.auth import login, token_headers

from pxm.analytics.study.models import Study
from pxm.platform.audit.models import AuditEvent


def _count(db: Session) -> int:
    return int(db.execute(select(func.count()).select_from(Study)).scalar_one())


def test_upload_stores_fingerprint_options_engine_and_results(client: Any, db: Session, upload: Any,
                                                              example_csv: bytes) -> None:
    headers = token_headers(db, "analyst")
    resp = upload(headers, example_csv, title="Spring wave", seed=7)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "done"
    assert len(body["input_fingerprint"]) == 64
    assert body["options"] == {"bootstrap": 0, "seed": 7, "mapping": {}}
    assert body["engine_version"].startswith("pxm-sem")
    assert body["n_rows"] == 300
    assert body["dropped_columns"] == ["respondent_id"]  # identifiers are not stored
    results = body["results"]
    assert [h["hypothesis"] for h in results["hypotheses"]] == ["H1", "H2", "H3", "H4", "H5"]
    assert results["meta"]["input_fingerprint"] == body["input_fingerprint"]

    study = db.get(Study, body["id"])
    assert study is not None and "respondent_id" not in study.input_data["columns"]
    assert study.input_data["columns"][0] == "PPE1" and len(study.input_data["rows"]) == 300
    actions = db.execute(select(AuditEvent.action).where(AuditEvent.resource_type == "study",
                                                         AuditEvent.resource_id == str(study.id))).scalars().all()
    assert sorted(actions) == ["study.create", "study.run"]

    got = client.get(f"/api/v1/studies/{study.id}", headers=headers).json()
    assert got["results"]["hypotheses"] == results["hypotheses"]
    listing = client.get("/api/v1/studies?limit=1", headers=headers).json()
    assert listing["total"] >= 1 and listing["items"][0]["id"] == study.id and "results" not in listing["items"][0]
    report = client.get(f"/api/v1/studies/{study.id}/report.html", headers=headers)
    assert report.status_code == 200 and "Table 4. Hypotheses" in report.text
    assert "attachment" in report.headers["content-disposition"]


def test_same_file_again_is_comparable_and_rerun_matches(client: Any, db: Session, upload: Any,
                                                         example_csv: bytes) -> None:
    headers = token_headers(db, "analyst")
    first = upload(headers, example_csv).json()
    # the same answers with the columns in another order and another name: the same data
    lines = example_csv.decode().splitlines()
    cols = [c.split(",") for c in lines]
    shuffled = "\n".join(",".join([r[0], *reversed(r[1:])]) for r in cols).replace("PPE1", "Q1", 1)
    second = upload(headers, shuffled.encode(), name="renamed.csv", mapping="Q1=PPE1").json()
    assert second["status"] == "done"
    assert second["input_fingerprint"] == first["input_fingerprint"]
    cmp = client.get(f"/api/v1/studies/compare?a={first['id']}&b={second['id']}", headers=headers).json()
    assert cmp["same_fingerprint"] is True and cmp["same_engine"] is True
    assert cmp["same_options"] is False  # the second used a column mapping
    assert all(abs(p["difference"]) < 1e-9 for p in cmp["paths"])

    rerun = client.post(f"/api/v1/studies/{first['id']}/rerun", headers=headers)
    assert rerun.status_code == 201
    again = rerun.json()
    assert again["rerun_of"] == first["id"] and again["input_fingerprint"] == first["input_fingerprint"]
    cmp = client.get(f"/api/v1/studies/compare?a={first['id']}&b={again['id']}", headers=headers).json()
    assert cmp["same_fingerprint"] and cmp["same_options"]
    assert [p["beta_a"] for p in cmp["paths"]] == [p["beta_b"] for p in cmp["paths"]]


def test_bad_csv_is_refused_naming_items_and_rows_and_nothing_is_stored(db: Session, upload: Any,
                                                                       example_csv: bytes) -> None:
    headers = token_headers(db, "analyst")
    before = _count(db)
    lines = example_csv.decode().splitlines()
    header = lines[0].split(",")
    ppe2 = header.index("PPE2")
    rows = [r.split(",") for r in lines[1:]]
    rows[3][ppe2] = "7"            # data row 4
    rows[1][header.index("CFM3")] = "agree"  # data row 2
    bad = "\n".join([",".join(header[:-1])] + [",".join(r[:-1]) for r in rows])  # BP5 column removed
    resp = upload(headers, bad.encode())
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "invalid_study_data"
    problems = err["details"]["problems"]
    assert any("BP5" in p and "missing" in p for p in problems)
    # with the column present the cell problems are named with their rows
    bad_cells = "\n".join([",".join(header)] + [",".join(r) for r in rows])
    problems = upload(headers, bad_cells.encode()).json()["error"]["details"]["problems"]
    assert "PPE2: value 7 outside the 1-5 scale in row 4" in problems
    assert any(p.startswith("CFM3: non-numeric value(s) 'agree' in row 2") for p in problems)
    assert _count(db) == before


def test_bad_options_are_refused(db: Session, upload: Any, example_csv: bytes) -> None:
    headers = token_headers(db, "analyst")
    resp = upload(headers, example_csv, mapping="Q1 PPE1")
    assert resp.status_code == 422 and "OLD=NEW" in resp.json()["error"]["message"]
    resp = upload(headers, example_csv, bootstrap=1)
    assert resp.status_code == 422 and "at least 2 draws" in resp.json()["error"]["message"]
    resp = upload(headers, b"PPE1\n1\n", name="answers.docx")
    assert resp.status_code == 422 and "unsupported file type" in resp.json()["error"]["message"]


def test_agent_may_not_run_or_read_studies(client: Any, db: Session, upload: Any, example_csv: bytes) -> None:
    headers = token_headers(db, "agent")
    assert upload(headers, example_csv).status_code == 403
    assert client.get("/api/v1/studies", headers=headers).status_code == 403
    assert client.get("/analytics/study", headers=headers).status_code == 403
    assert client.get("/api/v1/studies").status_code == 401


def test_idempotency_key_replays_the_first_study(client: Any, db: Session, upload: Any, example_csv: bytes) -> None:
    headers = {**login(client, db, "analyst"), "Idempotency-Key": "study-upload-1"}
    before = _count(db)
    first = upload(headers, example_csv, title="Once")
    second = upload(headers, example_csv, title="Once")
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    assert _count(db) == before + 1
    other = upload(headers, example_csv, title="Another title")
    assert other.status_code == 422
