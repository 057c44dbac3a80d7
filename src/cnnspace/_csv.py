"""CSV text for files that spreadsheets open: a cell a spreadsheet would run as a formula (a
layer or class named "=cmd|..." in a stranger's spec) is written as text."""
from __future__ import annotations

import csv
import io
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` for a CSV file: text a spreadsheet would run as a formula gets a leading
    apostrophe, which makes it text there; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rows_to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    """A header and one line per row; ``columns`` (default: the first row's keys) give the
    header's order, and its header even without rows."""
    columns = columns if columns is not None else list(rows[0]) if rows else []
    if not columns:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writerow({c: spreadsheet_cell(c) for c in columns})
    writer.writerows({k: spreadsheet_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue()
