"""What every benchmark prints: its figures, rounded (percentiles come from
`gridwatch.stats.percentile`, linear interpolation)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
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


def run_unless_refused(
    problems: list[str], run: Callable[[], dict[str, Any]], *, as_json: bool
) -> int:
    """A bench command's end: exit status 2 with its option problems on stderr,
    or run it and print its figures (0)."""
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 2
    write_figures(run(), as_json=as_json)
    return 0
