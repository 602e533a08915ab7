"""Studies from the cxm survey responses stored by the feedback practice: service, API, page and bootstrap job."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.analytics.study.study_sim import simulate
from tests.helpers.auth import login, token_headers

from pxm.analytics.study import service
from pxm.analytics.study.models import Study
from pxm.analytics.study.run import run_study
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs import run_pending
from pxm.practices.feedback.queries_export import responses_for_instrument
from pxm.practices.feedback.service import record_response

JAN = (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
IN_JANUARY = 360


def _store_responses(db: Session) -> pd.DataFrame:
    """400 simulated cxm responses: 360 in January 2026, 40 in March; plus 5 partial ones in January."""
    df = simulate(400, seed=11, likert=True).astype(int)
    actor = Actor.system("test")
    for i, row in enumerate(df.itertuples(index=False)):
        day = dt.datetime(2026, 1, 1, 23, 30, tzinfo=dt.UTC) + dt.timedelta(days=i % 31)
        if i >= IN_JANUARY:
            day = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        record_response(db, actor, instrument="cxm", answers=dict(zip(df.columns, map(int, row), strict=True)),
                        submitted_at=day, source="synth", run_hooks=False)
    for i in range(5):
        record_response(db, actor, instrument="cxm", answers={"PPE1": 1, "PPE2": 1}, status="partial",
                        submitted_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC), source="synth", run_hooks=False)
    db.flush()
    return df


@pytest.fixture
def stored(db: Session) -> pd.DataFrame:
    return _store_responses(db)


def test_responses_for_instrument_returns_complete_answers_in_the_range(db: Session, stored: pd.DataFrame) -> None:
    rows = responses_for_instrument(db, "cxm", *JAN)
    assert len(rows) == IN_JANUARY  # not the partial ones, not March
    assert set(rows[0]) == set(stored.columns)
    assert len(responses_for_instrument(db, "cxm", dt.date(2026, 3, 2), dt.date(2026, 3, 2))) == 40
    assert responses_for_instrument(db, "cxm", dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == []
    assert responses_for_instrument(db, "nps", *JAN) == []


def test_study_from_responses_is_stored_with_results(db: Session, stored: pd.DataFrame) -> None:
    study = service.create_study_from_responses(db, Actor.system("test"), date_from=JAN[0], date_to=JAN[1],
                                                title="", bootstrap=0, seed=None)
    assert study.status == "done" and study.source == "responses" and study.n_rows == IN_JANUARY
    assert study.source_name == "cxm responses 2026-01-01 to 2026-01-31"
    assert study.title == "CXM survey responses 2026-01-01 to 2026-01-31"
    assert study.results is not None and study.results["meta"]["n_obs"] == IN_JANUARY
    # the same numbers as the study run directly on the January rows, oldest first as stored
    january = stored.iloc[sorted(range(IN_JANUARY), key=lambda i: (i % 31, i))]
    direct = run_study(january).to_dict()
    assert study.input_fingerprint == direct["meta"]["input_fingerprint"]
    betas = [h["beta"] for h in study.results["hypotheses"]]
    assert betas == pytest.approx([h["beta"] for h in direct["hypotheses"]], abs=1e-10)


def test_api_from_responses(client: Any, db: Session, stored: pd.DataFrame) -> None:
    headers = token_headers(db, "analyst")
    resp = client.post("/api/v1/studies/from-responses", headers=headers,
                       json={"date_from": "2026-01-01", "date_to": "2026-01-31", "title": "January", "seed": 4})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "done" and body["source"] == "responses" and body["n_rows"] == IN_JANUARY
    assert body["title"] == "January" and body["results"]["r2"]["value"] > 0.2
    before = db.execute(select(func.count()).select_from(Study)).scalar_one()
    resp = client.post("/api/v1/studies/from-responses", headers=headers,
                       json={"date_from": "2026-02-01", "date_to": "2026-02-28"})
    assert resp.status_code == 422
    assert "no complete cxm survey responses were submitted from 2026-02-01 to 2026-02-28" in resp.text
    resp = client.post("/api/v1/studies/from-responses", headers=headers,
                       json={"date_from": "2026-01-31", "date_to": "2026-01-01"})
    assert resp.status_code == 422 and "date_from (2026-01-31) is after date_to (2026-01-01)" in resp.text
    resp = client.post("/api/v1/studies/from-responses", headers=headers,
                       json={"date_from": "2026-03-02", "date_to": "2026-03-02"})  # 40 rows: too few
    assert resp.status_code == 422 and "complete" in resp.json()["error"]["details"]["problems"][0]
    assert db.execute(select(func.count()).select_from(Study)).scalar_one() == before
    viewer = token_headers(db, "agent")
    assert client.post("/api/v1/studies/from-responses", headers=viewer,
                       json={"date_from": "2026-01-01", "date_to": "2026-01-31"}).status_code == 403


def test_bootstrap_study_from_responses_runs_as_a_job(client: Any, db: Session, stored: pd.DataFrame,
                                                      session_factory: sessionmaker[Session]) -> None:
    headers = token_headers(db, "analyst")
    body = client.post("/api/v1/studies/from-responses", headers=headers,
                       json={"date_from": "2026-01-01", "date_to": "2026-01-31", "bootstrap": 20,
                             "seed": 9}).json()
    assert body["status"] == "queued"
    assert run_pending(session_factory) == 1
    done = client.get(f"/api/v1/studies/{body['id']}", headers=headers).json()
    assert done["status"] == "done" and done["progress"] == {"done": 20, "total": 20}
    january = stored.iloc[sorted(range(IN_JANUARY), key=lambda i: (i % 31, i))]  # oldest first, as stored
    ref = run_study(january, bootstrap=20, seed=9).to_dict()
    assert done["results"]["bootstrap"] == ref["bootstrap"]


def test_page_form_from_responses(client: Any, db: Session, stored: pd.DataFrame) -> None:
    login(client, db, "analyst")
    page = client.get("/analytics/study").text
    assert "Run a study on the survey responses stored in PXM" in page
    assert '<label for="sr-from">' in page and '<label for="sr-to">' in page
    found = re.search(r'action="/analytics/study/from-responses".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert found is not None
    csrf = found.group(1)
    resp = client.post("/analytics/study/from-responses", follow_redirects=False,
                       data={"date_from": "2026-01-01", "date_to": "2026-01-31", "title": "", "bootstrap": "0",
                             "seed": "", "csrf_token": csrf})
    assert resp.status_code == 303, resp.text
    html = client.get(resp.headers["location"]).text
    assert "responses (cxm responses 2026-01-01 to 2026-01-31), 360 rows" in html
    assert "Table 4. Hypotheses" in html
    resp = client.post("/analytics/study/from-responses",
                       data={"date_from": "31/01/2026", "date_to": "2026-01-31", "csrf_token": csrf})
    assert resp.status_code == 422
    assert "From: &#39;31/01/2026&#39; is not a date; write YYYY-MM-DD" in resp.text
