"""Survey metrics on a demo-sized organization: PXM's metric functions vs a pandas peer, in one run.

    .venv/bin/python benchmarks/feedback_metrics.py [--patients 20000] [--repeat 5]

Loads the synthetic organization (patients, encounters, contacts, feedback) into a temporary SQLite file,
reports the feedback synth step's time, then times, median of ``--repeat`` runs each:

- PXM: ``nps_metric(by="month")``, ``csat_metric(by="department")``, ``topbox_metric()`` (inpatient, by
  measure) and ``survey_fcr()``: what the results page computes, from the database, intervals included;
- peer: the same NPS by month and CSAT by department in pandas, from one SQL query into a DataFrame (no
  intervals, no instrument-aware item lookup); the ratio is PXM's overhead for its generality.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _peer(engine: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        df = pd.read_sql(text(
            "SELECT r.submitted_at, r.answers, u.name AS department FROM survey_responses r "
            "LEFT JOIN org_units u ON u.id = r.department_id WHERE r.status = 'complete'"), conn)
    answers = df["answers"].map(lambda a: json.loads(a) if isinstance(a, str) else a)
    df["nps"] = answers.map(lambda a: a.get("NPS"))
    df["csat"] = answers.map(lambda a: a.get("CSAT"))
    df["month"] = pd.to_datetime(df["submitted_at"]).dt.strftime("%Y-%m")
    n = df.dropna(subset=["nps"])
    nps = n.groupby("month")["nps"].agg(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
    c = df.dropna(subset=["csat"])
    csat = c.groupby(c["department"].fillna("(none)"))["csat"].agg(lambda s: 100 * (s >= 4).mean())
    return {"nps": nps.to_dict(), "csat": csat.to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from pxm.platform.db import make_engine, make_session_factory
    from pxm.platform.db.migrate import upgrade
    from pxm.platform.people.crypto import configure_keyring
    from pxm.practices.feedback import metrics
    from pxm.synth.run import generate

    tmp = Path(tempfile.mkdtemp(prefix="pxm-bench-feedback-"))
    configure_keyring(tmp / "phi.key")
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    upgrade(url, engine=engine)
    factory = make_session_factory(engine)
    report = generate(factory, patients=args.patients, seed=7, as_of=dt.date(2026, 6, 1),
                      only=["patients", "encounters", "contacts", "feedback"])
    step = next(s for s in report.steps if s.name == "feedback")

    def pxm() -> None:
        with factory() as s:
            metrics.nps_metric(s, by="month")
            metrics.csat_metric(s, by="department")
            metrics.topbox_metric(s)
            metrics.survey_fcr(s)

    pxm_s = _median(pxm, args.repeat)
    peer_s = _median(lambda: _peer(engine), args.repeat)
    machine = {"nproc": os.cpu_count(),
               "cpu": subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True,
                                     text=True).stdout.split(":")[-1].strip()}
    out = {"machine": machine, "patients": args.patients, "feedback_step": step.counts,
           "feedback_step_seconds": round(step.seconds, 2),
           "pxm_results_metrics_seconds": round(pxm_s, 3), "pandas_peer_seconds": round(peer_s, 3),
           "ratio_pxm_over_peer": round(pxm_s / peer_s, 2)}
    print(json.dumps(out, indent=2))
    engine.dispose()


if __name__ == "__main__":
    main()
