"""Themes of a patient comment from curated English/Spanish patterns (``data/themes.json``).

Each theme lists regular expressions matched on the comment in lower case with accents removed (the same
normalisation as sentiment). A comment may have several themes or none. The patterns are data: a CX manager
who sees a missed phrase adds it to the file, and ``pxm feedback evaluate-text`` / the benchmark script show
the effect on the labelled set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from pxm.practices.feedback.text.sentiment import DATA_DIR, normalize


@dataclass(frozen=True)
class Theme:
    code: str
    label_en: str
    label_es: str
    patterns: tuple[re.Pattern[str], ...]
    combined: re.Pattern[str]  # all patterns in one alternation (one scan per theme)

    def label(self, language: str = "en") -> str:
        return self.label_es if language == "es" else self.label_en


@lru_cache(maxsize=1)
def catalog() -> dict[str, Theme]:
    raw = json.loads((DATA_DIR / "themes.json").read_text(encoding="utf-8"))["themes"]
    return {
        code: Theme(code, spec["label"]["en"], spec["label"]["es"],
                    tuple(re.compile(p) for p in spec["patterns"]),
                    re.compile("|".join(f"(?:{p})" for p in spec["patterns"])))
        for code, spec in raw.items()
    }


THEME_CODES: tuple[str, ...] = tuple(catalog())


def detect(text: str | None) -> list[str]:
    """The theme codes found in ``text``, in catalog order."""
    if not text:
        return []
    norm = normalize(text)
    return [code for code, theme in catalog().items() if theme.combined.search(norm)]


def evidence(text: str, code: str) -> list[str]:
    """The phrases that made ``code`` match (for explaining a theme to an analyst)."""
    norm = normalize(text)
    theme = catalog()[code]
    return [m.group(0) for p in theme.patterns for m in p.finditer(norm)]
