"""The demo's complaints, compliments and public reviews: dated and moved along as the services would have, each
complaint with its service-recovery case, so the complaints board and the reviews page show the year."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.http.pagination import PageParams
from pxm.practices.feedback.complaints.models import Complaint
from pxm.practices.feedback.complaints.service import board, due_dates, get_settings
from pxm.practices.feedback.loop.models import RecoveryLink
from pxm.practices.feedback.loop.service import SEVERITY_PRIORITY, TEAM
from pxm.practices.feedback.reviews.models import PublicReview
from pxm.practices.feedback.reviews.service import list_reviews
from pxm.practices.feedback.text import sentiment
from pxm.practices.resolution.models import Case
from pxm.synth.run import generate

AS_OF = dt.date(2026, 6, 1)
RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def test_complaints_and_reviews_of_the_demo_year(committed_db_url: str, key_dir: Path) -> None:
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    try:
        report = generate(factory, patients=3000, seed=11, as_of=AS_OF,
                          only=["patients", "encounters", "contacts", "voice"])
        counts = report.counts
        as_of = dt.datetime.combine(AS_OF, dt.time(), dt.UTC)
        with factory() as s:
            settings = get_settings(s)
            rows = s.execute(select(Complaint)).scalars().all()
            assert counts["complaints"] + counts["compliments"] == len(rows)
            assert counts["complaints"] > 15 and counts["compliments"] > 5
            for c in rows:
                assert (c.acknowledge_due_at, c.resolution_due_at) == due_dates(settings, c.kind, c.complex,
                                                                                c.received_at)
                times = [t for t in (c.received_at, c.acknowledged_at, c.resolved_at, c.closed_at) if t is not None]
                assert times == sorted(times) and times[-1] <= as_of
                assert c.description and c.description_masked and c.created_by == "system:synth"
                if c.kind == "complaint":
                    assert (c.outcome_letter is not None) == (c.status in ("resolved", "closed"))
                    case = s.get(Case, c.case_id)
                    assert case is not None and (case.source, case.team, case.patient_id) == (
                        "complaint", TEAM, c.patient_id)
                    assert RANK[case.priority] >= RANK[SEVERITY_PRIORITY[c.severity]]
                    [link] = s.execute(select(RecoveryLink).where(RecoveryLink.complaint_id == c.id)).scalars().all()
                    assert link.case_id == case.id and link.trigger == "complaint"
                    assert (case.status in ("resolved", "closed")) == (c.status in ("resolved", "closed"))
                else:
                    assert c.case_id is None
            assert sum(board(s)["counts"].values()) > 0

            reviews = s.execute(select(PublicReview)).scalars().all()
            assert counts["public_reviews"] == len(reviews) > 15
            assert len({r.url for r in reviews}) == len(reviews)
            for r in reviews:
                assert 1 <= r.rating <= 5 and r.posted_at <= as_of
                assert (r.sentiment_label, r.sentiment_score) == (sentiment.analyze(r.text).label,
                                                                  sentiment.analyze(r.text).score)
                if r.reply_status == "published":
                    assert r.reply_drafted_at <= r.reply_approved_at <= r.reply_published_at <= as_of
                    assert r.reply_text
            assert {r.reply_status for r in reviews} >= {"published"}
            assert list_reviews(s, PageParams(limit=5, offset=0))[1] == len(reviews)
    finally:
        engine.dispose()
