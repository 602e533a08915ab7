"""Load, map and validate survey answers for the CXM impact study.

Row numbers in every message count data rows from 1 (the header line of a CSV is not counted), so row 4 is the
fourth respondent in the file. Nothing is dropped silently: rows removed for missing answers are listed in the
:class:`DataReport`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pxm.analytics.study.instruments import construct_items, item_codes

__all__ = [
    "DataReport",
    "StudyDataError",
    "apply_mapping",
    "fingerprint",
    "load_mapping_file",
    "parse_map_options",
    "read_data",
    "validate_data",
]

MIN_ROWS_WARN = 200


class StudyDataError(ValueError):
    """The data cannot be analysed; ``problems`` lists every reason, each naming items and rows."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class DataReport:
    """What validation found and did with the rows."""

    n_rows: int
    n_complete: int
    dropped_rows: tuple[int, ...]
    missing_by_item: dict[str, int]
    ignored_columns: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "n_complete": self.n_complete,
            "n_dropped": len(self.dropped_rows),
            "dropped_rows": list(self.dropped_rows),
            "missing_by_item": dict(self.missing_by_item),
            "ignored_columns": list(self.ignored_columns),
            "method": "listwise deletion (rows with any missing item answer are left out of the model)",
        }


def _rows_text(rows: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def read_data(path: str | Path) -> pd.DataFrame:
    """Read CSV, Excel (.xlsx/.xls) or SPSS (.sav) with cells kept as read (strings for CSV).

    Cells are not coerced to numbers here so that validation can name every non-numeric answer and its row.
    """
    p = Path(path)
    if not p.is_file():
        raise StudyDataError([f"{p}: file not found"])
    suffix = p.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(p, dtype=object)
        if suffix == ".sav":
            return pd.read_spss(p, convert_categoricals=False)
        return pd.read_csv(p, sep=None, engine="python", dtype=str, keep_default_na=False)
    except Exception as exc:  # a user file we cannot parse is a data problem, not a crash
        raise StudyDataError([f"{p.name}: cannot read as a table ({exc})"]) from exc


def parse_map_options(options: list[str] | None) -> dict[str, str]:
    """``["OLD=NEW", ...]`` -> ``{"OLD": "NEW"}``."""
    mapping: dict[str, str] = {}
    bad: list[str] = []
    for opt in options or []:
        old, sep, new = opt.partition("=")
        if not sep or not old.strip() or not new.strip():
            bad.append(f"--map {opt!r}: expected OLD=NEW")
        else:
            mapping[old.strip()] = new.strip()
    if bad:
        raise StudyDataError(bad)
    return mapping


def load_mapping_file(path: str | Path) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudyDataError([f"mapping file {path}: {exc}"]) from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise StudyDataError([f"mapping file {path}: must be a JSON object of column name -> item code"])
    return data


def apply_mapping(df: pd.DataFrame, mapping: dict[str, str] | None) -> pd.DataFrame:
    """Rename data columns ``OLD`` to item codes ``NEW``; a mapped column that is absent is an error."""
    if not mapping:
        return df
    columns = [str(c) for c in df.columns]
    absent = [old for old in mapping if old not in columns]
    if absent:
        raise StudyDataError([f"mapping names column(s) not in the data: {', '.join(absent)}"])
    targets = list(mapping.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise StudyDataError([f"mapping sends several columns to the same item: {', '.join(dup)}"])
    return df.rename(columns={c: mapping.get(str(c), str(c)) for c in df.columns})


def _to_number(value: Any) -> float | None:
    """Parse one cell; ``nan`` for blank, ``None`` when not a number."""
    if value is None:
        return float("nan")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip()
    if text == "" or text.upper() in ("NA", "N/A", "NAN", "NULL", "."):
        return float("nan")
    try:
        return float(text.replace(",", ".")) if text.count(",") == 1 and "." not in text else float(text)
    except ValueError:
        return None


def validate_data(df: pd.DataFrame, instrument: dict[str, Any], *, min_complete: int = 0,
                  check_scale: bool = True) -> tuple[pd.DataFrame, DataReport]:
    """Check answers against the instrument; return complete numeric rows (original row numbers as index).

    ``min_complete`` is the number of complete rows the model needs (its free parameters, at least);
    ``check_scale=False`` accepts any real value (simulated continuous data).
    Raises ``StudyDataError`` with every problem found.
    """
    items = item_codes(instrument)
    lo, hi = instrument["scale"]["min"], instrument["scale"]["max"]
    problems: list[str] = []
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        problems.append(f"duplicate column(s): {', '.join(dups)}")
    prefixes = sorted(construct_items(instrument), key=len, reverse=True)
    pattern = re.compile(rf"^({'|'.join(map(re.escape, prefixes))})\d+$", re.IGNORECASE)
    unknown = [c for c in columns if c not in items and pattern.match(c)]
    if unknown:
        problems.append(f"unknown item code(s) for instrument {instrument['code']}: {', '.join(unknown)} "
                        f"(expected {items[0]}..{items[-1]}; rename with --map OLD=NEW)")
    missing = [i for i in items if i not in columns]
    if missing:
        problems.append(f"required item column(s) missing: {', '.join(missing)}")
    ignored = tuple(c for c in columns if c not in items and c not in unknown)
    if problems:
        raise StudyDataError(problems)

    n_rows = len(df)
    row_numbers = np.arange(1, n_rows + 1)
    numeric = pd.DataFrame(index=row_numbers, columns=items, dtype=float)
    for item in items:
        raw = df[item].tolist()
        parsed = [_to_number(v) for v in raw]
        bad = [(r, raw[k]) for k, (r, v) in enumerate(zip(row_numbers, parsed, strict=True)) if v is None]
        if bad:
            examples = ", ".join(sorted({repr(str(v)) for _, v in bad})[:5])
            problems.append(f"{item}: non-numeric value(s) {examples} in {_rows_text([int(r) for r, _ in bad])}")
            parsed = [float("nan") if v is None else v for v in parsed]
        col = np.array(parsed, dtype=float)
        numeric[item] = col
        outside = ~np.isnan(col) & ((col < lo) | (col > hi)) & check_scale
        if outside.any():
            by_value: dict[float, list[int]] = {}
            for r, v in zip(row_numbers[outside], col[outside], strict=True):
                by_value.setdefault(float(v), []).append(int(r))
            for v, rows in sorted(by_value.items()):
                shown = int(v) if v.is_integer() else v
                problems.append(f"{item}: value {shown} outside the {lo}-{hi} scale in {_rows_text(rows)}")
    if n_rows == 0:
        problems.append("the data has no rows")
    if problems:
        raise StudyDataError(problems)

    missing_by_item = {i: int(numeric[i].isna().sum()) for i in items}
    complete_mask = ~numeric.isna().any(axis=1)
    dropped = tuple(int(r) for r in numeric.index[~complete_mask])
    clean = numeric[complete_mask]
    n_complete = len(clean)
    if n_complete < max(min_complete, 2):
        problems.append(
            f"too few complete rows for the model: {n_complete} complete of {n_rows} "
            f"(needs at least {max(min_complete, 2)}; {len(dropped)} row(s) have missing answers"
            + (f": {_rows_text(list(dropped))})" if dropped else ")"))
    else:
        for item in items:
            values = clean[item].unique()
            if len(values) < 2:
                shown = int(values[0]) if float(values[0]).is_integer() else values[0]
                problems.append(f"{item}: no variance (every complete row answers {shown}); "
                                "the item cannot be modelled")
    if problems:
        raise StudyDataError(problems)

    warnings: list[str] = []
    if dropped:
        warnings.append(f"{len(dropped)} of {n_rows} rows dropped for missing answers ({_rows_text(list(dropped))})")
    if n_complete < MIN_ROWS_WARN:
        warnings.append(f"only {n_complete} complete rows: SEM estimates are unstable below about {MIN_ROWS_WARN}")
    report = DataReport(n_rows=n_rows, n_complete=n_complete, dropped_rows=dropped, missing_by_item=missing_by_item,
                        ignored_columns=ignored, warnings=tuple(warnings))
    return clean, report


def fingerprint(clean: pd.DataFrame) -> str:
    """sha256 of the normalized data: item columns in instrument order, one line per row, values as %.10g."""
    h = hashlib.sha256()
    h.update((",".join(str(c) for c in clean.columns) + "\n").encode())
    for row in clean.itertuples(index=False):
        h.update((",".join("NA" if np.isnan(v) else f"{v:.10g}" for v in row) + "\n").encode())
    return h.hexdigest()
