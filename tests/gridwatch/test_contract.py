"""The wire contract: round trips, strictness and idempotency keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from gridwatch.contract import EventMessage, EventPhase, EventType, Topics

BODY: dict[str, Any] = {
    "schema": "gw.event/1",
    "event_id": "0123456789abcdef",
    "type": "crowding",
    "phase": "start",
    "node_id": "n1",
    "camera_id": "c1",
    "started_at": "2026-01-01T00:00:00Z",
    "detected_at": "2026-01-01T00:00:05Z",
    "confidence": 0.8,
    "location": {"lat": 23.1, "lon": 113.2, "source": "camera"},
    "model": {"name": "yolox_nano", "version": "0.1.0"},
}


def test_event_given_valid_body_should_round_trip() -> None:
    event = EventMessage.model_validate(BODY)
    again = EventMessage.model_validate(json.loads(event.to_json()))
    assert again == event
    assert json.loads(event.to_json())["schema"] == "gw.event/1"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("schema", "gw.event/2"),
        ("type", "Dancing!"),
        ("confidence", 1.5),
        ("event_id", "short"),
        ("surprise", 1),
        ("location", {"lat": 91, "lon": 0, "source": "camera"}),
    ],
)
def test_event_given_one_bad_field_should_raise_naming_it(
    key: str, value: object
) -> None:
    with pytest.raises(ValidationError, match=key):
        EventMessage.model_validate({**BODY, key: value})


@pytest.mark.parametrize("name", ["graffiti", "overflowing_bin", "a", "x" * 32])
def test_event_given_a_plug_in_type_should_keep_it_on_the_wire(name: str) -> None:
    event = EventMessage.model_validate({**BODY, "type": name})
    assert event.type == name
    assert json.loads(event.to_json())["type"] == name


@pytest.mark.parametrize("name", ["", "Graffiti", "9lives", "bad-name", "x" * 33])
def test_event_given_a_type_that_is_no_name_should_raise(name: str) -> None:
    with pytest.raises(ValidationError, match="type"):
        EventMessage.model_validate({**BODY, "type": name})


def test_event_given_a_built_in_type_should_give_its_enum_member() -> None:
    parsed = EventMessage.model_validate_json(
        EventMessage.model_validate(BODY).to_json()
    )
    assert parsed.type is EventType.CROWDING
    assert json.loads(parsed.to_json())["type"] == "crowding"


def test_dedupe_key_given_updates_should_differ_by_time_and_start_should_not() -> None:
    start = EventMessage.model_validate(BODY)
    assert start.dedupe_key == "0123456789abcdef:start"
    start_later = start.model_copy(
        update={"detected_at": datetime(2026, 1, 2, tzinfo=UTC)}
    )
    assert start_later.dedupe_key == start.dedupe_key
    update = start.model_copy(update={"phase": EventPhase.UPDATE})
    later = update.model_copy(update={"detected_at": datetime(2026, 1, 2, tzinfo=UTC)})
    assert update.dedupe_key == "0123456789abcdef:update:2026-01-01T00:00:05+00:00"
    assert update.dedupe_key != later.dedupe_key


def test_topics_given_prefix_should_build_every_topic() -> None:
    topics = Topics("city/v1/")
    assert topics.events("n1") == "city/v1/edge/n1/events"
    assert topics.camera_status("n1", "c1") == "city/v1/edge/n1/cameras/c1/status"
    assert topics.occupancy("n1", "c1") == "city/v1/edge/n1/cameras/c1/occupancy"
    assert topics.all_events() == "city/v1/edge/+/events"


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"started_at": "2026-01-01T00:00:00"}, "started_at"),  # no time zone
        ({"detected_at": "1970-01-01T00:00:00Z"}, "detected_at"),
        ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at"),
        ({"ended_at": "2026-01-01 10:00"}, "ended_at"),
        ({"node_id": "n" * 65}, "node_id"),
        ({"camera_id": ""}, "camera_id"),
        ({"zone_id": "z" * 65}, "zone_id"),
        ({"model": {"name": "m" * 101, "version": "1"}}, "model.name"),
        ({"attributes": {"count": float("nan")}}, "attributes.count"),
        ({"attributes": {"dwell_s": float("inf")}}, "attributes.dwell_s"),
        ({"attributes": {"label": "x" * 257}}, "attributes.label"),
        ({"attributes": {"ids": ["1"] * 257}}, "attributes.ids"),
        ({"attributes": {f"k{i}": i for i in range(33)}}, "attributes"),
        ({"attributes": {"": 1}}, "attributes"),
        ({"attributes": {"count": 2**60}}, "attributes.count"),
        ({"zone_id": "a\x00b"}, "zone_id"),
        ({"camera_id": "cam\n1"}, "camera_id"),
        ({"attributes": {"label": "a\x00"}}, "attributes.label"),
    ],
)
def test_event_given_what_central_cannot_store_should_refuse_it(
    patch: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        EventMessage.model_validate({**BODY, **patch})
    where = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert any(w == named or w.startswith(f"{named}.") for w in where), where


def test_event_given_nan_in_json_should_refuse_it() -> None:
    text = json.dumps({**BODY, "attributes": {"count": float("nan")}})
    assert "NaN" in text
    with pytest.raises(ValidationError):
        EventMessage.model_validate_json(text)


def test_event_given_the_bounds_exactly_should_accept_it() -> None:
    event = EventMessage.model_validate(
        {
            **BODY,
            "node_id": "n" * 64,
            "started_at": "2026-01-01T08:00:00+08:00",
            "attributes": {f"k{i}": ["7"] * 256 for i in range(32)},
        }
    )
    assert event.started_at == datetime(2026, 1, 1, tzinfo=UTC)
