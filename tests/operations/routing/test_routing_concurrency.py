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


def _agent(name: str, idle_minutes: int) -> Staff:
    return Staff(username=name, display_name=name, job_role="agent", team="front", languages=["en"],
                 reasons=["billing"], channels=[], capacity=1, status="available", active=True,
                 status_since=utcnow() - dt.timedelta(minutes=idle_minutes))


def _race(url: str, mrn: str, agents: list[Staff]) -> tuple[int | None, int | None, dict[str, int]]:
    """Two billing cases opened at once: the first routed but not committed while the second routes.
    Returns (first case's agent, second case's agent, staff ids by username)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    actor = Actor.system("tests")
    try:
        with factory() as s:
            pids = [people.create_patient(s, actor, PatientCreate(mrn=f"{mrn}-{i}", given_name="Con",
                                                                  family_name=f"Current{i}")).id for i in range(2)]
            s.add_all(agents)
            s.commit()
            ids = {a.username: a.id for a in agents}
        first = factory()
        case1 = resolution.open_case(first, actor, patient_id=pids[0], reason="billing")  # not committed yet
        outcome: dict[str, int | None] = {}

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
    return case1.assigned_staff_id, outcome["assigned"], ids


def test_a_second_transaction_sees_the_first_ones_assignment(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    first, second, _ids = _race(committed_db_url, "RC", [_agent("solo-agent", 5)])
    assert first is not None
    assert second is None  # the only agent was at capacity once the first case committed


def test_a_decision_that_finds_its_agent_filled_meanwhile_takes_the_next(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    # long-idle is everyone's first choice
    first, second, ids = _race(committed_db_url, "RN", [_agent("long-idle", 30), _agent("short-idle", 1)])
    assert first == ids["long-idle"]
    assert second == ids["short-idle"]  # not queued, not over capacity: the next agent


def test_two_agents_taking_one_case_at_once_one_gets_it(committed_db_url, key_dir) -> None:  # type: ignore[no-untyped-def]
    """The first agent's take is not committed yet when the second's starts: the second waits for the routing lock
    and then reads the case as the first left it, so it is told who has it instead of taking it too."""
    from pxm.operations.routing import service as routing
    from pxm.platform.http.errors import APIError

    engine = make_engine(committed_db_url)
    factory = make_session_factory(engine)
    system = Actor.system("tests")
    try:
        with factory() as s:
            pid = people.create_patient(s, system, PatientCreate(mrn="TK-1", given_name="Take", family_name="Twice")).id
            ann, bo = _agent("take-ann", 5), _agent("take-bo", 5)
            s.add_all([ann, bo])
            s.flush()
            case_id = resolution.open_case(s, system, patient_id=pid, reason="billing", route=False).id
            s.commit()
            ids = (ann.id, bo.id)
        first = factory()
        routing.take(first, Actor.for_user(1, "take-ann", "agent"), case_id, first.get(Staff, ids[0]))
        outcome: dict[str, str] = {}

        def second() -> None:
            with factory() as s2:
                try:
                    routing.take(s2, Actor.for_user(2, "take-bo", "agent"), case_id, s2.get(Staff, ids[1]))
                    s2.commit()
                    outcome["second"] = "took it"
                except APIError as exc:
                    outcome["second"] = exc.message

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)  # the second take is waiting for the lock (PostgreSQL) or the writer (SQLite) meanwhile
        first.commit()
        other.join(60)
        first.close()
        assert not other.is_alive()
        with factory() as s:
            from pxm.practices.resolution.models import Case

            assert s.get(Case, case_id).assigned_staff_id == ids[0]
    finally:
        engine.dispose()
    assert outcome["second"] == f"case {case_id} is already assigned to take-ann; a supervisor can reassign it"
