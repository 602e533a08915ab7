"""SEM engine benchmark: PXM vs semopy (and seminr when installed), same data.

    .venv/bin/python benchmarks/sem_vs_peers.py [--runs 20] [--boot 1000]

Two like-for-like comparisons per model, each the median of ``--runs`` timed calls (PXM's estimate() at least
100), the contenders timed in alternating blocks so that load from other jobs on a shared machine hits them
alike:

(1) estimation: ``pxm.analytics.sem.estimate(model, df)`` (parse, parameter table, column read, sample
    covariance, start values, Newton to a 1e-10 gradient, identification check; returns the estimates) vs
    semopy ``Model(model).fit(df)`` (parse, optimise). PXM is timed warm (the compiled model is cached per model
    text, the product's refit case) and cold (``clear_cache()`` before every call: the first fit of a model).
(2) full report: PXM ``fit(model, df).to_dict()`` (estimates, SEs, ~40 fit measures, standardized solution
    with SEs, modification indices, R-square, reliability tables, as a JSON-ready dict) vs semopy
    ``Model(model).fit(df)`` + ``inspect(std_est=True)`` + ``semopy.calc_stats(model)``, warm and cold.

Peers: semopy (``pip install semopy``, in the bench extra) and seminr, the Python port of the R package
(``pip install seminr``; optional: without it the script says so and goes on). Models:
(a) Holzinger-Swineford 1939 CFA (tests/data/holzinger39.csv, lavaan reference in tests/data/lavaan-hs39.json);
(b) the paper-sized model: 25 indicators (PPE1-4, CFM1-4, CSP1-4, PLP1-4, FCR1-4, BP1-5), 6 factors,
5 structural paths PPE, CFM, CSP, PLP, FCR -> BP, n = 352 simulated from the population printed below.
Then times 1,000 bootstrap refits of (b).
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

# small matrices: one BLAS thread is fastest and keeps timings stable on a shared 2-core machine (both peers)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pxm.analytics.sem import estimate, fit  # noqa: E402
from pxm.analytics.sem.compiled import clear_cache  # noqa: E402

PRACTICES = ["PPE", "CFM", "CSP", "PLP", "FCR"]
ITEMS = {**{p: [f"{p}{i}" for i in range(1, 5)] for p in PRACTICES}, "BP": [f"BP{i}" for i in range(1, 6)]}
PAPER_MODEL = "\n".join(f"{f} =~ {' + '.join(items)}" for f, items in ITEMS.items()) + "\nBP ~ " + " + ".join(
    PRACTICES)


def paper_population() -> tuple[np.ndarray, dict[str, object]]:
    """Standardized population: loadings 0.70-0.85, practice correlations 0.30-0.50, betas 0.15-0.30."""
    loadings = {}
    grid = np.linspace(0.70, 0.85, 5)
    for k, items in enumerate(ITEMS.values()):
        for j, item in enumerate(items):
            loadings[item] = float(grid[(j + k) % 5])
    phi = np.array([[1.00, 0.40, 0.35, 0.30, 0.45],
                    [0.40, 1.00, 0.50, 0.35, 0.30],
                    [0.35, 0.50, 1.00, 0.40, 0.35],
                    [0.30, 0.35, 0.40, 1.00, 0.50],
                    [0.45, 0.30, 0.35, 0.50, 1.00]])
    beta = np.array([0.25, 0.15, 0.20, 0.30, 0.18])
    zeta = 1.0 - beta @ phi @ beta
    m = 6
    psi = np.zeros((m, m))
    psi[:5, :5] = phi
    psi[5, 5] = zeta
    B = np.zeros((m, m))
    B[5, :5] = beta
    names = [i for items in ITEMS.values() for i in items]
    lam = np.zeros((len(names), m))
    for k, items in enumerate(ITEMS.values()):
        for item in items:
            lam[names.index(item), k] = loadings[item]
    IB = np.linalg.inv(np.eye(m) - B)
    sigma = lam @ IB @ psi @ IB.T @ lam.T
    sigma += np.diag(1.0 - np.diag(sigma))
    return sigma, {"loadings": loadings, "phi": phi.tolist(), "beta": dict(zip(PRACTICES, beta.tolist(),
                                                                               strict=True)),
                   "zeta": float(zeta)}


def median_time(fn, runs: int, before=None) -> tuple[float, object]:
    """Median wall time of ``runs`` calls of fn; ``before`` runs untimed ahead of each call."""
    (t, out), = interleaved([(fn, runs, before)])
    return t, out


def interleaved(jobs, rounds: int = 10) -> list[tuple[float, object]]:
    """Median wall time per job (fn, runs, before). The runs are split into ``rounds`` blocks taken in turns
    (A A A B C C ... A A A B C C ...): load from other processes on a shared machine falls on every contender
    alike, while calls within a block run back to back as in a loop of refits."""
    times: list[list[float]] = [[] for _ in jobs]
    outs: list[object] = [None] * len(jobs)
    for r in range(rounds):
        for k, (fn, runs, before) in enumerate(jobs):
            for _ in range(runs * (r + 1) // rounds - runs * r // rounds):
                if before is not None:
                    before()
                t = time.perf_counter()
                outs[k] = fn()
                times[k].append(time.perf_counter() - t)
    return [(statistics.median(ts), out) for ts, out in zip(times, outs, strict=True)]


def semopy_full(model: str, df: pd.DataFrame):
    import semopy

    m = semopy.Model(model)
    m.fit(df)
    return m.inspect(std_est=True), semopy.calc_stats(m)


def semopy_estimates(model, df):
    import semopy

    m = semopy.Model(model)
    m.fit(df)
    ins = m.inspect()
    est = {}
    for _, row in ins.iterrows():
        if row["op"] == "~" and row["rval"] in ITEMS.get(row["lval"], []) or False:
            continue
        if row["op"] == "~":
            # semopy prints loadings as indicator ~ factor and regressions as y ~ x
            key = (row["rval"], "=~", row["lval"]) if row["lval"] not in ITEMS and row["lval"] not in (
                "visual", "textual", "speed") else (row["lval"], "~", row["rval"])
        else:
            key = (row["lval"], "~~", row["rval"])
        est[key] = float(row["Estimate"])
    return est


def max_diff_vs(ours, theirs) -> float:
    diffs = []
    for (lhs, op, rhs), value in theirs.items():
        try:
            mine = ours.param(lhs, op, rhs)["est"]
        except KeyError:
            continue
        diffs.append(abs(mine - value))
    return max(diffs) if diffs else float("nan")


def seminr_run(df, runs):
    try:
        import seminr
    except ImportError:
        return None, "seminr is not installed (pip install seminr) - skipped"
    mm = seminr.constructs(*[seminr.reflective(f, items) for f, items in ITEMS.items()])
    sm = seminr.relationships(seminr.paths(from_=PRACTICES, to="BP"))
    t, model = median_time(lambda: seminr.estimate_cbsem(df, mm, sm, estimator="ML"), runs)
    return t, model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    hs = pd.read_csv(ROOT / "tests/data/holzinger39.csv")
    ref = json.loads((ROOT / "tests/data/lavaan-hs39.json").read_text())
    sigma, pop = paper_population()
    rng = np.random.default_rng(20240601)
    names = [i for items in ITEMS.values() for i in items]
    paper = pd.DataFrame(rng.multivariate_normal(np.zeros(len(names)), sigma, size=352), columns=names)

    print("Population of the paper-sized model (standardized):")
    print("  loadings:", ", ".join(f"{k}={v:.3f}" for k, v in pop["loadings"].items()))
    print("  practice correlations (PPE, CFM, CSP, PLP, FCR):")
    for row in pop["phi"]:
        print("   ", " ".join(f"{v:.2f}" for v in row))
    print("  betas -> BP:", ", ".join(f"{k}={v:.2f}" for k, v in pop["beta"].items()),
          f"; BP disturbance variance {pop['zeta']:.3f}; n = 352, seed 20240601")
    print()

    import semopy

    print(f"semopy {semopy.__version__}; semopy and PXM fit(): median of {args.runs} calls; PXM estimate(): median of "
          f"{max(args.runs, 100)} calls")
    for label, model, df in (("HS39 CFA (9 ind, 3 factors, N=301)", ref["model"], hs),
                             ("paper model (25 ind, 6 factors, 5 paths, N=352)", PAPER_MODEL, paper)):
        pxm_runs = max(args.runs, 100)  # PXM calls are cheap: more of them for a stable median
        fit(model, df).to_dict()  # warm-up (imports, caches)
        semopy.Model(model).fit(df)
        (t_est_w, est), (t_est_c, _), (t_sem, _), (t_fit_w, _), (t_fit_c, _), (t_semf, _) = interleaved([
            (lambda m=model, d=df: estimate(m, d), pxm_runs, None),
            (lambda m=model, d=df: estimate(m, d), pxm_runs, clear_cache),
            (lambda m=model, d=df: semopy.Model(m).fit(d), args.runs, None),
            (lambda m=model, d=df: fit(m, d).to_dict(), args.runs, None),
            (lambda m=model, d=df: fit(m, d).to_dict(), args.runs, clear_cache),
            (lambda m=model, d=df: semopy_full(m, d), args.runs, None),
        ])
        ours = fit(model, df)
        sem_est = semopy_estimates(model, df)
        print(f"{label}")
        print(f"  (1) estimation   PXM estimate() warm {t_est_w * 1000:7.3f} ms, cold {t_est_c * 1000:7.3f} ms "
              f"(converged={est.converged}, {est.iterations} Newton steps, gradient max {est.gradient_max:.1e})")
        print(f"                   semopy Model.fit   {t_sem * 1000:7.3f} ms  -> PXM {t_sem / t_est_w:5.1f}x faster warm, "
              f"{t_sem / t_est_c:5.1f}x cold")
        print(f"  (2) full report  PXM fit().to_dict() warm {t_fit_w * 1000:7.3f} ms, cold {t_fit_c * 1000:7.3f} ms "
              f"(converged={ours.converged}, chisq={ours.fit['chisq']:.4f})")
        print(f"                   semopy fit + inspect(std_est) + calc_stats {t_semf * 1000:7.3f} ms  -> PXM "
              f"{t_semf / t_fit_w:5.1f}x faster warm, {t_semf / t_fit_c:5.1f}x cold")
        print(f"  max |PXM - semopy| estimate difference: {max_diff_vs(ours, sem_est):.2e}")
        if model == ref["model"]:
            diffs = [abs(est.param(*k.replace("=~", " =~ ").replace("~~", " ~~ ").split())["est"] - v["est"])
                     for k, v in ref["estimates"].items()]
            print(f"  max |PXM - lavaan| estimate difference: {max(diffs):.2e}")
        else:
            t_sr, sr = seminr_run(df, args.runs)
            if t_sr is None:
                print(f"  {sr}")
            else:
                fl = sr.factor_loadings
                d = 0.0
                for i, item in enumerate(fl.rows):
                    for j, f in enumerate(fl.cols):
                        v = fl.values[i, j]
                        if v != 0 and np.isfinite(v):
                            d = max(d, abs(ours.param(f, "=~", item)["std_all"] - v))
                print(f"  seminr estimate_cbsem {t_sr * 1000:7.3f} ms  -> PXM fit() {t_sr / t_fit_w:.1f}x faster warm; "
                      f"max |std loading difference| {d:.2e}")
        print()

    if args.boot <= 0:
        print("bootstrap: skipped (--boot 0)")
        return
    for method in ("percentile", "bca"):
        t0 = time.perf_counter()
        r = fit(PAPER_MODEL, paper, bootstrap=args.boot, seed=1, bootstrap_ci=method)
        elapsed = time.perf_counter() - t0
        row = r.param("BP", "~", "PPE")
        print(f"bootstrap {args.boot} refits ({method}) of the paper model: {elapsed:.2f} s total "
              f"({r.bootstrap['draws']} ok, {r.bootstrap['failed']} failed); BP~PPE std_all "
              f"{row['std_all']:.3f} CI [{row['std_all_boot_ci_lower']:.3f}, {row['std_all_boot_ci_upper']:.3f}]")


if __name__ == "__main__":
    main()
