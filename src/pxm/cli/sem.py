"""`pxm sem fit MODEL_FILE DATA_FILE`: fit a structural equation model written in lavaan syntax."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pxm.analytics.sem import fit as sem_fit
from pxm.analytics.sem.errors import SEMError
from pxm.analytics.sem.io import read_table

app = typer.Typer(help="Structural equation models")
_err = Console(stderr=True)


class Estimator(enum.StrEnum):
    ML = "ML"
    MLR = "MLR"


class Missing(enum.StrEnum):
    listwise = "listwise"
    fiml = "fiml"


class Fmt(enum.StrEnum):
    text = "text"
    json = "json"
    html = "html"


class CI(enum.StrEnum):
    bca = "bca"
    percentile = "percentile"


def _fail(message: str) -> NoReturn:
    _err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.callback()
def _main() -> None:
    """Structural equation models."""


@app.command("fit")
def fit_command(
    model_file: Path = typer.Argument(..., help="model in lavaan syntax (text file)"),
    data_file: Path = typer.Argument(..., help="data: .csv, .xlsx or .sav"),
    estimator: Estimator = typer.Option(Estimator.ML, "--estimator", help="ML or MLR (robust)"),
    missing: Missing = typer.Option(Missing.listwise, "--missing", help="listwise or fiml"),
    std_lv: bool = typer.Option(False, "--std-lv", help="fix latent variances to 1 instead of first loadings"),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="number of bootstrap draws"),
    seed: int | None = typer.Option(None, "--seed", help="random seed for the bootstrap"),
    ci: CI = typer.Option(CI.bca, "--bootstrap-ci", help="bootstrap interval: bca or percentile"),
    fmt: Fmt = typer.Option(Fmt.text, "--format", help="text, json or html"),
) -> None:
    """Fit MODEL_FILE to DATA_FILE and print the results."""
    try:
        model = model_file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read model file {model_file}: {exc.strerror or exc}")
    try:
        data = read_table(data_file)
        if bootstrap > 0:  # progress goes to stderr, so --format json stays clean on stdout
            with Progress(TextColumn("bootstrap"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=_err, transient=True) as bar:
                task = bar.add_task("bootstrap", total=bootstrap)

                def tick(done: int, total: int) -> None:
                    bar.update(task, completed=done)

                result = sem_fit(model, data, estimator=estimator.value, missing=missing.value, std_lv=std_lv,
                                 bootstrap=bootstrap, seed=seed, bootstrap_ci=ci.value, progress=tick)
        else:
            result = sem_fit(model, data, estimator=estimator.value, missing=missing.value, std_lv=std_lv,
                             bootstrap=bootstrap, seed=seed, bootstrap_ci=ci.value)
    except SEMError as exc:
        _fail(str(exc))
    if fmt == Fmt.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        typer.echo(result.summary(fmt=fmt.value))
