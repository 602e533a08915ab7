"""``pxm audit``: verify the hash chain and read the audit log."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pxm.cli.common import FormatOption, OutputFormat, console, fail, print_json, session_factory
from pxm.platform.audit.query import AuditFilter, event_count, list_events
from pxm.platform.audit.service import verify_chain

app = typer.Typer(help="Audit log: verify the tamper-evident chain, list events", no_args_is_help=True)


@app.command("verify")
def verify_cmd(fmt: OutputFormat = FormatOption) -> None:
    """Recompute every event's hash and name the first broken sequence number (exit 1 when broken)."""
    sf = session_factory()
    with sf() as s:
        if fmt == OutputFormat.json:
            report = verify_chain(s)
        else:
            total = event_count(s)
            with Progress(TextColumn("verifying audit chain"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("verify", total=total)
                report = verify_chain(s, on_progress=lambda n: bar.update(task, completed=n))
    if fmt == OutputFormat.json:
        print_json(report.to_dict())
    elif report.intact:
        console.print(f"[green]audit chain intact[/]: {report.events} events, last seq {report.last_seq}")
    else:
        console.print(f"[bold red]audit chain BROKEN at seq {report.first_broken_seq}[/]: {report.problem} "
                      f"({report.events} events read)", highlight=False)
    if not report.intact:
        raise typer.Exit(1)


@app.command("log")
def log_cmd(
    patient_id: int = typer.Option(None, "--patient-id", min=1, help="events about this patient id"),
    action: str = typer.Option(None, "--action", help="exact action, or a prefix ending in * (patient.*)"),
    actor: str = typer.Option(None, "--actor", help="e.g. user:alice or system:jobs"),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="how many events (newest first)"),
    offset: int = typer.Option(0, "--offset", min=0),
    fmt: OutputFormat = FormatOption,
) -> None:
    """List audit events, newest first."""
    if action is not None and not action.strip():
        fail("--action must not be empty")
    sf = session_factory()
    with sf() as s:
        items, total = list_events(s, AuditFilter(patient_id=patient_id, action=action, actor=actor),
                                   limit, offset)
    if fmt == OutputFormat.json:
        print_json({"items": [i.model_dump(mode="json") for i in items], "total": total,
                    "limit": limit, "offset": offset})
        return
    table = Table(title=f"audit events ({len(items)} of {total})")
    for col in ("seq", "when (UTC)", "actor", "action", "resource", "patient", "outcome"):
        table.add_column(col, justify="right" if col in ("seq", "patient") else "left")
    for e in items:
        resource = e.resource_type + (f"/{e.resource_id}" if e.resource_id else "")
        table.add_row(str(e.seq), e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, resource,
                      "" if e.patient_id is None else str(e.patient_id), e.outcome)
    console.print(table)
