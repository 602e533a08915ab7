"""CSV downloads of the desk: every case a Cases filter selects, the FCR page's tables; spreadsheet-safe cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import select
from tests.helpers.auth import login

from pxm.platform.audit.models import AuditEvent
from pxm.platform.spreadsheet import csv_text
from pxm.practices.resolution import service

T0 = dt.datetime(2025, 3, 3, 14, 0, tzinfo=dt.UTC)


def _rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="')
    assert response.text.startswith("\ufeff")  # so that Excel reads the names as UTF-8
    return list(csv.DictReader(io.StringIO(response.text[1:])))


def test_a_formula_in_a_cell_is_written_as_text() -> None:
    text = csv_text(["team", "n", "note"], [["=HYPERLINK(\"http://x\")", -3, "+1 call"], ["@sum", 2.5, None]])
    assert text.splitlines() == ["team,n,note", "\"'=HYPERLINK(\"\"http://x\"\")\",-3,'+1 call", "'@sum,2.5,"]


def test_the_cases_csv_holds_every_case_the_filter_selects(client, db, actor, make_patient,
                                                           make_agent) -> None:  # type: ignore[no-untyped-def]
    """All pages, not the 50 shown; the agent by name, the team as text even when it looks like a formula, times
    in the desk's zone with their offset; the patient by id only; the download is audited."""
    from pxm.web.pages.resolution import CASES_PAGE_SIZE

    login(client, db, "cx_manager")
    ann = make_agent("csv-ann", team="=2+3")
    patient = make_patient()
    cases = [service.open_case(db, actor, patient_id=patient.id, reason="billing", route=False,
                               opened_at=T0 + dt.timedelta(minutes=i)) for i in range(CASES_PAGE_SIZE + 3)]
    service.open_case(db, actor, patient_id=patient.id, reason="referral", route=False, opened_at=T0)
    service.assign(db, actor, cases[0].id, ann.id, reason_text="test")
    service.transition(db, actor, cases[0].id, "resolved", resolution_code="billing_corrected",
                       at=T0 + dt.timedelta(hours=1))
    db.commit()
    page = client.get("/practices/resolution/cases?status=all&reason=billing")
    link = re.search(r'href="(/practices/resolution/cases\.csv\?[^"]*)" id="cases-csv"', page.text)
    assert link is not None and f"all {CASES_PAGE_SIZE + 3} matching cases" in page.text
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"timezone": "America/Chicago"})
    try:
        response = client.get(link.group(1).replace("&amp;", "&"))
    finally:
        client.app.state.settings = settings
    rows = _rows(response)
    assert [int(r["case_id"]) for r in rows] == [c.id for c in reversed(cases)]  # newest opened first, all of them
    done = rows[-1]
    assert (done["agent"], done["team"], done["status"], done["resolution_code"]) == \
        (ann.display_name, "'=2+3", "resolved", "billing_corrected")
    assert done["opened_at"] == "2025-03-03T08:00:00-06:00" and done["resolved_at"] == "2025-03-03T09:00:00-06:00"
    assert done["patient_id"] == str(patient.id) and rows[0]["agent"] == "" and rows[0]["resolved_at"] == ""
    assert rows[0]["resolution_breached"] == "false"
    assert "Patient" not in response.text and patient.mrn not in response.text  # no name, no MRN
    event = db.execute(select(AuditEvent).where(AuditEvent.action == "cases.export")).scalar_one()
    assert event.details["rows"] == CASES_PAGE_SIZE + 3 and event.details["filter"]["reason"] == "billing"
    # the filter is checked as the page checks it: nothing is exported for a value not on the list
    bad = client.get("/practices/resolution/cases.csv?status=lost", headers={"Accept": "text/html"})
    assert bad.status_code == 422 and "Unknown status &#39;lost&#39;" in bad.text
    assert len(db.execute(select(AuditEvent).where(AuditEvent.action == "cases.export")).all()) == 1


def test_the_cases_csv_needs_a_signed_in_desk_user(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/practices/resolution/cases.csv", follow_redirects=False)
    assert response.status_code in (303, 401) and "text/csv" not in response.headers.get("content-type", "")


def test_the_fcr_csv_puts_both_tables_of_the_page_in_one_sheet(client, db, actor, make_patient,
                                                               make_agent) -> None:  # type: ignore[no-untyped-def]
    login(client, db, "cx_manager")
    ann, bo = make_agent("fcr-ann"), make_agent("fcr-bo")
    p, q = make_patient(), make_patient()
    # ann settles one case in its first call; bo answers a call that a repeat two days later undoes
    service.log_contact(db, actor, patient_id=p.id, channel="phone", direction="inbound", reason="billing",
                        started_at=T0, ended_at=T0 + dt.timedelta(minutes=5), agent_id=ann.id, resolved=True,
                        route=False)
    service.log_contact(db, actor, patient_id=q.id, channel="phone", direction="inbound", reason="referral",
                        started_at=T0, ended_at=T0 + dt.timedelta(minutes=3), agent_id=bo.id, resolved=True,
                        route=False)
    service.log_contact(db, actor, patient_id=q.id, channel="chat", direction="inbound", reason="referral",
                        started_at=T0 + dt.timedelta(days=2), route=False)
    db.commit()
    page = client.get("/practices/resolution/fcr", params={"by": "agent", "from": "2025-03-01", "to": "2025-03-31"})
    link = re.search(r'href="(/practices/resolution/fcr\.csv\?[^"]*)" id="fcr-csv"', page.text)
    assert link is not None
    rows = _rows(client.get(link.group(1).replace("&amp;", "&")))
    assert list(rows[0])[:3] == ["agent", "name", "cases"]
    table = {r["agent"]: r for r in rows}
    assert [r["agent"] for r in rows] == ["all", "(no agent)", "fcr-ann", "fcr-bo"]
    assert (table["all"]["cases"], table["all"]["eligible"], table["all"]["fcr_rate"]) == ("2", "2", "0.5")
    assert (table["fcr-ann"]["name"], table["fcr-ann"]["fcr_rate"], table["fcr-ann"]["aht_seconds"]) == \
        (ann.display_name, "1.0", "300.0")
    assert (table["fcr-bo"]["fcr_rate"], table["fcr-bo"]["repeat_contact_rate"]) == ("0.0", "0.0")
    # the repeat nobody handled has contact measures only: it opened no case of its own
    assert table["(no agent)"]["cases"] == "" and table["(no agent)"]["contacts"] == "1"
    bad = client.get("/practices/resolution/fcr.csv?from=March")
    assert bad.status_code == 422 and "2025-03-01" in bad.json()["error"]["message"]
