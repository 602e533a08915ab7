"""The feedback step's comments, analysed as the live service analyses each one (``analysis_values``):
sentiment, themes and the PHI-masked text, so the comment explorer and the theme counts show the demo year.

The live job also asks the closed loop whether a strongly negative comment opens a service-recovery case; a
year of history does not: those cases would be a year of open work on the desk that nobody worked.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from pxm.platform.people.models import Patient
from pxm.practices.feedback.models import Instrument, Response
from pxm.practices.feedback.text.models import CommentAnalysis, CommentTheme
from pxm.practices.feedback.text.service import analysis_values, name_forms
from pxm.synth.bulk import insert_rows, raw_table
from pxm.synth.registry import SynthContext

ANALYSES = raw_table(CommentAnalysis, skip=())
THEMES = raw_table(CommentTheme, skip=())
_R = cast(Table, Response.__table__)
_MASKED = update(_R).where(_R.c.id == bindparam("rid")).values(comment_masked=bindparam("masked"))


def analyse_comments(ctx: SynthContext, after_id: int) -> int:
    """Analyse the comments of the responses with ids above ``after_id`` (this run's); returns how many."""
    db = ctx.db
    rows = db.execute(select(Response.id, Response.comment, Response.patient_id, Response.language,
                             Response.department_id, Instrument.code, Response.submitted_at)
                      .join(Instrument, Instrument.id == Response.instrument_id)
                      .where(Response.id > after_id, Response.comment.is_not(None)).order_by(Response.id)).all()
    patient_ids = sorted({r.patient_id for r in rows if r.patient_id is not None})
    names: dict[int, list[str]] = {}
    for i in range(0, len(patient_ids), 500):
        for p in db.execute(select(Patient.id, Patient.given_name, Patient.family_name)
                            .where(Patient.id.in_(patient_ids[i:i + 500]))):
            names[p.id] = name_forms(p.given_name, p.family_name)
    analyses: list[dict[str, Any]] = []
    themes: list[dict[str, Any]] = []
    for r in rows:
        values = analysis_values(r.comment, names.get(r.patient_id, []), language=r.language,
                                 department_id=r.department_id, instrument_code=r.code, submitted_at=r.submitted_at)
        analyses.append({"response_id": r.id, **values})
        themes.extend({"response_id": r.id, "theme": t, "sentiment_label": values["sentiment_label"], "position": n}
                      for n, t in enumerate(values["themes"]))
    for i in range(0, len(analyses), ctx.chunk_size):
        insert_rows(db, ANALYSES, analyses[i:i + ctx.chunk_size])
    for i in range(0, len(themes), ctx.chunk_size):
        insert_rows(db, THEMES, themes[i:i + ctx.chunk_size])
    if analyses:
        db.connection().execute(_MASKED, [{"rid": a["response_id"], "masked": a["masked_text"]} for a in analyses])
    return len(analyses)
