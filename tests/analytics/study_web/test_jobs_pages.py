"""Bootstrap studies run through the job queue in chunks; the pages show the tables, charts and progress."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.helpers.auth import login, token_headers

from pxm.analytics.study import read_data, run_study, tasks
from pxm.analytics.study.models import Study
from pxm.platform.jobs import run_pending
from pxm.platform.jobs.models import Job


def test_bootstrap_study_runs_through_the_job_and_matches_the_cli(
        client: Any, db: Session, session_factory: sessionmaker[Session], upload: Any, example_csv: bytes,
        tmp_path: Any) -> None:
    headers = token_headers(db, "analyst")
    body = upload(headers, example_csv, bootstrap=40, seed=3).json()
    assert body["status"] == "queued" and body["results"] is None
    assert body["progress"] == {"done": 0, "total": 40}
    page = client.get(f"/analytics/study/{body['id']}", headers=headers)
    assert "0 of 40 resamples done" in page.text and 'http-equiv="refresh"' in page.text

    assert run_pending(session_factory) == 1  # one job: the whole bootstrap, then the report
    done = client.get(f"/api/v1/studies/{body['id']}", headers=headers).json()
    assert done["status"] == "done" and done["progress"] == {"done": 40, "total": 40}
    assert done["finished_at"] is not None
    # the same report as `pxm study run --bootstrap 40 --seed 3` on the same data
    path = tmp_path / "a.csv"
    path.write_bytes(example_csv)
    cli = run_study(read_data(path), bootstrap=40, seed=3).to_dict()
    got = done["results"]
    assert got["bootstrap"] == cli["bootstrap"] and got["bootstrap"]["replicates"] == 40
    for mine, ref in zip(got["hypotheses"], cli["hypotheses"], strict=True):
        assert mine["boot_ci_lower"] is not None and mine["boot_ci_lower"] < mine["beta"] < mine["boot_ci_upper"]
        assert mine["boot_ci_lower"] == pytest.approx(ref["boot_ci_lower"], abs=1e-12)
        assert mine["boot_ci_upper"] == pytest.approx(ref["boot_ci_upper"], abs=1e-12)
        assert mine["supported"] == ref["supported"]
    assert got["r2"]["boot_ci"] == pytest.approx(list(cli["r2"]["boot_ci"]), abs=1e-12)
    assert got["summary"] == cli["summary"] and got["warnings"] == cli["warnings"]
    assert got["meta"]["options"] == cli["meta"]["options"]
    assert got["diagram_svg"] == cli["diagram_svg"]

    # a job delivered twice changes nothing
    with session_factory() as s:
        job = s.query(Job).filter(Job.kind == "study.run").order_by(Job.id).first()
        assert job is not None
        assert tasks.prepare_study(session_factory, job.payload) is None
        assert tasks.finish_study(s, job, {"content": {}}) == {"skipped": True}
        study = s.get(Study, body["id"])
        assert study is not None and study.progress_done == 40 and study.results == got


def test_the_bootstrap_records_progress_outside_the_job_transaction(
        client: Any, db: Session, session_factory: sessionmaker[Session], upload: Any, example_csv: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    headers = token_headers(db, "analyst")
    study_id = upload(headers, example_csv, bootstrap=30, seed=1).json()["id"]
    seen: list[tuple[str, int]] = []
    writer = tasks._ProgressWriter(session_factory, study_id, 30)

    def spy(done: int, total: int) -> None:
        writer(done, total)
        with session_factory() as s:  # a separate session sees the committed progress
            st = s.get(Study, study_id)
            assert st is not None
            seen.append((st.status, st.progress_done))

    monkeypatch.setattr(tasks, "_ProgressWriter", lambda *a: spy)
    prepared = tasks.prepare_study(session_factory, {"study_id": study_id})
    assert prepared is not None and prepared["content"]["bootstrap"]["replicates"] == 30
    assert seen[-1] == ("running", 30)
    assert len(seen) == 30 and sorted({d for _, d in seen}) == [3 * k for k in range(11)]  # every 10%
    page = client.get(f"/analytics/study/{study_id}", headers=headers)
    assert "Running the bootstrap: 30 of 30 resamples done" in page.text
    # the results are written only by the job's handler
    assert client.get(f"/api/v1/studies/{study_id}", headers=headers).json()["results"] is None


def test_study_page_shows_tables_diagram_and_charts(client: Any, db: Session, upload: Any,
                                                    example_csv: bytes) -> None:
    login(client, db, "analyst")
    resp = client.post("/analytics/study", files={"file": ("wave.csv", example_csv, "text/csv")},
                       data={"title": "Wave 1", "bootstrap": "0", "seed": "", "mapping": "",
                             "csrf_token": client.cookies.get("pxm_csrf") or _csrf(client)},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    page = client.get(resp.headers["location"])
    html = page.text
    assert "Table 4. Hypotheses" in html and "Table 1. Measurement model" in html
    assert "Table 2a. Fornell-Larcker" in html and "Table 3. Model fit" in html
    for h in ("H1", "H2", "H3", "H4", "H5"):
        assert f'<th scope="row">{h}</th>' in html
    assert "Path diagram: practices to Business performance" in html  # the diagram SVG
    assert html.count("Standardized loadings of") == 6  # one chart per construct
    assert "Effect sizes: standardized path coefficients" in html  # forest plot
    assert "Download report (HTML)" in html and "Rerun on the same data and options" in html
    assert "respondent_id" in html  # the page says which columns were dropped
    assert "what this does not show" in html.lower()


def _csrf(client: Any) -> str:
    page = client.get("/analytics/study").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_upload_form_lists_problems_and_keeps_nothing(client: Any, db: Session, example_csv: bytes) -> None:
    login(client, db, "analyst")
    before = db.query(Study).count()
    bad = example_csv.decode().replace("PPE2", "PPE9", 1).encode()
    resp = client.post("/analytics/study", files={"file": ("bad.csv", bad, "text/csv")},
                       data={"title": "x", "bootstrap": "zero", "csrf_token": _csrf(client)})
    assert resp.status_code == 422
    assert "Bootstrap draws: &#39;zero&#39; is not a whole number" in resp.text
    resp = client.post("/analytics/study", files={"file": ("bad.csv", bad, "text/csv")},
                       data={"title": "x", "bootstrap": "0", "csrf_token": _csrf(client)})
    assert resp.status_code == 422
    assert "unknown item code(s) for instrument cxm: PPE9" in resp.text
    assert db.query(Study).count() == before


def test_rerun_and_compare_from_the_page(client: Any, db: Session, upload: Any, example_csv: bytes) -> None:
    headers = login(client, db, "analyst")
    first = upload(headers, example_csv).json()["id"]
    resp = client.post(f"/analytics/study/{first}/rerun", data={"csrf_token": _csrf(client)},
                       follow_redirects=False)
    assert resp.status_code == 303
    html = client.get(resp.headers["location"]).text
    assert f"Comparison with study {first}" in html
    assert "Input fingerprints <span class=\"yes\">match</span>" in html


def test_reproduce_the_paper_page(client: Any, db: Session) -> None:
    login(client, db, "analyst")
    html = client.get("/analytics/study/paper?seed=352").text
    assert "Inconsistencies in the published numbers" in html
    assert "df (Table 3)" in html and "R2 of BP vs published paths" in html
