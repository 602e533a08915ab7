"""Run the CXM impact study on survey answers: validate, fit the SEM, build tables 1-4 and the extras."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

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


def fit_model(syntax: str, data: pd.DataFrame, bootstrap: int = 0, seed: int | None = None,
              progress: ProgressFn | None = None) -> dict[str, Any]:
    """Fit with the PXM SEM engine (ML, listwise) and return its result dict.

    With ``bootstrap`` draws the engine also resamples rows (seeded, each refit warm-started from the estimate)
    and adds percentile intervals to every row and to the R-squares; ``progress(done, total)`` follows the draws.
    """
    try:
        result = sem.fit(syntax, data, bootstrap=bootstrap, seed=seed, bootstrap_ci="percentile",
                         progress=progress if bootstrap else None)
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


def _interval(lo: Any, hi: Any) -> list[float] | None:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [float(lo), float(hi)]


def _bootstrap(result: dict[str, Any], outcome: str, practices: list[str], n_boot: int) -> dict[str, Any]:
    """The study's view of the engine's percentile bootstrap: 95% intervals of the standardized paths and R2.

    Rows are resampled with replacement from ``numpy.random.default_rng(seed)``; a resample the engine cannot
    fit is counted in ``failed`` and left out. An interval needs at least two fitted resamples.
    """
    info = result.get("bootstrap") or {}
    kept = int(info.get("draws", 0))
    paths: dict[str, list[float]] = {}
    for r in result["parameters"]:
        if r["op"] == "~" and r["lhs"] == outcome and r["rhs"] in practices and kept >= 2:
            ci = _interval(r.get("std_all_boot_ci_lower"), r.get("std_all_boot_ci_upper"))
            if ci is not None:
                paths[r["rhs"]] = ci
    r2 = (info.get("r2_ci") or {}).get(outcome)
    return {"replicates": n_boot, "failed": int(info.get("failed", 0)), "level": 0.95, "method": "percentile",
            "paths": paths, "r2": _interval(*r2) if r2 and kept >= 2 else None}


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
    for simulated data); ``progress(done, total)`` is called after each bootstrap replicate. The bootstrap is the
    SEM engine's (percentile intervals of the standardized paths and of R2; about 3 s for 1,000 draws).
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
    result = fit_model(syntax, data, bootstrap=bootstrap, seed=seed, progress=progress)
    outcome = outcome_construct(inst)
    practices = practice_constructs(inst)
    boot = _bootstrap(result, outcome, practices, bootstrap) if bootstrap > 0 else None
    engine_boot_warning = f"{boot['failed']} of {bootstrap} bootstrap draws failed" if boot else None
    warnings = list(report.warnings) + [str(w) for w in result.get("warnings", [])
                                        if not (engine_boot_warning and str(w).startswith(engine_boot_warning))]
    if not result.get("converged", True):
        warnings.append("the estimator did not converge: the estimates below are not reliable")
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
