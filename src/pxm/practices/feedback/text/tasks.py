"""Job of the text analytics feature: ``feedback.analyze_comment`` (payload ``{"response_id"}``).

Enqueued by ``feedback.service.record_response`` for every complete response with a comment. Re-running it
is harmless: the analysis row is replaced and the closed loop opens at most one case per response.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pxm.platform import jobs
from pxm.platform.jobs.models import Job
from pxm.practices.feedback.text.service import analyze_comment

ANALYZE_COMMENT_JOB = "feedback.analyze_comment"


@jobs.handler(ANALYZE_COMMENT_JOB)
def analyze_comment_job(session: Session, job: Job) -> dict[str, Any]:
    row = analyze_comment(session, int(job.payload["response_id"]))
    if row is None:
        return {"skipped": "no comment"}
    return {"sentiment": row.sentiment_label, "themes": list(row.themes)}
