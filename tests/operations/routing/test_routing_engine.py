"""The pure routing decision: who qualifies, who wins, how the search widens, what the explanation says."""

from __future__ import annotations

import datetime as dt

from pxm.operations.routing.engine import AgentPool, AgentState, Requirements, WideningPolicy, decide

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
POLICY = WideningPolicy(step1_after_seconds=120, step2_after_seconds=300)


def agent(i: int, *, reasons=("billing",), languages=("en",), status="available", load=0, capacity=5,
          idle_min=10, team=None, channels=()) -> AgentState:
    return AgentState(staff_id=i, name=f"A{i}", status=status, capacity=capacity, load=load,
                      idle_since=NOW - dt.timedelta(minutes=idle_min), reasons=frozenset(reasons),
                      languages=frozenset(languages), channels=frozenset(channels), team=team)


def test_needs_reason_and_language_and_prefers_least_loaded() -> None:
    agents = [agent(1, languages=("en",), load=0), agent(2, languages=("es", "en"), load=3),
              agent(3, languages=("es",), load=1), agent(4, reasons=("referral",), languages=("es",))]
    d = decide(Requirements(reason="billing", language="es"), agents, POLICY, now=NOW)
    assert d.staff_id == 3
    assert d.step == 0 and d.candidates == 2
    assert d.explanation == "matched billing + Spanish; 1 of 2 candidates; least loaded (1 open of 5)"


def test_equal_load_goes_to_longest_idle() -> None:
    agents = [agent(1, load=2, idle_min=5), agent(2, load=2, idle_min=30), agent(3, load=2, idle_min=12)]
    d = decide(Requirements(reason="billing", language="en"), agents, POLICY, now=NOW)
    assert d.staff_id == 2
    assert d.basis == "longest idle"
    assert "1 of 3 candidates; longest idle (idle 30 min)" in d.explanation


def test_capacity_and_status_exclude_agents() -> None:
    agents = [agent(1, load=5, capacity=5), agent(2, status="away"), agent(3, status="offline"),
              agent(4, status="busy"), agent(5, load=4, capacity=5, idle_min=1)]
    d = decide(Requirements(reason="billing", language="en"), agents, POLICY, now=NOW)
    assert d.staff_id == 5 and d.candidates == 1 and d.basis == "only candidate"


def test_nobody_qualifies_before_the_wait_then_widening_steps() -> None:
    agents = [agent(1, reasons=("referral",), languages=("es",), team="front", load=1),
              agent(2, reasons=("billing",), languages=("en",), team="front", load=0),
              agent(3, reasons=("records_request",), languages=("es",), team="records", load=0)]
    fresh = decide(Requirements(reason="billing", language="es", waited_seconds=30), agents, POLICY, now=NOW)
    assert fresh.staff_id is None and fresh.step == 0
    assert "no available agent for billing + Spanish" in fresh.explanation
    assert "widens to step 1 after 120 s" in fresh.explanation

    # step 1: Spanish kept; the billing team (agent 2's team "front") is preferred over any reason
    step1 = decide(Requirements(reason="billing", language="es", waited_seconds=150), agents, POLICY, now=NOW)
    assert step1.staff_id == 1 and step1.step == 1 and step1.candidates == 1
    assert step1.explanation.startswith("matched Spanish; reason widened to the billing team")
    assert "widened to step 1 after waiting 2 min 30 s" in step1.explanation


def test_step1_falls_back_to_any_reason_and_step2_to_anyone() -> None:
    agents = [agent(1, reasons=("referral",), languages=("es",), load=2),
              agent(2, reasons=("billing",), languages=("en",), load=0)]
    step1 = decide(Requirements(reason="billing", language="fr", waited_seconds=150), agents, POLICY, now=NOW)
    assert step1.staff_id is None and step1.step == 1
    step2 = decide(Requirements(reason="billing", language="fr", waited_seconds=400), agents, POLICY, now=NOW)
    assert step2.staff_id == 2 and step2.step == 2 and step2.candidates == 2
    assert step2.explanation.startswith("widened to any available agent; 1 of 2 candidates; least loaded")
    step1_es = decide(Requirements(reason="billing", language="es", waited_seconds=150), agents, POLICY, now=NOW)
    assert step1_es.staff_id == 1
    assert step1_es.explanation.startswith("matched Spanish; reason widened to any reason")


def test_exact_match_is_preferred_even_after_a_long_wait() -> None:
    agents = [agent(1, reasons=("billing",), languages=("es",), load=4), agent(2, reasons=(), languages=("es",))]
    d = decide(Requirements(reason="billing", language="es", waited_seconds=1000), agents, POLICY, now=NOW)
    assert d.staff_id == 1 and d.step == 0


def test_channel_skill_is_respected_when_listed() -> None:
    agents = [agent(1, channels=("chat",), idle_min=50), agent(2, channels=("phone",), idle_min=5), agent(3)]
    d = decide(Requirements(reason="billing", language="en", channel="phone"), agents, POLICY, now=NOW)
    assert d.staff_id == 3 and d.candidates == 2  # agent 3 lists no channels: takes any


def test_pool_tracks_load_across_a_sweep() -> None:
    pool = AgentPool([agent(1, capacity=2, idle_min=20), agent(2, capacity=1, idle_min=10)])
    chosen = [pool.decide(Requirements(reason="billing", language="en"), POLICY, now=NOW).staff_id
              for _ in range(4)]
    # 1 (longest idle), then 2 (less loaded), then 1, then nobody: capacity 2 + 1 used up
    assert chosen == [1, 2, 1, None]


def test_waits_read_as_a_supervisor_reads_them() -> None:
    from pxm.operations.routing.engine import waited_text

    assert [waited_text(x) for x in (0, 45.9, 60, 150, 3599, 3600, 15247, 7200)] == [
        "0 s", "45 s", "1 min", "2 min 30 s", "59 min 59 s", "1 h", "4 h 14 min", "2 h"]
