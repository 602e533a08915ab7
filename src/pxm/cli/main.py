"""The ``pxm`` command."""

from __future__ import annotations

import typer

from pxm.cli import db

app = typer.Typer(help="PXM: patient experience management", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(db.app, name="db")


if __name__ == "__main__":
    app()
