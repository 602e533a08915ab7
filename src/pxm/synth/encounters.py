"""Step "encounters": 12 months of visits for the patients loaded by this run.

Patterns: outpatient and telehealth visits happen on weekdays (few on Saturdays, almost none on Sundays);
emergency visits run every day with a winter respiratory peak; inpatient admissions dip at weekends.
Shares: outpatient ~70%, telehealth ~12%, emergency ~13%, inpatient ~5%; older and chronically ill patients
visit more. Length of stay, charges and wait minutes are drawn per type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from pxm.platform.people.models import Patient
from pxm.synth.bulk import ENCOUNTERS, copy_rows, tune_for_bulk
from pxm.synth.org import OrgRefs
from pxm.synth.registry import SynthContext, register_step

TYPES = ("outpatient", "telehealth", "emergency", "inpatient")
TYPE_SHARES = (0.70, 0.12, 0.13, 0.05)
# weekday factors Monday..Sunday per type
WEEKDAY = {"outpatient": (1, 1, 1, 1, 0.95, 0.15, 0.04), "telehealth": (1, 1, 1, 1, 0.9, 0.2, 0.1),
           "emergency": (1.1, 1, 0.97, 0.97, 1, 1.03, 1.05), "inpatient": (1.1, 1.05, 1, 1, 1, 0.6, 0.55)}
SEASONAL = {"outpatient": 0.08, "telehealth": 0.12, "emergency": 0.25, "inpatient": 0.18}  # winter amplitude
DEPARTMENTS = {  # type -> ((department code, weight), ...)
    "outpatient": (("PC", 0.45), ("CARD", 0.10), ("ONC", 0.06), ("ORTHO", 0.09), ("PEDS", 0.06), ("MAT", 0.04),
                   ("RAD", 0.08), ("LAB", 0.08), ("BH", 0.04)),
    "telehealth": (("TELE", 0.65), ("BH", 0.25), ("PC", 0.10)),
    "emergency": (("ED", 0.62), ("ED-N", 0.38)),
    "inpatient": (("SURG", 0.28), ("CARD", 0.22), ("ONC", 0.12), ("ORTHO", 0.14), ("MAT", 0.14), ("PEDS", 0.05),
                  ("BH", 0.05)),
}
HOURS = {  # relative arrivals by hour of day
    "outpatient": [0] * 7 + [3, 8, 9, 9, 8, 6, 8, 9, 8, 6, 2] + [0] * 6,
    "telehealth": [0] * 7 + [2, 6, 7, 7, 6, 5, 6, 7, 6, 5, 4, 3, 2] + [0] * 4,
    "emergency": [3, 2, 2, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 5, 4, 3],
    "inpatient": [1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 7, 7, 6, 5, 4, 3, 2, 2, 2, 1, 1, 1],
}
CONDITION_SET = {"diabetes", "hypertension", "copd", "heart_failure", "asthma", "ckd", "depression"}


def day_weights(start: dt.date, kind: str) -> np.ndarray:
    days = np.arange(365)
    weekday = (start.weekday() + days) % 7
    doy = np.array([(start + dt.timedelta(days=int(d))).timetuple().tm_yday for d in days])
    season = 1 + SEASONAL[kind] * np.cos(2 * np.pi * (doy - 20) / 365.25)  # peak around 20 January
    w = np.array(WEEKDAY[kind])[weekday] * season
    return w / w.sum()


def _visit_rates(ages: np.ndarray, n_conditions: np.ndarray) -> np.ndarray:
    rate = 1.1 + 0.022 * ages + 0.55 * n_conditions
    return np.where(ages < 2, rate + 1.5, rate)  # well-baby visits


def generate_chunk(rng: np.random.Generator, patients: Sequence[Any], start: dt.date, org: OrgRefs,
                   weights: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    ids = np.array([p.id for p in patients])
    ages = start.year - np.array([p.birth_year or start.year - 40 for p in patients])
    female = np.array([p.sex == "F" for p in patients])
    ncond = np.array([len(set(p.conditions or []) & CONDITION_SET) for p in patients])
    copd_asthma = np.array([bool({"copd", "asthma"} & set(p.conditions or [])) for p in patients])
    facility = np.array([p.home_facility_id or 0 for p in patients])
    counts = rng.poisson(_visit_rates(ages, ncond))
    pid = np.repeat(ids, counts)
    age = np.repeat(ages, counts)
    fem = np.repeat(female, counts)
    resp = np.repeat(copd_asthma, counts)
    fac = np.repeat(facility, counts)
    m = len(pid)
    if m == 0:
        return []
    type_idx = rng.choice(4, size=m, p=TYPE_SHARES)
    type_idx = np.where((age >= 65) & (type_idx == 0) & (rng.random(m) < 0.05), 3, type_idx)
    rows: list[dict[str, Any]] = []
    day = np.empty(m, dtype=int)
    hour = np.empty(m, dtype=int)
    dept = np.empty(m, dtype=object)
    for t, kind in enumerate(TYPES):
        mask = type_idx == t
        k = int(mask.sum())
        if not k:
            continue
        day[mask] = rng.choice(365, size=k, p=weights[kind])
        h = np.array(HOURS[kind], dtype=float)
        hour[mask] = rng.choice(24, size=k, p=h / h.sum())
        codes = [c for c, _ in DEPARTMENTS[kind]]
        w = np.array([x for _, x in DEPARTMENTS[kind]])
        dept[mask] = np.array(codes, dtype=object)[rng.choice(len(codes), size=k, p=w / w.sum())]
    # clinical plausibility: children go to pediatrics, maternity is for women 15-49, the nearer ED
    dept = np.where((age < 18) & np.isin(dept, ["CARD", "ONC", "MAT", "SURG"]), "PEDS", dept)
    dept = np.where((dept == "MAT") & ~(fem & (age >= 15) & (age <= 49)), "PC", dept)
    dept = np.where((dept == "PEDS") & (age >= 18), "PC", dept)
    dept = np.where((type_idx == 2) & (fac == org.facilities.get("NCH")), np.where(rng.random(m) < 0.8, "ED-N", "ED"),
                    dept)
    minute = rng.integers(0, 60, size=m)
    u = rng.random((m, 3))
    winter = np.isin((start.month - 1 + (day // 30.44).astype(int)) % 12, [11, 0, 1])
    los_hours = np.select(
        [type_idx == 0, type_idx == 1, type_idx == 2, type_idx == 3],
        [0.5 + u[:, 0] * 1.0, 0.25 + u[:, 0] * 0.25, rng.lognormal(np.log(3.5), 0.5, m),
         24 * rng.gamma(2.0, 2.3, m)])
    charges = np.select(
        [type_idx == 0, type_idx == 1, type_idx == 2, type_idx == 3],
        [rng.lognormal(np.log(240), 0.6, m), rng.lognormal(np.log(95), 0.3, m),
         rng.lognormal(np.log(1600), 0.7, m), 2800 * los_hours / 24 + rng.lognormal(np.log(6000), 0.5, m)])
    wait_mean = np.select([type_idx == 0, type_idx == 1, type_idx == 2, type_idx == 3],
                          [18.0, 6.0, 42.0, 95.0]) * np.where(winter & (type_idx >= 2), 1.35, 1.0)
    wait = rng.gamma(2.0, wait_mean / 2.0)
    respiratory = (type_idx >= 2) & (u[:, 1] < np.where(winter, 0.30, 0.10) + np.where(resp, 0.15, 0.0))
    providers = org.providers
    for i in range(m):
        code = str(dept[i])
        admit = dt.datetime(start.year, start.month, start.day, int(hour[i]), int(minute[i]),
                            tzinfo=dt.UTC) + dt.timedelta(days=int(day[i]))
        pool = providers.get(code)
        rows.append({
            "patient_id": int(pid[i]), "type": TYPES[type_idx[i]], "department_id": org.departments[code],
            "provider_id": pool[int(u[i, 2] * len(pool))] if pool else None, "admit_at": admit,
            "discharge_at": admit + dt.timedelta(hours=float(los_hours[i])), "charges": round(float(charges[i]), 2),
            "wait_minutes": int(wait[i]), "extra": {"respiratory": True} if respiratory[i] else {},
        })
    return rows


@register_step("encounters", order=30)
def load_encounters(ctx: SynthContext) -> dict[str, int]:
    """12 months of encounters for the patients this run loaded (read back in id order, in chunks)."""
    org: OrgRefs = ctx.state["org"]
    start, _ = ctx.window
    weights = {kind: day_weights(start, kind) for kind in TYPES}
    db = ctx.db
    tune_for_bulk(db)
    after = int(ctx.state.get("patients_after_id", 0))
    cols = (Patient.id, Patient.birth_year, Patient.sex, Patient.conditions, Patient.home_facility_id)
    total = done = chunk = 0
    while True:
        batch = db.execute(select(*cols).where(Patient.id > after).order_by(Patient.id)
                           .limit(ctx.chunk_size)).all()
        if not batch:
            break
        total += copy_rows(db, ENCOUNTERS, generate_chunk(ctx.rng(f"encounters:{chunk}"), batch, start, org,
                                                            weights))
        after = batch[-1].id
        done += len(batch)
        chunk += 1
        ctx.progress("encounters", min(done, ctx.patients), ctx.patients)
    return {"encounters": total}
