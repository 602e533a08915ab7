"""The CXM instrument file, its loader and the model built from it."""

from __future__ import annotations

import copy

import pytest

from pxm.analytics.study.instruments import (
    InstrumentError,
    construct_items,
    item_codes,
    load_instrument,
    validate_instrument,
)
from pxm.analytics.study.model import build_syntax, count_free_parameters, degrees_of_freedom


def test_cxm_instrument_shape() -> None:
    inst = load_instrument("cxm")
    assert inst["code"] == "cxm" and inst["version"]
    groups = construct_items(inst)
    assert list(groups) == ["PPE", "CFM", "CSP", "PLP", "FCR", "BP"]
    assert [len(v) for v in groups.values()] == [4, 4, 4, 4, 4, 5]
    assert len(item_codes(inst)) == 25
    assert len(inst["scale"]["labels"]["en"]) == len(inst["scale"]["labels"]["es"]) == 5
    for it in inst["items"]:
        assert it["text"]["en"] and it["text"]["es"] and it["text"]["en"] != it["text"]["es"]
    assert [(h["code"], h["from"], h["to"], h["sign"]) for h in inst["hypotheses"]] == [
        ("H1", "PPE", "BP", "+"), ("H2", "CFM", "BP", "+"), ("H3", "CSP", "BP", "+"),
        ("H4", "PLP", "BP", "+"), ("H5", "FCR", "BP", "+")]


def test_loader_returns_fresh_copies_and_rejects_unknown() -> None:
    a = load_instrument()
    a["items"].clear()
    assert len(load_instrument()["items"]) == 25
    with pytest.raises(InstrumentError, match="unknown instrument"):
        load_instrument("nope")
    with pytest.raises(InstrumentError):
        load_instrument("../cxm")


def test_validation_names_problems() -> None:
    inst = copy.deepcopy(load_instrument())
    inst["items"][0]["construct"] = "XXX"
    del inst["items"][1]["text"]["es"]
    inst["scale"]["labels"]["es"] = ["a"]
    with pytest.raises(InstrumentError) as exc:
        validate_instrument(inst)
    msg = str(exc.value)
    assert "PPE1: unknown construct 'XXX'" in msg
    assert "item PPE2 text" in msg
    assert "scale.labels.es" in msg


def test_model_syntax_and_degrees_of_freedom() -> None:
    inst = load_instrument()
    syntax = build_syntax(inst)
    assert "PPE =~ PPE1 + PPE2 + PPE3 + PPE4" in syntax
    assert "BP ~ H1*PPE + H2*CFM + H3*CSP + H4*PLP + H5*FCR" in syntax
    assert "PPE ~~ CFM" in syntax
    # 19 loadings + 25 residuals + 15 practice (co)variances + 5 paths + 1 disturbance
    assert count_free_parameters(inst) == 65
    assert degrees_of_freedom(inst) == 325 - 65 == 260
