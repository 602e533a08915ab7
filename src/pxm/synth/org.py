"""Step "org": 3 facilities (each with its contact center's business hours), 16 departments and service lines,
~60 staff with roles, skills and capacity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from pxm.platform.db.base import utcnow
from pxm.platform.people.models import OrgUnit, Staff
from pxm.practices.resolution.models import BusinessCalendar
from pxm.synth.names import EN_FAMILY, EN_FEMALE, EN_MALE, ES_FAMILY, ES_FEMALE, ES_MALE
from pxm.synth.registry import SynthContext, register_step

ORG_TIMEZONE = "America/Chicago"  # where the demo organization is: its facilities, hours and patients' days
FACILITIES = (
    ("RMC", "Riverbend Medical Center", ORG_TIMEZONE),          # flagship hospital
    ("NCH", "Northside Community Hospital", ORG_TIMEZONE),
    ("LOC", "Lakeview Outpatient & Telehealth Center", ORG_TIMEZONE),
)
# the service desk's business hours at each facility (SLA targets count these), local time
DESK_HOURS = {str(d): ["08:00", "18:00"] for d in range(1, 6)}
# (code, name, kind, facility code, clinical)
DEPARTMENTS = (
    ("ED", "Emergency Department", "department", "RMC", True),
    ("ED-N", "Northside Emergency Department", "department", "NCH", True),
    ("CARD", "Cardiology", "service_line", "RMC", True),
    ("ONC", "Oncology", "service_line", "RMC", True),
    ("ORTHO", "Orthopedics", "service_line", "NCH", True),
    ("PEDS", "Pediatrics", "service_line", "NCH", True),
    ("MAT", "Maternity", "service_line", "NCH", True),
    ("PC", "Primary Care", "service_line", "LOC", True),
    ("RAD", "Radiology", "department", "RMC", True),
    ("LAB", "Laboratory", "department", "RMC", True),
    ("BH", "Behavioral Health", "service_line", "LOC", True),
    ("TELE", "Telehealth", "department", "LOC", True),
    ("SURG", "Surgery", "service_line", "RMC", True),
    ("PHARM", "Pharmacy", "department", "RMC", False),
    ("ACCESS", "Patient Access & Contact Center", "department", "LOC", False),
    ("BILL", "Billing Office", "department", "LOC", False),
)
REASONS = ("appointment_scheduling", "billing", "prescription_refill", "test_results", "referral", "records_request",
           "medical_advice", "other")  # the contact-reason codes of practices.resolution
CHANNELS = ("phone", "chat", "email", "sms")
CLINICAL_STAFF = {  # department -> (physicians, nurses)
    "ED": (2, 2), "ED-N": (1, 1), "CARD": (1, 1), "ONC": (1, 1), "ORTHO": (1, 0), "PEDS": (1, 1), "MAT": (1, 1),
    "PC": (2, 2), "BH": (1, 0), "TELE": (1, 1), "SURG": (1, 1), "RAD": (0, 0), "LAB": (0, 0),
}
STATUSES = ("available", "available", "available", "busy", "busy", "away", "offline")


@dataclass
class OrgRefs:
    """Ids the later steps need: facilities and departments by code, providers per department."""

    facilities: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    providers: dict[str, list[int]] = field(default_factory=dict)
    agents: list[int] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)


def _desk_calendars(ctx: SynthContext, refs: OrgRefs) -> int:
    """A business-hours calendar for each facility that has none, in the organization's time zone (the
    database's default calendar, which cases without a facility use, is left as it is)."""
    have = set(ctx.db.execute(select(BusinessCalendar.facility_id)).scalars())
    added = 0
    for code, name, tz in FACILITIES:
        if refs.facilities[code] not in have:
            ctx.db.add(BusinessCalendar(facility_id=refs.facilities[code], name=f"{name} (Mon-Fri 08:00-18:00)",
                                        timezone=tz, hours=DESK_HOURS, holidays=[]))
            added += 1
    ctx.db.flush()
    return added


def _unit(ctx: SynthContext, code: str, name: str, kind: str, parent: int | None, tz: str) -> tuple[int, bool]:
    found = ctx.db.execute(select(OrgUnit.id).where(OrgUnit.code == code)).scalar_one_or_none()
    if found is not None:
        return found, False
    unit = OrgUnit(code=code, name=name, kind=kind, parent_id=parent, timezone=tz)
    ctx.db.add(unit)
    ctx.db.flush()
    return unit.id, True


class _Names:
    def __init__(self, ctx: SynthContext) -> None:
        self.rng = ctx.rng("org.names")
        self.used: set[str] = set()

    def person(self, spanish: bool = False) -> str:
        while True:
            female = self.rng.random() < 0.6
            given = (ES_FEMALE if female else ES_MALE) if spanish else (EN_FEMALE if female else EN_MALE)
            family = ES_FAMILY if spanish else EN_FAMILY
            name = f"{given[self.rng.integers(len(given))]} {family[self.rng.integers(len(family))]}"
            if name not in self.used:
                self.used.add(name)
                return name


@register_step("org", order=10)
def load_org(ctx: SynthContext) -> dict[str, int]:
    """Facilities, departments and staff (reused when the codes already exist)."""
    refs = OrgRefs()
    created_units = 0
    for code, name, tz in FACILITIES:
        refs.facilities[code], new = _unit(ctx, code, name, "facility", None, tz)
        created_units += new
    for code, name, kind, fac, _clinical in DEPARTMENTS:
        refs.departments[code], new = _unit(ctx, code, name, kind, refs.facilities[fac], ORG_TIMEZONE)
        created_units += new
    calendars = _desk_calendars(ctx, refs)
    ctx.state["org"] = refs
    existing = {s.username: s for s in ctx.db.execute(select(Staff)).scalars()}
    rng = ctx.rng("org.staff")
    names = _Names(ctx)
    now = utcnow()
    specs: list[dict[str, object]] = []
    for i in range(25):  # contact-center agents; about a third speak Spanish
        spanish = i % 3 == 0
        reasons = sorted(rng.choice(REASONS, size=int(rng.integers(3, 6)), replace=False).tolist())
        channels = ["phone"] + sorted(rng.choice(CHANNELS[1:], size=int(rng.integers(0, 3)), replace=False).tolist())
        specs.append(dict(username=f"agent{i + 1:02d}", display_name=names.person(spanish), job_role="agent",
                          dept="ACCESS", team=f"Team {'ABC'[i % 3]}", languages=["en", "es"] if spanish else ["en"],
                          reasons=reasons, channels=channels, capacity=int(rng.integers(3, 7)),
                          status=STATUSES[int(rng.integers(len(STATUSES)))]))
    for i in range(4):
        specs.append(dict(username=f"supervisor{i + 1}", display_name=names.person(i == 0), job_role="supervisor",
                          dept="ACCESS" if i < 3 else "BILL", team=f"Team {'ABCB'[i]}",
                          languages=["en", "es"] if i == 0 else ["en"], reasons=[*REASONS, "complaint"],
                          channels=list(CHANNELS), capacity=4, status="available"))
    for i, (dept, title) in enumerate((("ACCESS", "Contact center manager"), ("ACCESS", "CX manager"),
                                       ("RMC", "Quality & compliance manager"), ("BILL", "Revenue cycle manager"))):
        specs.append(dict(username=f"manager{i + 1}", display_name=names.person(i == 1), job_role="manager",
                          dept=dept, team=title, languages=["en"], reasons=[], channels=[], capacity=0,
                          status="offline"))
    for i in range(2):
        specs.append(dict(username=f"billing{i + 1}", display_name=names.person(False), job_role="billing_specialist",
                          dept="BILL", team="Billing", languages=["en", "es"] if i else ["en"],
                          reasons=["billing", "other"], channels=["phone", "email"], capacity=4, status="available"))
    for dept, (n_phys, n_nurse) in CLINICAL_STAFF.items():
        for role, n in (("physician", n_phys), ("nurse", n_nurse)):
            for _ in range(n):
                k = sum(1 for s in specs if s["job_role"] == role) + 1
                specs.append(dict(username=f"{role[:3]}{k:02d}", display_name=names.person(rng.random() < 0.2),
                                  job_role=role, dept=dept, team=dept, languages=["en"], reasons=[], channels=[],
                                  capacity=0, status="available"))
    all_units = {**refs.facilities, **refs.departments}
    new_staff = 0
    # each took up their current status at a different time in the last few hours (routing's "longest idle"
    # then has something to go by); a stream of its own, so the other draws stay as they were
    shifts = ctx.rng("org.status_since")
    for spec in specs:
        dept = str(spec.pop("dept"))
        staff = existing.get(str(spec["username"]))
        if staff is None:
            since = now - dt.timedelta(minutes=float(shifts.uniform(5, 240)))
            staff = Staff(**spec, org_unit_id=all_units[dept], status_since=since)
            ctx.db.add(staff)
            new_staff += 1
        ctx.db.flush()
        if staff.job_role in ("physician", "nurse"):
            refs.providers.setdefault(dept, []).append(staff.id)
        elif staff.job_role == "agent":
            refs.agents.append(staff.id)
        elif staff.job_role == "supervisor":
            refs.supervisors.append(staff.id)
        elif staff.job_role == "manager":
            refs.managers.append(staff.id)
    ctx.progress("org", 1, 1)
    return {"org_units": created_units, "business_calendars": calendars, "staff": new_staff}
