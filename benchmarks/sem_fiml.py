"""SEM with missing data: FIML and MLR fit times and the FIML bootstrap, one run.

    .venv/bin/python benchmarks/sem_fiml.py [--runs 10] [--boot 1000]

Data: (a) Holzinger-Swineford 1939 (tests/data/holzinger39.csv), each value deleted with probability 0.12
(numpy default_rng(11)); (b) the paper-sized model of benchmarks/sem_vs_peers.py (25 indicators, 6 factors,
n = 352 simulated with seed 20240601), each value deleted with probability 0.10 (default_rng(7)).
Times are process CPU time (time.process_time), medians over --runs fits; the bootstrap is timed once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sem_vs_peers import ITEMS, PAPER_MODEL, paper_population  # noqa: E402

from pxm.analytics.sem import fit  # noqa: E402


def cpu_median(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    hs = pd.read_csv(ROOT / "tests/data/holzinger39.csv")
    cols = [f"x{i}" for i in range(1, 10)]
    hs_model = json.loads((ROOT / "tests/data/lavaan-hs39.json").read_text())["model"]
    hs_m = hs[cols].mask(np.random.default_rng(11).random((len(hs), 9)) < 0.12)
    sigma, _ = paper_population()
    names = [i for items in ITEMS.values() for i in items]
    paper = pd.DataFrame(np.random.default_rng(20240601).multivariate_normal(np.zeros(len(names)), sigma, size=352),
                         columns=names)
    paper_m = paper.mask(np.random.default_rng(7).random(paper.shape) < 0.10)
    for label, model, data in (("HS39, 12% missing", hs_model, hs_m), ("paper model, 10% missing", PAPER_MODEL,
                                                                        paper_m)):
        n_pat = len({tuple(r) for r in data.isna().to_numpy()})
        print(f"{label}: n = {len(data)}, {n_pat} missing-data patterns")
        for est in ("ML", "MLR"):
            t, r = cpu_median(lambda est=est, model=model, data=data: fit(model, data, missing="fiml", estimator=est), args.runs)
            print(f"  FIML {est:3s} fit(): median {t * 1000:8.1f} ms CPU (converged={r.converged}, "
                  f"chisq {r.fit['chisq']:.3f}, {len(r.modification_indices)} modification indices)")
        if args.boot <= 0:
            print("  FIML bootstrap: skipped (--boot 0)")
            continue
        for ci in ("percentile", "bca"):
            t = time.process_time()
            r = fit(model, data, missing="fiml", bootstrap=args.boot, seed=1, bootstrap_ci=ci)
            el = time.process_time() - t
            print(f"  FIML bootstrap {args.boot} draws ({ci}): {el:.2f} s CPU ({r.bootstrap['draws']} ok, "
                  f"{r.bootstrap['failed']} failed)")


if __name__ == "__main__":
    main()
