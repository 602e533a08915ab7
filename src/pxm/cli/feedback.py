"""``pxm feedback``: survey operations (invite after events, send a wave, list instruments)."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.table import Table

from pxm.cli.common import FormatOption, OutputFormat, console, fail, print_json, session_factory
from pxm.platform.auth.actor import Actor
from pxm.platform.config import get_settings
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import APIError
from pxm.platform.jobs.service import notify_committed

app = typer.Typer(help="Surveys: invitations and instruments", no_args_is_help=True)


def _policy():  # type: ignore[no-untyped-def]
    from pxm.practices.feedback.invitations import InvitationPolicy

    return InvitationPolicy.from_settings(get_settings())


@app.command("scan")
def scan_cmd(days: int = typer.Option(2, "--days", min=1, max=90, help="look back this many days"),
             fmt: OutputFormat = FormatOption) -> None:
    """Invite for encounters discharged and cases resolved in the last DAYS (each event invites once)."""
    from pxm.practices.feedback import invitations

    actor = Actor.system("feedback-scan")
    since = utcnow() - dt.timedelta(days=days)
    with session_factory()() as s:
        rows = invitations.invite_discharged(s, actor, since=since, policy=_policy())
        rows += invitations.invite_resolved_cases(s, actor, since=since, policy=_policy())
        s.commit()
        notify_committed(s)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    if fmt == OutputFormat.json:
        print_json({"since": since.isoformat(), "invitations": counts})
    else:
        console.print(f"{len(rows)} new invitation(s): " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))


@app.command("wave")
def wave_cmd(instrument: str = typer.Option(..., "--instrument", help="instrument code, e.g. nps"),
             wave: str = typer.Option(..., "--wave", help="a name for this wave; re-running it adds nothing"),
             segment: str = typer.Option("{}", "--segment",
                                         help='JSON filter, e.g. {"age_band": "18-44", "language": ["es"]}'),
             fmt: OutputFormat = FormatOption) -> None:
    """Invite a segment of patients (consent, channel, language and the fatigue rule apply)."""
    from pxm.practices.feedback import invitations

    try:
        seg = json.loads(segment)
    except json.JSONDecodeError as exc:
        fail(f"--segment is not valid JSON: {exc.msg}")
    if not isinstance(seg, dict):
        fail("--segment must be a JSON object")
    if len(wave) > 40:
        fail("--wave must be at most 40 characters")
    with session_factory()() as s:
        try:
            counts = invitations.send_wave(s, Actor.system("feedback-wave"), instrument=instrument, segment=seg,
                                           wave=wave, policy=_policy())
        except APIError as exc:
            fail(exc.message)
        s.commit()
        notify_committed(s)
    if fmt == OutputFormat.json:
        print_json({"wave": wave, "invitations": counts})
    else:
        console.print(f"wave {wave}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "no patient matched"))


@app.command("instruments")
def instruments_cmd(fmt: OutputFormat = FormatOption) -> None:
    """List survey instruments and their versions."""
    from pxm.practices.feedback.service import list_instruments

    with session_factory()() as s:
        rows = list_instruments(s)
        data = [{"id": r.id, "code": r.code, "version": r.version, "title": r.title, "active": r.active}
                for r in rows]
        s.commit()
    if fmt == OutputFormat.json:
        print_json(data)
        return
    t = Table("id", "code", "version", "title", "active")
    for d in data:
        t.add_row(str(d["id"]), str(d["code"]), str(d["version"]), str(d["title"]), "yes" if d["active"] else "no")
    console.print(t)
