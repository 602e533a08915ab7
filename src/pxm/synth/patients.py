"""Step "patients": a US-like patient population, sealed and bulk-loaded in chunks.

Shares follow public US figures closely enough for a demo: the age pyramid of the census, ~15% preferring
Spanish, chronic-condition prevalence rising with age (CDC chronic disease indicators: diabetes ~11%,
hypertension ~30%, COPD ~6%, heart failure ~2%, asthma ~8%, CKD ~10%, depression ~8%). Phone numbers use the
fictional 555-01xx range and email addresses the reserved example.* domains.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import func, select

from pxm.platform.db.base import utcnow
from pxm.platform.people.crypto import keyring
from pxm.platform.people.models import Patient
from pxm.platform.people.service import EMAIL_PURPOSE, MRN_PURPOSE, RESTRICTED_ZIP3, TOP_CODED_AGE
from pxm.synth.bulk import PATIENTS, copy_rows, sealed_context, tune_for_bulk
from pxm.synth.names import (
    EMAIL_DOMAINS,
    EN_FAMILY,
    EN_FEMALE,
    EN_MALE,
    ES_FAMILY,
    ES_FEMALE,
    ES_MALE,
    ascii_slug,
)
from pxm.synth.org import OrgRefs
from pxm.synth.registry import SynthContext, register_step

# (low age, high age inclusive, share) -- US census age structure
AGE_BANDS = ((0, 4, 0.060), (5, 17, 0.160), (18, 24, 0.090), (25, 34, 0.135), (35, 44, 0.130),
             (45, 54, 0.120), (55, 64, 0.130), (65, 74, 0.100), (75, 84, 0.055), (85, 99, 0.020))
# prevalence by age group: 0-17, 18-44, 45-64, 65+
CONDITIONS = {
    "diabetes": (0.003, 0.04, 0.17, 0.27),
    "hypertension": (0.01, 0.15, 0.47, 0.70),
    "copd": (0.0, 0.025, 0.09, 0.15),
    "heart_failure": (0.0, 0.003, 0.02, 0.075),
    "asthma": (0.07, 0.08, 0.09, 0.08),
    "ckd": (0.002, 0.05, 0.12, 0.30),
    "depression": (0.03, 0.10, 0.09, 0.07),
}
# ZIP -> home facility; the first six have a large Spanish-speaking population
ZIPS = (("60608", "RMC"), ("60609", "RMC"), ("60623", "RMC"), ("60632", "RMC"), ("60402", "LOC"),
        ("60453", "LOC"), ("60601", "RMC"), ("60605", "RMC"), ("60607", "RMC"), ("60612", "RMC"),
        ("60614", "RMC"), ("60616", "RMC"), ("60622", "RMC"), ("60647", "RMC"), ("60625", "NCH"),
        ("60626", "NCH"), ("60630", "NCH"), ("60640", "NCH"), ("60645", "NCH"), ("60659", "NCH"),
        ("60660", "NCH"), ("60076", "NCH"), ("60077", "NCH"), ("60201", "NCH"), ("60302", "LOC"),
        ("60304", "LOC"), ("60513", "LOC"), ("60515", "LOC"), ("60540", "LOC"), ("60563", "LOC"),
        ("60148", "LOC"))
HISPANIC_ZIPS = 6
AREA_CODES = ("312", "773", "872", "708", "630", "847")
OTHER_LANGUAGES = ("pl", "zh", "vi", "ar", "ko")
CHANNEL_NAMES = ("email", "sms", "phone", "portal", "mail")
CHANNEL_BY_AGE = {  # <35, 35-64, 65+
    0: (0.30, 0.35, 0.10, 0.23, 0.02), 1: (0.35, 0.22, 0.20, 0.20, 0.03), 2: (0.25, 0.08, 0.45, 0.07, 0.15)}


def sample_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = np.array([b[2] for b in AGE_BANDS])
    band = rng.choice(len(AGE_BANDS), size=n, p=shares / shares.sum())
    lo = np.array([b[0] for b in AGE_BANDS])[band]
    hi = np.array([b[1] for b in AGE_BANDS])[band]
    return (lo + np.floor(rng.random(n) * (hi - lo + 1))).astype(int)


def age_group(ages: np.ndarray) -> np.ndarray:
    return np.digitize(ages, [18, 45, 65])  # 0: 0-17, 1: 18-44, 2: 45-64, 3: 65+


def sample_conditions(rng: np.random.Generator, ages: np.ndarray) -> list[list[str]]:
    groups = age_group(ages)
    n = len(ages)
    flags: dict[str, np.ndarray] = {}
    for name, prev in CONDITIONS.items():
        p = np.array(prev)[groups]
        if name == "ckd":  # diabetes and hypertension drive kidney disease
            p = np.where(flags["diabetes"] | flags["hypertension"], np.minimum(p * 1.6, 0.9), p * 0.7)
        flags[name] = rng.random(n) < p
    names = list(CONDITIONS)
    matrix = np.column_stack([flags[c] for c in names])
    return [[names[j] for j in np.flatnonzero(row)] for row in matrix]


def generate_chunk(rng: np.random.Generator, n: int, first_number: int, as_of: dt.date,
                   org: OrgRefs) -> list[dict[str, Any]]:
    """``n`` patient rows ready for the raw table (PHI already sealed)."""
    ring = keyring()
    ages = sample_ages(rng, n)
    sex = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.508, 0.489, 0.003])
    zip_idx = rng.integers(len(ZIPS), size=n)
    hispanic_zip = zip_idx < HISPANIC_ZIPS
    lang_draw = rng.random(n)
    spanish = lang_draw < np.where(hispanic_zip, 0.50, 0.065)
    other_lang = ~spanish & (lang_draw > 0.97)
    hispanic_name = spanish | (rng.random(n) < np.where(hispanic_zip, 0.30, 0.05))
    groups = np.digitize(ages, [35, 65])
    channel_draw = rng.random(n)
    cum = {g: np.cumsum(p) for g, p in CHANNEL_BY_AGE.items()}
    has_email = rng.random(n) > np.where(ages >= 65, 0.30, 0.10)
    conditions = sample_conditions(rng, ages)
    birth_ord = as_of.toordinal() - (ages * 365.25 + rng.random(n) * 364).astype(int) - 1
    given_draw = rng.random(n)
    family_draw = rng.random(n)
    zip4 = rng.integers(100, 10000, size=n)
    area = rng.integers(len(AREA_CODES), size=n)
    line = rng.integers(100, 200, size=n)
    email_num = rng.integers(1, 100, size=n)
    domain = rng.integers(len(EMAIL_DOMAINS), size=n)
    consent = rng.random((n, 4))
    other = rng.integers(len(OTHER_LANGUAGES), size=n)
    ctx = {c: sealed_context(c) for c in ("mrn", "given_name", "family_name", "birth_date", "zip_code",
                                           "phone", "email")}
    created = utcnow()
    min_year = as_of.year - TOP_CODED_AGE
    rows: list[dict[str, Any]] = []
    for i in range(n):
        female = sex[i] == "F" or (sex[i] == "X" and given_draw[i] < 0.5)
        givens: tuple[str, ...]
        families: tuple[str, ...]
        if hispanic_name[i]:
            givens, families = (ES_FEMALE if female else ES_MALE), ES_FAMILY
        else:
            givens, families = (EN_FEMALE if female else EN_MALE), EN_FAMILY
        given = givens[int(given_draw[i] * len(givens))]
        family = families[int(family_draw[i] * len(families))]
        zip_code, facility = ZIPS[zip_idx[i]]
        mrn = f"RB{first_number + i:07d}"
        birth = dt.date.fromordinal(int(birth_ord[i]))
        channel = CHANNEL_NAMES[int(np.searchsorted(cum[int(groups[i])], channel_draw[i], side="right"))]
        email = f"{ascii_slug(given)}.{ascii_slug(family)}{email_num[i]}@{EMAIL_DOMAINS[domain[i]]}" \
            if has_email[i] else None
        if email is None and channel in ("email", "portal"):
            channel = "phone"
        phone = f"+1{AREA_CODES[area[i]]}5550{line[i]}"
        lang = "es" if spanish[i] else (OTHER_LANGUAGES[other[i]] if other_lang[i] else "en")
        z3 = zip_code[:3]
        rows.append({
            "mrn": ring.seal(mrn, ctx["mrn"]), "mrn_index": ring.index(mrn, MRN_PURPOSE),
            "given_name": ring.seal(given, ctx["given_name"]), "family_name": ring.seal(family, ctx["family_name"]),
            "birth_date": ring.seal(birth.isoformat(), ctx["birth_date"]),
            "birth_year": max(birth.year, min_year), "sex": str(sex[i]),
            "zip_code": ring.seal(f"{zip_code}-{zip4[i]:04d}" if zip4[i] < 600 else zip_code, ctx["zip_code"]),
            "zip3": "000" if z3 in RESTRICTED_ZIP3 else z3,
            "phone": ring.seal(phone, ctx["phone"]),
            "email": ring.seal(email, ctx["email"]) if email else None,
            "email_index": ring.index(email, EMAIL_PURPOSE) if email else None,
            "preferred_language": lang, "preferred_channel": channel,
            "consent_email": bool(email) and bool(consent[i, 0] < 0.85),
            "consent_sms": bool(consent[i, 1] < (0.75 if ages[i] < 65 else 0.45)),
            "consent_phone": bool(consent[i, 2] < 0.92), "consent_surveys": bool(consent[i, 3] < 0.72),
            "conditions": conditions[i], "home_facility_id": org.facilities[facility], "created_at": created,
        })
    return rows


@register_step("patients", order=20)
def load_patients(ctx: SynthContext) -> dict[str, int]:
    """``ctx.patients`` patients, streamed in chunks of ``ctx.chunk_size``."""
    org: OrgRefs = ctx.state["org"]
    db = ctx.db
    tune_for_bulk(db)
    ctx.state["patients_after_id"] = int(db.execute(select(func.coalesce(func.max(Patient.id), 0))).scalar_one())
    start = int(db.execute(select(func.count()).select_from(Patient)).scalar_one()) + 1
    done = 0
    chunk = 0
    while done < ctx.patients:
        n = min(ctx.chunk_size, ctx.patients - done)
        rows = generate_chunk(ctx.rng(f"patients:{chunk}"), n, start + done, ctx.as_of, org)
        done += copy_rows(db, PATIENTS, rows)
        chunk += 1
        ctx.progress("patients", done, ctx.patients)
    return {"patients": done}
