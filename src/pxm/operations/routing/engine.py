"""The routing decision: which agent takes a case, and why (pure: no database, no clock).

Input: the case's requirements and a snapshot of the agents (skills, status, open-case load, capacity,
idle since). Output: the chosen agent, the number of candidates, the widening step and a sentence that
explains the choice ("matched billing + Spanish; 1 of 3 candidates; least loaded (1 open of 5)").

Widening steps (the longer a case waits unassigned, the wider the search; the step is recorded):

* step 0 - exact: the agent has the case's reason skill and the patient's language (and the channel, when
  the agent lists channels);
* step 1 - language kept, reason widened: first agents in a team that handles the reason (a team-mate
  has the reason skill), then agents with any reason;
* step 2 - any available agent with spare capacity.

Only agents whose status is ``available`` and whose open cases are below their capacity are eligible.
Among eligible candidates the least loaded wins, then the longest idle, then the lowest id (so the
choice is deterministic). :class:`AgentPool` indexes agents by reason and by language, so a decision
costs a set intersection plus a scan of the few candidates, and assignments made during one queue sweep
update the loads in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

AVAILABLE = "available"


def waited_text(seconds: float) -> str:
    """A wait as a supervisor reads it: "45 s", "2 min 30 s", "4 h 14 min"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")
MAX_STEP = 2

STEP_NAMES = {0: "exact reason + language", 1: "language kept, reason widened", 2: "any available agent"}


@dataclass(frozen=True, slots=True)
class AgentState:
    """One agent as the router sees them."""

    staff_id: int
    name: str
    status: str
    capacity: int
    load: int
    idle_since: dt.datetime
    reasons: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a case needs."""

    reason: str
    language: str
    channel: str | None = None
    priority: int = 2  # 0 = most urgent
    waited_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class WideningPolicy:
    """How long a case waits before the search widens (seconds since it was opened)."""

    step1_after_seconds: float = 120.0
    step2_after_seconds: float = 300.0

    def max_step(self, waited_seconds: float) -> int:
        if waited_seconds >= self.step2_after_seconds:
            return 2
        if waited_seconds >= self.step1_after_seconds:
            return 1
        return 0


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome. ``staff_id`` is None when nobody qualified up to ``max_step``."""

    staff_id: int | None
    agent_name: str | None
    step: int
    max_step: int
    candidates: int
    explanation: str
    basis: str  # "least loaded", "longest idle", "only candidate", "lowest id", "none"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def assigned(self) -> bool:
        return self.staff_id is not None


def _lang_label(code: str) -> str:
    names = {"en": "English", "es": "Spanish", "zh": "Chinese", "vi": "Vietnamese", "ar": "Arabic",
             "fr": "French", "ru": "Russian", "ko": "Korean", "pt": "Portuguese", "ht": "Haitian Creole",
             "tl": "Tagalog", "de": "German", "pl": "Polish", "it": "Italian", "ja": "Japanese"}
    return names.get(code.lower(), code)


class AgentPool:
    """Agents indexed by reason and by language; loads change as the pool assigns cases."""

    def __init__(self, agents: Iterable[AgentState]) -> None:
        self._agents: dict[int, AgentState] = {}
        self._load: dict[int, int] = {}
        self._by_reason: dict[str, set[int]] = defaultdict(set)
        self._by_language: dict[str, set[int]] = defaultdict(set)
        self._by_team: dict[str, set[int]] = defaultdict(set)
        self._team_reasons: dict[str, set[str]] = defaultdict(set)
        self._available: set[int] = set()
        for a in agents:
            self._agents[a.staff_id] = a
            self._load[a.staff_id] = a.load
            for r in a.reasons:
                self._by_reason[r].add(a.staff_id)
            for lang in a.languages:
                self._by_language[lang].add(a.staff_id)
            if a.team:
                self._by_team[a.team].add(a.staff_id)
                self._team_reasons[a.team].update(a.reasons)
            if a.status == AVAILABLE and a.load < a.capacity:
                self._available.add(a.staff_id)

    def __len__(self) -> int:
        return len(self._agents)

    def load(self, staff_id: int) -> int:
        return self._load[staff_id]

    def agent(self, staff_id: int) -> AgentState:
        return self._agents[staff_id]

    def add_load(self, staff_id: int, delta: int = 1) -> None:
        """Record an assignment (or, with -1, a release) made outside ``decide``."""
        if staff_id not in self._agents:
            return
        agent = self._agents[staff_id]
        self._load[staff_id] = max(0, self._load[staff_id] + delta)
        if agent.status == AVAILABLE and self._load[staff_id] < agent.capacity:
            self._available.add(staff_id)
        else:
            self._available.discard(staff_id)

    def _channel_ok(self, staff_id: int, channel: str | None) -> bool:
        if channel is None:
            return True
        channels = self._agents[staff_id].channels
        return not channels or channel in channels

    def candidates(self, req: Requirements, step: int) -> tuple[set[int], str]:
        """Eligible agent ids at ``step`` and the phrase that says what was matched."""
        lang = _lang_label(req.language)
        if step == 0:
            ids = self._by_reason.get(req.reason, set()) & self._by_language.get(req.language, set())
            ids = {i for i in ids & self._available if self._channel_ok(i, req.channel)}
            return ids, f"matched {req.reason} + {lang}"
        if step == 1:
            speakers = {i for i in self._by_language.get(req.language, set()) & self._available
                        if self._channel_ok(i, req.channel)}
            teams = {t for t, reasons in self._team_reasons.items() if req.reason in reasons}
            in_team = {i for i in speakers if self._agents[i].team in teams}
            if in_team:
                return in_team, f"matched {lang}; reason widened to the {req.reason} team"
            return speakers, f"matched {lang}; reason widened to any reason"
        return set(self._available), "widened to any available agent"

    def _rank(self, ids: set[int]) -> tuple[int, str]:
        def key(i: int) -> tuple[int, dt.datetime, int]:
            return (self._load[i], self._agents[i].idle_since, i)

        ordered = sorted(ids, key=key)
        best = ordered[0]
        if len(ordered) == 1:
            return best, "only candidate"
        second = ordered[1]
        if self._load[best] < self._load[second]:
            return best, "least loaded"
        if self._agents[best].idle_since < self._agents[second].idle_since:
            return best, "longest idle"
        return best, "lowest id"

    def decide(self, req: Requirements, policy: WideningPolicy, *, assign: bool = True,
               now: dt.datetime | None = None) -> Decision:
        """Choose an agent for ``req``, widening up to the step its wait allows.

        With ``assign`` the chosen agent's load goes up by one (for the next decision of a sweep).
        """
        max_step = policy.max_step(req.waited_seconds)
        tried: list[str] = []
        for step in range(max_step + 1):
            ids, matched = self.candidates(req, step)
            if not ids:
                tried.append(STEP_NAMES[step])
                continue
            best, basis = self._rank(ids)
            agent = self._agents[best]
            load = self._load[best]
            reason_text = f"{matched}; 1 of {len(ids)} candidate{'s' if len(ids) != 1 else ''}; {basis}"
            if basis == "least loaded" or basis == "only candidate":
                reason_text += f" ({load} open of {agent.capacity})"
            elif basis == "longest idle" and now is not None:
                idle_min = max(0, int((now - agent.idle_since).total_seconds() // 60))
                reason_text += f" (idle {idle_min} min)"
            if step > 0:
                reason_text += f"; widened to step {step} after waiting {waited_text(req.waited_seconds)}"
            if assign:
                self.add_load(best, 1)
            return Decision(
                staff_id=best, agent_name=agent.name, step=step, max_step=max_step, candidates=len(ids),
                explanation=reason_text, basis=basis,
                details={"matched": matched, "load_before": load, "capacity": agent.capacity,
                         "no_candidates_at": tried},
            )
        lang = _lang_label(req.language)
        waiting = (f"no available agent for {req.reason} + {lang}"
                   f" (searched: {', '.join(tried)}); waiting in queue")
        if max_step < MAX_STEP:
            nxt = policy.step1_after_seconds if max_step == 0 else policy.step2_after_seconds
            waiting += f"; widens to step {max_step + 1} after {int(nxt)} s"
        return Decision(staff_id=None, agent_name=None, step=max_step, max_step=max_step, candidates=0,
                        explanation=waiting, basis="none", details={"no_candidates_at": tried})


def decide(req: Requirements, agents: Iterable[AgentState], policy: WideningPolicy | None = None,
           *, now: dt.datetime | None = None) -> Decision:
    """One decision without keeping the pool (convenience for callers routing a single case)."""
    return AgentPool(agents).decide(req, policy or WideningPolicy(), assign=False, now=now)


PRIORITY_RANK = {"urgent": 0, "critical": 0, "high": 1, "normal": 2, "medium": 2, "low": 3}


def priority_rank(priority: object) -> int:
    """0 is most urgent. Accepts the names above or an integer (1 = most urgent)."""
    if isinstance(priority, int):
        return max(0, priority - 1)
    return PRIORITY_RANK.get(str(priority).lower(), 2)
