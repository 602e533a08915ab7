"""Erlang C against the published reference case, required agents, shrinkage, bad input; CLI and API."""

from __future__ import annotations

import json
import math

import pytest
from tests.helpers.auth import token_headers
from typer.testing import CliRunner

from pxm.cli.main import app as cli
from pxm.operations.staffing.erlang import (
    StaffingInputError,
    calculate,
    erlang_b,
    erlang_c,
    required_agents,
    rostered,
)


def test_published_case_to_the_published_decimals() -> None:
    r = calculate(100, 30, 180, 20, agents=14).to_dict()
    assert r["traffic_erlangs"] == 10.0
    assert r["probability_wait"] == 0.1741
    assert r["service_level"] == 0.8884
    assert r["asa_seconds"] == 7.84
    assert r["occupancy"] == 0.714
    assert "required_agents" not in r


def test_required_agents_is_the_fewest_meeting_the_target() -> None:
    assert required_agents(10.0, 180, 20, 0.8) == 14  # 13 agents give 0.789
    assert calculate(100, 30, 180, 20, agents=13).service_level < 0.8
    r = calculate(100, 30, 180, 20, 0.8, shrinkage=0.3)
    assert r.required_agents == 14 and r.agents == 14 and r.rostered_agents == 20  # ceil(14 / 0.7)
    assert required_agents(10.0, 180, 20, 0.9) == 15
    assert rostered(10, 0.5) == 20 and rostered(0, 0.3) == 0


def test_erlang_b_recursion_matches_the_closed_form_and_stays_finite() -> None:
    a, n = 7.5, 9
    closed = (a ** n / math.factorial(n)) / sum(a ** k / math.factorial(k) for k in range(n + 1))
    assert erlang_b(n, a) == pytest.approx(closed, rel=1e-12)
    # a large centre: factorials would overflow, the recursion does not
    pw = erlang_c(2000, 1950.0)
    assert 0.0 < pw < 1.0
    assert calculate(40_000, 60, 180, 20).required_agents > 2000


def test_unstable_queue_and_bad_input() -> None:
    r = calculate(100, 30, 180, 20, agents=10)  # agents == traffic: the queue never clears
    assert r.probability_wait == 1.0 and r.service_level == 0.0 and r.to_dict()["asa_seconds"] is None
    with pytest.raises(StaffingInputError, match="aht_seconds"):
        calculate(100, 30, 0, 20)
    with pytest.raises(StaffingInputError, match="service_level"):
        calculate(100, 30, 180, 20, 1.5)
    with pytest.raises(StaffingInputError, match="shrinkage"):
        calculate(100, 30, 180, 20, shrinkage=1.0)
    assert calculate(0, 30, 180, 20).required_agents == 0


def test_cli_json_and_errors() -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["staffing", "--contacts", "100", "--interval-minutes", "30", "--aht", "180",
                              "--target-seconds", "20", "--service-level", "0.8", "--agents", "14",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["agents"], data["probability_wait"], data["service_level"], data["asa_seconds"],
            data["occupancy"]) == (14, 0.1741, 0.8884, 7.84, 0.714)
    out = runner.invoke(cli, ["staffing", "--contacts", "100", "--interval-minutes", "30", "--aht", "180",
                              "--target-seconds", "20", "--shrinkage", "0.3", "--format", "json"])
    data = json.loads(out.output)
    assert data["required_agents"] == 14 and data["rostered_agents"] == 20
    bad = runner.invoke(cli, ["staffing", "--contacts", "100", "--aht", "-5"])
    assert bad.exit_code == 2 and "--aht" in bad.output


def test_api_erlang_c(client, db) -> None:
    h = token_headers(db, "analyst")
    r = client.get("/api/v1/staffing/erlang-c", params={"contacts": 100, "interval_minutes": 30,
                                                        "aht_seconds": 180, "target_seconds": 20, "agents": 14},
                   headers=h)
    assert r.status_code == 200
    assert r.json()["service_level"] == 0.8884
    r = client.get("/api/v1/staffing/erlang-c", params={"contacts": 100, "aht_seconds": 0}, headers=h)
    assert r.status_code == 422 and "aht_seconds" in r.text
    assert client.get("/api/v1/staffing/erlang-c", params={"contacts": 1, "aht_seconds": 1}).status_code == 401
    agent = token_headers(db, "agent")
    assert client.get("/api/v1/staffing/erlang-c", params={"contacts": 1, "aht_seconds": 1},
                      headers=agent).status_code == 403
