"""Passwords (argon2id), login with throttling, server-side sessions and hashed API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import ApiToken, User, WebSession
from pxm.platform.auth.permissions import Role
from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.db.engine import read_first
from pxm.platform.db.prebuilt import Prebuilt
from pxm.platform.http.errors import APIError, Conflict, NotFound
from pxm.platform.http.lookup import get_or_404

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("pxm-timing-equaliser")
TOKEN_PREFIX = "pxm_"  # noqa: S105 (a public prefix, not a secret)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def validate_password(password: str) -> None:
    if len(password) < 10:
        raise APIError(422, "weak_password", "password must be at least 10 characters long")


_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")


def create_user(session: Session, actor: Actor, *, username: str, display_name: str, role: str,
                password: str) -> User:
    if not _USERNAME.match(username):
        raise APIError(422, "invalid_username",
                       f"username {username!r} must be 2-80 letters, digits or . _ @ - (no spaces)")
    if role not in {r.value for r in Role}:
        raise APIError(422, "invalid_role", f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}")
    validate_password(password)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, details={"username": username, "role": role})
    return user


class LoginError(APIError):
    def __init__(self, message: str = "wrong username or password", status: int = 401,
                 code: str = "login_failed") -> None:
        super().__init__(status, code, message)


def authenticate(session: Session, settings: Settings, username: str, password: str,
                 request_id: str | None = None) -> User:
    """Check a password. Failures count towards a temporary lock-out; every attempt is audited."""
    now = utcnow()
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    system = Actor.system("auth", request_id=request_id)
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)  # same cost whether or not the user exists
        except VerificationError:
            pass
        record(session, system, "auth.login", "user", None, outcome="failure", details={"reason": "unknown user"})
        raise LoginError()
    if user.locked_until is not None and user.locked_until > now:
        record(session, system, "auth.login", "user", user.id, outcome="denied", details={"reason": "locked"})
        wait = int((user.locked_until - now).total_seconds() // 60) + 1
        raise LoginError(f"too many failed attempts; try again in {wait} minute(s)", 429, "login_throttled")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        record(session, system, "auth.login", "user", user.id, outcome="failure", details={"reason": "password"})
        raise LoginError() from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    record(session, Actor.for_user(user.id, user.username, user.role, request_id=request_id), "auth.login",
           "user", user.id)
    return user


def start_session(session: Session, user: User) -> tuple[str, WebSession]:
    """Return the cookie token (shown once) and the stored session (which keeps only its hash)."""
    token = secrets.token_urlsafe(32)
    ws = WebSession(id=sha256(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32))
    session.add(ws)
    session.flush()
    return token, ws


def resolve_session(session: Session, settings: Settings, token: str) -> tuple[User, WebSession] | None:
    """Find a live session: not revoked, idle under the limit, younger than the absolute limit."""
    ws = session.get(WebSession, sha256(token))
    if ws is None or ws.revoked:
        return None
    now = utcnow()
    if now - ws.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes):
        return None
    if now - ws.created_at > dt.timedelta(hours=settings.session_absolute_hours):
        return None
    user = session.get(User, ws.user_id)
    if user is None or not user.active:
        return None
    if now - ws.last_seen_at > dt.timedelta(seconds=30):  # avoid a write on every request
        ws.last_seen_at = now
    return user, ws


def end_session(session: Session, token: str) -> None:
    ws = session.get(WebSession, sha256(token))
    if ws is not None:
        ws.revoked = True


def create_api_token(session: Session, actor: Actor, user: User, name: str,
                     expires_at: dt.datetime | None = None) -> tuple[str, ApiToken]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(user_id=user.id, name=name, prefix=secret[:12], token_hash=sha256(secret), expires_at=expires_at)
    session.add(tok)
    session.flush()
    record(session, actor, "token.create", "api_token", tok.id, details={"user": user.username, "name": name})
    return secret, tok


@dataclass(frozen=True)
class TokenOwner:
    """Who an API token belongs to (what a request needs to act: id, name, role)."""

    user_id: int
    username: str
    role: str


TOKEN_TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often per token
_T = ApiToken.__table__.c
_U = User.__table__.c
# Every API request runs this: one prebuilt statement (token and user joined), no ORM objects.
_TOKEN_OWNER = Prebuilt(
    select(_T.id, _T.revoked_at, _T.expires_at, _T.last_used_at, _U.id.label("user_id"), _U.username, _U.role,
           _U.active)
    .select_from(ApiToken.__table__.join(User.__table__, _T.user_id == _U.id))
    .where(_T.token_hash == bindparam("token_hash")))
_TOKEN_TOUCH = update(ApiToken.metadata.tables[ApiToken.__tablename__]).where(_T.id == bindparam("token_id")).values(
    last_used_at=bindparam("now"))


def api_token_owner(session: Session, secret: str) -> TokenOwner | None:
    """The owner of a live API token (not revoked, not expired, user active), else None.

    ``last_used_at`` is written at most once a minute per token, so most requests read only."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    session.flush()  # what the ORM would do before a query: pending changes are visible
    row = read_first(session, _TOKEN_OWNER, {"token_hash": sha256(secret)})
    if row is None:
        return None
    token_id, revoked_at, expires_at, last_used_at, user_id, username, role, active = row
    now = utcnow()
    if revoked_at is not None or (expires_at is not None and expires_at <= now) or not active:
        return None
    if last_used_at is None or now - last_used_at > TOKEN_TOUCH_EVERY:
        session.connection().execute(_TOKEN_TOUCH, {"token_id": token_id, "now": now})
    return TokenOwner(int(user_id), str(username), str(role))


def resolve_api_token(session: Session, secret: str) -> User | None:
    owner = api_token_owner(session, secret)
    return None if owner is None else session.get(User, owner.user_id)


def get_user(session: Session, user_id: int) -> User:
    return get_or_404(session, User, user_id, "user")


def get_user_by_username(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound("user", repr(username))
    return user


def revoke_user_access(session: Session, user_id: int) -> None:
    """End every session and API token of a user (deactivation, role change)."""
    now = utcnow()
    session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked.is_(False))
                    .values(revoked=True))
    session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def update_user(session: Session, actor: Actor, user_id: int, *, display_name: str | None = None,
                role: str | None = None, active: bool | None = None, password: str | None = None) -> User:
    user = get_user(session, user_id)
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        if role not in {r.value for r in Role}:
            raise APIError(422, "invalid_role",
                           f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}")
        changes["role"] = [user.role, role]
        user.role = role
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = True
        user.display_name = display_name
    if password is not None:
        validate_password(password)
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        changes["password"] = True
    if active is not None and active != user.active:
        if not active and actor.user_id == user.id:
            raise Conflict("you cannot deactivate your own account")
        changes["active"] = [user.active, active]
        user.active = active
    if "active" in changes or "role" in changes or "password" in changes:
        revoke_user_access(session, user.id)
    if changes:
        session.flush()
        record(session, actor, "user.update", "user", user.id, details=changes)
    return user


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.id)).scalars())


def revoke_token(session: Session, actor: Actor, token_id: int, *, any_user: bool = False) -> ApiToken:
    """Revoke one token; only the owner may, unless ``any_user`` (an administrator)."""
    tok = session.get(ApiToken, token_id)
    if tok is None or (not any_user and tok.user_id != actor.user_id):
        raise NotFound("API token", token_id)
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        session.flush()
        record(session, actor, "token.revoke", "api_token", tok.id)
    return tok
