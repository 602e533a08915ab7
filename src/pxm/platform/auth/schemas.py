"""Request and response bodies of the auth and users JSON API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from pxm.platform.auth.permissions import Role


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1000)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    locked_until: dt.datetime | None = None
    created_at: dt.datetime


class Me(BaseModel):
    user: UserRead
    auth: str = Field(description="'user' (session cookie) or 'token' (Bearer)")
    permissions: list[str]
    csrf_token: str | None = Field(None, description="send as X-CSRF-Token on cookie-authenticated writes")


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=1000, description="at least 10 characters")


class UserUpdate(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=1000)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120, description="what the token is for, e.g. 'EHR export job'")
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="leave empty for no expiry")


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class TokenCreated(TokenRead):
    token: str = Field(description="the secret; shown once, store it now")
