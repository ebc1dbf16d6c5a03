"""What every benchmark prints: percentiles of its samples and its figures."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (linear interpolation), to 0.1; None without values."""
    return round(float(np.percentile(values, q)), 1) if values else None


def write_figures(figures: dict[str, Any], *, as_json: bool) -> None:
    """Print `figures` to stdout: one JSON line, or one `name: value` line each."""
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    for key, value in figures.items():
        sys.stdout.write(f"{key:>24}: {value}\n")
