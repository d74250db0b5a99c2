"""Benchmark results: a table on stdout and a JSON file under bench-results/.

Benchmarks compare ratios measured in one run on one machine; they never assert on wall
time, so a slow machine does not fail them.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parents[2] / "bench-results"


def write_report(name: str, title: str, rows: list[dict[str, Any]]) -> Path:
    """Print `rows` as a table and write them, with the machine's description, to JSON."""
    table = Table(title=title)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        table.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    # Wide enough that no figure wraps: the table is read in logs and CI output, not a terminal.
    Console(width=max(160, 15 * len(columns))).print(table)

    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": name,
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
