"""Mask PHI in free text before an analyst sees it: [EMAIL], [PHONE], [MRN], [DATE], [NAME].

Rules, applied in this order (earlier replacements are not matched again):

1. **Emails**: ``name@domain.tld``.
2. **MRNs with context**: "MRN 123456", "MRN: AB1234567", "medical record number 1234567", "record #",
   "expediente 123456", "historia clínica 123456" (4-10 digits, an optional 1-3 letter prefix).
3. **Dates**: numeric (3/14/2024, 03-14-24, 2024-03-14), written English ("March 14", "March 14th, 2024",
   "14 March 2024", "Mar. 3") and Spanish ("14 de marzo", "14 de marzo de 2024", "marzo de 2024").
4. **US phone numbers**: (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567, 5551234567.
5. **Identifier-like numbers**: any other run of 6-10 digits, or 1-3 capitals followed by 6-10 digits
   (MRN-shaped), becomes [MRN].
6. **Names**: the linked patient's own given and family names (any case, whole words), every name in
   ``extra_names``, and a capitalised word (or two) after a title: "Dr. Smith", "doctor Jones",
   "nurse Maria", "Mrs. Lee", "Sra. López", "la enfermera Lucía", "Dra. Ruiz". The title stays:
   "Dr. [NAME]".

Masking is deliberately greedy: an analyst loses a few non-identifying words ("March" the month as a name is
still masked as a date) rather than ever seeing an identifier.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_MONTHS_EN = ("january|february|march|april|may|june|july|august|september|october|november|december|"
              "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_MONTHS_ES = "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
MRN_CONTEXT = re.compile(
    r"(?i)\b(?P<label>MRN|M\.R\.N\.|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|patient (?:id|number)"
    r"|chart (?:number|#)|n[uú]mero de expediente|expediente(?: m[eé]dico)?|historia cl[ií]nica|n[uú]mero de paciente)"
    r"(?P<sep>\s*(?:#|no\.?|number|n[uú]m(?:ero)?\.?|:|is|es)?\s*)(?P<id>[A-Za-z]{0,3}-?\d{4,10})\b")
DATE_NUMERIC = re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})\b")
DATE_EN = re.compile(
    rf"(?i)\b(?:(?:{_MONTHS_EN})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS_EN})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MONTHS_EN})\s+\d{{4}})\b")
DATE_ES = re.compile(
    rf"(?i)\b(?:\d{{1,2}}\s+de\s+(?:{_MONTHS_ES})(?:\s+(?:de|del)\s+\d{{4}})?|(?:{_MONTHS_ES})\s+(?:de|del)\s+\d{{4}}"
    rf"|(?:{_MONTHS_ES})\s+\d{{1,2}})\b")
PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b|(?<![\w+])(?:\+?1)?\d{10}\b")
ID_NUMBER = re.compile(r"\b(?:[A-Z]{1,3}-?\d{6,10}|\d{6,10})\b")

_TITLES = (r"dr|dra|doctor|doctora|nurse|mr|mrs|ms|miss|mx|sr|sra|srta|don|do[nñ]a|enfermer[oa]|"
           r"prof|professor|pa|np|rn|therapist|terapeuta|dr\.|nurse practitioner")
_NAME_WORD = r"[A-ZÁÉÍÓÚÑ][a-záéíóúñü'’-]+"
TITLED_NAME = re.compile(rf"(?<![\w])(?P<title>(?i:{_TITLES})\.?)\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)")
# Capitalised words after a title that are not names ("the nurse I saw", "Dr. On call", "nurse The").
_NOT_NAMES = frozenset("""i the a an and but or was were is are who that this my our your his her their on in at
for to of with from when then so very said told el la los las y que de en con por para muy fue era me mi su
""".split())

PLACEHOLDERS = ("[EMAIL]", "[MRN]", "[DATE]", "[PHONE]", "[NAME]")


@dataclass(frozen=True)
class Masked:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> replacements (no values: never PHI)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _sub(pattern: re.Pattern[str], repl: str, text: str, counts: Counter[str], kind: str) -> str:
    def one(m: re.Match[str]) -> str:
        counts[kind] += 1
        return repl

    return pattern.sub(one, text)


def _mask_titled(text: str, counts: Counter[str]) -> str:
    def one(m: re.Match[str]) -> str:
        words = m.group("name").split()
        kept: list[str] = []
        for w in words:
            if w.lower().strip("'’") in _NOT_NAMES:
                break
            kept.append(w)
        if not kept:
            return m.group(0)
        counts["name"] += 1
        rest = m.group("name")[len(" ".join(kept)):]
        return f"{m.group('title')} [NAME]{rest}"

    return TITLED_NAME.sub(one, text)


def mask(text: str | None, names: Iterable[str] = ()) -> Masked:
    """Mask PHI in ``text``; ``names`` are the patient's own names (and any other known names)."""
    if not text:
        return Masked(text or "", {})
    counts: Counter[str] = Counter()
    out = _sub(EMAIL, "[EMAIL]", text, counts, "email")

    def mrn(m: re.Match[str]) -> str:
        counts["mrn"] += 1
        return f"{m.group('label')}{m.group('sep')}[MRN]"

    out = MRN_CONTEXT.sub(mrn, out)
    for pattern in (DATE_NUMERIC, DATE_EN, DATE_ES):
        out = _sub(pattern, "[DATE]", out, counts, "date")
    out = _sub(PHONE, "[PHONE]", out, counts, "phone")
    out = _sub(ID_NUMBER, "[MRN]", out, counts, "mrn")
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        parts = [re.escape(p) for p in name.split()]
        out = _sub(re.compile(r"(?<![\w\[])" + r"\s+".join(parts) + r"(?![\w\]])", re.IGNORECASE), "[NAME]",
                   out, counts, "name")
    out = _mask_titled(out, counts)
    return Masked(out, dict(counts))
