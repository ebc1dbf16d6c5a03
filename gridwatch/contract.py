"""The MQTT message contract shared by edge and central (schema v1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

DEFAULT_TOPIC_PREFIX = "gw/v1"
EVENT_SCHEMA: Final = "gw.event/1"
CAMERA_STATUS_SCHEMA: Final = "gw.camera_status/1"
NODE_STATUS_SCHEMA: Final = "gw.node_status/1"
OCCUPANCY_SCHEMA: Final = "gw.occupancy/1"
TICKET_SCHEMA: Final = "gw.ticket/1"
DEADLETTER_SCHEMA: Final = "gw.deadletter/1"

NormFloat = Annotated[float, Field(ge=0.0, le=1.0)]

# What central can store, checked on the wire so that one message can never
# stop a batch: lengths are the widths of central's columns.
ID_MAX_CHARS: Final = 64
MODEL_TEXT_MAX_CHARS: Final = 100
URL_MAX_CHARS: Final = 2048
ATTRIBUTES_MAX: Final = 32
ATTRIBUTE_KEY_MAX_CHARS: Final = 64
ATTRIBUTE_TEXT_MAX_CHARS: Final = 256
ATTRIBUTE_LIST_MAX: Final = 256
# An integer JSON parsers everywhere read exactly (JavaScript's safe range).
ATTRIBUTE_INT_MAX: Final = 2**53 - 1
EARLIEST_EVENT_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of edge nodes may run ahead; a day ahead is a broken clock, not skew.
MAX_CLOCK_AHEAD: Final = timedelta(days=1)


def _in_time_window(value: datetime) -> datetime:
    if value < EARLIEST_EVENT_TIME:
        raise ValueError(f"before {EARLIEST_EVENT_TIME.date().isoformat()}")
    latest = datetime.now(UTC) + MAX_CLOCK_AHEAD
    if value > latest:
        raise ValueError("more than a day ahead of central's clock")
    return value


WireTime = Annotated[AwareDatetime, AfterValidator(_in_time_window)]
"""A time with its UTC offset (a naive time is refused), from 2000 to a day ahead."""

# No control characters in names, no NUL anywhere: PostgreSQL text cannot hold NUL.
_NAME_PATTERN: Final = r"^[^\x00-\x1f\x7f]+$"
_TEXT_PATTERN: Final = r"^[^\x00]*$"
Identifier = Annotated[
    str, Field(min_length=1, max_length=ID_MAX_CHARS, pattern=_NAME_PATTERN)
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
AttributeText = Annotated[
    str, Field(max_length=ATTRIBUTE_TEXT_MAX_CHARS, pattern=_TEXT_PATTERN)
]


def _exact_integer(value: object) -> object:
    # Without this a too-large integer would slip through as a float.
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) > ATTRIBUTE_INT_MAX
    ):
        raise ValueError(f"integer beyond ±{ATTRIBUTE_INT_MAX}")
    return value


AttributeValue = Annotated[
    Annotated[int, Field(ge=-ATTRIBUTE_INT_MAX, le=ATTRIBUTE_INT_MAX)]
    | FiniteFloat
    | AttributeText
    | bool
    | Annotated[list[AttributeText], Field(max_length=ATTRIBUTE_LIST_MAX)],
    BeforeValidator(_exact_integer),
]
"""One value of an event's `attributes`: finite, and of bounded size."""
AttributeKey = Annotated[
    str, Field(min_length=1, max_length=ATTRIBUTE_KEY_MAX_CHARS, pattern=_NAME_PATTERN)
]


def utc_now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


# Event types are an open set: a rule plug-in names its own type (lower-case
# words joined by `_`) and central's matter list says how to handle it. At most
# 32 characters: central stores the type in 32-character columns.
EVENT_TYPE_PATTERN: Final = r"^[a-z][a-z0-9_]{0,31}$"


class EventType(StrEnum):
    """The event types of the built-in rules (a plug-in rule may send others)."""

    CROWDING = "crowding"
    INTRUSION = "intrusion"
    LITTERING = "littering"
    ABANDONED_OBJECT = "abandoned_object"
    FALL = "fall"
    PRESENCE = "presence"
    ILLEGAL_PARKING = "illegal_parking"
    # Raised by central's IoT rules from sensor readings (gridwatch/readings.py).
    FIRE_ALARM = "fire_alarm"
    WATERLOGGING = "waterlogging"
    MANHOLE_DISPLACED = "manhole_displaced"
    BIN_FULL = "bin_full"
    NOISE = "noise"
    AIR_QUALITY = "air_quality"
    DOOR_OPEN = "door_open"
    SENSOR_OFFLINE = "sensor_offline"
    SENSOR_FAULT = "sensor_fault"


def as_known_event_type(event_type: str) -> str:
    """The `EventType` member of a built-in type, any other type unchanged.

    A parsed built-in type is then the member itself (`event.type is
    EventType.FALL`); on the wire both are the same string.
    """
    try:
        return EventType(event_type)
    except ValueError:
        return event_type


EventTypeName = Annotated[
    str, Field(pattern=EVENT_TYPE_PATTERN), AfterValidator(as_known_event_type)
]


class EventPhase(StrEnum):
    START = "start"
    UPDATE = "update"
    END = "end"


class CameraHealth(StrEnum):
    ONLINE = "online"
    STALLED = "stalled"
    OFFLINE = "offline"


class LocationSource(StrEnum):
    GROUND = "ground"
    CAMERA = "camera"


class WireModel(BaseModel):
    """Base of every wire model: strict, immutable, `schema` settable by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json(self) -> str:
        """The message as sent: aliases (`schema`), unset optionals left out."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class Location(WireModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    source: LocationSource


class SnapshotRef(WireModel):
    sha256: str = Field(min_length=64, max_length=64)
    content_type: str = Field(default="image/jpeg", max_length=ID_MAX_CHARS)
    bytes_b64: str | None = Field(default=None, description="Inline JPEG, base64.")
    url: str | None = Field(default=None, max_length=URL_MAX_CHARS)


class ClipRef(WireModel):
    sha256: str = Field(min_length=64, max_length=64)
    url: str = Field(max_length=URL_MAX_CHARS)
    duration_s: float = Field(ge=0, allow_inf_nan=False)


class Media(WireModel):
    snapshot: SnapshotRef | None = None
    clip: ClipRef | None = None


class ModelInfo(WireModel):
    name: str = Field(max_length=MODEL_TEXT_MAX_CHARS, pattern=_TEXT_PATTERN)
    version: str = Field(max_length=MODEL_TEXT_MAX_CHARS, pattern=_TEXT_PATTERN)


class EventMessage(WireModel):
    """One event observation; `event_id` is stable across start/update/end."""

    schema_: Literal["gw.event/1"] = Field(default=EVENT_SCHEMA, alias="schema")
    event_id: str = Field(min_length=8, max_length=64)
    type: EventTypeName
    phase: EventPhase = EventPhase.START
    node_id: Identifier
    camera_id: Identifier
    started_at: WireTime
    detected_at: WireTime
    ended_at: WireTime | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    location: Location
    image_box: tuple[NormFloat, NormFloat, NormFloat, NormFloat] | None = None
    zone_id: Identifier | None = None
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict, max_length=ATTRIBUTES_MAX
    )
    media: Media = Field(default_factory=Media)
    model: ModelInfo

    @property
    def dedupe_key(self) -> str:
        """Idempotency key of this message: the edge outbox key and central's.

        `start` and `end` happen once per event, so `event_id` + phase identifies
        them; `update` repeats, so its `detected_at` is part of its key, e.g.
        `"<id>:start"` or `"<id>:update:2025-01-01T12:00:00+00:00"`.
        """
        key = f"{self.event_id}:{self.phase.value}"
        if self.phase is EventPhase.UPDATE:
            key = f"{key}:{self.detected_at.isoformat()}"
        return key


class CameraStatusMessage(WireModel):
    schema_: Literal["gw.camera_status/1"] = Field(
        default=CAMERA_STATUS_SCHEMA, alias="schema"
    )
    node_id: Identifier
    camera_id: Identifier
    health: CameraHealth
    fps_in: float = Field(ge=0)
    fps_analysed: float = Field(ge=0)
    last_frame_at: datetime | None = None
    reconnects: int = Field(ge=0, default=0)
    error: str | None = Field(default=None, max_length=2000, pattern=_TEXT_PATTERN)
    at: datetime = Field(default_factory=utc_now)


class NodeStatusMessage(WireModel):
    schema_: Literal["gw.node_status/1"] = Field(
        default=NODE_STATUS_SCHEMA, alias="schema"
    )
    node_id: str
    state: Literal["online", "offline"]
    version: str = ""
    model: str = ""
    cameras: list[str] = Field(default_factory=list)
    at: datetime = Field(default_factory=utc_now)


class OccupancyMessage(WireModel):
    """Per-zone object counts by label at one instant."""

    schema_: Literal["gw.occupancy/1"] = Field(default=OCCUPANCY_SCHEMA, alias="schema")
    node_id: str
    camera_id: str
    at: datetime
    zones: dict[str, dict[str, int]]


class TicketNotice(WireModel):
    """A ticket pushed to a worker terminal (and to operator consoles)."""

    schema_: Literal["gw.ticket/1"] = Field(default=TICKET_SCHEMA, alias="schema")
    ticket_id: int
    action: str = Field(description="dispatched, reassigned, returned, escalated, ...")
    state: str
    title: str
    category_code: str
    category_name: str
    priority: str
    grid_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    assignee_id: str | None = None
    escalation_level: int = 0
    overdue: bool = False
    due_at: datetime | None = None
    found_at: datetime
    event_ids: list[str] = Field(default_factory=list)
    note: str | None = None
    sent_at: datetime = Field(default_factory=utc_now)


class DeadLetterMessage(WireModel):
    """A message central refused, with the reason, for operators to inspect."""

    schema_: Literal["gw.deadletter/1"] = Field(
        default=DEADLETTER_SCHEMA, alias="schema"
    )
    topic: str
    reason: str
    payload: str = Field(description="The refused payload (UTF-8, or base64).")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    at: datetime = Field(default_factory=utc_now)


class Topics:
    """Topic names, all under one configurable prefix."""

    def __init__(self, prefix: str = DEFAULT_TOPIC_PREFIX) -> None:
        self.prefix = prefix.rstrip("/")

    def events(self, node_id: str) -> str:
        return f"{self.prefix}/edge/{node_id}/events"

    def node_status(self, node_id: str) -> str:
        return f"{self.prefix}/edge/{node_id}/status"

    def camera_status(self, node_id: str, camera_id: str) -> str:
        return f"{self.prefix}/edge/{node_id}/cameras/{camera_id}/status"

    def occupancy(self, node_id: str, camera_id: str) -> str:
        return f"{self.prefix}/edge/{node_id}/cameras/{camera_id}/occupancy"

    def worker_tickets(self, worker_id: str) -> str:
        return f"{self.prefix}/workers/{worker_id}/tickets"

    def ticket_updates(self) -> str:
        """Every ticket change, for operator consoles (QoS 0)."""
        return f"{self.prefix}/central/tickets"

    def deadletter(self) -> str:
        return f"{self.prefix}/central/deadletter"

    def replica_slot(self, client_id: str) -> str:
        """Where a central replica says whether its slot is online (retained)."""
        return f"{self.prefix}/central/replicas/{client_id}"

    def replica_slots(self) -> str:
        return f"{self.prefix}/central/replicas/+"

    def all_events(self) -> str:
        return f"{self.prefix}/edge/+/events"
