"""The study's bootstrap (the SEM engine's vectorised one) keeps the meaning of a per-draw refit bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pxm.analytics import sem
from pxm.analytics.study.instruments import load_instrument
from pxm.analytics.study.model import build_syntax
from pxm.analytics.study.run import run_study

B, SEED = 20, 5


def _naive(df: pd.DataFrame) -> tuple[dict[str, list[float]], list[float]]:
    """Resample rows with default_rng(SEED) and refit the whole model for each draw."""
    syntax = build_syntax(load_instrument("cxm"))
    rng = np.random.default_rng(SEED)
    values = df.to_numpy(dtype=float)
    paths: dict[str, list[float]] = {}
    r2s: list[float] = []
    for _ in range(B):
        idx = rng.integers(0, len(df), len(df))
        res = sem.fit(syntax, pd.DataFrame(values[idx], columns=df.columns)).to_dict()
        for r in res["parameters"]:
            if r["op"] == "~" and r["lhs"] == "BP":
                paths.setdefault(r["rhs"], []).append(r["std_all"])
        r2s.append(res["r2"]["BP"])
    return paths, r2s


def test_intervals_are_percentiles_of_per_draw_refits(likert_df: pd.DataFrame) -> None:
    report = run_study(likert_df, bootstrap=B, seed=SEED).to_dict()
    paths, r2s = _naive(likert_df)
    assert report["bootstrap"]["failed"] == 0 and report["bootstrap"]["method"] == "percentile"
    for h in report["hypotheses"]:
        lo, hi = np.percentile(paths[h["from"]], [2.5, 97.5])
        assert h["boot_ci_lower"] == pytest.approx(lo, abs=1e-4), h["hypothesis"]
        assert h["boot_ci_upper"] == pytest.approx(hi, abs=1e-4), h["hypothesis"]
    assert report["r2"]["boot_ci"] == pytest.approx(list(np.percentile(r2s, [2.5, 97.5])), abs=1e-4)


def test_progress_follows_every_draw(likert_df: pd.DataFrame) -> None:
    calls: list[tuple[int, int]] = []
    run_study(likert_df, bootstrap=4, seed=1, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
