"""Service-desk benchmarks: contact creation through the real API, and the routing decision.

    .venv/bin/python benchmarks/service_desk.py [--requests 3000] [--concurrency 16] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/pxm_bench_desk] [--workers 1] [--skip-http] \
        [--skip-routing] [--client raw|httpx] [--repeat 1] [--only sqlite|postgresql] [--warmup 200]

1. **Contact creation** (``POST /api/v1/contacts``): PXM runs under uvicorn in its own process (one worker,
   request logging on, as ``pxm serve`` runs it, embedded job worker off so the outbox rows just accumulate);
   this process is the client: ``--concurrency`` keep-alive connections of the lean asyncio client in
   ``http_load.py`` (``--client httpx``: httpx with that many threads, which costs far more CPU) send ``--requests``
   requests
   (after ``--warmup`` requests, 200 by default) and records each latency. Every request authenticates a Bearer token, validates,
   finds or opens the patient's case (SLA due times, two SLA-check jobs, routing: snapshot + decision +
   assignment + ``routing_decisions`` row), writes the contact, case events and audit events, and commits.
   The **peer** is a bare FastAPI endpoint under the same uvicorn that validates the same body and inserts one
   row (no auth, audit, case or routing) on the same database engine; the ratio is PXM's overhead.
   ``--workers N`` runs both servers as N uvicorn worker processes (as ``pxm serve --workers N`` does).
   "server CPU" is the CPU time of the server processes per measured request (from /proc): load from other
   programs on the machine inflates it far less than the wall-clock figures. On PostgreSQL "db CPU" is the same
   for the local PostgreSQL server's processes (all of them, so other databases' work would count too): it
   runs on the same 2 cores.
2. **Routing decision** with 200 agents and 5,000 open cases: the pure engine (index build + decision), the
   snapshot + decision as ``route_case`` does it (``plan_route``: the routing lock on PostgreSQL, one query for
   the agents who have the case's reason and language with their open-case load and last routing, the
   decision), and the whole ``route_case`` with the assignment, its writes sent (the ones it defers to the
   commit are sent inside the timing), in a SAVEPOINT rolled back each time. The case is loaded, and the
   SAVEPOINT sent, before each timing starts: they are the harness's work, not routing's.

Goals (issue 5): >= 300 contact creations/s with p99 < 150 ms; routing p99 < 10 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from http_load import post_all
from pydantic import BaseModel
from sqlalchemy import text

REASONS = ["appointment_scheduling", "billing", "prescription_refill", "test_results", "referral",
           "records_request", "medical_advice", "complaint"]
LANGS = ["en", "es", "zh", "vi"]


class PeerBody(BaseModel):
    patient_id: int
    channel: str
    direction: str
    reason: str
    started_at: dt.datetime
    queued_at: dt.datetime | None = None


# -- servers (run as subprocesses: ``service_desk.py _serve pxm|peer URL PORT KEYDIR``) ----------------------
def _peer_app(url: str) -> Any:
    from fastapi import FastAPI
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    from pxm.platform.db import make_engine

    engine = make_engine(url)
    meta = MetaData()
    table = Table("peer_contacts", meta, Column("id", Integer, primary_key=True), Column("patient_id", Integer),
                  Column("channel", String(10)), Column("direction", String(10)), Column("reason", String(40)),
                  Column("started_at", DateTime(timezone=True)), Column("queued_at", DateTime(timezone=True)))
    meta.create_all(engine)

    app = FastAPI()
    app.state.engine = engine

    @app.post("/api/v1/contacts", status_code=201)
    def create(body: PeerBody) -> dict[str, Any]:
        with engine.begin() as conn:
            new_id = conn.execute(table.insert().values(**body.model_dump())).inserted_primary_key[0]
        return {"id": new_id, **body.model_dump(mode="json")}

    return app


def _app(kind: str, url: str, key_dir: str) -> Any:
    if kind == "peer":
        return _peer_app(url)
    from pxm.platform.config import Settings
    from pxm.platform.logs import configure_logging
    from pxm.web.app import create_app

    settings = Settings(database_url=url, key_dir=Path(key_dir), log_json=True, jobs_mode="embedded")
    configure_logging("INFO", True)
    return create_app(settings, start_worker=False)


def _app_from_env() -> Any:
    """The app of one worker process under ``--workers N`` (uvicorn's supervisor spawns them)."""
    return _app(os.environ["BENCH_KIND"], os.environ["BENCH_URL"], os.environ["BENCH_KEY_DIR"])


def _serve(kind: str, url: str, port: int, key_dir: str, workers: int = 1) -> None:
    import uvicorn

    common: dict[str, Any] = {"host": "127.0.0.1", "port": port, "log_level": "warning", "access_log": False}
    if workers == 1:
        uvicorn.run(_app(kind, url, key_dir), **common)
        return
    if kind == "peer":
        _peer_app(url).state.engine.dispose()  # create its table once, before the workers race to
    os.environ.update(BENCH_KIND=kind, BENCH_URL=url, BENCH_KEY_DIR=key_dir)
    sys.path.insert(0, str(Path(__file__).parent))
    uvicorn.run(f"{Path(__file__).stem}:_app_from_env", factory=True, workers=workers, **common)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(kind: str, url: str, key_dir: Path, log: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    script = os.environ.get("PXM_BENCH_SERVER_SCRIPT", __file__)  # for experiments with a patched server
    proc = subprocess.Popen([sys.executable, script, "_serve", kind, url, str(port), str(key_dir), str(workers)],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/v1/openapi.json" if kind == "pxm" else base + "/openapi.json",
                         timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start; see {log}")


# -- data ---------------------------------------------------------------------------------------------------
def _fresh(url: str) -> None:
    from pxm.platform.db import make_engine
    from pxm.platform.db.migrate import upgrade

    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
        # each run drops and re-creates the schema; where autovacuum is off (as on this project's machines) the
        # system catalogs keep every dead row, and lookups in them (pg_depend, say) slow down run after run.
        # Vacuumed before the tables exist: a vacuumed empty table tells the planner it stays empty (no
        # autovacuum to correct it), and the desk's queries then scan cases instead of using their indexes.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM"))
    upgrade(url, engine=engine)
    engine.dispose()


def _seed_desk(url: str, key_dir: Path, patients: int, agents: int) -> tuple[str, list[int]]:
    from pxm.platform.auth.actor import Actor
    from pxm.platform.auth.service import create_api_token, create_user
    from pxm.platform.db import make_engine, make_session_factory
    from pxm.platform.people import service as people
    from pxm.platform.people.crypto import configure_keyring
    from pxm.platform.people.models import Staff
    from pxm.platform.people.schemas import PatientCreate

    configure_keyring(key_dir / "phi.key")
    engine = make_engine(url)
    sf = make_session_factory(engine)
    rng = random.Random(5)
    system = Actor.system("bench")
    with sf() as s, s.begin():
        user = create_user(s, system, username="bench-desk", display_name="Bench", role="agent",
                           password="bench-password-123456")
        token, _ = create_api_token(s, system, user, "bench")
        ids = [people.create_patient(s, system, PatientCreate(
            mrn=f"B-{i:06d}", given_name="Bench", family_name=f"P{i}",
            preferred_language=rng.choice(LANGS))).id for i in range(patients)]
        for i in range(agents):
            s.add(Staff(username=f"bench-agent-{i}", display_name=f"Agent {i}", job_role="agent",
                        team=f"team-{i % 4}", languages=["en"] + rng.sample(LANGS[1:], 1),
                        reasons=rng.sample(REASONS, 3), channels=[], capacity=10_000, status="available",
                        active=True, status_since=dt.datetime.now(dt.UTC)))
    engine.dispose()
    return token, ids


# -- load ---------------------------------------------------------------------------------------------------
def _load(base: str, headers: dict[str, str], patient_ids: list[int], n: int, concurrency: int,
          seed: int, client: str = "raw") -> dict[str, float]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        now = dt.datetime.now(dt.UTC).isoformat()
        bodies.append({"patient_id": rng.choice(patient_ids), "channel": rng.choice(["phone", "chat"]),
                       "direction": "inbound", "reason": rng.choice(REASONS), "started_at": now, "queued_at": now})
    if client == "raw":
        lat, wall = post_all(base, "/api/v1/contacts", headers, bodies, concurrency)
        return _summary(lat, wall)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        def one(body: dict[str, Any]) -> float:
            t0 = time.perf_counter()
            r = http.post("/api/v1/contacts", json=body)
            if r.status_code != 201:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
            return time.perf_counter() - t0

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            lat = list(pool.map(one, bodies))
        wall = time.perf_counter() - started
    return _summary(lat, wall)


def _summary(lat: list[float], wall: float) -> dict[str, float]:
    n = len(lat)
    lat = sorted(lat)
    return {"requests": n, "rps": n / wall, "p50_ms": 1000 * lat[n // 2],
            "p99_ms": 1000 * lat[min(n - 1, int(n * 0.99))], "max_ms": 1000 * lat[-1]}


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a server process and its worker processes (Linux /proc)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _postgres_cpu() -> float:
    """CPU seconds used so far by the processes named ``postgres`` (the local server and its backends)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, rest = stat.read_text().rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _cpu(pid: int, url: str) -> tuple[float, float]:
    return _server_cpu(pid), _postgres_cpu() if url.startswith("postgresql") else 0.0


def _cpu_per_request(out: dict[str, Any], pid: int, url: str, before: tuple[float, float], requests: int) -> None:
    after = _cpu(pid, url)
    out["server_cpu_ms"] = 1000 * (after[0] - before[0]) / requests
    if url.startswith("postgresql"):
        out["db_cpu_ms"] = 1000 * (after[1] - before[1]) / requests


def bench_http(url: str, key_dir: Path, tmp: Path, requests: int, concurrency: int,
               workers: int = 1, client: str = "raw", warmup: int = 200) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _fresh(url)
    token, ids = _seed_desk(url, key_dir, patients=2000, agents=40)
    proc, base = _start("pxm", url, key_dir, tmp / "pxm-server.log", workers)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        _load(base, auth, ids, warmup, concurrency, seed=1, client=client)
        cpu = _cpu(proc.pid, url)
        out["pxm"] = _load(base, auth, ids, requests, concurrency, seed=2, client=client)
        _cpu_per_request(out["pxm"], proc.pid, url, cpu, requests)
    finally:
        proc.terminate()
        proc.wait(10)
    _fresh(url)
    proc, base = _start("peer", url, key_dir, tmp / "peer-server.log", workers)
    try:
        _load(base, {}, list(range(1, 2001)), warmup, concurrency, seed=1, client=client)
        cpu = _cpu(proc.pid, url)
        out["peer"] = _load(base, {}, list(range(1, 2001)), requests, concurrency, seed=2,
                            client=client)
        _cpu_per_request(out["peer"], proc.pid, url, cpu, requests)
    finally:
        proc.terminate()
        proc.wait(10)
    return out


# -- routing ------------------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def bench_routing_engine(rng: random.Random, decisions: int = 20_000) -> dict[str, float]:
    from pxm.operations.routing.engine import AgentPool, AgentState, Requirements, WideningPolicy

    now = dt.datetime.now(dt.UTC)
    loads = [0] * 200
    for _ in range(5000):
        loads[rng.randrange(200)] += 1
    agents = [AgentState(staff_id=i, name=f"A{i}", status=rng.choice(["available"] * 3 + ["busy", "away"]),
                         capacity=40, load=loads[i], idle_since=now - dt.timedelta(seconds=rng.randrange(3600)),
                         reasons=frozenset(rng.sample(REASONS, 3)), languages=frozenset(["en", rng.choice(LANGS)]),
                         team=f"team-{i % 8}") for i in range(200)]
    policy = WideningPolicy()
    times = []
    for _ in range(decisions):
        req = Requirements(reason=rng.choice(REASONS), language=rng.choice(LANGS), channel="phone",
                           waited_seconds=rng.choice([0, 0, 0, 200, 400]))
        t0 = time.perf_counter()
        AgentPool(agents).decide(req, policy, assign=False, now=now)
        times.append(time.perf_counter() - t0)
    return {"decisions": decisions, "p50_ms": 1000 * statistics.median(times), "p99_ms": 1000 * _pct(times, 0.99)}


def bench_routing_db(url: str, key_dir: Path, rng: random.Random, iterations: int = 300) -> dict[str, Any]:
    from sqlalchemy import insert

    from pxm.operations.routing import service as routing
    from pxm.platform.auth.actor import Actor
    from pxm.platform.db import make_engine, make_session_factory
    from pxm.platform.db.prebuilt import Batch
    from pxm.platform.people.crypto import configure_keyring
    from pxm.platform.people.models import Staff
    from pxm.practices.resolution import service as resolution
    from pxm.practices.resolution.models import Case

    _fresh(url)
    configure_keyring(key_dir / "phi.key")
    _token, patient_ids = _seed_desk(url, key_dir, patients=50, agents=0)
    engine = make_engine(url)
    sf = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    with sf() as s, s.begin():
        for i in range(200):
            s.add(Staff(username=f"route-agent-{i}", display_name=f"Agent {i}", job_role="agent",
                        team=f"team-{i % 8}", languages=["en", rng.choice(LANGS)], reasons=rng.sample(REASONS, 3),
                        channels=[], capacity=40, status=rng.choice(["available"] * 3 + ["busy", "away"]),
                        active=True, status_since=now - dt.timedelta(seconds=rng.randrange(3600))))
        s.flush()
        staff_ids = [i for (i,) in s.execute(text("SELECT id FROM staff"))]
        s.execute(insert(Case), [{
            "patient_id": rng.choice(patient_ids), "reason": rng.choice(REASONS), "priority": "normal",
            "status": "assigned", "channel": "phone", "source": "contact", "assigned_staff_id": rng.choice(staff_ids),
            "opened_at": now - dt.timedelta(minutes=rng.randrange(600)), "reopened_count": 0,
            "first_response_breached": False, "resolution_breached": False, "updated_at": now}
            for _ in range(5000)])
    if engine.dialect.name == "postgresql":  # planner statistics, as autovacuum keeps them in production
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    system = Actor.system("bench")
    snap_times, full_times = [], []
    with sf() as s:
        cases = [resolution.open_case(s, system, patient_id=rng.choice(patient_ids), reason=rng.choice(REASONS),
                                      channel="phone", route=False, schedule_sla=False) for _ in range(iterations)]
        s.commit()
        # each iteration rolls back, which expires the case object: it is loaded again before the timing (the
        # desk routes a case it has in hand), so the figures are the routing's own
        for case in cases:
            s.refresh(case)
            t0 = time.perf_counter()
            routing.plan_route(s, case)  # lock (PostgreSQL), snapshot of the agents who can take it, decision
            snap_times.append(time.perf_counter() - t0)
            s.rollback()
        for case in cases:
            s.refresh(case)
            nested = s.begin_nested()
            s.connection()  # the harness's SAVEPOINT is sent here (lazily, at first use), not inside the timing
            t0 = time.perf_counter()
            routing.route_case(s, system, case)
            Batch(s.connection()).send()  # writes it deferred to the commit go now, inside the timing
            full_times.append(time.perf_counter() - t0)
            nested.rollback()
            s.rollback()
    engine.dispose()
    return {"iterations": iterations,
            "snapshot_decide_p50_ms": 1000 * statistics.median(snap_times),
            "snapshot_decide_p99_ms": 1000 * _pct(snap_times, 0.99),
            "route_case_p50_ms": 1000 * statistics.median(full_times),
            "route_case_p99_ms": 1000 * _pct(full_times, 0.99)}


def _print_http(name: str, h: dict[str, Any], args: argparse.Namespace) -> None:
    for who in ("pxm", "peer"):
        m = h[who]
        print(f"POST /api/v1/contacts {name:10s} {who:4s} {m['requests']} req, c={args.concurrency}, "
              f"workers={args.workers}, {args.client} client: "
              f"{m['rps']:7.1f} req/s  p50 {m['p50_ms']:6.1f} ms  p99 {m['p99_ms']:6.1f} ms  "
              f"server CPU {m['server_cpu_ms']:5.1f} ms/req"
              + (f"  db CPU {m['db_cpu_ms']:4.1f} ms/req" if "db_cpu_ms" in m else ""), flush=True)
    print(f"  PXM / peer throughput: {h['ratio_rps']:.2f}", flush=True)


def _median_of(name: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median and range of PXM's figures over repeated runs (single runs scatter on a shared VM)."""
    out: dict[str, float] = {}
    for key in ("rps", "p99_ms", "server_cpu_ms"):
        values = [r["pxm"][key] for r in runs]
        out[key] = statistics.median(values)
        out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    print(f"  PXM {name}, median of {len(runs)} runs: {out['rps']:.1f} req/s ({out['rps_min']:.1f}-"
          f"{out['rps_max']:.1f}), p99 {out['p99_ms']:.1f} ms ({out['p99_ms_min']:.1f}-{out['p99_ms_max']:.1f}), "
          f"server CPU {out['server_cpu_ms']:.1f} ms/req", flush=True)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        _serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=200, help="requests sent to each server before the measured ones")
    ap.add_argument("--postgres", default=None)
    ap.add_argument("--workers", type=int, default=1, help="server processes for PXM and the peer (uvicorn workers)")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw",
                    help="load generator: raw asyncio HTTP/1.1 (lean, the default) or httpx in a thread pool")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the contact-creation benchmark this many times per database and print the median")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-routing", action="store_true")
    ap.add_argument("--only", choices=["sqlite", "postgresql"], default=None, help="run on this database only")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": {"nproc": os.cpu_count(), "loadavg": os.getloadavg()},
                               "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        key_dir = tmp / "keys"
        key_dir.mkdir()
        targets = [("sqlite", f"sqlite:///{tmp / 'desk.db'}")]
        if args.postgres:
            targets.append(("postgresql", args.postgres))
        if args.only:
            targets = [t for t in targets if t[0] == args.only]
            if not targets:
                ap.error("--only postgresql needs --postgres URL")
        if not args.skip_routing:
            results["routing_engine"] = bench_routing_engine(random.Random(7))
            print(f"routing engine (200 agents, 5000 open cases): {results['routing_engine']}", flush=True)
        for name, url in targets:
            if not args.skip_routing:
                r = bench_routing_db(url, key_dir, random.Random(11))
                results[f"routing_db_{name}"] = r
                print(f"routing with the database ({name}): {r}", flush=True)
            if not args.skip_http:
                runs = []
                for _ in range(args.repeat):
                    h = bench_http(url, key_dir, tmp, args.requests, args.concurrency, args.workers,
                                   args.client, args.warmup)
                    h["ratio_rps"] = h["pxm"]["rps"] / h["peer"]["rps"]
                    runs.append(h)
                    _print_http(name, h, args)
                if len(runs) == 1:
                    results[f"contacts_{name}"] = runs[0]
                else:
                    results[f"contacts_{name}"] = {"runs": runs, "median": _median_of(name, runs)}
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
