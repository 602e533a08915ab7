"""Contact-centre formulas on a small hand-computed set of contacts."""

from __future__ import annotations

import datetime as dt

from pxm.practices.resolution import service
from pxm.practices.resolution.metrics import contacts_report

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def test_aht_asa_abandonment_service_level_repeats(db, actor, make_patient, make_agent) -> None:  # type: ignore[no-untyped-def]
    p, q = make_patient(), make_patient()
    ann = make_agent("ann-m", team="a")
    bob = make_agent("bob-m", team="b")

    def call(patient, *, start, wait, talk, agent, abandoned=False, reason="billing", resolved=False,  # type: ignore[no-untyped-def]
             channel="phone"):
        answered = None if abandoned else start + wait * S
        return service.log_contact(
            db, actor, patient_id=patient.id, channel=channel, direction="inbound", reason=reason,
            started_at=start, queued_at=start, answered_at=answered,
            ended_at=start + (wait + talk) * S, agent_id=None if abandoned else agent.id, abandoned=abandoned,
            resolved=resolved, route=False)

    call(p, start=T0, wait=10, talk=300, agent=ann, resolved=True)                 # within 20 s
    call(p, start=T0 + dt.timedelta(days=1), wait=30, talk=200, agent=ann)         # repeat, 30 s wait
    call(q, start=T0, wait=0, talk=0, agent=None, abandoned=True)                  # abandoned
    call(q, start=T0 + dt.timedelta(hours=1), wait=20, talk=100, agent=bob, reason="referral", resolved=True)
    service.log_contact(db, actor, patient_id=q.id, channel="email", direction="outbound", reason="referral",
                        started_at=T0 + dt.timedelta(hours=2), ended_at=T0 + dt.timedelta(hours=2, minutes=4),
                        agent_id=bob.id, route=False)
    r = contacts_report(db, as_of=T0 + dt.timedelta(days=30))
    assert r["contacts"] == 5 and r["inbound"] == 4 and r["offered"] == 4
    # AHT over the 4 handled contacts: 300, 200, 100 (from answer) and the 240 s email
    assert r["aht_seconds"] == round((300 + 200 + 100 + 240) / 4, 1)
    assert r["asa_seconds"] == round((10 + 30 + 20) / 3, 1)
    assert r["abandoned"] == 1 and r["abandonment_rate"] == 0.25
    # answered within 20 s: the 10 s and the 20 s call; denominator answered + abandoned = 4
    assert r["answered_within_target"] == 2 and r["service_level"] == 0.5
    # repeats: p's second billing call (1 of 3 unabandoned inbound)
    assert r["repeat_contacts"] == 1 and r["repeat_contact_rate"] == round(1 / 3, 4)
    # p's case was reopened by the repeat (not resolved now); q's referral case resolved with 2 contacts
    assert r["resolved_cases"] == 1 and r["contacts_per_resolved_case"] == 2.0
    by_agent = {g["key"]: g for g in contacts_report(db, as_of=T0 + dt.timedelta(days=30), by="agent")["groups"]}
    assert set(by_agent) == {"ann-m", "bob-m", "(no agent)"}
    assert by_agent["ann-m"]["asa_seconds"] == 20.0 and by_agent["(no agent)"]["abandonment_rate"] == 1.0
    tighter = contacts_report(db, as_of=T0 + dt.timedelta(days=30), service_level_seconds=10)
    assert tighter["service_level"] == 0.25
