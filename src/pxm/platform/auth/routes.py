"""JSON API: sign in/out, who am I, own API tokens (``/api/v1/auth``) and user administration (``/api/v1/users``)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth import service
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, require_login
from pxm.platform.auth.login import clear_session_cookie, set_session_cookie, sign_in, sign_out
from pxm.platform.auth.models import User
from pxm.platform.auth.permissions import Permission, Role, permissions_for
from pxm.platform.auth.schemas import (
    LoginIn,
    Me,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from pxm.platform.config import Settings
from pxm.platform.db.base import utcnow
from pxm.platform.http.deps import DB, get_settings_dep
from pxm.platform.http.idempotency import idempotency_key, run_idempotent
from pxm.platform.http.pagination import Page, PageParams, page_params, paginate

router = APIRouter(prefix="/api/v1", tags=["auth"])
PUBLIC = {"x-pxm-public": True}


@router.post("/auth/login", response_model=Me, summary="Sign in; sets the session cookie", openapi_extra=PUBLIC)
def api_login(body: LoginIn, request: Request, response: Response, db: Session = DB,
              settings: Settings = Depends(get_settings_dep)) -> Me:
    token, ws, user = sign_in(request, db, settings, body.username, body.password)
    set_session_cookie(response, settings, token)
    return Me(user=UserRead.model_validate(user), auth="user",
              permissions=sorted(p.value for p in permissions_for(user.role)), csrf_token=ws.csrf_token)


@router.post("/auth/logout", status_code=204, summary="End this browser session")
def api_logout(request: Request, db: Session = DB, settings: Settings = Depends(get_settings_dep),
               actor: Actor = Depends(require_login)) -> Response:
    sign_out(request, db, settings, actor)
    response = Response(status_code=204)
    clear_session_cookie(response, settings)
    return response


@router.get("/auth/me", response_model=Me, summary="The signed-in user, role and permissions")
def api_me(request: Request, db: Session = DB, actor: Actor = Depends(require_login)) -> Me:
    assert actor.user_id is not None
    user = service.get_user(db, actor.user_id)
    ws = getattr(request.state, "web_session", None)
    return Me(user=UserRead.model_validate(user), auth=actor.kind,
              permissions=sorted(p.value for p in actor.permissions), csrf_token=ws.csrf_token if ws is not None else None)


@router.post("/auth/tokens", response_model=TokenCreated, status_code=201,
             summary="Create an API token for yourself (the secret is shown once; no Idempotency-Key: "
                     "a stored replay would keep the secret)")
def api_create_token(body: TokenCreate, db: Session = DB,
                     actor: Actor = Depends(require_login)) -> TokenCreated:
    assert actor.user_id is not None
    user = service.get_user(db, actor.user_id)
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    secret, tok = service.create_api_token(db, actor, user, body.name, expires_at=expires)
    return TokenCreated(token=secret, **TokenRead.model_validate(tok).model_dump())


@router.get("/auth/tokens", response_model=list[TokenRead], summary="Your API tokens (no secrets)")
def api_list_tokens(db: Session = DB, actor: Actor = Depends(require_login)) -> list[TokenRead]:
    assert actor.user_id is not None
    return [TokenRead.model_validate(t) for t in service.list_tokens(db, actor.user_id)]


@router.delete("/auth/tokens/{token_id}", status_code=204,
               summary="Revoke an API token (yours; administrators may revoke anyone's)")
def api_revoke_token(token_id: int, db: Session = DB,
                     actor: Actor = Depends(require_login)) -> Response:
    service.revoke_token(db, actor, token_id, any_user=actor.can(Permission.users_manage))
    return Response(status_code=204)


users = APIRouter(prefix="/api/v1/users", tags=["users"])


@users.post("", response_model=UserRead, status_code=201, summary="Create a user (honours Idempotency-Key)")
def api_create_user(body: UserCreate, request: Request, db: Session = DB,
                    key: str | None = Depends(idempotency_key),
                    actor: Actor = Depends(require(Permission.users_manage))) -> JSONResponse:
    def create() -> UserRead:
        user = service.create_user(db, actor, username=body.username, display_name=body.display_name,
                                   role=body.role.value, password=body.password)
        return UserRead.model_validate(user)

    # The fingerprint leaves the password out: the idempotency table must not hold a fast hash of it.
    return run_idempotent(db, actor, request, key, body.model_dump(exclude={"password"}), create)


@users.get("", response_model=Page[UserRead], summary="List users")
def api_list_users(db: Session = DB, params: PageParams = Depends(page_params),
                   role: Role | None = Query(None), active: bool | None = Query(None),
                   actor: Actor = Depends(require(Permission.users_manage))) -> Page[UserRead]:
    stmt = select(User).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    rows, total = paginate(db, stmt, params)
    return Page[UserRead](items=[UserRead.model_validate(u) for u in rows], total=total, limit=params.limit,
                          offset=params.offset)


@users.get("/{user_id}", response_model=UserRead, summary="One user")
def api_get_user(user_id: int, db: Session = DB,
                 actor: Actor = Depends(require(Permission.users_manage))) -> UserRead:
    return UserRead.model_validate(service.get_user(db, user_id))


@users.patch("/{user_id}", response_model=UserRead,
             summary="Change name, role, password or active flag (role, password and deactivation end the "
                     "user's sessions and tokens)")
def api_update_user(user_id: int, body: UserUpdate, db: Session = DB,
                    actor: Actor = Depends(require(Permission.users_manage))) -> UserRead:
    user = service.update_user(db, actor, user_id, display_name=body.display_name,
                               role=body.role.value if body.role else None, active=body.active,
                               password=body.password)
    return UserRead.model_validate(user)
