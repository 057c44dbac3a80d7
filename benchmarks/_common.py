"""Shared by benchmark scripts: a rich table on stdout and the results as JSON in results/."""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"


def report(name: str, title: str, columns: list[str], rows: list[list], extra: dict) -> Path:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:,.4g}" if isinstance(v, float) else str(v) for v in r])
    Console(width=140).print(table)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                "machine": platform.platform(), "processor": platform.processor(),
                                "columns": columns, "rows": rows, **extra}, indent=2) + "\n")
    print(f"saved {path}")
    return path
