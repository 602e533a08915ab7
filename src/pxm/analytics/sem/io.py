"""Read a data file (CSV, Excel .xlsx, SPSS .sav) into a DataFrame with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DataError

SUPPORTED = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".sav", ".zsav")


def read_table(path: str | Path) -> Any:
    """Return a pandas DataFrame; raise DataError (with the file name and the problem) on failure."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if not p.is_file():
        raise DataError(f"not a file: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            df = pd.read_csv(p, sep=None, engine="python")
        elif suffix == ".tsv":
            df = pd.read_csv(p, sep="\t")
        elif suffix in (".xlsx", ".xlsm"):
            df = pd.read_excel(p, engine="openpyxl")
        elif suffix in (".sav", ".zsav"):
            import pyreadstat

            df, _meta = pyreadstat.read_sav(str(p))
        else:
            raise DataError(f"unsupported data file type '{suffix}' ({p.name}); use one of {', '.join(SUPPORTED)}")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a clear DataError
        raise DataError(f"cannot read {p.name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                        ) from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"{p.name} contains no data")
    df.columns = [str(c).strip() for c in df.columns]
    return df
