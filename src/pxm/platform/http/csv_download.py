"""A CSV file as a download (``Content-Disposition: attachment``), for the pages' "Download CSV" links."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from pxm.platform.spreadsheet import csv_text

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """The rows as a UTF-8 CSV download named ``filename``.

    The file starts with a byte-order mark: without it Excel reads UTF-8 as the local code page, and a name such
    as "Peña" arrives garbled. Never cached (``no-store``), as the pages it comes from."""
    name = _SAFE_NAME.sub("-", filename).strip("-") or "export.csv"
    return Response("\ufeff" + csv_text(header, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
