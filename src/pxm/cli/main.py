"""The ``pxm`` command: one Typer app, one sub-command (or group) per feature."""

from __future__ import annotations

import typer

from pxm.cli import audit, db, demo, feedback, imports, metrics, sem, serve, staffing, study, users

app = typer.Typer(help="PXM: patient experience management", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)

# platform
app.command("serve")(serve.serve_cmd)
app.command("worker")(serve.worker_cmd)
app.command("demo")(demo.demo_cmd)
app.command("synth")(demo.synth_cmd)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="user")
app.add_typer(audit.app, name="audit")
# practices and operations
app.add_typer(imports.app, name="import")
app.add_typer(metrics.app, name="metrics")
app.add_typer(feedback.app, name="feedback")
app.command("staffing")(staffing.staffing)
# analytics
app.add_typer(sem.app, name="sem")
app.add_typer(study.app, name="study")


if __name__ == "__main__":
    app()
