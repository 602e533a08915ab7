"""The demo's feedback step: deterministic, consent and fatigue respected, answers follow what happened."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from statistics import mean

from sqlalchemy import func, select

from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.http.pagination import PageParams
from pxm.platform.people.models import Encounter, Patient
from pxm.practices.feedback.models import Invitation, Response
from pxm.practices.feedback.text.models import CommentAnalysis, CommentTheme
from pxm.practices.feedback.text.service import analysis_values, list_comments
from pxm.synth.run import generate

AS_OF = dt.date(2026, 6, 1)


def test_feedback_step_tells_a_coherent_story(committed_db_url: str, key_dir: Path) -> None:
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    try:
        report = generate(factory, patients=1500, seed=11, as_of=AS_OF,
                          only=["patients", "encounters", "contacts", "feedback"])
        counts = report.counts
        assert counts["survey_responses"] > 300 and counts["survey_invitations"] > counts["survey_responses"]
        with factory() as s:
            invited = s.execute(select(Invitation.patient_id, Invitation.send_after)
                                .order_by(Invitation.patient_id, Invitation.send_after)).all()
            consent = dict(s.execute(select(Patient.id, Patient.consent_surveys)).all())
            assert all(consent[pid] for pid, _ in invited)
            gaps = [b[1] - a[1] for a, b in zip(invited, invited[1:], strict=False) if a[0] == b[0]]
            assert gaps and min(gaps) >= dt.timedelta(days=30)
            rows = s.execute(select(Response.answers, Encounter.wait_minutes, Encounter.type)
                             .join(Encounter, Encounter.id == Response.encounter_id)
                             .where(Encounter.type == "outpatient")).all()
            short = [r.answers["CSAT"] for r in rows if "CSAT" in r.answers and r.wait_minutes <= 18]
            long = [r.answers["CSAT"] for r in rows if "CSAT" in r.answers and r.wait_minutes >= 40]
            assert len(short) > 30 and len(long) > 10
            assert mean(long) < mean(short) - 0.3
            case_rows = s.execute(select(Response.answers).where(Response.case_id.is_not(None))).scalars().all()
            assert case_rows and any(a["RESOLVED"] == "no" for a in case_rows)
            comments = s.execute(select(Response.comment).where(Response.comment.is_not(None))).scalars().all()
            assert len(comments) > 50 and any("espera" in c or "atención" in c for c in comments)
            # every comment analysed as the live job would (the comment explorer and theme counts show them),
            # the masked text on the response too; the sentiment follows the answers
            assert counts["comment_analyses"] == len(comments)
            done = s.execute(select(CommentAnalysis, Response).join(Response, Response.id == CommentAnalysis.response_id)
                             ).all()
            assert len(done) == len(comments)
            assert all(r.comment_masked == a.masked_text and a.instrument_code == r.instrument.code for a, r in done)
            live = analysis_values(done[0][1].comment, [], language=done[0][1].language,
                                   department_id=done[0][1].department_id, instrument_code=done[0][0].instrument_code,
                                   submitted_at=done[0][1].submitted_at)
            assert (live["sentiment_label"], live["themes"]) == (done[0][0].sentiment_label, done[0][0].themes)
            csat = [(a.sentiment_label, r.answers["CSAT"]) for a, r in done if "CSAT" in r.answers]
            neg = [c for label, c in csat if label == "negative"]
            pos = [c for label, c in csat if label == "positive"]
            assert neg and pos and mean(neg) < mean(pos) - 0.5
            listed, total = list_comments(s, PageParams(limit=5, offset=0), theme=done[0][0].themes[0]
                                          if done[0][0].themes else None)
            assert total > 0 and listed
            assert s.execute(select(func.count()).select_from(CommentTheme)).scalar_one() == sum(
                len(a.themes) for a, _ in done)
    finally:
        engine.dispose()
