"""``pxm user``: create users, list them, issue API tokens."""

from __future__ import annotations

import getpass
import secrets

import typer
from rich.table import Table
from sqlalchemy import select

from pxm.cli.common import FormatOption, OutputFormat, console, fail, print_json, session_factory
from pxm.platform.auth import service
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User
from pxm.platform.auth.permissions import Role
from pxm.platform.http.errors import APIError

app = typer.Typer(help="Users, roles and API tokens", no_args_is_help=True)
ROLES = ", ".join(r.value for r in Role)


def _cli_actor() -> Actor:
    return Actor.system(f"cli:{getpass.getuser()}")


@app.command("create")
def create_cmd(
    username: str = typer.Argument(..., help="login name (letters, digits, . _ @ -)"),
    role: str = typer.Option(..., "--role", help=f"one of: {ROLES}"),
    display_name: str | None = typer.Option(None, "--display-name", help="defaults to the username"),
    password: str | None = typer.Option(None, "--password", help="avoid: it stays in shell history; "
                                        "omit to be prompted"),
    generate_password: bool = typer.Option(False, "--generate-password",
                                           help="generate a strong password and print it once"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Create a user with a role (admin, cx_manager, agent, analyst, auditor)."""
    if role not in {r.value for r in Role}:
        fail(f"unknown role {role!r}; use one of: {ROLES}")
    if password is not None and generate_password:
        fail("use either --password or --generate-password, not both")
    if generate_password:
        password = secrets.token_urlsafe(18)
    elif password is None:
        password = typer.prompt("Password (at least 10 characters)", hide_input=True, confirmation_prompt=True)
    factory = session_factory()
    with factory() as db:
        try:
            user = service.create_user(db, _cli_actor(), username=username, display_name=display_name or username,
                                       role=role, password=password)
            db.commit()
        except APIError as exc:
            fail(exc.message)
        out = {"id": user.id, "username": user.username, "role": user.role}
    if generate_password:
        out["password"] = password
    if fmt == OutputFormat.json:
        print_json(out)
        return
    console.print(f"created user [bold]{username}[/] ({role})")
    if generate_password:
        console.print(f"password (shown once): [bold]{password}[/]", highlight=False)


@app.command("list")
def list_cmd(fmt: OutputFormat = FormatOption) -> None:
    """List users with role and state."""
    with session_factory()() as db:
        users = db.execute(select(User).order_by(User.username)).scalars().all()
        rows = [{"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
                 "active": u.active, "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                 "created_at": u.created_at.isoformat()} for u in users]
    if fmt == OutputFormat.json:
        print_json(rows)
        return
    table = Table("id", "username", "name", "role", "state")
    for r in rows:
        state = "active" if r["active"] else "deactivated"
        if r["locked_until"]:
            state += f", locked until {r['locked_until']}"
        table.add_row(str(r["id"]), str(r["username"]), str(r["display_name"]), str(r["role"]), state)
    console.print(table)


@app.command("token")
def token_cmd(
    username: str = typer.Argument(..., help="the user the token acts as"),
    name: str = typer.Option(..., "--name", help="what the token is for"),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Issue an API token for USERNAME (printed once; send it as 'Authorization: Bearer <token>')."""
    with session_factory()() as db:
        try:
            user = service.get_user_by_username(db, username)
            if not user.active:
                fail(f"user {username!r} is deactivated; reactivate it first")
            secret, tok = service.create_api_token(db, _cli_actor(), user, name)
            db.commit()
        except APIError as exc:
            fail(exc.message)
        out = {"id": tok.id, "username": username, "name": name, "token": secret}
    if fmt == OutputFormat.json:
        print_json(out)
    else:
        console.print(f"token for [bold]{username}[/] (shown once):")
        typer.echo(secret)
