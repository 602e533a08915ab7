"""Erlang C queueing formulas for contact-centre staffing (pure: standard library only).

Model (Erlang C, M/M/N queue with infinite patience): contacts arrive at random at a rate of
``contacts / interval`` and each takes ``aht`` seconds on average. The offered traffic in Erlangs is

    A = contacts * aht / interval_seconds

With N agents (N > A) the probability that a contact has to wait is Erlang C, computed here from the
Erlang B recursion, which is numerically stable for any N (no factorials, no large powers):

    B(0) = 1,   B(n) = A * B(n-1) / (n + A * B(n-1))
    C(N) = N * B(N) / (N - A * (1 - B(N)))

    service level  SL  = 1 - C * exp(-(N - A) * T / aht)     (answered within T seconds)
    average speed of answer  ASA = C * aht / (N - A)
    occupancy  = A / N

Reference case (used in the tests): 100 contacts per 30 minutes, AHT 180 s, 14 agents, target 20 s gives
P(wait) 0.1741, service level 0.8884, ASA 7.84 s and occupancy 0.714.

Shrinkage (breaks, training, absence) is applied after the queueing model:
``rostered = ceil(required / (1 - shrinkage))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_AGENTS = 100_000


class StaffingInputError(ValueError):
    """An input is out of range; the message names the field and what to fix."""


@dataclass(frozen=True)
class ErlangCResult:
    contacts: float
    interval_minutes: float
    aht_seconds: float
    target_seconds: float
    traffic_erlangs: float
    agents: int
    probability_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float
    target_service_level: float | None = None
    required_agents: int | None = None
    shrinkage: float | None = None
    rostered_agents: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "contacts": self.contacts,
            "interval_minutes": self.interval_minutes,
            "aht_seconds": self.aht_seconds,
            "target_seconds": self.target_seconds,
            "traffic_erlangs": round(self.traffic_erlangs, 4),
            "agents": self.agents,
            "probability_wait": round(self.probability_wait, 4),
            "service_level": round(self.service_level, 4),
            "asa_seconds": round(self.asa_seconds, 2) if math.isfinite(self.asa_seconds) else None,
            "occupancy": round(self.occupancy, 3),
        }
        if self.target_service_level is not None:
            out["target_service_level"] = self.target_service_level
        if self.required_agents is not None:
            out["required_agents"] = self.required_agents
        if self.shrinkage is not None:
            out["shrinkage"] = self.shrinkage
            out["rostered_agents"] = self.rostered_agents
        return out


def traffic_erlangs(contacts: float, interval_minutes: float, aht_seconds: float) -> float:
    """Offered load A in Erlangs."""
    _check_inputs(contacts, interval_minutes, aht_seconds)
    return contacts * aht_seconds / (interval_minutes * 60.0)


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of an Erlang B system (the recursion; stable for large ``agents``)."""
    if agents < 0:
        raise StaffingInputError("agents must be 0 or more")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact waits (Erlang C). 1.0 when the queue is unstable (agents <= traffic)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1.0 - b))


def service_level(agents: int, traffic: float, aht_seconds: float, target_seconds: float) -> float:
    """Share of contacts answered within ``target_seconds``."""
    if agents <= traffic:
        return 0.0
    c = erlang_c(agents, traffic)
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic) * target_seconds / aht_seconds))


def asa_seconds(agents: int, traffic: float, aht_seconds: float) -> float:
    """Average speed of answer in seconds (infinite when the queue is unstable)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_seconds / (agents - traffic)


def _check_inputs(contacts: float, interval_minutes: float, aht_seconds: float) -> None:
    if not math.isfinite(contacts) or contacts < 0:
        raise StaffingInputError("contacts must be a number of contacts per interval, 0 or more")
    if not math.isfinite(interval_minutes) or interval_minutes <= 0:
        raise StaffingInputError("interval_minutes must be more than 0 (for example 30 or 60)")
    if not math.isfinite(aht_seconds) or aht_seconds <= 0:
        raise StaffingInputError("aht_seconds (average handle time) must be more than 0 seconds")


def _check_targets(target_seconds: float, target_service_level: float, shrinkage: float | None) -> None:
    if not math.isfinite(target_seconds) or target_seconds < 0:
        raise StaffingInputError("target_seconds (answer-time target) must be 0 or more seconds")
    if not (0.0 < target_service_level < 1.0):
        raise StaffingInputError("service_level (target) must be between 0 and 1, for example 0.8")
    if shrinkage is not None and not (0.0 <= shrinkage < 1.0):
        raise StaffingInputError("shrinkage must be at least 0 and below 1, for example 0.3")


def required_agents(traffic: float, aht_seconds: float, target_seconds: float,
                    target_service_level: float) -> int:
    """The fewest agents whose service level reaches the target (0 when there is no traffic)."""
    if traffic <= 0:
        return 0
    n = max(1, math.floor(traffic) + 1)
    while service_level(n, traffic, aht_seconds, target_seconds) < target_service_level:
        n += 1
        if n > MAX_AGENTS:
            raise StaffingInputError(f"more than {MAX_AGENTS} agents needed; check contacts and aht_seconds")
    return n


def rostered(required: int, shrinkage: float) -> int:
    """Agents to roster so that ``required`` are on the phones after shrinkage."""
    if required == 0:
        return 0
    # round away float noise first (10 / (1 - 0.5) must be 20, not 21)
    return math.ceil(round(required / (1.0 - shrinkage), 9))


def calculate(
    contacts: float,
    interval_minutes: float,
    aht_seconds: float,
    target_seconds: float,
    target_service_level: float = 0.8,
    *,
    agents: int | None = None,
    shrinkage: float | None = None,
) -> ErlangCResult:
    """Erlang C figures for a given number of agents, or for the fewest that meet the target.

    With ``agents`` omitted, ``required_agents`` is found and the figures are those of that staffing.
    """
    traffic = traffic_erlangs(contacts, interval_minutes, aht_seconds)
    _check_targets(target_seconds, target_service_level, shrinkage)
    required: int | None = None
    if agents is None:
        required = required_agents(traffic, aht_seconds, target_seconds, target_service_level)
        n = required
    else:
        if agents < 1:
            raise StaffingInputError("agents must be 1 or more")
        n = agents
    if n == 0:
        pw, sl, asa, occ = 0.0, 1.0, 0.0, 0.0
    else:
        pw = erlang_c(n, traffic)
        sl = service_level(n, traffic, aht_seconds, target_seconds)
        asa = asa_seconds(n, traffic, aht_seconds)
        occ = min(1.0, traffic / n)
    base = required if required is not None else n
    return ErlangCResult(
        contacts=contacts, interval_minutes=interval_minutes, aht_seconds=aht_seconds,
        target_seconds=target_seconds, traffic_erlangs=traffic, agents=n, probability_wait=pw,
        service_level=sl, asa_seconds=asa, occupancy=occ, target_service_level=target_service_level,
        required_agents=required, shrinkage=shrinkage,
        rostered_agents=rostered(base, shrinkage) if shrinkage is not None else None,
    )
