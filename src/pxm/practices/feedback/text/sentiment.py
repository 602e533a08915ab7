"""Sentiment of a patient comment (English and Spanish) from a transparent lexicon and a few rules.

No model is downloaded: the lexicon is ``data/lexicon.json`` (words and phrases scored -3..+3). The rules,
in the order they apply to each scored word or phrase:

1. **Phrases first**: the longest phrase (up to 6 words) starting at a position wins ("took forever",
   "no complaints", "tardaron mucho"), so its words are not scored again.
2. **Negation**: a negator ("not", "no", "never", "sin", "nunca", "ni"...; "n't" counts as "not") within the
   three words before a scored word, in the same clause, flips and dampens it (x -0.6): "not helpful" is
   negative, "not bad" mildly positive, "no fue amable" negative.
3. **Intensifiers** in the two words before multiply it ("very rude" x1.35, "un poco lento" x0.6).
4. **Contrast**: after "but"/"however"/"pero"/"sin embargo" the rest of the comment weighs x1.5 and what
   came before x0.5 ("the food was bad but the nurses were wonderful" is positive). A concessive clause
   ("although ...", "aunque ...") up to the next comma or full stop weighs x0.5.
5. **Missing service** (what patients mean by "no follow-up plan", "never showed up", "sin explicación"):
   a negator ("no", "not", "never", "without", "sin", "nunca") followed by no scored word in the next three
   words of its clause counts as ``ABSENCE`` (-0.9).
6. **Durations** ("three hours", "two months", "media hora") count -1.0 each: in a patient comment a
   duration is almost always a complaint about waiting.
7. Exclamation marks strengthen the total a little (up to three).

The sum ``s`` becomes a score in [-1, 1] with ``s / sqrt(s^2 + 15)`` (VADER's normalisation). Labels:
positive above ``+POSITIVE_THRESHOLD``, negative below ``-NEGATIVE_THRESHOLD``, neutral between;
**strongly negative** at or below ``STRONGLY_NEGATIVE`` (this opens a service-recovery case).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
MODEL_VERSION = "lexicon-2"  # 2: words and phrases from the demo comment bank (docs/feedback-text.md)
POSITIVE_THRESHOLD = 0.1
NEGATIVE_THRESHOLD = 0.1
ABSENCE = -0.9
STRONGLY_NEGATIVE = -0.6
NEGATION_FACTOR = -0.6
ALPHA = 15.0
_MAX_PHRASE = 6
_BOUNDARY = {".", ",", ";", ":", "?", "!"}
_TOKEN = re.compile(r"[a-z0-9]+|[.,;:?!]")


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str  # negative | neutral | positive
    strongly_negative: bool
    hits: tuple[tuple[str, float], ...] = field(default=())  # (word or phrase, weighted value) for explanations

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "label": self.label, "strongly_negative": self.strongly_negative,
                "hits": [list(h) for h in self.hits]}


def normalize(text: str) -> str:
    """Lower case, accents removed, "n't" spelled "not", curly quotes straightened."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"\bcan't\b", "can not", text)
    text = re.sub(r"\bwon't\b", "will not", text)
    text = re.sub(r"n't\b", " not", text)
    return text.replace("'", "")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, float]
    phrases: dict[tuple[str, ...], float]
    negators: frozenset[str]
    intensifiers: dict[tuple[str, ...], float]
    contrast: frozenset[tuple[str, ...]]
    concessive: frozenset[tuple[str, ...]]
    absence_cues: frozenset[str]
    duration_numbers: frozenset[str]
    duration_units: frozenset[str]
    duration_value: float


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    raw = json.loads((DATA_DIR / "lexicon.json").read_text(encoding="utf-8"))
    words: dict[str, float] = {}
    for lang in ("en", "es"):
        for w, v in raw["words"][lang].items():
            # A word in both lists (e.g. "terrible") keeps one value; the files agree on them.
            words[normalize(w)] = float(v)
    phrases = {tuple(tokenize(p)): float(v) for p, v in raw["phrases"].items()}
    negators = frozenset(normalize(w) for lang in ("en", "es") for w in raw["negators"][lang])
    intens = {tuple(tokenize(k)): float(v) for k, v in raw["intensifiers"].items()}
    contrast = frozenset(tuple(tokenize(w)) for lang in ("en", "es") for w in raw["contrast"][lang])
    concessive = frozenset(tuple(tokenize(w)) for lang in ("en", "es") for w in raw["concessive"][lang])
    dur = raw["duration"]
    return Lexicon(words, phrases, negators, intens, contrast, concessive,
                   frozenset(normalize(w) for w in raw["absence_cues"]),
                   frozenset(normalize(w) for w in dur["numbers"]), frozenset(normalize(w) for w in dur["units"]),
                   float(dur["value"]))


def _match(tokens: list[str], i: int, table: dict[tuple[str, ...], float] | frozenset[tuple[str, ...]]
           ) -> tuple[int, tuple[str, ...]] | None:
    for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
        key = tuple(tokens[i:i + n])
        if key in table:
            return n, key
    return None


def label_for(score: float) -> str:
    if score > POSITIVE_THRESHOLD:
        return "positive"
    if score < -NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def analyze(text: str | None) -> Sentiment:
    """Score one comment. Empty text is neutral with score 0."""
    if not text or not text.strip():
        return Sentiment(0.0, "neutral", False)
    lex = lexicon()
    tokens = tokenize(text)
    # Pass 1: find scored units (phrases, words), contrast points and concessive spans.
    units: list[tuple[int, int, str, float]] = []  # (start, length, text, value)
    contrast_at: list[int] = []
    concessive_spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        c = _match(tokens, i, lex.contrast)
        if c is not None:
            contrast_at.append(i)
            i += c[0]
            continue
        c = _match(tokens, i, lex.concessive)
        if c is not None:
            end = i + c[0]
            while end < len(tokens) and tokens[end] not in _BOUNDARY and _match(tokens, end, lex.contrast) is None:
                end += 1
            concessive_spans.append((i, end))
            i += c[0]
            continue
        p = _match(tokens, i, lex.phrases)
        if p is not None:
            n, key = p
            units.append((i, n, " ".join(key), lex.phrases[key]))
            i += n
            continue
        tok = tokens[i]
        if tok in lex.words:
            units.append((i, 1, tok, lex.words[tok]))
        elif (tok.isdigit() or tok in lex.duration_numbers) and i + 1 < len(tokens) \
                and tokens[i + 1] in lex.duration_units:
            units.append((i, 2, f"{tok} {tokens[i + 1]}", lex.duration_value))
            i += 2
            continue
        i += 1
    covered = {j for start, n, _t, _v in units if n > 1 for j in range(start, start + n)}
    starts = {start for start, _n, _t, _v in units}
    for j, tok in enumerate(tokens):
        if tok not in lex.absence_cues or j in covered or (j > 0 and tokens[j - 1] in lex.negators):
            continue
        ahead = []
        for k in range(j + 1, min(j + 4, len(tokens))):
            if tokens[k] in _BOUNDARY or k in contrast_at:
                break
            ahead.append(k)
        if not any(k in starts for k in ahead):
            units.append((j, 1, f"{tok} ...", ABSENCE))
    units.sort()
    last_contrast = contrast_at[-1] if contrast_at else None
    total = 0.0
    hits: list[tuple[str, float]] = []
    for start, _n, unit, value in units:
        v = value
        if v == 0.0:
            continue
        # intensifiers / diminishers in the two tokens before
        for back in (1, 2):
            j = start - back
            if j < 0 or tokens[j] in _BOUNDARY:
                break
            for length in (2, 1):
                key = tuple(tokens[j - length + 1:j + 1]) if j - length + 1 >= 0 else ()
                if key and key in lex.intensifiers:
                    v *= lex.intensifiers[key]
                    break
            else:
                continue
            break
        # negation: a negator up to three tokens back in the same clause (not part of a phrase)
        for back in (1, 2, 3):
            j = start - back
            if j < 0 or tokens[j] in _BOUNDARY or j in contrast_at:
                break
            if tokens[j] in lex.negators and j not in covered and not unit.endswith(" ..."):
                v *= NEGATION_FACTOR
                break
        if last_contrast is not None:
            v *= 1.5 if start > last_contrast else 0.5
        if any(a <= start < b for a, b in concessive_spans):
            v *= 0.5
        total += v
        hits.append((unit, round(v, 3)))
    bangs = min(tokens.count("!"), 3)
    if bangs and total:
        total += math.copysign(0.25 * bangs, total)
    score = total / math.sqrt(total * total + ALPHA) if total else 0.0
    score = max(-1.0, min(1.0, round(score, 4)))
    return Sentiment(score, label_for(score), score <= STRONGLY_NEGATIVE, tuple(hits))
