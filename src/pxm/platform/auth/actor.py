"""Who is acting: passed explicitly into every service function."""

from __future__ import annotations

from dataclasses import dataclass, field

from pxm.platform.auth.permissions import Permission, permissions_for
from pxm.platform.http.errors import APIError


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "token", "system"
    name: str  # username, or a system component name
    role: str
    user_id: int | None = None
    request_id: str | None = None
    permissions: frozenset[Permission] = field(default=frozenset())

    @classmethod
    def for_user(cls, user_id: int, username: str, role: str, *, kind: str = "user",
                 request_id: str | None = None) -> Actor:
        return cls(kind=kind, name=username, role=role, user_id=user_id, request_id=request_id,
                   permissions=permissions_for(role))

    @classmethod
    def system(cls, component: str, request_id: str | None = None) -> Actor:
        return cls(kind="system", name=component, role="admin", request_id=request_id,
                   permissions=permissions_for("admin"))

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def ensure(self, permission: Permission, to: str) -> None:
        """Refuse (403, naming the role and the permission) unless this actor has ``permission``, needed "to"
        do what ``to`` says: for a service function that checks beyond the route's own gate."""
        if not self.can(permission):
            raise APIError(403, "forbidden", f"your role ({self.role}) lacks the permission {permission.value} "
                                             f"needed to {to}")

