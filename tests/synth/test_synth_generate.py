"""The synthetic organization: deterministic for a seed, realistic shares, one audit event per step."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select

from pxm.platform.audit.models import AuditEvent
from pxm.platform.people.models import Encounter, OrgUnit, Patient, Staff
from pxm.synth.run import generate

AS_OF = dt.date(2025, 7, 1)


def _max_id(db, model) -> int:
    return int(db.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one())


def _aggregates(db, after: int, upto: int) -> dict:
    rows = db.execute(select(Patient.birth_year, Patient.sex, Patient.zip3, Patient.preferred_language,
                             Patient.preferred_channel, Patient.conditions, Patient.consent_surveys)
                      .where(Patient.id > after, Patient.id <= upto)).all()
    enc = db.execute(select(Encounter.type, Encounter.admit_at, Encounter.wait_minutes, Encounter.charges)
                     .join(Patient, Patient.id == Encounter.patient_id)
                     .where(Patient.id > after, Patient.id <= upto)).all()
    return {
        "patients": len(rows),
        "birth_years": Counter(r.birth_year for r in rows),
        "sex": Counter(r.sex for r in rows), "zip3": Counter(r.zip3 for r in rows),
        "language": Counter(r.preferred_language for r in rows),
        "channel": Counter(r.preferred_channel for r in rows),
        "conditions": Counter(c for r in rows for c in r.conditions),
        "surveys": sum(r.consent_surveys for r in rows),
        "encounters": Counter((e.type, e.admit_at.date().isoformat()) for e in enc),
        "waits": sum(e.wait_minutes for e in enc), "charges": round(sum(float(e.charges) for e in enc), 2),
    }


def test_same_seed_gives_the_same_organization(session_factory, db):
    start = _max_id(db, Patient)
    mine = ("patients", "encounters")  # other features' steps have their own tests
    first = generate(session_factory, patients=500, seed=11, as_of=AS_OF, chunk_size=200, only=mine)
    mid = _max_id(db, Patient)
    second = generate(session_factory, patients=500, seed=11, as_of=AS_OF, chunk_size=200, only=mine)
    end = _max_id(db, Patient)
    a, b = _aggregates(db, start, mid), _aggregates(db, mid, end)
    assert a["patients"] == b["patients"] == 500
    assert a == b
    assert first.counts["encounters"] == second.counts["encounters"] > 500
    assert first.counts["org_units"] == 19 and second.counts["org_units"] == 0  # the org is reused, not doubled
    other = generate(session_factory, patients=500, seed=12, as_of=AS_OF, chunk_size=200, only=mine)
    assert _aggregates(db, end, _max_id(db, Patient)) != a and other.counts["patients"] == 500


def test_one_audit_event_per_step_with_counts(session_factory, db):
    before = int(db.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    report = generate(session_factory, patients=300, seed=3, as_of=AS_OF)
    events = db.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(len(report.steps))).scalars().all()
    total = int(db.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
    assert total - before == len(report.steps)
    assert {e.action for e in events} == {"synth.load"}
    by_step = {e.details["step"]: e.details["counts"] for e in events}
    assert by_step["patients"] == {"patients": 300} and by_step["encounters"] == {"encounters": report.counts["encounters"]}


@pytest.fixture(scope="module")
def population(key_dir, tmp_path_factory):
    """A 4,000-patient organization built once on its own SQLite database for the share checks."""
    from pxm.platform.db import make_engine, make_session_factory
    from pxm.platform.db.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('synth') / 'synth.db'}"
    eng = make_engine(url)
    upgrade(url, engine=eng)
    factory = make_session_factory(eng)
    report = generate(factory, patients=4000, seed=7, as_of=AS_OF)
    with factory() as db:
        patients = db.execute(select(Patient.birth_year, Patient.sex, Patient.preferred_language,
                                     Patient.conditions, Patient.email_index)).all()
        encounters = db.execute(select(Encounter.type, Encounter.admit_at, Encounter.discharge_at,
                                       Encounter.charges)).all()
        staff = db.execute(select(Staff.job_role, Staff.languages, Staff.reasons, Staff.status_since)).all()
        units = db.execute(select(OrgUnit.kind)).scalars().all()
    eng.dispose()
    return report, patients, encounters, staff, units


def test_age_sex_and_language_mix(population):
    _, patients, *_ = population
    n = len(patients)
    ages = [AS_OF.year - p.birth_year for p in patients]
    assert 0.17 < sum(a < 18 for a in ages) / n < 0.27
    assert 0.13 < sum(a >= 65 for a in ages) / n < 0.23
    assert max(ages) <= 90  # top-coded
    assert 0.46 < sum(p.sex == "F" for p in patients) / n < 0.56
    assert 0.11 < sum(p.preferred_language == "es" for p in patients) / n < 0.19
    assert 0.7 < sum(p.email_index is not None for p in patients) / n < 0.95


@pytest.mark.parametrize("condition,low,high", [("diabetes", 0.07, 0.15), ("hypertension", 0.22, 0.38),
                                                ("copd", 0.03, 0.09), ("heart_failure", 0.005, 0.04),
                                                ("asthma", 0.05, 0.11), ("depression", 0.05, 0.11)])
def test_condition_prevalence(population, condition, low, high):
    _, patients, *_ = population
    share = sum(condition in p.conditions for p in patients) / len(patients)
    assert low < share < high


def test_hypertension_rises_with_age(population):
    _, patients, *_ = population
    young = [p for p in patients if 18 <= AS_OF.year - p.birth_year < 45]
    old = [p for p in patients if AS_OF.year - p.birth_year >= 65]
    rate = lambda group: sum("hypertension" in p.conditions for p in group) / len(group)  # noqa: E731
    assert rate(old) > 3 * rate(young)


def test_encounter_patterns(population):
    _, _, encounters, *_ = population
    n = len(encounters)
    shares = Counter(e.type for e in encounters)
    assert 0.6 < shares["outpatient"] / n < 0.8 and 0.02 < shares["inpatient"] / n < 0.1
    assert 0.08 < shares["emergency"] / n < 0.2
    out = [e.admit_at for e in encounters if e.type == "outpatient"]
    weekday = sum(d.weekday() < 5 for d in out) / 5
    weekend = sum(d.weekday() >= 5 for d in out) / 2
    assert weekday > 4 * weekend
    ed = [e.admit_at for e in encounters if e.type == "emergency"]
    ed_weekday = sum(d.weekday() < 5 for d in ed) / 5
    ed_weekend = sum(d.weekday() >= 5 for d in ed) / 2
    assert 0.8 < ed_weekend / ed_weekday < 1.3
    winter = sum(d.month in (12, 1, 2) for d in ed)
    summer = sum(d.month in (6, 7, 8) for d in ed)
    assert winter > 1.2 * summer
    start = dt.datetime(AS_OF.year - 1, AS_OF.month, AS_OF.day, tzinfo=dt.UTC)
    assert all(start <= e.admit_at < start + dt.timedelta(days=366) for e in encounters)
    assert all(e.discharge_at >= e.admit_at for e in encounters)
    inpatient = [float(e.charges) for e in encounters if e.type == "inpatient"]
    outpatient = [float(e.charges) for e in encounters if e.type == "outpatient"]
    assert sum(inpatient) / len(inpatient) > 10 * sum(outpatient) / len(outpatient)


def test_org_structure(population):
    report, _, _, staff, units = population
    assert Counter(units)["facility"] == 3 and len(units) - 3 >= 15
    roles = Counter(s.job_role for s in staff)
    assert 55 <= len(staff) <= 65 and roles["agent"] == 25 and roles["supervisor"] >= 3
    assert roles["physician"] >= 10 and roles["nurse"] >= 8 and roles["manager"] >= 2
    agents = [s for s in staff if s.job_role == "agent"]
    assert sum("es" in s.languages for s in agents) >= 5 and all(s.reasons for s in agents)
    # agents took up their status at different times, so routing's "longest idle" can tell them apart
    assert len({s.status_since for s in agents}) == len(agents)
    assert report.rows_per_second > 0 and [s.name for s in report.steps][:3] == ["org", "patients", "encounters"]


def test_the_same_seed_gives_the_same_year_on_this_database_as_on_sqlite(committed_db_url, _sqlite_template,
                                                                         tmp_path, key_dir):
    """Every step, the feature ones too, reads what it draws from in id order: PostgreSQL returns rows in the
    order they lie on disk, which an UPDATE changes, and the desk's cases and the survey answers came out
    different on PostgreSQL before."""
    from sqlalchemy import text
    from tests.conftest import _fresh_sqlite

    from pxm.platform.db import make_engine, make_session_factory

    def year(url: str) -> tuple[dict, dict]:
        engine = make_engine(url)
        try:
            report = generate(make_session_factory(engine), patients=800, seed=11, as_of=AS_OF)
            with engine.connect() as c:
                prints = {q: c.execute(text(q)).scalar() for q in (
                    "select sum(patient_id * (id % 97)) from cases",
                    "select count(*) from cases where resolved_at is null",
                    "select sum(patient_id) from survey_invitations",
                    "select sum(patient_id * (id % 89)) from survey_responses",
                    "select sum(case_id) from recovery_links",
                    "select sum(patient_id) from complaints",
                    "select sum(rating * id) from public_reviews")}
            return report.counts, prints
        finally:
            engine.dispose()

    here = year(committed_db_url)
    assert here == year(_fresh_sqlite(_sqlite_template, tmp_path))
    assert here[0]["cases"] > 500 and here[0]["survey_responses"] > 100
