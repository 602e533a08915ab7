"""``study.run``: a bootstrap study, computed in one job whose CPU work runs outside any database transaction.

The job uses the job runner's prepare step (``jobs.handler(kind, prepare=...)``):

1. ``prepare_study`` (no transaction held) reads the stored input in a short session and marks the study
   running, then runs ``run_study(df, bootstrap=B, seed=S)``: the SEM engine's vectorised bootstrap, the very
   call ``pxm study run --bootstrap B --seed S`` makes, so the job and the CLI give the same report. About every
   10% of the draws it records ``progress_done`` in its own short transaction (the page shows it).
2. ``finish_study`` (the job's transaction) writes the report, or the problems when the data cannot be analysed.

A job delivered twice finds the study done (or failed) and does nothing (at-least-once safe).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from pxm.analytics.study.data import StudyDataError
from pxm.analytics.study.models import Study
from pxm.analytics.study.service import _finish, fail, stored_frame
from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.models import Job

PROGRESS_STEPS = 10  # progress is written about every 10% of the draws


class _ProgressWriter:
    """``progress(done, total)`` for ``run_study``: writes ``progress_done`` every ~10% in a short transaction."""

    def __init__(self, session_factory: sessionmaker[Session], study_id: int, total: int) -> None:
        self.session_factory = session_factory
        self.study_id = study_id
        self.every = max(1, total // PROGRESS_STEPS)

    def __call__(self, done: int, total: int) -> None:
        if done % self.every and done != total:
            return
        with self.session_factory() as s, s.begin():
            s.execute(update(Study).where(Study.id == self.study_id, Study.status == "running")
                      .values(progress_done=done))


def prepare_study(session_factory: sessionmaker[Session], payload: dict[str, Any]) -> dict[str, Any] | None:
    """Compute the study's report (None when there is nothing to do): ``{"content": ...}`` or ``{"problems": ...}``."""
    from pxm.analytics.study.run import run_study

    study_id = int(payload["study_id"])
    with session_factory() as s, s.begin():
        study = s.get(Study, study_id)
        if study is None or study.status in ("done", "failed"):
            return None
        frame = stored_frame(study)
        code = study.instrument_code
        opts = dict(study.options or {})
        study.status = "running"
        study.progress_done = 0
    total = int(opts.get("bootstrap") or 0)
    try:
        report = run_study(frame, code, bootstrap=total, seed=opts.get("seed"),
                           mapping=opts.get("mapping") or None,
                           progress=_ProgressWriter(session_factory, study_id, total))
    except StudyDataError as exc:
        return {"problems": exc.problems}
    return {"content": report.to_dict()}


@jobs.handler("study.run", prepare=prepare_study)
def finish_study(session: Session, job: Job, prepared: dict[str, Any] | None) -> dict[str, Any]:
    """Write what ``prepare_study`` computed, unless another delivery already did."""
    actor = Actor.system("study")
    study = session.get(Study, int(job.payload["study_id"]))
    if prepared is None or study is None or study.status in ("done", "failed"):
        return {"skipped": True}
    if "problems" in prepared:
        fail(session, actor, study, prepared["problems"])
        return {"failed": prepared["problems"]}
    _finish(session, actor, study, prepared["content"])
    return {"done": study.progress_total, "total": study.progress_total}
