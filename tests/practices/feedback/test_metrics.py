"""Metric formulas on hand-computed cases: NPS and its interval, Wilson, CSAT, top-box, grouping."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from pxm.platform.auth.actor import Actor
from pxm.platform.people.models import OrgUnit, Patient
from pxm.practices.feedback import metrics, stats
from pxm.practices.feedback.service import record_response

T0 = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)


def test_nps_counts_and_interval_by_hand() -> None:
    r = stats.nps([10, 10, 10, 9, 9, 8, 7, 6, 3, 0])
    assert (r.n, r.promoters, r.passives, r.detractors) == (10, 5, 2, 3)
    assert r.nps == pytest.approx(20.0)
    # Var(pP - pD) = (0.5 + 0.3 - 0.2^2) / 10 = 0.076; half-width = 1.96 x sqrt(0.076) x 100 = 54.03
    assert r.ci_low == pytest.approx(-34.03, abs=0.01) and r.ci_high == pytest.approx(74.03, abs=0.01)
    assert r.small_sample
    big = stats.nps([10] * 40 + [0] * 10)
    assert big.nps == pytest.approx(60.0) and not big.small_sample
    assert stats.nps([]).nps is None


def test_wilson_matches_reference_values() -> None:
    lo, hi = stats.wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo0, hi0 = stats.wilson(0, 20)
    assert lo0 == 0.0 and hi0 == pytest.approx(0.1611, abs=1e-4)


def test_csat_and_mean() -> None:
    c = stats.csat([5, 4, 4, 3, 1])
    assert (c.k, c.n, c.pct) == (3, 5, 60.0)
    m = stats.mean([1.0, 2.0, 3.0])
    assert m.mean == 2.0
    assert m.ci_high - 2.0 == pytest.approx(1.959964 * 1.0 / math.sqrt(3), abs=1e-5)  # type: ignore[operator]
    assert stats.linear_score(3, 1, 4) == pytest.approx(66.667, abs=1e-3)


def test_metrics_from_stored_responses_grouped(db: Session, actor: Actor, department: OrgUnit,
                                               make_patient: Callable[..., Patient]) -> None:
    other = OrgUnit(code="ORTHO-M", name="Orthopedics", kind="department")
    db.add(other)
    db.flush()
    for i, score in enumerate([10, 9, 3]):
        record_response(db, actor, instrument="nps", answers={"NPS": score}, department_id=department.id,
                        submitted_at=T0 + dt.timedelta(days=i), channel="email")
    record_response(db, actor, instrument="nps", answers={"NPS": 8}, department_id=other.id,
                    submitted_at=T0 + dt.timedelta(days=40), channel="sms")
    f = metrics.Filters(start=T0, end=T0 + dt.timedelta(days=60))
    out = metrics.nps_metric(db, f, by="department")
    assert out["overall"]["n"] == 4 and out["overall"]["nps"] == pytest.approx(25.0)
    groups = {g["group"]: g for g in out["groups"]}
    assert groups["Cardiology"]["nps"] == pytest.approx(100 * (2 - 1) / 3)
    assert groups["Orthopedics"]["passives"] == 1 and groups["Orthopedics"]["small_sample"]
    months = {g["group"]: g["n"] for g in metrics.nps_metric(db, f, by="month")["groups"]}
    assert months == {"2026-01": 3, "2026-02": 1}
    assert metrics.nps_metric(db, metrics.Filters(start=T0 + dt.timedelta(days=30)))["overall"]["n"] == 1


def test_csat_and_survey_fcr_from_pulse(db: Session, actor: Actor) -> None:
    for csat, resolved in [(5, "yes"), (4, "yes"), (2, "no"), (1, "no")]:
        record_response(db, actor, instrument="pulse", answers={"CSAT": csat, "RESOLVED": resolved, "CES": 6},
                        submitted_at=T0)
    out = metrics.csat_metric(db, metrics.Filters(start=T0))
    assert out["overall"]["pct"] == 50.0 and out["overall"]["mean"] == 3.0
    assert out["overall"]["ces"]["mean"] == 6.0
    fcr = metrics.survey_fcr(db, metrics.Filters(start=T0))
    assert (fcr["overall"]["k"], fcr["overall"]["n"]) == (2, 4)


def test_topbox_bottombox_linear_by_measure(db: Session, actor: Actor) -> None:
    base = {"RATE": 10, "NEW_MEDICINE": "no"}
    record_response(db, actor, instrument="inpatient", submitted_at=T0,
                    answers={**base, "NURSE_RESPECT": 4, "NURSE_LISTEN": 4, "NURSE_EXPLAIN": 2,
                             "DISCHARGE_HELP": "yes", "DISCHARGE_SYMPTOMS": "no"})
    record_response(db, actor, instrument="inpatient", submitted_at=T0,
                    answers={**base, "RATE": 6, "NURSE_RESPECT": 3, "NURSE_LISTEN": 1, "NURSE_EXPLAIN": 4})
    out = metrics.topbox_metric(db, metrics.Filters(start=T0))
    m = {x["measure"]: x for x in out["overall"]["measures"]}
    nurse = m["nurse_comm"]
    # six answers: always x3 (top), never + sometimes (bottom: 1, 2), usually x1
    assert (nurse["top_box"]["k"], nurse["top_box"]["n"], nurse["bottom_box"]["k"]) == (3, 6, 2)
    assert nurse["linear_mean"]["mean"] == pytest.approx((100 + 100 + 100 / 3 + 200 / 3 + 0 + 100) / 6)
    assert m["rating"]["top_box"]["pct"] == 50.0 and m["rating"]["bottom_box"]["pct"] == 50.0
    assert m["discharge"]["top_box"]["k"] == 1 and m["discharge"]["bottom_box"]["k"] == 1
    assert "medicines" not in m  # the screener alone is not a score
    assert out["overall"]["small_sample"]
