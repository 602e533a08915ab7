"""Two transactions routing at the same time never push an agent past capacity (real commits, two threads)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from pxm.platform.auth.actor import Actor
from pxm.platform.db import make_engine, make_session_factory
from pxm.platform.db.base import utcnow
from pxm.platform.people import service as people
from pxm.platform.people.models import Staff
from pxm.platform.people.schemas import PatientCreate
from pxm.practices.resolution import service as resolution


def test_a_second_transaction_sees_the_first_ones_assignment(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    actor = Actor.system("tests")
    try:
        with factory() as s:
            pids = [people.create_patient(s, actor, PatientCreate(mrn=f"RC-{i}", given_name="Con",
                                                                  family_name=f"Current{i}")).id for i in range(2)]
            s.add(Staff(username="solo-agent", display_name="Solo", job_role="agent", team="front", languages=["en"],
                        reasons=["billing"], channels=[], capacity=1, status="available", active=True,
                        status_since=utcnow() - dt.timedelta(minutes=5)))
            s.commit()
        first = factory()
        case1 = resolution.open_case(first, actor, patient_id=pids[0], reason="billing")  # not committed yet
        outcome: dict[str, object] = {}

        def second() -> None:
            with factory() as s2:
                case2 = resolution.open_case(s2, actor, patient_id=pids[1], reason="billing")
                s2.commit()
                outcome["assigned"] = case2.assigned_staff_id

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)  # give the second transaction time to reach its routing decision
        first.commit()
        other.join(60)
        first.close()
        assert not other.is_alive()
    finally:
        engine.dispose()
    assert case1.assigned_staff_id is not None
    assert outcome["assigned"] is None  # the only agent was at capacity once the first case committed


def test_a_decision_that_finds_its_agent_filled_meanwhile_takes_the_next(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    actor = Actor.system("tests")
    try:
        with factory() as s:
            pids = [people.create_patient(s, actor, PatientCreate(mrn=f"RN-{i}", given_name="Con",
                                                                  family_name=f"Next{i}")).id for i in range(2)]
            for name, idle in (("long-idle", 30), ("short-idle", 1)):  # long-idle is everyone's first choice
                s.add(Staff(username=name, display_name=name, job_role="agent", team="front", languages=["en"],
                            reasons=["billing"], channels=[], capacity=1, status="available", active=True,
                            status_since=utcnow() - dt.timedelta(minutes=idle)))
            s.commit()
            ids = {st.username: st.id for st in s.query(Staff).filter(Staff.username.in_(["long-idle", "short-idle"]))}
        first = factory()
        case1 = resolution.open_case(first, actor, patient_id=pids[0], reason="billing")  # not committed yet
        outcome: dict[str, object] = {}

        def second() -> None:
            with factory() as s2:
                case2 = resolution.open_case(s2, actor, patient_id=pids[1], reason="billing")
                s2.commit()
                outcome["assigned"] = case2.assigned_staff_id

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)  # the second transaction reaches its decision while the first holds its agent
        first.commit()
        other.join(60)
        first.close()
        assert not other.is_alive()
    finally:
        engine.dispose()
    assert case1.assigned_staff_id == ids["long-idle"]
    assert outcome["assigned"] == ids["short-idle"]  # not queued, not over capacity: the next agent
