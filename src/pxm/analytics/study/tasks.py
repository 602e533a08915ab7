"""``study.run``: a bootstrap study, run in chunks of draws so progress shows and no transaction runs long.

Each job runs ``BOOT_CHUNK`` resamples, stores their draws on the study and queues the next chunk in the same
transaction; the last chunk fits the model once more and writes the report. The random stream is the one
``run_study(df, bootstrap=B, seed=S)`` uses (the generator is advanced past the draws already made), so a study
run here gives the same intervals as the CLI with the same data, draws and seed.

A chunk that is delivered twice finds ``progress_done`` past its start and does nothing (at-least-once safe).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from pxm.analytics.study.data import StudyDataError, apply_mapping, validate_data
from pxm.analytics.study.instruments import load_instrument, outcome_construct, practice_constructs
from pxm.analytics.study.model import build_syntax, count_free_parameters
from pxm.analytics.study.models import Study
from pxm.analytics.study.service import _finish, fail, stored_frame
from pxm.platform import jobs
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.models import Job

BOOT_CHUNK = 10


def _clean(study: Study, inst: dict[str, Any]) -> pd.DataFrame:
    df = apply_mapping(stored_frame(study), (study.options or {}).get("mapping") or None)
    clean, _ = validate_data(df, inst, min_complete=count_free_parameters(inst))
    return clean.reset_index(drop=True)


def run_draws(data: pd.DataFrame, inst: dict[str, Any], seed: int | None, start: int, stop: int,
              state: dict[str, Any]) -> dict[str, Any]:
    """Resamples ``start``..``stop - 1`` of the percentile bootstrap, appended to ``state``."""
    from pxm.analytics import sem
    from pxm.analytics.study.run import _r2

    syntax = build_syntax(inst)
    outcome = outcome_construct(inst)
    practices = practice_constructs(inst)
    rng = np.random.default_rng(seed)
    n = len(data)
    for _ in range(start):  # advance the stream past the draws made by earlier chunks
        rng.integers(0, n, n)
    values = data.to_numpy()
    draws = {p: list(state.get("paths", {}).get(p, [])) for p in practices}
    r2s = list(state.get("r2", []))
    failed = int(state.get("failed", 0))
    for _ in range(start, stop):
        idx = rng.integers(0, n, n)
        sample = pd.DataFrame(values[idx], columns=data.columns)
        try:
            res = sem.fit(syntax, sample).to_dict()
        except Exception:  # noqa: BLE001  # a resample the engine cannot fit is counted, as in run_study
            failed += 1
            continue
        if not res.get("converged", True):
            failed += 1
            continue
        paths = {r["rhs"]: float(r["std_all"]) for r in res["parameters"]
                 if r["op"] == "~" and r["lhs"] == outcome and r.get("std_all") is not None}
        for p in practices:
            draws[p].append(paths.get(p, float("nan")))
        r2 = _r2(res, outcome)
        if r2 is not None:
            r2s.append(r2)
    # NaN is not valid JSON: store it as None and read it back as NaN
    return {"paths": {p: [None if math.isnan(x) else x for x in v] for p, v in draws.items()}, "r2": r2s,
            "failed": failed}


def _ci(xs: list[float | None]) -> list[float] | None:
    arr = np.asarray([x for x in xs if x is not None and not math.isnan(x)], dtype=float)
    return [float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5))] if len(arr) >= 2 else None


def apply_bootstrap(content: dict[str, Any], state: dict[str, Any], inst: dict[str, Any], replicates: int,
                    seed: int | None, alpha: float = 0.05) -> dict[str, Any]:
    """Turn a bootstrap-free report into the report ``run_study(..., bootstrap=replicates, seed=seed)`` gives."""
    from pxm.analytics.study import tables
    from pxm.analytics.study.diagram import path_diagram_svg
    from pxm.analytics.study.run import _summary

    paths = {p: c for p, v in state["paths"].items() if (c := _ci(v)) is not None}
    boot = {"replicates": replicates, "failed": state["failed"], "level": 0.95, "method": "percentile",
            "paths": paths, "r2": _ci(state["r2"])}
    signs = {h["code"]: h["sign"] for h in inst["hypotheses"]}
    hyp = content["hypotheses"]
    for h in hyp:
        ci = paths.get(h["from"])
        h["boot_ci_lower"], h["boot_ci_upper"] = (ci[0], ci[1]) if ci else (None, None)
        beta, p = h["beta"], h["pvalue"]
        sign_ok = beta is not None and (beta > 0 if signs.get(h["hypothesis"], "+") == "+" else beta < 0)
        h["supported"] = bool(sign_ok and p is not None and p < alpha and (ci is None or ci[0] > 0 or ci[1] < 0))
    content["bootstrap"] = boot
    content["r2"]["boot_ci"] = boot["r2"]
    if boot["failed"]:
        tail = sum(len(m["flags"]) for m in content["measurement"]) + len(content["discriminant"]["problems"])
        w = content["warnings"]
        w.insert(len(w) - tail, f"{boot['failed']} of {replicates} bootstrap resamples could not be fitted and "
                                "were skipped")
    content["ranking"] = tables.ranking(hyp)
    outcome = outcome_construct(inst)
    outcome_name = next(c["name"]["en"] for c in inst["constructs"] if c["code"] == outcome)
    r2 = content["r2"]["value"]
    content["summary"] = _summary(hyp, r2, content["fit"], content["measurement"], content["discriminant"],
                                  int(content["meta"]["n_obs"]), outcome_name)
    content["diagram_svg"] = path_diagram_svg(hyp, r2, inst)
    content["meta"]["options"]["bootstrap"] = replicates
    content["meta"]["options"]["seed"] = seed
    return content


@jobs.handler("study.run")
def run_study_chunk(session: Session, job: Job) -> dict[str, Any] | None:
    from pxm.analytics.study.run import run_study

    actor = Actor.system("study")
    study = session.get(Study, int(job.payload["study_id"]))
    start = int(job.payload.get("start", 0))
    if study is None or study.status in ("done", "failed") or study.progress_done != start:
        return {"skipped": True}
    inst = load_instrument(study.instrument_code)
    opts = study.options or {}
    total, seed = int(opts.get("bootstrap") or 0), opts.get("seed")
    try:
        data = _clean(study, inst)
        stop = min(start + BOOT_CHUNK, total)
        state = run_draws(data, inst, seed, start, stop, study.boot_state or {})
        study.status = "running"
        study.boot_state = state
        study.progress_done = stop
        if stop < total:
            session.flush()
            jobs.enqueue(session, "study.run", {"study_id": study.id, "start": stop},
                         dedupe_key=f"study.run:{study.id}:{stop}")
            return {"done": stop, "total": total}
        report = run_study(stored_frame(study), study.instrument_code, bootstrap=0, seed=seed,
                           mapping=opts.get("mapping") or None)
    except StudyDataError as exc:
        fail(session, actor, study, exc.problems)
        return {"failed": exc.problems}
    content = apply_bootstrap(report.to_dict(), state, inst, total, seed)
    _finish(session, actor, study, content)
    return {"done": total, "total": total}
