"""The ``pxm`` command."""

from __future__ import annotations

import typer

from pxm.cli import audit, db, imports, metrics, serve, users

app = typer.Typer(help="PXM: patient experience management", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(db.app, name="db")
app.command("serve")(serve.serve_cmd)
app.command("worker")(serve.worker_cmd)
from pxm.cli import demo as _demo  # noqa: E402

app.command("synth")(_demo.synth_cmd)
app.command("demo")(_demo.demo_cmd)
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="user")
app.add_typer(metrics.app, name="metrics")
app.add_typer(imports.app, name="import")
from pxm.cli import feedback as _feedback  # noqa: E402

app.add_typer(_feedback.app, name="feedback")
from pxm.cli import study as _study  # noqa: E402

app.add_typer(_study.app, name="study")
from pxm.cli import staffing as _staffing  # noqa: E402

app.command("staffing")(_staffing.staffing)


if __name__ == "__main__":
    app()
