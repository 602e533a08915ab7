"""The routing snapshot: narrowed to the agents with the case's reason and language for a case that has not
waited, it must lead to the same decision as the whole snapshot."""

from __future__ import annotations

import random

from pxm.operations.routing import service as routing
from pxm.operations.routing.engine import AgentPool, Requirements

REASONS = ["billing", "referral", "test_results", "complaint", "prescription_refill"]
LANGUAGES = ["en", "es", "vi"]


def test_the_narrowed_snapshot_decides_like_the_whole_one(db, make_agent, make_patient, open_case) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    for i in range(30):
        make_agent(f"Agent {i}", reasons=tuple(rng.sample(REASONS, 2)), languages=tuple(rng.sample(LANGUAGES, 2)),
                   channels=("phone",) if i % 5 == 0 else (), status=rng.choice(["available"] * 3 + ["away"]),
                   capacity=rng.choice([1, 2, 3]), team=f"team-{i % 3}", idle_minutes=rng.uniform(1, 60))
    patient = make_patient("en")
    for _ in range(25):  # some load, routed as usual
        open_case(patient, rng.choice(REASONS), channel=rng.choice(["phone", "chat"]))
    policy = routing.policy_of(routing.knobs(db))
    whole = routing.load_agents(db)
    compared = 0
    for reason in REASONS:
        for language in LANGUAGES + ["ko"]:
            for channel in ("phone", "chat"):
                req = Requirements(reason=reason, language=language, channel=channel)
                narrowed = routing.load_agents(db, skills=(reason, language))
                assert {a.staff_id for a in narrowed} == {a.staff_id for a in whole
                                                           if reason in a.reasons and language in a.languages}
                expected = AgentPool(whole).decide(req, policy, assign=False)
                got = AgentPool(narrowed).decide(req, policy, assign=False)
                assert (got.staff_id, got.candidates, got.explanation) == \
                    (expected.staff_id, expected.candidates, expected.explanation)
                compared += expected.staff_id is not None
    assert compared > 5  # the data gave real choices, not only empty queues
