"""Fuzzed `gw.event/1` traffic for central: valid events mixed with malformed
messages, made deterministically from a seed.

`fuzz_messages(n, points=...)` returns what to publish, each message marked with
what central must do with it: store it (`kind == "valid"`) or dead-letter it (any
other kind, one of `BAD_KINDS`). Valid messages are new events (unique ids, six
types, four nodes, the given grid points) and updates of earlier ones, some with
values at the contract's edges (64-character ids, 32 attributes, 256-item lists,
±2⁵³ integers, a +14:00 offset). Used by `gridwatch bench fuzz` and
`tests/integration/test_ingest_fuzz.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from gridwatch.contract import (
    ATTRIBUTE_INT_MAX,
    EventMessage,
    EventPhase,
    Location,
    LocationSource,
    ModelInfo,
    Topics,
)

VALID = "valid"
# Types with an entry in central's default matter list.
EVENT_TYPES = (
    "crowding",
    "intrusion",
    "littering",
    "fall",
    "illegal_parking",
    "abandoned_object",
)
NODES = ("node-01", "node-02", "node-03", "node-04")

Body = dict[str, Any]
Maker = Callable[[random.Random, Body], bytes]


@dataclass(frozen=True, slots=True)
class FuzzMessage:
    """One message to publish on `topic`, and what central must do with it."""

    topic: str
    payload: bytes
    kind: str  # VALID, or the name of the malformation
    key: str | None = None  # a valid message's dedupe key

    @property
    def valid(self) -> bool:
        return self.kind == VALID


def _json(body: Any) -> bytes:
    text = json.dumps(body, allow_nan=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


# -- the malformations --------------------------------------------------------------


def _broken_json(rng: random.Random, body: Body) -> bytes:
    text = _json(body)
    choice = rng.randrange(4)
    if choice == 0:
        return text[: rng.randrange(1, len(text) - 1)]  # cut short
    if choice == 1:
        return text.replace(b'"', b"'", 1)
    if choice == 2:
        return text + b",}"
    return rng.randbytes(rng.randint(1, 200))


def _not_an_object(rng: random.Random, body: Body) -> bytes:
    return rng.choice([b"", b"null", b"[]", b"42", b'"event"', b"true", _json([body])])


def _not_utf8(rng: random.Random, body: Body) -> bytes:
    if rng.random() < 0.3:
        text = json.dumps({**body, "camera_id": "caméra-1"}, ensure_ascii=False)
        return text.encode("latin-1", errors="replace")
    bad = rng.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])
    field = rng.choice([b'"camera_id":"', b'"name":"', b'"event_id":"'])
    return _json(body).replace(field, field + bad, 1)


def _naive_time(rng: random.Random, body: Body) -> bytes:
    field = rng.choice(["started_at", "detected_at"])
    naive = datetime.fromisoformat(body[field]).replace(tzinfo=None)
    return _json({**body, field: naive.isoformat()})


def _bad_time(rng: random.Random, body: Body) -> bytes:
    field = rng.choice(["started_at", "detected_at", "ended_at"])
    value = rng.choice(
        [
            "2999-01-01T00:00:00Z",  # far ahead
            "1999-12-31T23:59:59Z",  # before 2000
            "1969-12-31T23:59:59Z",
            "2026-02-30T10:00:00Z",  # no such day
            "yesterday",
            "",
            "2026-11-04T25:00:00Z",
        ]
    )
    return _json({**body, field: value})


def _not_finite(rng: random.Random, body: Body) -> bytes:
    value = rng.choice([float("nan"), float("inf"), float("-inf")])
    where = rng.randrange(4)
    if where == 0:
        return _json({**body, "confidence": value})
    if where == 1:
        return _json({**body, "location": {**body["location"], "lat": value}})
    if where == 2:
        return _json({**body, "image_box": [0.1, value, 0.3, 0.4]})
    return _json({**body, "attributes": {"count": value}})


def _too_long(rng: random.Random, body: Body) -> bytes:
    letter = rng.choice(["x", "街"])
    where = rng.randrange(5)
    if where == 0:
        return _json({**body, "camera_id": letter * rng.randint(65, 5000)})
    if where == 1:
        return _json({**body, "zone_id": letter * rng.randint(65, 5000)})
    if where == 2:
        return _json({**body, "event_id": body["event_id"] + letter * 64})
    if where == 3:
        model = {"name": letter * rng.randint(101, 5000), "version": "1"}
        return _json({**body, "model": model})
    return _json({**body, "attributes": {"note": letter * rng.randint(257, 20_000)}})


def _nul(rng: random.Random, body: Body) -> bytes:
    where = rng.randrange(4)
    if where == 0:
        return _json({**body, "camera_id": "cam\x00-1"})
    if where == 1:
        return _json({**body, "zone_id": "\x00"})
    if where == 2:
        return _json({**body, "model": {"name": "yolo\x00", "version": "1"}})
    return _json({**body, "attributes": {"note": "a\x00b"}})


def _wrong_node(rng: random.Random, body: Body) -> bytes:
    others = [n for n in NODES if n != body["node_id"]] + ["node-x", "NODE-01"]
    return _json({**body, "node_id": rng.choice(others)})


_WRONG_VALUES: list[tuple[str, Any]] = [
    ("confidence", "high"),
    ("confidence", 1.5),
    ("confidence", -0.1),
    ("confidence", None),
    ("location", "here"),
    ("location", {"lat": 123.0, "lon": 23.0, "source": "ground"}),
    ("location", {"lat": 23.0, "lon": 113.0, "source": "satellite"}),
    ("attributes", ["count", 4]),
    ("attributes", {"nested": {"a": 1}}),
    ("attributes", {"": 1}),
    ("phase", "middle"),
    ("type", 7),
    ("type", "Crowding"),
    ("type", "ufo"),  # valid on the wire; central has no matter for it
    ("schema", "gw.event/2"),
    ("event_id", "short"),
    ("image_box", [0.1, 0.2]),
    ("image_box", [0.0, 0.0, 2.0, 1.0]),
    ("media", "x"),
    ("model", None),
    ("node_id", 17),
    ("camera_id", ""),
]


def _wrong_type(rng: random.Random, body: Body) -> bytes:
    field, value = rng.choice(_WRONG_VALUES)
    return _json({**body, field: value})


def _missing_field(rng: random.Random, body: Body) -> bytes:
    required = ["event_id", "type", "node_id", "camera_id", "started_at"]
    required += ["detected_at", "confidence", "location", "model"]
    field = rng.choice(required)
    return _json({k: v for k, v in body.items() if k != field})


def _unknown_field(rng: random.Random, body: Body) -> bytes:
    name = rng.choice(["extra", "ticket_id", "__proto__", "schema_"])
    return _json({**body, name: rng.choice([1, "x", None, {"a": [1]}])})


def _huge_attributes(rng: random.Random, body: Body) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        attributes: Body = {f"k{i}": i for i in range(rng.randint(33, 3000))}
    elif choice == 1:
        attributes = {"items": [f"i{i}" for i in range(rng.randint(257, 5000))]}
    elif choice == 2:
        attributes = {"k" * rng.randint(65, 500): 1}
    else:
        attributes = {"count": -(ATTRIBUTE_INT_MAX + 1) * 10**300}  # not a float
    return _json({**body, "attributes": attributes})


BAD_KINDS: dict[str, Maker] = {
    "broken_json": _broken_json,
    "not_an_object": _not_an_object,
    "not_utf8": _not_utf8,
    "naive_time": _naive_time,
    "bad_time": _bad_time,
    "not_finite": _not_finite,
    "too_long": _too_long,
    "nul": _nul,
    "wrong_node": _wrong_node,
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "unknown_field": _unknown_field,
    "huge_attributes": _huge_attributes,
}


# -- valid events ---------------------------------------------------------------


def _edge_attributes(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(5)
    if choice == 0:
        return {f"k{i}": i for i in range(32)}
    if choice == 1:
        return {"items": ["街" * 10] * 256}
    if choice == 2:
        return {"big": ATTRIBUTE_INT_MAX, "small": -ATTRIBUTE_INT_MAX, "zero": 0.0}
    if choice == 3:
        return {"note": "' OR 1=1 --" + "x" * 245, "ok": True}
    return {"k" * 64: "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"}


def _new_event(
    rng: random.Random, index: int, seed: int, now: datetime, points: Sequence[Any]
) -> EventMessage:
    lat, lon = rng.choice(points)
    event_id = f"fz{seed}-{index:06d}-{rng.getrandbits(24):06x}"
    started = now - timedelta(seconds=rng.uniform(0, 300))
    camera = f"cam-{rng.randrange(1, 9):03d}"
    zone: str | None = rng.choice([None, "floor", "gate-2"])
    attributes: dict[str, Any] = {"count": rng.randint(1, 40)}
    confidence = round(rng.uniform(0.5, 1.0), 3)
    if rng.random() < 0.2:  # values at the contract's edges, all allowed
        event_id = event_id.ljust(64, "z")
        camera = ("摄像头-" + camera).ljust(64, "c")
        zone = "z" * 64
        attributes = _edge_attributes(rng)
        confidence = rng.choice([0.0, 1.0])
        started = started.astimezone(timezone(timedelta(hours=14)))
    return EventMessage(
        event_id=event_id,
        type=rng.choice(EVENT_TYPES),
        node_id=rng.choice(NODES),
        camera_id=camera,
        started_at=started,
        detected_at=started,
        confidence=confidence,
        location=Location(
            lat=lat + rng.uniform(-1e-4, 1e-4),
            lon=lon + rng.uniform(-1e-4, 1e-4),
            source=LocationSource.GROUND,
        ),
        zone_id=zone,
        attributes=attributes,
        model=ModelInfo(name="fuzz", version="1"),
    )


def fuzz_messages(
    count: int,
    *,
    points: Sequence[tuple[float, float]],
    seed: int = 1,
    bad_share: float = 0.3,
    update_share: float = 0.1,
    now: datetime | None = None,
    topics: Topics | None = None,
) -> list[FuzzMessage]:
    """`count` messages, about `bad_share` of them malformed (every kind of
    `BAD_KINDS` in turn), the rest valid: new events at `points` (lat, lon) and,
    about `update_share` of them, updates of events sent before. The same seed
    and `now` give the same bytes."""
    if not points:
        raise ValueError("fuzz_messages needs at least one grid point")
    rng = random.Random(seed)
    topics = topics or Topics()
    now = now or datetime.now(UTC)
    kinds = list(BAD_KINDS.items())
    started: list[EventMessage] = []
    messages: list[FuzzMessage] = []
    bad = 0
    for index in range(count):
        if rng.random() < bad_share:
            kind, make = kinds[bad % len(kinds)]
            bad += 1
            base = _new_event(rng, index, seed, now, points)
            body = json.loads(base.to_json())
            topic = topics.events(base.node_id)
            messages.append(FuzzMessage(topic, make(rng, body), kind))
            continue
        if started and rng.random() < update_share:
            first = rng.choice(started[-200:])
            event = first.model_copy(
                update={
                    "phase": EventPhase.UPDATE,
                    "detected_at": first.detected_at
                    + timedelta(seconds=1, microseconds=index),
                    "attributes": {"count": rng.randint(1, 40)},
                }
            )
        else:
            event = _new_event(rng, index, seed, now, points)
            started.append(event)
        messages.append(
            FuzzMessage(
                topics.events(event.node_id),
                event.to_json().encode("utf-8"),
                VALID,
                event.dedupe_key,
            )
        )
    return messages
