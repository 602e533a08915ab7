"""Run the CXM impact study on survey answers: validate, fit the SEM, build tables 1-4 and the extras."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from pxm.analytics import sem
from pxm.analytics.study import tables
from pxm.analytics.study.data import DataReport, StudyDataError, apply_mapping, fingerprint, validate_data
from pxm.analytics.study.diagram import path_diagram_svg
from pxm.analytics.study.instruments import load_instrument, outcome_construct, practice_constructs
from pxm.analytics.study.model import build_syntax, count_free_parameters

__all__ = ["StudyReport", "run_study", "fit_model"]

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class StudyReport:
    """The study's results; ``content`` is JSON-ready and the same for every output format."""

    content: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.content

    def to_text(self) -> str:
        from pxm.analytics.study.report_text import render_text

        return render_text(self.content)

    def to_html(self) -> str:
        from pxm.analytics.study.report_html import render_html

        return render_html(self.content)


def engine_version(result: dict[str, Any] | None = None) -> str:
    v = (result or {}).get("engine_version") or getattr(sem, "__version__", None)
    if v:
        return str(v)
    try:
        return f"pxm {metadata.version('pxm')}"
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


def fit_model(syntax: str, data: pd.DataFrame) -> dict[str, Any]:
    """Fit with the PXM SEM engine (ML, listwise) and return its result dict."""
    try:
        result = sem.fit(syntax, data)
    except sem.SEMError as exc:  # DataError, ModelIdentificationError, ...: the data cannot carry the model
        raise StudyDataError([f"the model cannot be estimated on this data: {exc}"]) from exc
    return result.to_dict()


def _r2(result: dict[str, Any], outcome: str) -> float | None:
    r2 = result.get("r2") or {}
    if outcome in r2 and r2[outcome] is not None:
        return float(r2[outcome])
    for r in result.get("parameters", []):
        if r.get("op") == "~~" and r.get("lhs") == outcome and r.get("rhs") == outcome:
            return 1.0 - float(r["std_all"])
    return None


def _bootstrap(syntax: str, data: pd.DataFrame, outcome: str, practices: list[str], n_boot: int,
               seed: int | None, progress: ProgressFn | None) -> dict[str, Any]:
    """Percentile bootstrap (rows resampled with replacement) of the standardized paths and R2."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {p: [] for p in practices}
    r2s: list[float] = []
    failed = 0
    values = data.to_numpy()
    for b in range(n_boot):
        idx = rng.integers(0, len(data), len(data))
        sample = pd.DataFrame(values[idx], columns=data.columns)
        try:
            res = sem.fit(syntax, sample).to_dict()
        except Exception:  # a resample the engine cannot fit is counted, not fatal  # noqa: BLE001
            failed += 1
        else:
            if not res.get("converged", True):
                failed += 1
            else:
                paths = {r["rhs"]: float(r["std_all"]) for r in res["parameters"]
                         if r["op"] == "~" and r["lhs"] == outcome and r.get("std_all") is not None}
                for p in practices:
                    draws[p].append(paths.get(p, float("nan")))
                r2 = _r2(res, outcome)
                if r2 is not None:
                    r2s.append(r2)
        if progress:
            progress(b + 1, n_boot)

    def ci(xs: list[float]) -> tuple[float, float] | None:
        arr = np.asarray([x for x in xs if not math.isnan(x)])
        return (float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5))) if len(arr) >= 2 else None

    cis = {p: c for p in practices if (c := ci(draws[p])) is not None}
    return {"replicates": n_boot, "failed": failed, "level": 0.95, "method": "percentile",
            "paths": cis, "r2": ci(r2s)}


def _summary(hyp: list[dict[str, Any]], r2: float | None, fit: dict[str, Any], measurement: list[dict[str, Any]],
             discriminant: dict[str, Any], n: int, outcome_name: str) -> list[str]:
    supported = [h for h in hyp if h["supported"]]
    lines = []
    lines.append(f"{len(supported)} of {len(hyp)} hypotheses are supported "
                 f"({', '.join(h['hypothesis'] for h in supported) or 'none'}), based on {n} complete responses.")
    if hyp:
        top = max((h for h in hyp if h["beta"] is not None), key=lambda h: h["beta"], default=None)
        if top:
            lines.append(f"The practice most strongly associated with {outcome_name.lower()} is {top['path'].split(' -> ')[0]} "
                         f"(standardized beta {top['beta']:.2f}: one standard deviation more of this practice goes "
                         f"with {top['beta']:.2f} standard deviations more {outcome_name.lower()}, the other "
                         "practices held equal).")
    if r2 is not None:
        lines.append(f"Together the practices account for {r2:.0%} of the variance in {outcome_name.lower()} (R-square).")
    flagged = [m["construct"] for m in measurement if m["flags"]]
    lines.append("All constructs meet the reliability and convergent-validity thresholds."
                 if not flagged else f"Measurement problems in: {', '.join(flagged)} (see Table 1).")
    if discriminant["problems"]:
        lines.append(f"Discriminant validity is questionable: {len(discriminant['problems'])} pair(s) flagged (Table 2).")
    lines.append(f"Overall model fit is {fit['overall']} by conventional cut-offs (Table 3).")
    lines.append("What this does not show: the data are a cross-sectional survey, so the paths are associations, "
                 "not proof of causation (that a practice causes better performance); answers are self-reported, and because the "
                 "practices and the outcome come from the same respondents at the same time, common-method bias "
                 "can inflate the relationships. Unmeasured factors (size, funding, case mix) may drive both.")
    return lines


def run_study(df: pd.DataFrame, instrument: str | dict[str, Any] = "cxm", bootstrap: int = 0,
              seed: int | None = None, mapping: dict[str, str] | None = None, *,
              progress: ProgressFn | None = None, check_scale: bool = True, top_mi: int = 10) -> StudyReport:
    """Validate ``df`` (one row per respondent, columns named by item code), fit the model, build the report.

    Raises ``StudyDataError`` listing every data problem. ``check_scale=False`` accepts continuous values (used
    for simulated data); ``progress(done, total)`` is called after each bootstrap replicate.
    """
    inst = load_instrument(instrument) if isinstance(instrument, str) else instrument
    df = apply_mapping(df, mapping)
    clean, report = validate_data(df, inst, min_complete=count_free_parameters(inst), check_scale=check_scale)
    return _analyse(clean, report, inst, bootstrap=bootstrap, seed=seed, mapping=mapping, progress=progress,
                    top_mi=top_mi)


def _analyse(clean: pd.DataFrame, report: DataReport, inst: dict[str, Any], *, bootstrap: int, seed: int | None,
             mapping: dict[str, str] | None, progress: ProgressFn | None, top_mi: int) -> StudyReport:
    syntax = build_syntax(inst)
    data = clean.reset_index(drop=True)
    result = fit_model(syntax, data)
    outcome = outcome_construct(inst)
    practices = practice_constructs(inst)
    warnings = list(report.warnings) + [str(w) for w in result.get("warnings", [])]
    if not result.get("converged", True):
        warnings.append("the estimator did not converge: the estimates below are not reliable")
    boot = _bootstrap(syntax, data, outcome, practices, bootstrap, seed, progress) if bootstrap > 0 else None
    if boot and boot["failed"]:
        warnings.append(f"{boot['failed']} of {bootstrap} bootstrap resamples could not be fitted and were skipped")
    measurement = tables.measurement_table(result, data, inst)
    discriminant = tables.discriminant_table(result, data, inst, measurement)
    fit = tables.fit_table(result.get("fit", {}))
    hyp = tables.hypotheses_table(result, inst, boot=boot["paths"] if boot else None)
    r2 = _r2(result, outcome)
    outcome_name = next(c["name"]["en"] for c in inst["constructs"] if c["code"] == outcome)
    for m in measurement:
        warnings += [f"{m['construct']}: {f}" for f in m["flags"]]
    warnings += discriminant["problems"]
    content: dict[str, Any] = {
        "meta": {
            "instrument": {"code": inst["code"], "version": inst["version"], "title": inst["title"]["en"]},
            "engine": {"name": "pxm.analytics.sem", "version": engine_version(result),
                       "estimator": result.get("estimator", "ML")},
            "input_fingerprint": fingerprint(clean),
            "options": {"bootstrap": bootstrap, "seed": seed, "mapping": mapping or {}, "missing": "listwise"},
            "n_rows": report.n_rows, "n_obs": int(result.get("n_obs", len(data))),
            "converged": bool(result.get("converged", True)), "model_syntax": syntax,
        },
        "measurement": measurement,
        "discriminant": discriminant,
        "fit": fit,
        "hypotheses": hyp,
        "r2": {"construct": outcome, "value": r2, "boot_ci": boot["r2"] if boot else None},
        "ranking": tables.ranking(hyp),
        "bootstrap": boot,
        "descriptives": tables.descriptives(data, report.missing_by_item),
        "missing": report.to_dict(),
        "modification_indices": tables.modification_table(result, top_mi),
        "warnings": warnings,
    }
    content["summary"] = _summary(hyp, r2, fit, measurement, discriminant, len(data), outcome_name)
    content["diagram_svg"] = path_diagram_svg(hyp, r2, inst)
    return StudyReport(content)
