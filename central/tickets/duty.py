"""Duty hours: is a worker on duty at a given local time?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any


@dataclass(frozen=True, slots=True)
class DutyWindow:
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    start: time
    end: time  # an end before the start runs past midnight

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> DutyWindow:
        days = frozenset(int(d) for d in raw.get("days", range(1, 8)))
        if not days or not days <= set(range(1, 8)):
            raise ValueError(f"duty days must be ISO weekdays 1..7, got {sorted(days)}")
        return cls(
            days, time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"])
        )

    def covers(self, local: datetime) -> bool:
        now = local.time()
        day = local.isoweekday()
        if self.start <= self.end:
            return day in self.days and self.start <= now < self.end
        # Overnight: the evening part belongs to `day`, the morning to the day before.
        if now >= self.start:
            return day in self.days
        previous = 7 if day == 1 else day - 1
        return now < self.end and previous in self.days


def parse_duty(raw: Sequence[dict[str, Any]]) -> tuple[DutyWindow, ...]:
    return tuple(DutyWindow.parse(item) for item in raw)


def on_duty(windows: Sequence[DutyWindow], local: datetime) -> bool:
    """No windows means always on duty."""
    return not windows or any(w.covers(local) for w in windows)
