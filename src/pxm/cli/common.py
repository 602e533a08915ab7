"""Helpers shared by CLI commands: settings, database, output in text or JSON, clean failures."""

from __future__ import annotations

import enum
import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from pxm.platform.config import Settings, get_settings
from pxm.platform.db import engine_for, make_session_factory
from pxm.platform.people.crypto import configure_keyring

console = Console()
err_console = Console(stderr=True)


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = typer.Option(OutputFormat.text, "--format", help="text for people, json for programs")


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def session_factory(settings: Settings | None = None) -> sessionmaker[Session]:
    settings = settings or get_settings()
    configure_keyring(settings.phi_key_path)
    return make_session_factory(engine_for(settings))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
