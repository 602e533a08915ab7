"""Roles and permissions as data. Every non-public route declares the permission it needs."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    admin = "admin"
    cx_manager = "cx_manager"
    agent = "agent"
    analyst = "analyst"
    auditor = "auditor"


class Permission(enum.StrEnum):
    # platform
    users_manage = "users:manage"
    org_read = "org:read"
    org_write = "org:write"
    patients_read = "patients:read"          # read PHI (audited)
    patients_write = "patients:write"
    audit_read = "audit:read"
    jobs_read = "jobs:read"
    # resolution / routing / live (H5 + operations)
    contacts_read = "contacts:read"
    contacts_write = "contacts:write"
    cases_read = "cases:read"
    cases_write = "cases:write"
    cases_assign = "cases:assign"            # supervisor reassignment
    desk_configure = "desk:configure"        # SLA policies, business calendars, contact reasons
    live_read = "live:read"
    staffing_read = "staffing:read"
    metrics_read = "metrics:read"
    # feedback (H2)
    surveys_read = "surveys:read"
    surveys_manage = "surveys:manage"
    responses_read = "responses:read"
    responses_write = "responses:write"
    complaints_read = "complaints:read"
    complaints_write = "complaints:write"
    # analytics
    studies_read = "studies:read"
    studies_run = "studies:run"


_ALL = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: _ALL,
    Role.cx_manager: frozenset(
        {
            Permission.org_read, Permission.patients_read, Permission.patients_write,
            Permission.contacts_read, Permission.contacts_write, Permission.cases_read,
            Permission.cases_write, Permission.cases_assign, Permission.live_read,
            Permission.staffing_read, Permission.metrics_read, Permission.surveys_read,
            Permission.surveys_manage, Permission.responses_read, Permission.responses_write,
            Permission.complaints_read, Permission.complaints_write, Permission.studies_read,
            Permission.studies_run, Permission.jobs_read, Permission.desk_configure,
        }
    ),
    Role.agent: frozenset(
        {
            Permission.org_read, Permission.patients_read, Permission.contacts_read,
            Permission.contacts_write, Permission.cases_read, Permission.cases_write,
            Permission.complaints_read, Permission.complaints_write, Permission.responses_read,
        }
    ),
    Role.analyst: frozenset(
        {
            Permission.org_read, Permission.metrics_read, Permission.staffing_read,
            Permission.surveys_read, Permission.responses_read, Permission.studies_read,
            Permission.studies_run, Permission.live_read,
        }
    ),
    Role.auditor: frozenset({Permission.org_read, Permission.audit_read, Permission.jobs_read}),
}


def permissions_for(role: str) -> frozenset[Permission]:
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()
