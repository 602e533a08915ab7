"""``pxm metrics``: service measures computed from stored data (one command per metric).

``pxm metrics fcr`` and ``pxm metrics contacts`` come from the service desk; survey metrics (nps, csat,
topbox) are added here by the feedback feature.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import typer
from rich.table import Table

from pxm.cli.common import FormatOption, OutputFormat, console, fail, print_json, session_factory
from pxm.platform.config import get_settings
from pxm.platform.db.base import utcnow

app = typer.Typer(help="Service metrics (FCR, contact-centre measures, ...)", no_args_is_help=True)

FromOption = typer.Option(None, "--from", help="first day (YYYY-MM-DD) of the selection")
ToOption = typer.Option(None, "--to", help="last day (YYYY-MM-DD) of the selection, inclusive")
AsOfOption = typer.Option(None, "--as-of", help="report as of this ISO time (default: now), for reproducible runs")
ByOption = typer.Option(None, "--by", help="group by agent, team, reason, channel, day, week (ISO) or month")
WindowOption = typer.Option(7, "--window-days", min=1, max=365, help="repeat-contact window in days")


class DeskFormat(enum.StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


DeskFormatOption = typer.Option(DeskFormat.text, "--format",
                                help="text for people, json for programs, csv for a spreadsheet (a row for all, "
                                     "then one per group)")


def _print_csv(report: dict[str, Any], columns: tuple[str, ...]) -> None:
    from pxm.platform.spreadsheet import csv_text
    from pxm.practices.resolution.exports import report_table

    header, rows = report_table([(report, columns)])
    print(csv_text(header, rows), end="")


def _day(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date such as 2025-03-01 (got {value!r})")


def _as_of(value: str | None) -> dt.datetime:
    if value is None:
        return utcnow()
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--as-of must be an ISO time such as 2025-06-30T00:00:00Z (got {value!r})")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _check_by(by: str | None) -> None:
    from pxm.practices.resolution.fcr import GROUPINGS

    if by is not None and by not in GROUPINGS:
        fail(f"--by must be one of: {', '.join(GROUPINGS)} (got {by!r})")


@app.command("fcr")
def fcr_cmd(
    start: str = FromOption, end: str = ToOption, window_days: int = WindowOption, by: str = ByOption,
    as_of: str = AsOfOption, fmt: DeskFormat = DeskFormatOption,
) -> None:
    """First contact resolution: cases resolved in their first (inbound) contact with no repeat in the window."""
    from pxm.practices.resolution.exports import FCR_COLUMNS
    from pxm.practices.resolution.fcr import fcr_report

    _check_by(by)
    d0, d1, when = _day(start, "--from"), _day(end, "--to"), _as_of(as_of)
    if d0 and d1 and d1 < d0:
        fail("--to must not be before --from")
    with session_factory()() as s:
        report = fcr_report(s, window_days=window_days, as_of=when, start=d0, end=d1, by=by,
                            tz=get_settings().timezone)
    if fmt == DeskFormat.json:
        print_json(report)
        return
    if fmt == DeskFormat.csv:
        _print_csv(report, FCR_COLUMNS)
        return
    console.print(f"FCR {_pct(report['fcr_rate'])}: {report['resolved_first_contact']} of {report['eligible']} "
                  f"eligible cases ({report['pending']} pending, window {window_days} days, "
                  f"{report['contacts']} contacts)")
    if by:
        t = Table(by, "cases", "eligible", "FCR cases", "pending", "FCR rate")
        for g in report["groups"]:  # type: ignore[attr-defined]
            t.add_row(str(g["key"]), str(g["cases"]), str(g["eligible"]), str(g["resolved_first_contact"]),
                      str(g["pending"]), _pct(g["fcr_rate"]))
        console.print(t)


@app.command("contacts")
def contacts_cmd(
    start: str = FromOption, end: str = ToOption, by: str = ByOption, as_of: str = AsOfOption,
    window_days: int = WindowOption,
    service_level_seconds: int = typer.Option(20, "--service-level-seconds", min=1, max=3600,
                                              help="answer-time target for service level"),
    fmt: DeskFormat = DeskFormatOption,
) -> None:
    """AHT, ASA, abandonment, service level, repeat-contact rate and contacts per resolved case."""
    from pxm.practices.resolution.exports import CONTACT_COLUMNS
    from pxm.practices.resolution.metrics import contacts_report

    _check_by(by)
    with session_factory()() as s:
        report = contacts_report(s, as_of=_as_of(as_of), start=_day(start, "--from"), end=_day(end, "--to"),
                                 by=by, window_days=window_days, service_level_seconds=service_level_seconds,
                                 tz=get_settings().timezone)
    if fmt == DeskFormat.json:
        print_json(report)
        return
    if fmt == DeskFormat.csv:
        _print_csv(report, CONTACT_COLUMNS)
        return
    t = Table(by or "", "contacts", "AHT s", "ASA s", "abandon", f"SL {service_level_seconds}s", "repeat",
              "contacts/resolved case")
    rows = [{"key": "all", **report}] + list(report["groups"])  # type: ignore[call-overload]
    for g in rows:
        t.add_row(str(g["key"]), str(g["contacts"]), str(g["aht_seconds"] or "-"), str(g["asa_seconds"] or "-"),
                  _pct(g["abandonment_rate"]), _pct(g["service_level"]), _pct(g["repeat_contact_rate"]),
                  str(g["contacts_per_resolved_case"] or "-"))
    console.print(t)


# --- survey metrics (feedback feature) -------------------------------------------------------------------

SurveyByOption = typer.Option(None, "--by", help="group by department, provider, channel, month, segment, "
                                                 "language or instrument")


def _survey(metric: str, start: str | None, end: str | None, by: str | None, instrument: str | None) -> Any:
    from pxm.practices.feedback import metrics as fm

    if by is not None and by not in fm.GROUPS:
        fail(f"--by must be one of: {', '.join(fm.GROUPS)} (got {by!r})")
    first, last = _day(start, "--from"), _day(end, "--to")
    f = fm.Filters(
        start=dt.datetime.combine(first, dt.time(), dt.UTC) if first else None,
        end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC) if last else None,
        instrument=instrument)
    with session_factory()() as s:
        return fm.METRICS[metric](s, f, by=by)


def _ci(row: dict[str, Any], key: str = "pct") -> str:
    if row.get(key) is None:
        return "-"
    ci = f" [{row['ci_low']:.1f}, {row['ci_high']:.1f}]" if row.get("ci_low") is not None else ""
    return f"{row[key]:.1f}{ci}" + (" (n<30)" if row.get("small_sample") else "")


@app.command("nps")
def nps_cmd(start: str = FromOption, end: str = ToOption, by: str = SurveyByOption,
            instrument: str = typer.Option(None, "--instrument", help="only this instrument"),
            fmt: OutputFormat = FormatOption) -> None:
    """Net Promoter Score with promoters/passives/detractors and a 95% interval."""
    report = _survey("nps", start, end, by, instrument)
    if fmt == OutputFormat.json:
        print_json(report)
        return
    t = Table(by or "", "n", "promoters", "passives", "detractors", "NPS [95% CI]")
    for g in [{"group": "all", **report["overall"]}] + report.get("groups", []):
        t.add_row(str(g["group"]), str(g["n"]), str(g["promoters"]), str(g["passives"]), str(g["detractors"]),
                  _ci(g, "nps"))
    console.print(t)


@app.command("csat")
def csat_cmd(start: str = FromOption, end: str = ToOption, by: str = SurveyByOption,
             instrument: str = typer.Option(None, "--instrument", help="only this instrument"),
             fmt: OutputFormat = FormatOption) -> None:
    """CSAT (% answering 4-5 of 5) with a Wilson interval, the mean, and CES."""
    report = _survey("csat", start, end, by, instrument)
    if fmt == OutputFormat.json:
        print_json(report)
        return
    t = Table(by or "", "n", "CSAT % [95% CI]", "mean", "CES mean", "CES % easy")
    for g in [{"group": "all", **report["overall"]}] + report.get("groups", []):
        t.add_row(str(g["group"]), str(g["n"]), _ci(g), "-" if g["mean"] is None else f"{g['mean']:.2f}",
                  "-" if g["ces"]["mean"] is None else f"{g['ces']['mean']:.2f}", _ci(g["ces_easy"]))
    console.print(t)


@app.command("topbox")
def topbox_cmd(start: str = FromOption, end: str = ToOption, by: str = SurveyByOption,
               instrument: str = typer.Option("inpatient", "--instrument", help="instrument with measures"),
               fmt: OutputFormat = FormatOption) -> None:
    """HCAHPS-style top-box, bottom-box and linear mean score per measure."""
    report = _survey("topbox", start, end, by, instrument)
    if fmt == OutputFormat.json:
        print_json(report)
        return
    t = Table(by or "", "measure", "answers", "top-box % [95% CI]", "bottom-box %", "linear mean")
    for g in [{"group": "all", **report["overall"]}] + report.get("groups", []):
        for m in g["measures"]:
            lm = m["linear_mean"]["mean"]
            t.add_row(str(g["group"]), m["name"], str(m["top_box"]["n"]), _ci(m["top_box"]),
                      _ci(m["bottom_box"]), "-" if lm is None else f"{lm:.1f}")
    console.print(t)
