"""The site navigation as data.

Each entry names the permission its page requires and whether the page exists yet (``ready``). Entries that
are not ready render as plain "coming" text, never as links. When a feature's page lands, flip its entry to
``ready=True`` here (a one-line edit) and, if needed, correct the URL or permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from pxm.platform.auth.actor import Actor
from pxm.platform.auth.permissions import Permission


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    permission: Permission
    ready: bool = False


@dataclass(frozen=True)
class NavSection:
    label: str
    items: tuple[NavItem, ...]


NAV: tuple[NavSection, ...] = (
    NavSection("Overview", (
        NavItem("Overview", "/", Permission.org_read, ready=True),
    )),
    # The five CXM practices of the source paper (H1-H5).
    NavSection("Practices", (
        NavItem("Personalized experience", "/practices/personalization", Permission.patients_read),
        NavItem("Feedback", "/practices/feedback", Permission.surveys_read, ready=True),
        NavItem("Comment explorer", "/practices/feedback/comments", Permission.responses_read, ready=True),
        NavItem("Closed loop", "/practices/feedback/loop", Permission.cases_read, ready=True),
        NavItem("Complaints", "/practices/feedback/complaints", Permission.complaints_read, ready=True),
        NavItem("Public reviews", "/practices/feedback/reviews", Permission.complaints_read, ready=True),
        NavItem("Segmentation", "/practices/segmentation", Permission.metrics_read),
        NavItem("Loyalty", "/practices/loyalty", Permission.patients_read),
        NavItem("First contact resolution", "/practices/resolution", Permission.cases_read, ready=True),
        NavItem("Cases", "/practices/resolution/cases", Permission.cases_read, ready=True),
        NavItem("Escalations", "/practices/resolution/escalations", Permission.cases_read, ready=True),
        NavItem("Service desk settings", "/practices/resolution/settings", Permission.cases_read, ready=True),
    )),
    # The customer-operations building blocks of the source article.
    NavSection("Operations", (
        NavItem("Routing", "/operations/routing", Permission.cases_read, ready=True),
        NavItem("Live operations", "/operations/live", Permission.live_read, ready=True),
        NavItem("Audits", "/operations/audits", Permission.metrics_read),
        NavItem("Quality & compliance", "/operations/quality", Permission.metrics_read),
        NavItem("Digital monitoring", "/operations/monitoring", Permission.metrics_read),
        NavItem("Staffing", "/operations/staffing", Permission.staffing_read, ready=True),
    )),
    NavSection("Analytics", (
        NavItem("CXM impact study", "/analytics/study", Permission.studies_read, ready=True),
        NavItem("KPIs & benchmarks", "/analytics/kpi", Permission.metrics_read),
    )),
    NavSection("Admin", (
        NavItem("Users & tokens", "/admin/users", Permission.users_manage, ready=True),
        NavItem("Audit log", "/admin/audit", Permission.audit_read, ready=True),
    )),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    ready: bool
    current: bool


@dataclass(frozen=True)
class VisibleSection:
    label: str
    links: tuple[NavLink, ...]


def _is_current(url: str, path: str) -> bool:
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url.rstrip("/") + "/")


def nav_for(actor: Actor | None, path: str) -> list[VisibleSection]:
    """The sections and entries this actor may see; empty without a login."""
    if actor is None:
        return []
    # Only the most specific matching entry is the current page (/practices/resolution/settings is not also
    # /practices/resolution).
    matches = [item.url for item in all_items() if item.ready and _is_current(item.url, path)]
    current = max(matches, key=len, default=None)
    out: list[VisibleSection] = []
    for section in NAV:
        links = tuple(
            NavLink(item.label, item.url, item.ready, item.ready and item.url == current)
            for item in section.items
            if actor.can(item.permission)
        )
        if links:
            out.append(VisibleSection(section.label, links))
    return out


def all_items() -> list[NavItem]:
    return [item for section in NAV for item in section.items]
