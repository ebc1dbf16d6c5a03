"""Per device type: which quantity the rules watch, their thresholds and heartbeat.

One entry per device type (`gridwatch.readings.DeviceType`); a new device type
is one quantity in the contract plus one profile here, no code elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gridwatch.contract import EventType
from gridwatch.readings import QUANTITIES, DeviceType


@dataclass(frozen=True, slots=True)
class Threshold:
    """A level rule with hysteresis and a minimum duration.

    Attributes:
        on_at: The condition holds at or above this value.
        off_below: An open episode ends only below this (`<= on_at`), so a value
            hovering around `on_at` does not open and close episodes.
        min_duration_s: The condition must hold this long (over successive
            readings) before an episode opens: one spike is not an incident.
    """

    on_at: float
    off_below: float
    min_duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.off_below > self.on_at:
            raise ValueError(f"off_below {self.off_below} above on_at {self.on_at}")
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s {self.min_duration_s} is negative")


@dataclass(frozen=True, slots=True)
class RateOfChange:
    """A rise rule: the value rising at least `rise_per_min` between two
    successive readings, twice in a row (one spike is not a rise)."""

    rise_per_min: float
    consecutive: int = 2

    def __post_init__(self) -> None:
        if self.rise_per_min <= 0 or self.consecutive < 1:
            raise ValueError("rise_per_min must be > 0 and consecutive >= 1")


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What central's rules do with one device type's readings.

    Attributes:
        device_type: The type.
        quantity: The value the rules watch (a quantity of the type).
        event_type: The event an episode raises.
        threshold: The level rule.
        rate: The optional rise rule (raising the same event type).
        heartbeat_s: Silence longer than this is a `sensor_offline` episode.
        stuck_after_s: The same value this long is a `sensor_fault` episode
            (None: a constant value is normal, e.g. a dry gauge, a closed door).
    """

    device_type: DeviceType
    quantity: str
    event_type: EventType
    threshold: Threshold
    rate: RateOfChange | None = None
    heartbeat_s: float = 900.0
    stuck_after_s: float | None = None

    def __post_init__(self) -> None:
        names = {q.name for q in QUANTITIES[self.device_type]}
        if self.quantity not in names:
            raise ValueError(f"{self.device_type} has no quantity {self.quantity!r}")
        if self.heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s {self.heartbeat_s} must be > 0")
        if self.stuck_after_s is not None and self.stuck_after_s <= 0:
            raise ValueError(f"stuck_after_s {self.stuck_after_s} must be > 0")

    @property
    def unit(self) -> str:
        return next(
            q.unit for q in QUANTITIES[self.device_type] if q.name == self.quantity
        )


PROFILES: Final[dict[DeviceType, DeviceProfile]] = {
    p.device_type: p
    for p in (
        # An alarm is an alarm: no minimum duration; it clears when reset.
        DeviceProfile(
            DeviceType.SMOKE_ALARM,
            "alarm",
            EventType.FIRE_ALARM,
            Threshold(on_at=1, off_below=1),
            heartbeat_s=3600,
        ),
        # 15 cm of standing water for 5 minutes, or a fast rise (3 cm/min).
        DeviceProfile(
            DeviceType.WATER_LEVEL,
            "level",
            EventType.WATERLOGGING,
            Threshold(on_at=15, off_below=8, min_duration_s=300),
            rate=RateOfChange(rise_per_min=3),
            heartbeat_s=900,
        ),
        DeviceProfile(
            DeviceType.MANHOLE_COVER,
            "tilt",
            EventType.MANHOLE_DISPLACED,
            Threshold(on_at=15, off_below=5, min_duration_s=60),
            heartbeat_s=3600,
        ),
        DeviceProfile(
            DeviceType.BIN_FILL,
            "fill",
            EventType.BIN_FULL,
            Threshold(on_at=90, off_below=40, min_duration_s=600),
            heartbeat_s=3600,
        ),
        # Night-time limits differ by zone; 70 dBA for 10 min is a complaint.
        DeviceProfile(
            DeviceType.NOISE,
            "laeq",
            EventType.NOISE,
            Threshold(on_at=70, off_below=62, min_duration_s=600),
            heartbeat_s=900,
            stuck_after_s=7200,  # street noise never holds to 0.1 dB for 2 h
        ),
        # 75 µg/m³ is China's grade II 24-hour limit for PM2.5.
        DeviceProfile(
            DeviceType.AIR_QUALITY,
            "pm25",
            EventType.AIR_QUALITY,
            Threshold(on_at=75, off_below=50, min_duration_s=1800),
            heartbeat_s=1800,
            stuck_after_s=7200,
        ),
        DeviceProfile(
            DeviceType.DOOR_CONTACT,
            "open",
            EventType.DOOR_OPEN,
            Threshold(on_at=1, off_below=1, min_duration_s=600),
            heartbeat_s=3600,
        ),
    )
}
"""The built-in profile of every device type."""
