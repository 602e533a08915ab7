"""``pxm study``: run the CXM impact study on survey data, and reproduce the source paper."""

from __future__ import annotations

import enum
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

app = typer.Typer(help="CXM impact study: SEM of the five CXM practices on business performance.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
err = Console(stderr=True)


class RunFormat(enum.StrEnum):
    html = "html"
    json = "json"
    text = "text"


class PaperFormat(enum.StrEnum):
    text = "text"
    json = "json"


def _fail(messages: list[str], code: int = 2) -> None:
    err.print("[bold red]error:[/] the data cannot be analysed:", highlight=False)
    for m in messages:
        err.print(f"  - {m}", highlight=False, markup=False)
    raise typer.Exit(code)


def _progress(total: int, label: str = "bootstrap") -> Any:
    if total <= 0:
        return nullcontext(None)
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {out}", highlight=False)


@app.command("run")
def run(
    data: Path = typer.Argument(..., help="CSV, Excel (.xlsx) or SPSS (.sav) file, one row per respondent"),
    instrument: str = typer.Option("cxm", "--instrument", help="instrument code"),
    map_: list[str] = typer.Option(None, "--map", help="rename a column: OLD=NEW (repeatable)"),
    mapping: Path | None = typer.Option(None, "--mapping", help="JSON file {column: item code}"),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="bootstrap resamples for path intervals"),
    seed: int | None = typer.Option(None, "--seed", help="random seed for the bootstrap"),
    fmt: RunFormat = typer.Option(RunFormat.text, "--format", help="html, json or text"),
    out: Path | None = typer.Option(None, "--out", help="write the report here instead of stdout"),
) -> None:
    """Fit the study's SEM to DATA and print tables 1-4, fit, R-square, diagram and caveats."""
    from pxm.analytics.study.data import StudyDataError, load_mapping_file, parse_map_options, read_data
    from pxm.analytics.study.instruments import InstrumentError
    from pxm.analytics.study.run import run_study

    try:
        names = parse_map_options(map_)
        if mapping is not None:
            names = {**load_mapping_file(mapping), **names}
        df = read_data(data)
        with _progress(bootstrap) as progress:
            task = progress.add_task("bootstrap", total=bootstrap) if progress else None

            def tick(done: int, total: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=done)

            report = run_study(df, instrument=instrument, bootstrap=bootstrap, seed=seed, mapping=names or None,
                               progress=tick)
    except StudyDataError as exc:
        _fail(exc.problems)
        return
    except InstrumentError as exc:
        _fail([str(exc)])
        return
    if fmt is RunFormat.json:
        _emit(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n", out)
    elif fmt is RunFormat.html:
        _emit(report.to_html(), out)
    else:
        _emit(report.to_text(), out)


@app.command("reproduce-paper")
def reproduce_paper_cmd(
    seed: int = typer.Option(352, "--seed", help="seed of the simulated sample"),
    replications: int = typer.Option(20, "--replications", min=0,
                                     help="further simulated samples for a Monte Carlo range of the estimates"),
    fmt: PaperFormat = typer.Option(PaperFormat.text, "--format", help="text or json"),
) -> None:
    """Rebuild the paper's data from its tables, re-estimate, and list the inconsistencies in its numbers."""
    from pxm.analytics.study.paper import reproduce_paper

    with _progress(replications, "samples") as progress:
        task = progress.add_task("replications", total=replications) if progress else None

        def tick(done: int, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done)

        result = reproduce_paper(seed=seed, replications=replications, progress=tick)
    if fmt is PaperFormat.json:
        content = dict(result.to_dict())
        study = content.pop("study")
        content["study"] = {k: study[k] for k in ("measurement", "discriminant", "fit", "hypotheses", "r2", "meta")}
        typer.echo(json.dumps(content, indent=2, ensure_ascii=False, default=str))
    else:
        typer.echo(result.to_text(), nl=False)
