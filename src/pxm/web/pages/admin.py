"""Administration pages: users (list, create, role, deactivate) and their API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pxm.platform.auth import service
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.deps import require, verify_csrf
from pxm.platform.auth.models import User
from pxm.platform.auth.permissions import Permission, Role
from pxm.platform.auth.schemas import TokenCreate, UserCreate
from pxm.platform.http.deps import DB
from pxm.platform.http.errors import APIError
from pxm.platform.http.pagination import PageParams, page_params, paginate
from pxm.web.pages import flash, render

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(verify_csrf)])
ADMIN = require(Permission.users_manage)
ROLES = [r.value for r in Role]


def _users_page(request: Request, db: Session, params: PageParams, *, status: int = 200,
                form: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    rows, total = paginate(db, select(User).order_by(User.username), params)
    return render(request, "admin/users.html", {
        "page_title": "Users & tokens", "users": rows, "total": total, "params": params, "roles": ROLES,
        "form": form or {"role": Role.agent.value}, "errors": errors or {},
    }, status=status)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, db: Session = DB, params: PageParams = Depends(page_params),
               actor: Actor = Depends(ADMIN)) -> HTMLResponse:
    return _users_page(request, db, params)


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else "form"
        out.setdefault(field, str(err["msg"]).replace("String", "Value"))
    return out


@router.post("/users", response_class=HTMLResponse)
def users_create(request: Request, username: str = Form(""), display_name: str = Form(""),
                 role: str = Form(""), password: str = Form(""), db: Session = DB,
                 actor: Actor = Depends(ADMIN)) -> Response:
    form = {"username": username, "display_name": display_name, "role": role}
    try:
        body = UserCreate(username=username.strip(), display_name=display_name.strip(), role=role,  # type: ignore[arg-type]
                          password=password)
        user = service.create_user(db, actor, username=body.username, display_name=body.display_name,
                                   role=body.role.value, password=body.password)
    except ValidationError as exc:
        return _users_page(request, db, PageParams(), status=422, form=form, errors=_field_errors(exc))
    except APIError as exc:
        field = {"conflict": "username", "invalid_username": "username", "weak_password": "password",
                 "invalid_role": "role"}.get(exc.code, "form")
        return _users_page(request, db, PageParams(), status=exc.status, form=form, errors={field: exc.message})
    response = RedirectResponse(f"/admin/users/{user.id}", status_code=303)
    flash(request, response, f"User {user.username} created.", "success")
    return response


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(user_id: int, request: Request, db: Session = DB,
              actor: Actor = Depends(ADMIN)) -> HTMLResponse:
    user = service.get_user(db, user_id)
    return render(request, "admin/user.html", {"page_title": f"User {user.username}", "user": user,
                                               "tokens": service.list_tokens(db, user.id), "roles": ROLES,
                                               "new_token": None})


@router.post("/users/{user_id}/active")
def user_set_active(user_id: int, request: Request, active: bool = Form(...), db: Session = DB,
                    actor: Actor = Depends(ADMIN)) -> Response:
    user = service.update_user(db, actor, user_id, active=active)
    response = RedirectResponse(f"/admin/users/{user.id}", status_code=303)
    flash(request, response, f"User {user.username} {'reactivated' if active else 'deactivated'}; "
                             f"{'' if active else 'their sessions and tokens were ended.'}", "success")
    return response


@router.post("/users/{user_id}/role")
def user_set_role(user_id: int, request: Request, role: Role = Form(...), db: Session = DB,
                  actor: Actor = Depends(ADMIN)) -> Response:
    user = service.update_user(db, actor, user_id, role=role.value)
    response = RedirectResponse(f"/admin/users/{user.id}", status_code=303)
    flash(request, response, f"{user.username} is now {role.value.replace('_', ' ')}.", "success")
    return response


@router.post("/users/{user_id}/tokens", response_class=HTMLResponse)
def user_create_token(user_id: int, request: Request, name: str = Form(""), db: Session = DB,
                      actor: Actor = Depends(ADMIN)) -> HTMLResponse:
    user = service.get_user(db, user_id)
    try:
        body = TokenCreate(name=name.strip(), expires_in_days=None)
    except ValidationError:
        return render(request, "admin/user.html", {
            "page_title": f"User {user.username}", "user": user, "tokens": service.list_tokens(db, user.id),
            "roles": ROLES, "new_token": None, "token_error": "Give the token a name (what it is for)."},
            status=422)
    secret, _tok = service.create_api_token(db, actor, user, body.name)
    # The secret is shown on this response only (never stored, never put in a cookie or URL).
    return render(request, "admin/user.html", {"page_title": f"User {user.username}", "user": user,
                                               "tokens": service.list_tokens(db, user.id), "roles": ROLES,
                                               "new_token": secret}, status=201)


@router.post("/users/{user_id}/tokens/{token_id}/revoke")
def user_revoke_token(user_id: int, token_id: int, request: Request, db: Session = DB,
                      actor: Actor = Depends(ADMIN)) -> Response:
    tok = service.revoke_token(db, actor, token_id, any_user=True)
    response = RedirectResponse(f"/admin/users/{user_id}", status_code=303)
    flash(request, response, f"Token {tok.name} revoked.", "success")
    return response
