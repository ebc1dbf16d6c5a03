"""The camera check contract: central asks a node to look again after a resolution.

When a worker resolves a ticket a camera raised, central publishes a
`VerifyRequest` (`gw.verify_request/1`, QoS 1) on the node's own command topic
`{prefix}/edge/{node}/commands/verify`; only central may write there and only
that node may read it (broker ACL). The node watches the camera for the
request's `look_s`, then answers a `VerifyResult` (`gw.verify_result/1`, QoS 1)
on `{prefix}/edge/{node}/verifications`: the condition is `gone`, still
`present`, or it `cannot_verify` (the camera is dark, the node lost sight of
it), with an "after" snapshot whose faces the node blurred.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, Field

from gridwatch.contract import (
    EventTypeName,
    Identifier,
    NormFloat,
    SnapshotRef,
    WireModel,
    utc_now,
)

VERIFY_REQUEST_SCHEMA: Final = "gw.verify_request/1"
VERIFY_RESULT_SCHEMA: Final = "gw.verify_result/1"
# How long a node may watch before it answers (central's time-out is longer).
LOOK_MAX_S: Final = 300.0
EVENT_IDS_MAX: Final = 32
REASON_MAX_CHARS: Final = 500
# Hex request ids central mints; also the key of its verification row.
RequestId = Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
EventId = Annotated[str, Field(min_length=8, max_length=64)]


class VerifyVerdict(StrEnum):
    """What the node saw when it looked again."""

    GONE = "gone"
    PRESENT = "present"
    CANNOT_VERIFY = "cannot_verify"


class VerifyRequest(WireModel):
    """Central asks a node to look again at one camera and zone."""

    schema_: Literal["gw.verify_request/1"] = Field(
        default=VERIFY_REQUEST_SCHEMA, alias="schema"
    )
    request_id: RequestId
    ticket_id: int = Field(ge=1)
    node_id: Identifier
    camera_id: Identifier
    zone_id: Identifier | None = None
    event_type: EventTypeName
    event_ids: list[EventId] = Field(min_length=1, max_length=EVENT_IDS_MAX)
    image_box: tuple[NormFloat, NormFloat, NormFloat, NormFloat] | None = None
    look_s: float = Field(
        default=10.0,
        ge=0,
        le=LOOK_MAX_S,
        allow_inf_nan=False,
        description="Seconds of fresh frames to watch before answering.",
    )
    requested_at: AwareDatetime


class VerifyResult(WireModel):
    """A node's answer to one `VerifyRequest`."""

    schema_: Literal["gw.verify_result/1"] = Field(
        default=VERIFY_RESULT_SCHEMA, alias="schema"
    )
    request_id: RequestId
    ticket_id: int = Field(ge=1)
    node_id: Identifier
    camera_id: Identifier
    verdict: VerifyVerdict
    reason: str = Field(max_length=REASON_MAX_CHARS, pattern=r"^[^\x00]*$")
    checked_at: datetime = Field(default_factory=utc_now)
    snapshot: SnapshotRef | None = Field(
        default=None, description="The 'after' picture (faces blurred), inline."
    )


def verify_command_topic(prefix: str, node_id: str) -> str:
    """Where central asks node `node_id` to look again (only it may read)."""
    return f"{prefix.rstrip('/')}/edge/{node_id}/commands/verify"


def verify_result_topic(prefix: str, node_id: str) -> str:
    """Where node `node_id` answers."""
    return f"{prefix.rstrip('/')}/edge/{node_id}/verifications"


def all_verify_results_topic(prefix: str) -> str:
    """Every node's answers (a subscription filter)."""
    return f"{prefix.rstrip('/')}/edge/+/verifications"


def node_of_result_topic(topic: str, prefix: str) -> str | None:
    """The node id of an answer topic, None for any other topic."""
    head = f"{prefix.rstrip('/')}/edge/"
    if not topic.startswith(head) or not topic.endswith("/verifications"):
        return None
    node = topic[len(head) : -len("/verifications")]
    return node if node and "/" not in node else None
