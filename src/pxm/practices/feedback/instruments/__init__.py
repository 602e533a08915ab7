"""Built-in survey instruments: JSON files next to this module, plus the CXM study's instrument.

``builtin_definition(code)`` returns a validated definition dict. The ``cxm`` definition is converted from the
study's own file (``pxm.analytics.study.instruments``) so there is one source of truth for its 25 items.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pxm.practices.feedback.definition import DefinitionError, validate_definition

BUILTIN_CODES = ("pulse", "nps", "inpatient", "cxm")


def _from_study() -> dict[str, Any]:
    from pxm.analytics.study.instruments import load_instrument

    study = load_instrument("cxm")
    scale = study["scale"]
    sections = []
    for construct in study["constructs"]:
        items = [
            {"code": it["code"], "type": "likert", "points": scale["max"] - scale["min"] + 1, "required": True,
             "measure": construct["code"], "text": it["text"], "labels": scale["labels"]}
            for it in study["items"] if it["construct"] == construct["code"]
        ]
        sections.append({"code": construct["code"], "title": construct["name"], "items": items})
    return {
        "code": "cxm",
        "version": study["version"],
        "title": study["title"],
        "description": study.get("instructions", {}),
        "source": study.get("source", ""),
        "measures": [{"code": c["code"], "name": c["name"]} for c in study["constructs"]],
        "sections": sections,
    }


def builtin_definition(code: str) -> dict[str, Any]:
    """The validated definition of the built-in instrument ``code``."""
    if code == "cxm":
        data = _from_study()
    elif code in BUILTIN_CODES:
        data = json.loads((resources.files(__package__) / f"{code}.json").read_text(encoding="utf-8"))
    else:
        raise DefinitionError(f"unknown built-in instrument {code!r}; built in: {', '.join(BUILTIN_CODES)}")
    validate_definition(data)
    return data
