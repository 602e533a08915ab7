"""Survey instruments of the CXM impact study, kept as plain versioned JSON next to this module.

``load_instrument("cxm")`` reads ``cxm.json`` and checks its shape so that the study code, the model builder and
the survey engine can rely on it.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

__all__ = [
    "InstrumentError",
    "available_instruments",
    "construct_items",
    "item_codes",
    "load_instrument",
    "outcome_construct",
    "practice_constructs",
    "validate_instrument",
]

LANGUAGES = ("en", "es")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class InstrumentError(ValueError):
    """The instrument file is missing or does not have the expected shape."""


def available_instruments() -> list[str]:
    """Codes of the instruments shipped with PXM."""
    folder = resources.files(__package__)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_instrument(code: str = "cxm") -> dict[str, Any]:
    """Load and validate the instrument ``code`` (e.g. ``"cxm"``); returns a fresh dict each call."""
    if not _CODE.match(code):
        raise InstrumentError(f"invalid instrument code {code!r}")
    path = resources.files(__package__) / f"{code}.json"
    if not path.is_file():
        raise InstrumentError(f"unknown instrument {code!r}; available: {', '.join(available_instruments())}")
    data = json.loads(path.read_text(encoding="utf-8"))
    validate_instrument(data)
    if data["code"] != code:
        raise InstrumentError(f"{code}.json declares code {data['code']!r}")
    return data


def _texts(obj: Any, where: str, problems: list[str]) -> None:
    if not isinstance(obj, dict) or any(not isinstance(obj.get(lang), str) or not obj[lang].strip()
                                        for lang in LANGUAGES):
        problems.append(f"{where}: needs non-empty text in {', '.join(LANGUAGES)}")


def validate_instrument(data: Any) -> None:
    """Raise ``InstrumentError`` listing every shape problem of an instrument dict."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InstrumentError("instrument must be a JSON object")
    for key in ("code", "version", "title", "scale", "constructs", "items", "hypotheses"):
        if key not in data:
            problems.append(f"missing key {key!r}")
    if problems:
        raise InstrumentError("; ".join(problems))
    if not isinstance(data["code"], str) or not _CODE.match(data["code"]):
        problems.append("code must be an identifier")
    if not isinstance(data["version"], str) or not data["version"]:
        problems.append("version must be a non-empty string")
    _texts(data["title"], "title", problems)
    scale = data["scale"]
    if not isinstance(scale, dict) or not isinstance(scale.get("min"), int) or not isinstance(scale.get("max"), int):
        problems.append("scale needs integer min and max")
    elif scale["max"] <= scale["min"]:
        problems.append("scale max must exceed min")
    else:
        points = scale["max"] - scale["min"] + 1
        labels = scale.get("labels", {})
        for lang in LANGUAGES:
            if not isinstance(labels, dict) or not isinstance(labels.get(lang), list) or len(labels[lang]) != points:
                problems.append(f"scale.labels.{lang} must list {points} labels")
    codes: list[str] = []
    roles: dict[str, str] = {}
    for i, c in enumerate(data["constructs"] if isinstance(data["constructs"], list) else []):
        code = c.get("code") if isinstance(c, dict) else None
        if not isinstance(code, str) or not _CODE.match(code):
            problems.append(f"constructs[{i}]: invalid code")
            continue
        codes.append(code)
        roles[code] = c.get("role", "")
        if roles[code] not in ("practice", "outcome"):
            problems.append(f"construct {code}: role must be 'practice' or 'outcome'")
        _texts(c.get("name"), f"construct {code} name", problems)
        _texts(c.get("definition"), f"construct {code} definition", problems)
    if len(set(codes)) != len(codes) or not codes:
        problems.append("construct codes must be unique and non-empty")
    if list(roles.values()).count("outcome") != 1:
        problems.append("exactly one construct must have role 'outcome'")
    per_construct: dict[str, int] = {c: 0 for c in codes}
    item_list: list[str] = []
    for i, it in enumerate(data["items"] if isinstance(data["items"], list) else []):
        code = it.get("code") if isinstance(it, dict) else None
        if not isinstance(code, str) or not _CODE.match(code):
            problems.append(f"items[{i}]: invalid code")
            continue
        item_list.append(code)
        if it.get("construct") not in per_construct:
            problems.append(f"item {code}: unknown construct {it.get('construct')!r}")
        else:
            per_construct[it["construct"]] += 1
        _texts(it.get("text"), f"item {code} text", problems)
    if len(set(item_list)) != len(item_list):
        problems.append("item codes must be unique")
    for c, count in per_construct.items():
        if count < 2:
            problems.append(f"construct {c} needs at least 2 items (has {count})")
    for i, h in enumerate(data["hypotheses"] if isinstance(data["hypotheses"], list) else []):
        if not isinstance(h, dict) or h.get("from") not in roles or h.get("to") not in roles:
            problems.append(f"hypotheses[{i}]: from/to must name constructs")
            continue
        if h.get("sign") not in ("+", "-"):
            problems.append(f"hypothesis {h.get('code')}: sign must be '+' or '-'")
        _texts(h.get("statement"), f"hypothesis {h.get('code')} statement", problems)
    if problems:
        raise InstrumentError("; ".join(problems))


def item_codes(instrument: dict[str, Any]) -> list[str]:
    """All item codes, in instrument order."""
    return [it["code"] for it in instrument["items"]]


def construct_items(instrument: dict[str, Any]) -> dict[str, list[str]]:
    """Construct code -> its item codes, constructs in instrument order."""
    out: dict[str, list[str]] = {c["code"]: [] for c in instrument["constructs"]}
    for it in instrument["items"]:
        out[it["construct"]].append(it["code"])
    return out


def outcome_construct(instrument: dict[str, Any]) -> str:
    return next(c["code"] for c in instrument["constructs"] if c["role"] == "outcome")


def practice_constructs(instrument: dict[str, Any]) -> list[str]:
    return [c["code"] for c in instrument["constructs"] if c["role"] == "practice"]
