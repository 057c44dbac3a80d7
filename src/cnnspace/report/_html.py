"""A self-contained HTML page: figures embedded as base64 PNG, a table sortable by any column
(a few lines of inline JavaScript), no external resource. Every text that comes from the study
goes through ``html.escape``."""
from __future__ import annotations

import base64
import html
import math
from typing import Any, Callable, Mapping, Sequence

from .._values import is_int, is_number

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:760px}
table{border-collapse:collapse;font-size:.8em}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0}
td.text{text-align:left}td.cmd{text-align:left;font-family:monospace;white-space:normal;
min-width:30em}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:bold}
"""
# Click a header to sort by it (again to reverse); cells sort by their data-v when numeric.
SCRIPT = """
document.querySelectorAll('table.sortable th').forEach((th, col) => {
  th.addEventListener('click', () => {
    const body = th.closest('table').tBodies[0];
    const up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
    const key = td => { const v = td.dataset.v; return v === undefined ? td.textContent : +v; };
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a.cells[col]), y = key(b.cells[col]);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });
    rows.forEach(r => body.appendChild(r)); }); });
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def figure(png: bytes, caption: str, name: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{esc(name)}"><img alt="{esc(caption)}" src="data:image/png;base64,'
            f'{data}"><figcaption>{esc(caption)}</figcaption></figure>')


def definition(key: str, value: Any) -> str:
    return f"<dt>{esc(key)}</dt><dd>{esc(value)}</dd>"


def definitions(items: Sequence[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(definition(k, v) for k, v in items) + "</dl>"


def table(rows: list[dict[str, Any]], columns: Sequence[str],
          text_columns: Sequence[str] = (), code_columns: Sequence[str] = (),
          percent_columns: Sequence[str] = (),
          shown_as: Mapping[str, Callable[[Any], str]] = {}) -> str:
    """``percent_columns`` hold fractions, shown as percentages (sorted by the fraction);
    ``shown_as`` gives a column the function that writes its values."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            css = "cmd" if c in code_columns else "text" if c in text_columns else ""
            sort = f' data-v="{value!r}"' if finite_number(value) else ""
            klass = f' class="{css}"' if css else ""
            shown = (f"{value:.2%}" if c in percent_columns and sort else
                     shown_as[c](value) if c in shown_as and value is not None else _format(value))
            cells.append(f"<td{klass}{sort}>{esc(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table>")


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """``sections``: (heading, HTML body) pairs, bodies already escaped."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>"]
    for heading, body in sections:
        parts.append(f"<h2>{esc(heading)}</h2>{body}")
    parts.append(f"<script>{SCRIPT}</script></body></html>\n")
    return "".join(parts)


def finite_number(v: Any) -> bool:
    return is_number(v) and math.isfinite(v)


def _format(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if is_int(v):
        return f"{v:,}"
    return str(v)
