"""Org units (facilities, departments, service lines) and staff (skills, capacity, status).

Changes to org units and staff records are audited; availability status changes are operational
(agents flip them many times a day) and are recorded only as ``status``/``status_since`` on the row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pxm.platform.audit import record
from pxm.platform.auth.actor import Actor
from pxm.platform.auth.models import User
from pxm.platform.db.base import utcnow
from pxm.platform.http.errors import BadRequest, Conflict
from pxm.platform.http.lookup import get_or_404
from pxm.platform.http.pagination import PageParams
from pxm.platform.people.models import Encounter, OrgUnit, Patient, Staff, StaffStatus
from pxm.platform.people.schemas import OrgUnitCreate, OrgUnitUpdate, StaffCreate, StaffUpdate


def _bad_ref(field: str, what: str, ident: int) -> BadRequest:
    return BadRequest(f"{field}: no {what} with id {ident}", details=[{"field": field, "problem": "not found"}])


# --- org units ------------------------------------------------------------------------------------------

def create_org_unit(session: Session, actor: Actor, data: OrgUnitCreate) -> OrgUnit:
    if session.execute(select(OrgUnit.id).where(OrgUnit.code == data.code)).first() is not None:
        raise Conflict(f"code: an org unit with code {data.code!r} already exists",
                       details=[{"field": "code", "problem": "duplicate"}])
    if data.parent_id is not None and session.get(OrgUnit, data.parent_id) is None:
        raise _bad_ref("parent_id", "org unit", data.parent_id)
    unit = OrgUnit(code=data.code, name=data.name, kind=data.kind.value, parent_id=data.parent_id,
                   timezone=data.timezone)
    session.add(unit)
    session.flush()
    record(session, actor, "org_unit.create", "org_unit", unit.id, details={"code": unit.code})
    return unit


def get_org_unit(session: Session, unit_id: int) -> OrgUnit:
    return get_or_404(session, OrgUnit, unit_id, "org unit")


def list_org_units(session: Session, *, kind: str | None = None, parent_id: int | None = None) -> list[OrgUnit]:
    stmt = select(OrgUnit).order_by(OrgUnit.id)
    if kind:
        stmt = stmt.where(OrgUnit.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    return list(session.execute(stmt).scalars())


def update_org_unit(session: Session, actor: Actor, unit_id: int, data: OrgUnitUpdate) -> OrgUnit:
    unit = get_org_unit(session, unit_id)
    values = data.model_dump(include=data.model_fields_set)
    if not values:
        raise BadRequest("give at least one field to change")
    for name in ("name", "kind", "timezone"):
        if name in values and values[name] is None:
            raise BadRequest(f"{name}: cannot be empty", details=[{"field": name, "problem": "required"}])
    if values.get("parent_id") is not None:
        parent_id = values["parent_id"]
        cursor: OrgUnit | None = session.get(OrgUnit, parent_id)
        if cursor is None:
            raise _bad_ref("parent_id", "org unit", parent_id)
        while cursor is not None:  # refuse cycles
            if cursor.id == unit.id:
                raise BadRequest("parent_id: an org unit cannot sit under itself or its own children",
                                 details=[{"field": "parent_id", "problem": "cycle"}])
            cursor = session.get(OrgUnit, cursor.parent_id) if cursor.parent_id else None
    for name, value in values.items():
        setattr(unit, name, value.value if hasattr(value, "value") else value)
    session.flush()
    record(session, actor, "org_unit.update", "org_unit", unit.id, details={"fields": sorted(values)})
    return unit


def delete_org_unit(session: Session, actor: Actor, unit_id: int) -> None:
    """Delete an unused org unit; 409 naming what still refers to it."""
    unit = get_org_unit(session, unit_id)
    users = {
        "child org units": select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == unit_id),
        "staff": select(func.count()).select_from(Staff).where(Staff.org_unit_id == unit_id),
        "patients": select(func.count()).select_from(Patient).where(Patient.home_facility_id == unit_id),
        "encounters": select(func.count()).select_from(Encounter).where(Encounter.department_id == unit_id),
    }
    in_use = {name: n for name, stmt in users.items() if (n := int(session.execute(stmt).scalar_one()))}
    if in_use:
        listed = ", ".join(f"{n} {name}" for name, n in in_use.items())
        raise Conflict(f"org unit {unit.code} is still used by {listed}; move them first", details=in_use)
    code = unit.code
    session.delete(unit)
    session.flush()
    record(session, actor, "org_unit.delete", "org_unit", unit_id, details={"code": code})


# --- staff ----------------------------------------------------------------------------------------------

def create_staff(session: Session, actor: Actor, data: StaffCreate) -> Staff:
    if session.execute(select(Staff.id).where(Staff.username == data.username)).first() is not None:
        raise Conflict(f"username: staff member {data.username!r} already exists",
                       details=[{"field": "username", "problem": "duplicate"}])
    if data.org_unit_id is not None and session.get(OrgUnit, data.org_unit_id) is None:
        raise _bad_ref("org_unit_id", "org unit", data.org_unit_id)
    _check_user_link(session, data.user_id, None)
    staff = Staff(**data.model_dump(exclude={"status"}), status=data.status.value, status_since=utcnow())
    session.add(staff)
    session.flush()
    record(session, actor, "staff.create", "staff", staff.id,
           details={"username": staff.username, "job_role": staff.job_role})
    return staff


def _check_user_link(session: Session, user_id: int | None, staff_id: int | None) -> None:
    if user_id is None:
        return
    if session.get(User, user_id) is None:
        raise _bad_ref("user_id", "user", user_id)
    other = session.execute(select(Staff.id).where(Staff.user_id == user_id)).scalar_one_or_none()
    if other is not None and other != staff_id:
        raise Conflict(f"user_id: user {user_id} is already linked to staff member {other}",
                       details=[{"field": "user_id", "problem": "duplicate"}])


def get_staff(session: Session, staff_id: int) -> Staff:
    return get_or_404(session, Staff, staff_id, "staff member")


def get_staff_by_user(session: Session, user_id: int) -> Staff | None:
    """The staff profile linked to a login (agents), or None."""
    return session.execute(select(Staff).where(Staff.user_id == user_id)).scalar_one_or_none()


def staff_of(session: Session, actor: Actor) -> Staff | None:
    """The signed-in user's staff profile: None for a user not linked to one, or an actor with no user."""
    return get_staff_by_user(session, actor.user_id) if actor.user_id is not None else None


def list_staff(
    session: Session, params: PageParams | None = None, *, org_unit_id: int | None = None,
    job_role: str | None = None, status: str | None = None, active: bool | None = True,
    language: str | None = None, reason: str | None = None, channel: str | None = None,
) -> tuple[list[Staff], int]:
    """Staff matching every filter given; skill filters (language/reason/channel) match list membership."""
    stmt = select(Staff).order_by(Staff.id)
    if org_unit_id is not None:
        stmt = stmt.where(Staff.org_unit_id == org_unit_id)
    if job_role:
        stmt = stmt.where(Staff.job_role == job_role)
    if status:
        stmt = stmt.where(Staff.status == status)
    if active is not None:
        stmt = stmt.where(Staff.active.is_(active))
    rows = list(session.execute(stmt).scalars())
    # Skills are short JSON lists; filtering them here keeps the query portable (SQLite and PostgreSQL).
    for attr, wanted in (("languages", language), ("reasons", reason), ("channels", channel)):
        if wanted:
            rows = [s for s in rows if wanted.lower() in (getattr(s, attr) or [])]
    total = len(rows)
    if params is not None:
        rows = rows[params.offset:params.offset + params.limit]
    return rows, total


def update_staff(session: Session, actor: Actor, staff_id: int, data: StaffUpdate) -> Staff:
    staff = get_staff(session, staff_id)
    values = data.model_dump(include=data.model_fields_set)
    if not values:
        raise BadRequest("give at least one field to change")
    for name in ("display_name", "job_role", "languages", "reasons", "channels", "capacity", "active"):
        if name in values and values[name] is None:
            raise BadRequest(f"{name}: cannot be empty", details=[{"field": name, "problem": "required"}])
    if values.get("org_unit_id") is not None and session.get(OrgUnit, values["org_unit_id"]) is None:
        raise _bad_ref("org_unit_id", "org unit", values["org_unit_id"])
    if "user_id" in values:
        _check_user_link(session, values["user_id"], staff.id)
    for name, value in values.items():
        setattr(staff, name, value)
    if values.get("active") is False:
        staff.status = StaffStatus.offline.value
        staff.status_since = utcnow()
    session.flush()
    record(session, actor, "staff.update", "staff", staff.id, details={"fields": sorted(values)})
    return staff


def set_staff_status(session: Session, actor: Actor, staff_id: int, status: StaffStatus | str,
                     *, at: dt.datetime | None = None) -> Staff:
    """Set availability; ``status_since`` moves only when the status actually changes."""
    try:
        new = StaffStatus(status)
    except ValueError:
        raise BadRequest(f"status: use one of {', '.join(s.value for s in StaffStatus)}",
                         details=[{"field": "status", "problem": "unknown value"}]) from None
    staff = get_staff(session, staff_id)
    if not staff.active and new != StaffStatus.offline:
        raise Conflict(f"staff member {staff.username} is deactivated; reactivate them first")
    if staff.status != new.value:
        staff.status = new.value
        staff.status_since = at or utcnow()
        session.flush()
    return staff


def deactivate_staff(session: Session, actor: Actor, staff_id: int) -> Staff:
    """Staff are never deleted (encounters and cases refer to them); they are deactivated."""
    staff = get_staff(session, staff_id)
    staff.active = False
    staff.status = StaffStatus.offline.value
    staff.status_since = utcnow()
    session.flush()
    record(session, actor, "staff.deactivate", "staff", staff.id, details={"username": staff.username})
    return staff
