"""Survey instrument definitions as data: item types, scales, display conditions, answer validation.

A definition is a JSON object::

    {"code", "version", "title": {"en","es"}, "description"?, "scales"?: {name: scale},
     "measures"?: [{"code", "name"}], "sections": [{"code", "title", "items": [item, ...]}]}

An item is ``{"code", "type", "text": {"en","es"}, "required"?, "show_if"?, "measure"?, "options"?,
"scale"?, "points"?}``. Types and their stored answer:

==========  =====================================  ==================================
type        answer                                 top box / bottom box
==========  =====================================  ==================================
likert      integer 1..points (5 or 7)             points / 1..2 (5) or 1..3 (7)
nps         integer 0..10                          9-10 promoters / 0-6 detractors
rating      integer 0..10 (overall rating)         9-10 / 0-6
csat        integer 1..5                           4-5 satisfied / 1-2
ces         integer 1..7 (agree it was easy)       5-7 easy / 1-3
scale       integer min..max of a named scale      the scale's ``top`` / ``bottom``
yesno       "yes" / "no"                           yes / no
single      one option value
multi       list of option values
text        free text (stored sealed, never in ``answers``)
==========  =====================================  ==================================

``show_if`` is ``{"item": CODE, <op>: value}`` with op one of ``equals``, ``not_equals``, ``in``, ``gte``,
``lte``, ``answered``; the item is shown (and accepted) only when an earlier answer matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "es")
TYPES = ("likert", "nps", "rating", "csat", "ces", "scale", "yesno", "single", "multi", "text")
NUMERIC = ("likert", "nps", "rating", "csat", "ces", "scale")
CONDITION_OPS = ("equals", "not_equals", "in", "gte", "lte", "answered")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class DefinitionError(ValueError):
    """An instrument definition does not have the expected shape."""


class AnswerError(ValueError):
    """An answer does not fit its item; ``item`` names the item code."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"{item}: {message}")
        self.item = item
        self.message = message


@dataclass(frozen=True)
class Range:
    low: int
    high: int
    top: tuple[int, ...]
    bottom: tuple[int, ...]


def numeric_range(definition: dict[str, Any], item: dict[str, Any]) -> Range:
    """The integer range of a numeric item with its top-box and bottom-box values."""
    kind = item["type"]
    if kind == "likert":
        points = int(item.get("points", 5))
        return Range(1, points, (points,), tuple(range(1, 3 if points == 5 else 4)))
    if kind in ("nps", "rating"):
        return Range(0, 10, (9, 10), tuple(range(0, 7)))
    if kind == "csat":
        return Range(1, 5, (4, 5), (1, 2))
    if kind == "ces":
        return Range(1, 7, (5, 6, 7), (1, 2, 3))
    if kind == "scale":
        sc = definition.get("scales", {})[item["scale"]]
        return Range(int(sc["min"]), int(sc["max"]), tuple(sc.get("top", [sc["max"]])),
                     tuple(sc.get("bottom", [sc["min"]])))
    raise DefinitionError(f"item {item['code']}: type {kind} is not numeric")


def iter_items(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for section in definition.get("sections", []):
        yield from section.get("items", [])


def items_by_code(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {it["code"]: it for it in iter_items(definition)}


def text(obj: Any, lang: str) -> str:
    """Pick the text for ``lang`` from an ``{"en", "es"}`` dict, falling back to English."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, dict):
        return ""
    return str(obj.get(lang) or obj.get("en") or next(iter(obj.values()), ""))


def scale_labels(definition: dict[str, Any], item: dict[str, Any], lang: str) -> list[tuple[int, str]]:
    """(value, label) pairs of a numeric item, labels only where the definition gives them."""
    rng = numeric_range(definition, item)
    labels: list[str] = []
    if item["type"] == "scale":
        labels = list(text_list(definition["scales"][item["scale"]].get("labels"), lang))
    elif item.get("labels"):
        labels = list(text_list(item["labels"], lang))
    values = list(range(rng.low, rng.high + 1))
    if len(labels) == len(values):
        return list(zip(values, labels, strict=True))
    defaults = DEFAULT_ENDS.get(item["type"], {}).get(lang) or DEFAULT_ENDS.get(item["type"], {}).get("en")
    out = [(v, str(v)) for v in values]
    if defaults:
        out[0] = (values[0], f"{values[0]} - {defaults[0]}")
        out[-1] = (values[-1], f"{values[-1]} - {defaults[1]}")
    return out


def text_list(obj: Any, lang: str) -> list[str]:
    if isinstance(obj, dict):
        val = obj.get(lang) or obj.get("en") or []
        return [str(v) for v in val]
    return []


DEFAULT_ENDS: dict[str, dict[str, tuple[str, str]]] = {
    "nps": {"en": ("Not at all likely", "Extremely likely"), "es": ("Nada probable", "Muy probable")},
    "rating": {"en": ("Worst possible", "Best possible"), "es": ("El peor posible", "El mejor posible")},
    "csat": {"en": ("Very dissatisfied", "Very satisfied"), "es": ("Muy insatisfecho", "Muy satisfecho")},
    "ces": {"en": ("Strongly disagree", "Strongly agree"), "es": ("Totalmente en desacuerdo", "Totalmente de acuerdo")},
    "likert": {"en": ("Strongly disagree", "Strongly agree"), "es": ("Totalmente en desacuerdo", "Totalmente de acuerdo")},
}
YESNO = {"en": {"yes": "Yes", "no": "No"}, "es": {"yes": "Sí", "no": "No"}}


def validate_definition(data: Any) -> None:
    """Raise ``DefinitionError`` listing every shape problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise DefinitionError("instrument definition must be a JSON object")
    for key in ("code", "version", "title", "sections"):
        if key not in data:
            problems.append(f"missing key {key!r}")
    if problems:
        raise DefinitionError("; ".join(problems))
    if not isinstance(data["code"], str) or not _CODE.match(data["code"]):
        problems.append("code must be an identifier (letters, digits, underscore)")
    if not isinstance(data["version"], str) or not data["version"].strip():
        problems.append("version must be a non-empty string")
    if not text(data["title"], "en").strip():
        problems.append("title needs English text")
    scales = data.get("scales", {})
    for name, sc in scales.items() if isinstance(scales, dict) else []:
        if not isinstance(sc, dict) or not isinstance(sc.get("min"), int) or not isinstance(sc.get("max"), int) \
                or sc["max"] <= sc["min"]:
            problems.append(f"scale {name}: needs integer min < max")
    seen: list[str] = []
    sections = data["sections"] if isinstance(data["sections"], list) else []
    if not sections:
        problems.append("sections must be a non-empty list")
    for si, section in enumerate(sections):
        if not isinstance(section, dict) or not isinstance(section.get("items"), list):
            problems.append(f"sections[{si}]: needs an items list")
            continue
        for ii, item in enumerate(section["items"]):
            where = f"sections[{si}].items[{ii}]"
            code = item.get("code") if isinstance(item, dict) else None
            if not isinstance(code, str) or not _CODE.match(code):
                problems.append(f"{where}: invalid code")
                continue
            if code in seen:
                problems.append(f"item {code}: duplicate code")
            kind = item.get("type")
            if kind not in TYPES:
                problems.append(f"item {code}: type must be one of {', '.join(TYPES)}")
            if not text(item.get("text"), "en").strip():
                problems.append(f"item {code}: needs English text")
            if kind == "likert" and item.get("points", 5) not in (5, 7):
                problems.append(f"item {code}: likert points must be 5 or 7")
            if kind == "scale" and item.get("scale") not in (scales or {}):
                problems.append(f"item {code}: unknown scale {item.get('scale')!r}")
            if kind in ("single", "multi"):
                opts = item.get("options")
                if not isinstance(opts, list) or not opts or any(
                        not isinstance(o, dict) or not isinstance(o.get("value"), str) for o in opts):
                    problems.append(f"item {code}: {kind} needs options with string values")
            cond = item.get("show_if")
            if cond is not None:
                if not isinstance(cond, dict) or cond.get("item") not in seen:
                    problems.append(f"item {code}: show_if must name an earlier item")
                elif not any(op in cond for op in CONDITION_OPS):
                    problems.append(f"item {code}: show_if needs one of {', '.join(CONDITION_OPS)}")
            seen.append(code)
    if problems:
        raise DefinitionError("; ".join(problems))


def condition_met(cond: dict[str, Any] | None, answers: dict[str, Any]) -> bool:
    """Whether an item with display condition ``cond`` is shown given the answers so far."""
    if not cond:
        return True
    value = answers.get(cond["item"])
    if "answered" in cond:
        return (value is not None) == bool(cond["answered"])
    if value is None:
        return False
    values = value if isinstance(value, list) else [value]
    if "equals" in cond:
        return cond["equals"] in values
    if "not_equals" in cond:
        return cond["not_equals"] not in values
    if "in" in cond:
        return any(v in cond["in"] for v in values)
    try:
        if "gte" in cond:
            return any(float(v) >= float(cond["gte"]) for v in values)
        if "lte" in cond:
            return any(float(v) <= float(cond["lte"]) for v in values)
    except (TypeError, ValueError):
        return False
    return False


def visible_items(definition: dict[str, Any], answers: dict[str, Any]) -> list[str]:
    """Codes of the items shown for these answers, in order (conditions only look backwards)."""
    shown: list[str] = []
    kept: dict[str, Any] = {}
    for item in iter_items(definition):
        if condition_met(item.get("show_if"), kept):
            shown.append(item["code"])
            if item["code"] in answers:
                kept[item["code"]] = answers[item["code"]]
    return shown


def coerce_answer(definition: dict[str, Any], item: dict[str, Any], raw: Any) -> Any:
    """Turn a raw answer (from a form, CSV or JSON) into its stored form, or raise ``AnswerError``."""
    code, kind = item["code"], item["type"]
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
        return None
    if kind in NUMERIC:
        rng = numeric_range(definition, item)
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
            if value is None:
                raise ValueError
        except (TypeError, ValueError):
            raise AnswerError(code, f"must be a whole number from {rng.low} to {rng.high}, got {raw!r}") from None
        if not rng.low <= value <= rng.high:
            raise AnswerError(code, f"must be from {rng.low} to {rng.high}, got {value}")
        return value
    if kind == "yesno":
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        val = str(raw).strip().lower()
        mapped = {"yes": "yes", "y": "yes", "true": "yes", "1": "yes", "si": "yes", "sí": "yes",
                  "no": "no", "n": "no", "false": "no", "0": "no"}.get(val)
        if mapped is None:
            raise AnswerError(code, f"must be yes or no, got {raw!r}")
        return mapped
    allowed = [o["value"] for o in item.get("options", [])]
    if kind == "single":
        val = str(raw).strip()
        if val not in allowed:
            raise AnswerError(code, f"must be one of {', '.join(allowed)}, got {raw!r}")
        return val
    if kind == "multi":
        vals = raw if isinstance(raw, list) else [v for v in re.split(r"[;|]", str(raw)) if v.strip()]
        out = [str(v).strip() for v in vals]
        bad = [v for v in out if v not in allowed]
        if bad:
            raise AnswerError(code, f"unknown option(s) {', '.join(bad)}; allowed: {', '.join(allowed)}")
        return sorted(set(out), key=allowed.index)
    if kind == "text":
        val = str(raw).strip()
        if len(val) > 5000:
            raise AnswerError(code, "is longer than 5000 characters")
        return val
    raise AnswerError(code, f"unsupported item type {kind}")


def clean_answers(definition: dict[str, Any], raw: dict[str, Any], *, complete: bool) -> dict[str, Any]:
    """Validate ``raw`` answers against the definition.

    Unknown item codes are refused; answers to items hidden by their display condition are dropped;
    when ``complete`` every visible required item must be answered.
    """
    items = items_by_code(definition)
    unknown = [c for c in raw if c not in items]
    if unknown:
        raise AnswerError(unknown[0], f"is not an item of instrument {definition['code']} "
                                      f"(items: {', '.join(items)})")
    coerced: dict[str, Any] = {}
    for code, value in raw.items():
        val = coerce_answer(definition, items[code], value)
        if val is not None:
            coerced[code] = val
    shown = visible_items(definition, coerced)
    out = {c: coerced[c] for c in shown if c in coerced}
    if complete:
        for code in shown:
            if items[code].get("required") and code not in out:
                raise AnswerError(code, "is required")
    return out
