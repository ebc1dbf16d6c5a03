"""What every benchmark prints: its figures, rounded (percentiles come from
`gridwatch.stats.percentile`, linear interpolation)."""

from __future__ import annotations

import json
import sys
from typing import Any


def rounded(value: float | None, digits: int = 1) -> float | None:
    """`value` rounded for printing (to 0.1 by default); None stays None."""
    return None if value is None else round(value, digits)


def write_figures(figures: dict[str, Any], *, as_json: bool) -> None:
    """Print `figures` to stdout: one JSON line, or one `name: value` line each."""
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    for key, value in figures.items():
        sys.stdout.write(f"{key:>24}: {value}\n")
