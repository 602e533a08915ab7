"""``pxm import``: bring data in from files (``contacts``; ``responses`` is added by the feedback feature)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pxm.cli.common import FormatOption, OutputFormat, console, err_console, fail, print_json, session_factory
from pxm.platform.auth.actor import Actor
from pxm.platform.jobs.service import notify_committed

app = typer.Typer(help="Import data files", no_args_is_help=True)


@app.command("contacts")
def contacts_cmd(
    file: Path = typer.Argument(..., help="CSV: contact_id,patient_mrn,channel,direction,reason,started_at,"
                                          "ended_at,agent,case_ref,resolved"),
    create_patients: bool = typer.Option(False, "--create-patients",
                                         help="register a minimal patient for an unknown MRN"),
    create_agents: bool = typer.Option(False, "--create-agents", help="add a staff member for an unknown agent"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Import contacts (all or nothing; rows already imported are skipped). Exit 2 on validation errors."""
    from pxm.practices.resolution.importer import safe_import

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text; save the CSV as UTF-8")
    actor = Actor.system("import")
    total = max(0, text.count("\n") - 1)
    with session_factory()() as s:
        if fmt == OutputFormat.json:
            report = safe_import(s, actor, text, create_patients=create_patients, create_agents=create_agents)
        else:
            with Progress(TextColumn("importing contacts"), BarColumn(), MofNCompleteColumn(), console=console,
                          transient=True) as bar:
                task = bar.add_task("import", total=total)
                report = safe_import(s, actor, text, create_patients=create_patients, create_agents=create_agents,
                                     progress=lambda n: bar.update(task, completed=n))
        if report.errors:
            s.rollback()
        else:
            s.commit()
            notify_committed(s)  # SLA checks for imported open cases
    if fmt == OutputFormat.json:
        print_json(report.to_dict())
    elif report.errors:
        for e in report.errors[:50]:
            err_console.print(f"line {e['line']}: {e['message']}", highlight=False)
        if len(report.errors) > 50:
            err_console.print(f"... and {len(report.errors) - 50} more", highlight=False)
    else:
        console.print(f"imported {report.imported_contacts} contacts into {report.cases_created} new cases; "
                      f"skipped {report.skipped_existing} already imported"
                      + (f"; created {report.created_patients} patients" if report.created_patients else "")
                      + (f"; created {report.created_agents} agents" if report.created_agents else ""))
    if report.errors:
        if fmt != OutputFormat.json:
            fail(f"{len(report.errors)} row(s) failed validation; nothing was imported")
        raise typer.Exit(2)


@app.command("responses")
def responses_cmd(
    file: Path = typer.Argument(..., help="CSV: response_id,[patient_mrn,]submitted_at, then one column per item"),
    instrument: str = typer.Option(..., "--instrument", help="instrument code: pulse, nps, inpatient, cxm, ..."),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Import survey responses (all or nothing; rows already imported are skipped). Exit 2 on errors."""
    from pxm.platform.http.errors import APIError
    from pxm.practices.feedback.imports import import_responses_csv

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text; save the CSV as UTF-8")
    actor = Actor.system("import")
    with session_factory()() as s:
        try:
            if fmt == OutputFormat.json:
                result = import_responses_csv(s, actor, text, instrument)
            else:
                with Progress(TextColumn("importing responses"), BarColumn(), MofNCompleteColumn(),
                              console=console, transient=True) as bar:
                    task = bar.add_task("import", total=None)
                    result = import_responses_csv(
                        s, actor, text, instrument,
                        progress=lambda n, total: bar.update(task, completed=n, total=total))
        except APIError as exc:
            s.rollback()
            errors = (exc.details or {}).get("errors") if isinstance(exc.details, dict) else None
            if fmt == OutputFormat.json:
                print_json({"error": exc.message, "errors": errors or []})
                raise typer.Exit(2) from None
            for e in (errors or [])[:50]:
                err_console.print(e, highlight=False)
            fail(exc.message if not errors else f"{len(errors)} row(s) failed validation; nothing was imported")
        s.commit()
        notify_committed(s)
    if fmt == OutputFormat.json:
        print_json(result.to_dict())
    else:
        console.print(f"imported {result.added} responses to {result.instrument} v{result.version}; "
                      f"skipped {result.already_present} already imported")
