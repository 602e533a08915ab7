"""Time the synthetic-organization bulk load (SQLAlchemy Core executemany, PHI sealed in the loader)
against the naive peer: one ORM ``session.add()`` per patient and per encounter (sealing in the column type).

    .venv/bin/python benchmarks/synth_bulk_load.py --sizes 100000 1000000 --baseline 5000 \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/pxm_bench]

Each run uses a fresh database migrated with Alembic. Prints rows/second and the speed-up over the peer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.db.migrate import upgrade
from pxm.platform.people.crypto import configure_keyring, keyring
from pxm.platform.people.models import Encounter, Patient
from pxm.synth.names import EN_FAMILY, EN_FEMALE
from pxm.synth.org import load_org
from pxm.synth.registry import SynthContext
from pxm.synth.run import generate

AS_OF = dt.date(2025, 7, 1)


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in
                     subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                     if line.startswith("Model name"))
    except (StopIteration, OSError):
        model = platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def fresh(url: str) -> None:
    eng = make_engine(url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(url, engine=eng)
    eng.dispose()


def run_pxm(url: str, n: int, seed: int = 7) -> dict[str, float]:
    fresh(url)
    eng = make_engine(url)
    started = time.perf_counter()
    # only the people steps: feature steps (contacts, feedback, ...) are timed by their own benchmarks
    report = generate(make_session_factory(eng), patients=n, seed=seed, as_of=AS_OF, only=("patients", "encounters"))
    seconds = time.perf_counter() - started
    eng.dispose()
    rows = report.counts["patients"] + report.counts["encounters"]
    return {"patients": report.counts["patients"], "encounters": report.counts["encounters"], "rows": rows,
            "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}


def run_orm_peer(url: str, n: int, encounters_per_patient: float) -> dict[str, float]:
    """The naive way: build ORM objects one by one and let the unit of work insert them."""
    fresh(url)
    eng = make_engine(url)
    factory = make_session_factory(eng)
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    rows = 0
    with factory() as db, db.begin():
        ctx = SynthContext(session_factory=factory, seed=7, patients=n, as_of=AS_OF)
        ctx.session = db
        load_org(ctx)
        dept = ctx.state["org"].departments["PC"]
        ring = keyring()
        for i in range(n):
            mrn = f"PEER{i:08d}"
            email = f"peer{i}@example.org"
            p = Patient(mrn=mrn, mrn_index=ring.index(mrn, "patients.mrn"),
                        given_name=EN_FEMALE[i % len(EN_FEMALE)], family_name=EN_FAMILY[i % len(EN_FAMILY)],
                        birth_date="1970-01-01", birth_year=1970, sex="F", zip_code="60614", zip3="606",
                        phone="+13125550100", email=email, email_index=ring.index(email, "patients.email"),
                        conditions=["hypertension"] if i % 3 == 0 else [])
            db.add(p)
            db.flush()  # the naive loop needs the id for the encounters
            for _ in range(int(rng.poisson(encounters_per_patient))):
                admit = dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=int(rng.integers(365)))
                db.add(Encounter(patient_id=p.id, type="outpatient", department_id=dept, admit_at=admit,
                                 discharge_at=admit + dt.timedelta(hours=1), charges=240, wait_minutes=15, extra={}))
                rows += 1
            rows += 1
    seconds = time.perf_counter() - started
    eng.dispose()
    return {"patients": n, "rows": rows, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--baseline", type=int, default=5000, help="patients for the ORM peer and PXM side by side")
    ap.add_argument("--postgres", default=os.environ.get("PXM_BENCH_POSTGRES_URL"),
                    help="PostgreSQL URL to repeat the runs on (its public schema is dropped and rebuilt)")
    ap.add_argument("--no-sqlite", action="store_true", help="run on PostgreSQL only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pxm-bench-"))
    configure_keyring(tmp / "phi.key")
    backends = [] if args.no_sqlite else [("sqlite", lambda name: f"sqlite:///{tmp / name}.db")]
    if args.postgres:
        try:
            make_engine(args.postgres).connect().close()
            backends.append(("postgresql", lambda name: str(args.postgres)))
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL not reachable ({type(exc).__name__}); SQLite only")
    results = {"machine": machine(), "runs": []}
    print(f"machine: {results['machine']}")
    for backend, url_for in backends:
        peer = run_orm_peer(url_for("peer"), args.baseline, 2.4)
        same = run_pxm(url_for("same"), args.baseline)
        ratio = same["rows_per_second"] / peer["rows_per_second"]
        print(f"[{backend}] n={args.baseline:,}: PXM {same['rows_per_second']:,} rows/s vs ORM session.add() "
              f"{peer['rows_per_second']:,} rows/s -> {ratio:.1f}x")
        results["runs"].append({"backend": backend, "kind": "peer", "n": args.baseline, "pxm": same, "orm": peer,
                                "ratio": round(ratio, 2)})
        for n in args.sizes:
            r = run_pxm(url_for(f"pxm{n}"), n)
            print(f"[{backend}] n={n:,}: {r['patients']:,} patients + {r['encounters']:,} encounters in "
                  f"{r['seconds']:.1f} s = {r['rows_per_second']:,} rows/s")
            results["runs"].append({"backend": backend, "kind": "pxm", "n": n, **r})
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
