"""The IoT reading contract (`gw.reading/1`): what sensor gateways publish.

A gateway publishes a batch of readings of its own devices on
`{prefix}/iot/{gateway_id}/readings` (QoS 1). Each reading names its device,
the device type, when it was measured (with a UTC offset), a per-device
sequence number and its values, each with the unit it is in. The units and the
physical range of each device type's quantities are fixed here, so that a value
in the wrong unit or out of range is refused with a reason wherever it is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from gridwatch.contract import Identifier, WireModel, WireTime

READING_SCHEMA: Final = "gw.reading/1"
# One message holds at most this many readings (a gateway's burst after an outage).
READINGS_MAX: Final = 500
VALUES_MAX: Final = 8
SEQ_MAX: Final = 2**53 - 1


class DeviceType(StrEnum):
    """The kinds of sensor a city grid has."""

    SMOKE_ALARM = "smoke_alarm"
    WATER_LEVEL = "water_level"
    MANHOLE_COVER = "manhole_cover"
    BIN_FILL = "bin_fill"
    NOISE = "noise"
    AIR_QUALITY = "air_quality"
    DOOR_CONTACT = "door_contact"


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measured quantity of a device type.

    Attributes:
        name: The key in a reading's `values`.
        unit: The one unit it must be sent in.
        low: Smallest physically possible value.
        high: Largest physically possible value.
    """

    name: str
    unit: str
    low: float
    high: float


QUANTITIES: Final[dict[DeviceType, tuple[Quantity, ...]]] = {
    DeviceType.SMOKE_ALARM: (
        Quantity("alarm", "state", 0, 1),
        Quantity("smoke_obscuration", "%/m", 0, 100),
    ),
    DeviceType.WATER_LEVEL: (Quantity("level", "cm", 0, 500),),
    DeviceType.MANHOLE_COVER: (Quantity("tilt", "deg", 0, 180),),
    DeviceType.BIN_FILL: (Quantity("fill", "%", 0, 100),),
    DeviceType.NOISE: (Quantity("laeq", "dBA", 20, 140),),
    DeviceType.AIR_QUALITY: (Quantity("pm25", "ug/m3", 0, 1000),),
    DeviceType.DOOR_CONTACT: (Quantity("open", "state", 0, 1),),
}
"""Per device type, the quantities it may report, with unit and range."""

_UnitText = Annotated[str, Field(min_length=1, max_length=16)]
_QuantityName = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
]


class Measurement(WireModel):
    value: float = Field(allow_inf_nan=False)
    unit: _UnitText


class Reading(WireModel):
    """One reading of one device; `values` empty is a heartbeat only."""

    device_id: Identifier
    device_type: DeviceType
    ts: WireTime = Field(description="When it was measured (RFC 3339, with offset).")
    seq: int = Field(ge=0, le=SEQ_MAX, description="Per-device counter.")
    values: dict[_QuantityName, Measurement] = Field(
        default_factory=dict, max_length=VALUES_MAX
    )
    battery_pct: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_units_and_ranges(self) -> Reading:
        known = {q.name: q for q in QUANTITIES[self.device_type]}
        for name, measured in self.values.items():
            quantity = known.get(name)
            if quantity is None:
                raise ValueError(
                    f"{self.device_type} has no quantity {name!r} "
                    f"(it has {', '.join(sorted(known))})"
                )
            if measured.unit != quantity.unit:
                raise ValueError(
                    f"{name} in {measured.unit!r}, expected {quantity.unit!r}"
                )
            if not quantity.low <= measured.value <= quantity.high:
                raise ValueError(
                    f"{name} {measured.value:g} {quantity.unit} out of range "
                    f"[{quantity.low:g}, {quantity.high:g}]"
                )
        return self

    def value_of(self, name: str) -> float | None:
        """The value of a quantity, None when this reading does not carry it."""
        measured = self.values.get(name)
        return (
            None if measured is None or math.isnan(measured.value) else measured.value
        )


class ReadingBatch(WireModel):
    """The body of `{prefix}/iot/{gateway_id}/readings`.

    `readings` is checked one by one by the consumer (`Reading`), so that one bad
    reading is refused alone and the others of its message still count.
    """

    schema_: Literal["gw.reading/1"] = Field(default=READING_SCHEMA, alias="schema")
    gateway_id: Identifier
    sent_at: WireTime | None = None
    readings: list[dict[str, object]] = Field(min_length=1, max_length=READINGS_MAX)


def readings_topic(prefix: str, gateway_id: str) -> str:
    """Where gateway `gateway_id` publishes its readings."""
    return f"{prefix.rstrip('/')}/iot/{gateway_id}/readings"


def all_readings_topic(prefix: str) -> str:
    """Every gateway's readings (a subscription filter)."""
    return f"{prefix.rstrip('/')}/iot/+/readings"


def gateway_of_topic(topic: str, prefix: str) -> str | None:
    """The gateway id of a readings topic, None for any other topic."""
    head = f"{prefix.rstrip('/')}/iot/"
    if not topic.startswith(head) or not topic.endswith("/readings"):
        return None
    gateway = topic[len(head) : -len("/readings")]
    return gateway if gateway and "/" not in gateway else None
