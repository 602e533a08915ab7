"""Stored studies: create from an uploaded file, run (inline or as a job), rerun and compare.

The uploaded file is validated before anything is stored (``StudyDataError`` -> 422 naming items and rows).
Only the item columns are stored (after the column mapping); identifiers and any other column are dropped and
their names listed in ``Study.dropped_columns``. A study without bootstrap runs inline in the request; with
bootstrap it is queued as a ``study.run`` job (see ``tasks.py``) and the page shows the progress. A study can also
be built from the ``cxm`` survey responses stored by the feedback practice (``create_study_from_responses``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.analytics.study.data import StudyDataError, apply_mapping, validate_data
from pxm.analytics.study.instruments import item_codes, load_instrument
from pxm.analytics.study.model import count_free_parameters
from pxm.analytics.study.models import Study
from pxm.platform import audit, jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError
from pxm.platform.http.lookup import get_or_404

__all__ = ["MAX_BOOTSTRAP", "MAX_UPLOAD_BYTES", "compare", "create_study_from_frame", "create_study_from_upload",
           "create_study_from_responses", "get_study", "parse_mapping_text", "read_upload", "rerun", "run_inline",
           "stored_frame", "study_summary"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BOOTSTRAP = 2000
ALLOWED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".sav")


class StudyInputError(APIError):
    """The data cannot be analysed; ``details.problems`` lists every problem."""

    def __init__(self, problems: list[str]):
        super().__init__(422, "invalid_study_data", "the data cannot be analysed: " + "; ".join(problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                         {"problems": problems})


def parse_mapping_text(text: str | None) -> dict[str, str]:
    """``OLD=NEW`` per line (or comma separated) -> ``{OLD: NEW}``; blank lines ignored."""
    mapping: dict[str, str] = {}
    bad: list[str] = []
    for n, raw in enumerate((text or "").replace(",", "\n").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        old, sep, new = line.partition("=")
        if not sep or not old.strip() or not new.strip():
            bad.append(f"column mapping line {n} {line!r}: write OLD=NEW, e.g. Q1=PPE1")
        else:
            mapping[old.strip()] = new.strip()
    if bad:
        raise StudyInputError(bad)
    return mapping


def read_upload(filename: str, content: bytes) -> pd.DataFrame:
    """Parse an uploaded CSV/Excel/SPSS file with the same reader as the CLI (cells kept as text)."""
    from pxm.analytics.study.data import read_data

    name = Path(filename or "upload.csv").name
    suffix = Path(name).suffix.lower() or ".csv"
    if suffix not in ALLOWED_SUFFIXES:
        raise StudyInputError([f"{name}: unsupported file type {suffix!r}; upload CSV, Excel (.xlsx) or SPSS (.sav)"])
    if not content:
        raise StudyInputError([f"{name}: the file is empty"])
    if len(content) > MAX_UPLOAD_BYTES:
        raise StudyInputError([f"{name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(content)
        try:
            return read_data(path)
        except StudyDataError as exc:
            raise StudyInputError([p.replace(path.name, name) for p in exc.problems]) from exc


def _check_options(bootstrap: int, seed: int | None) -> None:
    problems = []
    if bootstrap < 0 or bootstrap > MAX_BOOTSTRAP:
        problems.append(f"bootstrap draws must be between 0 and {MAX_BOOTSTRAP} (got {bootstrap})")
    if bootstrap == 1:
        problems.append("bootstrap needs at least 2 draws for an interval (or 0 for none)")
    if seed is not None and not 0 <= seed < 2**32:
        problems.append(f"seed must be between 0 and {2**32 - 1}")
    if problems:
        raise StudyInputError(problems)


def _json_cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, int | float | str):
        return v
    return str(v)


def create_study_from_frame(session: Session, actor: Actor, df: pd.DataFrame, *, title: str, source: str,
                            source_name: str | None = None, bootstrap: int = 0, seed: int | None = None,
                            mapping: dict[str, str] | None = None, instrument: str = "cxm",
                            rerun_of: int | None = None) -> Study:
    """Validate ``df``, store its item columns and the options, then run (inline) or queue (bootstrap)."""
    _check_options(bootstrap, seed)
    inst = load_instrument(instrument)
    items = item_codes(inst)
    mapping = mapping or {}
    try:
        mapped = apply_mapping(df, mapping)
        validate_data(mapped, inst, min_complete=count_free_parameters(inst))
    except StudyDataError as exc:
        raise StudyInputError(exc.problems) from exc
    reverse = {new: old for old, new in mapping.items()}
    keep = [reverse.get(i, i) for i in items]  # original column names of the items
    dropped = [str(c) for c in df.columns if str(c) not in keep]
    data = {"columns": keep, "rows": [[_json_cell(v) for v in row] for row in df[keep].itertuples(index=False)]}
    study = Study(title=(title or "").strip()[:200] or "CXM impact study", instrument_code=inst["code"],
                  instrument_version=inst["version"], source=source, source_name=source_name,
                  n_rows=len(df), input_data=data, dropped_columns=dropped,
                  options={"bootstrap": bootstrap, "seed": seed, "mapping": mapping},
                  status="queued", progress_total=bootstrap, created_by=actor.label, rerun_of=rerun_of)
    session.add(study)
    session.flush()
    audit.record(session, actor, "study.create", "study", study.id,
                 details={"source": source, "n_rows": len(df), "bootstrap": bootstrap, "seed": seed,
                          "dropped_columns": dropped, "rerun_of": rerun_of})
    if bootstrap > 0:
        jobs.enqueue(session, "study.run", {"study_id": study.id}, dedupe_key=f"study.run:{study.id}:0")
    else:
        run_inline(session, actor, study)
    return study


def create_study_from_upload(session: Session, actor: Actor, filename: str, content_bytes: bytes, *, title: str,
                             bootstrap: int = 0, seed: int | None = None,
                             mapping: dict[str, str] | None = None) -> Study:
    df = read_upload(filename, content_bytes)
    return create_study_from_frame(session, actor, df, title=title or Path(filename).stem, source="upload",
                                   source_name=Path(filename or "upload.csv").name[:200], bootstrap=bootstrap,
                                   seed=seed, mapping=mapping)


def create_study_from_responses(session: Session, actor: Actor, *, date_from: dt.date, date_to: dt.date,
                                title: str = "", bootstrap: int = 0, seed: int | None = None) -> Study:
    """A study of the complete ``cxm`` survey responses stored in PXM, submitted from ``date_from`` to ``date_to``
    (UTC days, both included). The coded answers are copied into the study (a snapshot: a rerun analyses the same
    rows even after more responses arrive); free text and identifiers are not read."""
    from pxm.practices.feedback.queries_export import responses_for_instrument

    problems = []
    if date_from > date_to:
        problems.append(f"date_from ({date_from}) is after date_to ({date_to}): give the earlier date first")
    _check_options(bootstrap, seed)
    if problems:
        raise StudyInputError(problems)
    inst = load_instrument("cxm")
    items = item_codes(inst)
    answers = responses_for_instrument(session, inst["code"], date_from, date_to)
    if not answers:
        raise StudyInputError([f"no complete {inst['code']} survey responses were submitted from {date_from} to "
                               f"{date_to}: choose a wider date range, or upload a file instead"])
    df = pd.DataFrame([[a.get(i) for i in items] for a in answers], columns=items, dtype=object)
    period = f"{date_from.isoformat()} to {date_to.isoformat()}"
    return create_study_from_frame(session, actor, df, title=title or f"CXM survey responses {period}",
                                   source="responses", source_name=f"{inst['code']} responses {period}",
                                   bootstrap=bootstrap, seed=seed, instrument=inst["code"])


def stored_frame(study: Study) -> pd.DataFrame:
    data = study.input_data or {}
    return pd.DataFrame(data.get("rows", []), columns=data.get("columns", []), dtype=object)


def _finish(session: Session, actor: Actor, study: Study, content: dict[str, Any]) -> None:
    content["meta"]["study_id"] = study.id
    content["meta"]["dropped_columns"] = list(study.dropped_columns or [])
    study.results = content
    study.input_fingerprint = content["meta"]["input_fingerprint"]
    study.engine_version = content["meta"]["engine"]["version"]
    study.status = "done"
    study.error = []
    study.progress_done = study.progress_total
    study.finished_at = utcnow()
    session.flush()
    audit.record(session, actor, "study.run", "study", study.id,
                 details={"status": "done", "fingerprint": study.input_fingerprint,
                          "engine_version": study.engine_version})


def fail(session: Session, actor: Actor, study: Study, problems: list[str]) -> None:
    study.status = "failed"
    study.error = list(problems)
    study.finished_at = utcnow()
    session.flush()
    audit.record(session, actor, "study.run", "study", study.id, outcome="failure",
                 details={"status": "failed", "problems": len(problems)})


def run_inline(session: Session, actor: Actor, study: Study) -> Study:
    """Run a study without bootstrap in the caller's transaction; a model that cannot be fitted is a 422."""
    from pxm.analytics.study.run import run_study

    study.status = "running"
    try:
        report = run_study(stored_frame(study), study.instrument_code, bootstrap=0,
                           seed=study.options.get("seed"), mapping=study.options.get("mapping") or None)
    except StudyDataError as exc:
        raise StudyInputError(exc.problems) from exc
    _finish(session, actor, study, report.to_dict())
    return study


def get_study(session: Session, study_id: int) -> Study:
    return get_or_404(session, Study, study_id, "study")


def rerun(session: Session, actor: Actor, study_id: int) -> Study:
    """A new study on the same stored input and options (comparable by fingerprint with the first)."""
    old = get_study(session, study_id)
    if old.source == "paper":
        raise APIError(422, "invalid_request", "paper reproductions are rerun from the Reproduce the paper page")
    opts = old.options or {}
    return create_study_from_frame(session, actor, stored_frame(old), title=old.title, source=old.source,
                                   source_name=old.source_name, bootstrap=int(opts.get("bootstrap") or 0),
                                   seed=opts.get("seed"), mapping=opts.get("mapping") or None,
                                   instrument=old.instrument_code, rerun_of=old.id)


def compare(a: Study, b: Study) -> dict[str, Any]:
    """Are two studies comparable (same data, same options, same engine), and how do their results differ?"""
    opts_a = {k: (a.options or {}).get(k) for k in ("bootstrap", "seed", "mapping")}
    opts_b = {k: (b.options or {}).get(k) for k in ("bootstrap", "seed", "mapping")}
    out: dict[str, Any] = {
        "a": a.id, "b": b.id,
        "same_fingerprint": a.input_fingerprint is not None and a.input_fingerprint == b.input_fingerprint,
        "same_options": opts_a == opts_b,
        "same_engine": a.engine_version == b.engine_version,
        "fingerprints": [a.input_fingerprint, b.input_fingerprint],
        "options": [opts_a, opts_b], "engine_versions": [a.engine_version, b.engine_version],
        "paths": [], "fit": [], "r2": None,
    }
    if not (a.results and b.results):
        return out
    hb = {h["hypothesis"]: h for h in b.results["hypotheses"]}
    for h in a.results["hypotheses"]:
        other = hb.get(h["hypothesis"], {})
        ba, bb = h.get("beta"), other.get("beta")
        out["paths"].append({"hypothesis": h["hypothesis"], "from": h["from"], "beta_a": ba, "beta_b": bb,
                             "difference": None if ba is None or bb is None else bb - ba,
                             "supported_a": h.get("supported"), "supported_b": other.get("supported")})
    fb = b.results["fit"]["values"]
    for key, va in a.results["fit"]["values"].items():
        vb = fb.get(key)
        out["fit"].append({"index": key, "a": va, "b": vb,
                           "difference": None if va is None or vb is None else vb - va})
    ra, rb = a.results["r2"]["value"], b.results["r2"]["value"]
    out["r2"] = {"a": ra, "b": rb, "difference": None if ra is None or rb is None else rb - ra}
    return out


def study_summary(study: Study) -> dict[str, Any]:
    """The JSON shape of a study without its results (list rows)."""
    return {"id": study.id, "title": study.title, "instrument": {"code": study.instrument_code,
                                                                "version": study.instrument_version},
            "source": study.source, "source_name": study.source_name, "n_rows": study.n_rows,
            "input_fingerprint": study.input_fingerprint, "options": study.options,
            "engine_version": study.engine_version, "status": study.status,
            "progress": {"done": study.progress_done, "total": study.progress_total},
            "error": study.error or [], "dropped_columns": study.dropped_columns or [],
            "rerun_of": study.rerun_of, "created_by": study.created_by, "created_at": study.created_at,
            "finished_at": study.finished_at}


def list_studies_stmt() -> Any:
    return select(Study).order_by(Study.id.desc())
