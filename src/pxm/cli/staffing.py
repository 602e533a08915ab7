"""``pxm staffing``: the Erlang C calculator on the command line."""

from __future__ import annotations

import typer
from rich.table import Table

from pxm.cli.common import FormatOption, OutputFormat, console, fail, print_json
from pxm.operations.staffing.erlang import StaffingInputError, calculate


def staffing(
    contacts: float = typer.Option(..., "--contacts", help="contacts offered per interval"),
    interval_minutes: float = typer.Option(30, "--interval-minutes", help="interval length in minutes"),
    aht: float = typer.Option(..., "--aht", help="average handle time in seconds"),
    target_seconds: float = typer.Option(20, "--target-seconds", help="answer-time target in seconds"),
    service_level: float = typer.Option(0.8, "--service-level", help="target share answered in time (0-1)"),
    agents: int | None = typer.Option(None, "--agents", help="evaluate this many agents (omit: find the fewest)"),
    shrinkage: float | None = typer.Option(None, "--shrinkage", help="share of paid time off the phones (0-1)"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Erlang C: agents needed, probability of waiting, service level, ASA and occupancy."""
    try:
        result = calculate(contacts, interval_minutes, aht, target_seconds, service_level,
                           agents=agents, shrinkage=shrinkage)
    except StaffingInputError as exc:
        message = str(exc)
        for name, flag in (("aht_seconds", "--aht"), ("interval_minutes", "--interval-minutes"),
                           ("target_seconds", "--target-seconds"), ("service_level", "--service-level"),
                           ("contacts", "--contacts"), ("agents", "--agents"), ("shrinkage", "--shrinkage")):
            if message.startswith(name):
                message = flag + message[len(name):]
                break
        fail(message)
    data = result.to_dict()
    if fmt == OutputFormat.json:
        print_json(data)
        return
    table = Table(title=f"Erlang C: {contacts:g} contacts per {interval_minutes:g} min, AHT {aht:g} s "
                        f"({data['traffic_erlangs']} Erlangs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    if result.required_agents is not None:
        table.add_row(f"required agents ({service_level:.0%} in {target_seconds:g} s)", str(result.required_agents))
    else:
        table.add_row("agents", str(result.agents))
    if result.rostered_agents is not None:
        table.add_row(f"rostered agents (shrinkage {shrinkage:.0%})", str(result.rostered_agents))
    table.add_row("probability of waiting", f"{data['probability_wait']:.4f}")
    table.add_row(f"service level ({target_seconds:g} s)", f"{data['service_level']:.4f}")
    asa = data["asa_seconds"]
    table.add_row("average speed of answer", "unbounded (too few agents)" if asa is None else f"{asa:.2f} s")
    table.add_row("occupancy", f"{data['occupancy']:.3f}")
    console.print(table)
