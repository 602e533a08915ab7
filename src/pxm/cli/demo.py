"""``pxm synth`` (load the deterministic demo organization) and ``pxm demo`` (database + demo + logins + serve)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pxm.cli.common import FormatOption, OutputFormat, console, err_console, fail, print_json
from pxm.platform.auth import service as auth_service
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User
from pxm.platform.config import Settings, get_settings
from pxm.platform.db import engine_for, make_session_factory
from pxm.platform.db.migrate import upgrade
from pxm.platform.people.crypto import configure_keyring
from pxm.platform.people.models import Staff
from pxm.platform.people.service import count_patients
from pxm.synth.org import ORG_TIMEZONE
from pxm.synth.run import SynthReport, generate

DEMO_USERS = (  # (username, role, display name)
    ("admin", "admin", "Demo administrator"),
    ("cx_manager", "cx_manager", "Demo CX manager"),
    ("agent", "agent", "Demo contact-center agent"),
    ("analyst", "analyst", "Demo analyst"),
    ("auditor", "auditor", "Demo auditor"),
)
AGENT_STAFF = "agent01"  # the demo agent login is this contact-center agent


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    if not enabled:
        yield lambda step, done, total: None
        return
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=False) as bar:
        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=max(total, 1))
            bar.update(tasks[step], completed=done, total=max(total, 1))

        yield update


def _prepare(settings: Settings) -> sessionmaker[Session]:
    configure_keyring(settings.phi_key_path)
    engine = engine_for(settings)
    upgrade(settings.database_url, engine=engine)
    return make_session_factory(engine)


def _run_synth(factory: sessionmaker[Session], patients: int, seed: int, show: bool,
               until: dt.datetime | None = None) -> SynthReport:
    with _progress(show) as progress:
        return generate(factory, patients=patients, seed=seed, progress=progress, until=until)


def _print_report(report: SynthReport) -> None:
    table = Table(title=f"Demo organization (seed {report.seed}, as of {report.as_of})")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/second", justify="right")
    for s in report.steps:
        detail = ", ".join(f"{v:,} {k}" for k, v in s.counts.items())
        table.add_row(s.name, detail, f"{s.seconds:.2f}", f"{s.rows / s.seconds:,.0f}" if s.seconds else "-")
    table.add_row("total", f"{report.rows:,}", f"{report.seconds:.2f}", f"{report.rows_per_second:,.0f}")
    console.print(table)


def synth_cmd(
    patients: int = typer.Option(20_000, "--patients", min=0, help="number of synthetic patients"),
    seed: int = typer.Option(7, "--seed", help="random seed: the same seed gives the same organization"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Load the deterministic synthetic organization (facilities, staff, patients, 12 months of encounters)."""
    settings = get_settings()
    try:
        factory = _prepare(settings)
        report = _run_synth(factory, patients, seed, show=fmt == OutputFormat.text)
    except ValueError as exc:
        fail(str(exc))
    if fmt == OutputFormat.json:
        print_json(report.to_dict())
    else:
        _print_report(report)


def ensure_demo_users(factory: sessionmaker[Session]) -> list[dict[str, str]]:
    """Create each demo user, or reset its password; every password is freshly generated and returned once."""
    actor = Actor.system("demo")
    logins: list[dict[str, str]] = []
    with factory() as db, db.begin():
        for username, role, display in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                user = auth_service.create_user(db, actor, username=username, display_name=display, role=role,
                                                password=password)
            else:
                auth_service.update_user(db, actor, user.id, role=role, active=True, password=password)
            if role == "agent":
                staff = db.execute(select(Staff).where(Staff.username == AGENT_STAFF)).scalar_one_or_none()
                if staff is not None and staff.user_id is None:
                    other = db.execute(select(Staff).where(Staff.user_id == user.id)).scalar_one_or_none()
                    if other is None:
                        staff.user_id = user.id
                        db.flush()
            logins.append({"username": username, "role": role, "password": password})
    return logins


def _in_demo_time_zone(settings: Settings) -> Settings:
    """The demo organization is in Chicago: unless a time zone is configured (``PXM_TIMEZONE``, in the
    environment or ``.env``), its days and hours (live "today", FCR by day, staffing by hour) are Chicago's.
    Set in the environment, so that worker processes started by ``serve`` see it too."""
    if "timezone" in settings.model_fields_set:
        return settings
    os.environ["PXM_TIMEZONE"] = ORG_TIMEZONE
    get_settings.cache_clear()
    return get_settings()


def demo_cmd(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="start the web app afterwards"),
    patients: int = typer.Option(20_000, "--patients", min=0, help="patients to generate on a fresh database"),
    seed: int = typer.Option(7, "--seed", help="random seed for the demo organization"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Prepare a demo: migrate, load the demo organization (once), print logins, then serve."""
    settings = _in_demo_time_zone(get_settings())
    text = fmt == OutputFormat.text
    factory = _prepare(settings)
    with factory() as db:
        existing = count_patients(db)
    report: SynthReport | None = None
    if existing == 0:
        if text:
            console.print(f"Generating the demo organization ({patients:,} patients, seed {seed})...")
        # the demo day is in progress up to now, so the live operations page has a queue and today's figures
        report = _run_synth(factory, patients, seed, show=text, until=dt.datetime.now(dt.UTC))
    elif text:
        console.print(f"The database already holds {existing:,} patients; keeping them.")
    logins = ensure_demo_users(factory)
    if fmt == OutputFormat.json:
        print_json({"database_url": settings.database_url.split("@")[-1], "generated": report is not None,
                    "synth": report.to_dict() if report else None, "logins": logins,
                    "url": settings.public_base_url, "timezone": settings.timezone})
    else:
        if report is not None:
            _print_report(report)
        table = Table(title="Demo logins (passwords are new each run; shown only now)")
        for col in ("username", "role", "password"):
            table.add_column(col)
        for login in logins:
            table.add_row(login["username"], login["role"], login["password"])
        console.print(table)
        console.print(f"Days and hours are {settings.timezone}'s (PXM_TIMEZONE).")
        console.print(f"Open {settings.public_base_url} and sign in as [bold]admin[/].")
    if serve:
        from pxm.cli import serve as serve_module  # imported lazily: uvicorn is not needed for --no-serve

        serve_module.serve(settings)
