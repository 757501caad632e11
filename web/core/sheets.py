"""Reports for reporting upward: rows as CSV or Excel, safe to open.

Text that begins like a formula (= + - @) would run as one when a spreadsheet opens the
file; addresses and names come from heads' typing and imported registers, so such text
is written as text: a string cell in Excel, a leading apostrophe in CSV.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote
from collections.abc import Sequence
from typing import Any

from litestar import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[_csv_value(v) for v in row] for row in rows])
    # A BOM so that Excel, which most offices open it in, reads the Chinese right.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(rows: Sequence[Sequence[Any]], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text, "=…" included
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def download(body: bytes, filename: str, kind: str, fallback: str = "") -> Response[bytes]:
    """An attachment, never cached (it holds addresses)."""
    media_type = "text/csv" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": disposition(filename, fallback), "Cache-Control": "no-store"})


def disposition(filename: str, fallback: str = "") -> str:
    """An attachment named in any language: an ASCII name for old clients (`fallback`, else
    the name with other characters replaced) and the UTF-8 name (RFC 6266)."""
    plain = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in (fallback or filename))
    if plain == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
