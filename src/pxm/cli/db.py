"""``pxm db``: schema migrations."""

from __future__ import annotations

import typer

from pxm.cli.common import FormatOption, OutputFormat, console, print_json
from pxm.platform.config import get_settings
from pxm.platform.db import engine_for
from pxm.platform.db.migrate import current_revision, upgrade

app = typer.Typer(help="Database schema")


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head"), fmt: OutputFormat = FormatOption) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    settings = get_settings()
    engine = engine_for(settings)
    upgrade(settings.database_url, revision, engine=engine)
    rev = current_revision(engine)
    if fmt == OutputFormat.json:
        print_json({"revision": rev, "dialect": engine.dialect.name})
    else:
        console.print(f"database at revision [bold]{rev}[/] ({engine.dialect.name})")


@app.command("current")
def current_cmd(fmt: OutputFormat = FormatOption) -> None:
    """Show the schema revision the database is at."""
    engine = engine_for(get_settings())
    rev = current_revision(engine)
    if fmt == OutputFormat.json:
        print_json({"revision": rev})
    else:
        console.print(rev or "(empty database)")
