"""SEM engine benchmark: PXM vs semopy (and seminr when installed), same data, one run.

    .venv/bin/python benchmarks/sem_vs_peers.py [--runs 20] [--boot 1000]

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

from pxm.analytics.sem import fit  # noqa: E402

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


def pxm_core(model: str, df: pd.DataFrame):
    """Estimation only (parse, parameter table, sample covariance, optimiser): what semopy's fit() does."""
    from pxm.analytics.sem.matrices import build_ram, start_values
    from pxm.analytics.sem.optimize import fit_ml
    from pxm.analytics.sem.partable import build_partable
    from pxm.analytics.sem.syntax import parse

    pt = build_partable(parse(model))
    X = df[list(pt.observed)].to_numpy(float)
    S = np.cov(X.T, bias=True)
    ram = build_ram(pt, exo_cov=S)
    return fit_ml(ram, S, start_values(pt, ram, S, False))


def median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


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

    print(f"semopy {semopy.__version__}; runs per timing: {args.runs}")
    for label, model, df in (("HS39 CFA (9 ind, 3 factors, N=301)", ref["model"], hs),
                             ("paper model (25 ind, 6 factors, 5 paths, N=352)", PAPER_MODEL, paper)):
        fit(model, df)  # warm-up
        t_pxm, ours = median_time(lambda m=model, d=df: fit(m, d), args.runs)
        t_core, core = median_time(lambda m=model, d=df: pxm_core(m, d), args.runs)
        t_sem, _ = median_time(lambda m=model, d=df: semopy.Model(m).fit(d), args.runs)
        sem_est = semopy_estimates(model, df)
        print(f"{label}")
        print(f"  PXM fit() median {t_pxm * 1000:8.2f} ms  (everything: estimates, SEs, fit measures, standardized "
              f"with SEs, MI, reliability; converged={ours.converged}, chisq={ours.fit['chisq']:.4f})")
        print(f"  PXM estimation only (parse + optimiser, like semopy's fit): median {t_core * 1000:8.2f} ms "
              f"(gradient max {np.max(np.abs(core.grad)):.1e})")
        print(f"  semopy median {t_sem * 1000:8.2f} ms  -> full PXM fit() is {t_sem / t_pxm:.1f}x faster; "
              f"estimation only {t_sem / t_core:.1f}x faster")
        print(f"  max |PXM - semopy| estimate difference: {max_diff_vs(ours, sem_est):.2e}")
        if model == ref["model"]:
            diffs = [abs(ours.param(*k.replace("=~", " =~ ").replace("~~", " ~~ ").split())["est"] - v["est"])
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
                print(f"  seminr median {t_sr * 1000:8.2f} ms  -> PXM is {t_sr / t_pxm:.1f}x faster; "
                      f"max |std loading difference| {d:.2e}")
        print()

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
