"""The ``pxm`` command."""

from __future__ import annotations

import typer

from pxm.cli import audit, db, serve, users

app = typer.Typer(help="PXM: patient experience management", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(db.app, name="db")
app.command("serve")(serve.serve_cmd)
app.command("worker")(serve.worker_cmd)
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="user")


if __name__ == "__main__":
    app()
