"""The `gw.reading/1` contract: units, ranges, times, topics."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
from pydantic import ValidationError

from gridwatch.readings import (
    QUANTITIES,
    DeviceType,
    Reading,
    ReadingBatch,
    all_readings_topic,
    gateway_of_topic,
    readings_topic,
)

VALID: dict[str, Any] = {
    "device_id": "wl-00001",
    "device_type": "water_level",
    "ts": "2026-11-25T02:00:00+00:00",
    "seq": 7,
    "values": {"level": {"value": 12.5, "unit": "cm"}},
}


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({}, nullcontext()),
        ({"values": {}}, nullcontext()),  # a heartbeat
        ({"battery_pct": 80}, nullcontext()),
        (
            {"values": {"level": {"value": 12.5, "unit": "m"}}},
            pytest.raises(ValidationError, match="expected 'cm'"),
        ),
        (
            {"values": {"level": {"value": 900, "unit": "cm"}}},
            pytest.raises(ValidationError, match="out of range"),
        ),
        (
            {"values": {"level": {"value": -1, "unit": "cm"}}},
            pytest.raises(ValidationError, match="out of range"),
        ),
        (
            {"values": {"fill": {"value": 1, "unit": "%"}}},
            pytest.raises(ValidationError, match="has no quantity 'fill'"),
        ),
        (
            {"values": {"level": {"value": "NaN", "unit": "cm"}}},
            pytest.raises(ValidationError),
        ),
        ({"ts": "2026-11-25T02:00:00"}, pytest.raises(ValidationError)),  # naive
        ({"ts": "1999-01-01T00:00:00Z"}, pytest.raises(ValidationError)),
        ({"seq": -1}, pytest.raises(ValidationError)),
        ({"device_type": "toaster"}, pytest.raises(ValidationError)),
        ({"device_id": ""}, pytest.raises(ValidationError)),
        ({"extra": 1}, pytest.raises(ValidationError)),
    ],
)
def test_reading_given_one_change_should_validate_or_raise(
    change: dict[str, Any], outcome: AbstractContextManager[object]
) -> None:
    with outcome:
        Reading.model_validate(VALID | change)


def test_reading_value_of_given_missing_quantity_should_be_none() -> None:
    reading = Reading.model_validate(VALID)
    assert reading.value_of("level") == 12.5
    assert reading.value_of("tilt") is None


def test_batch_given_no_readings_or_wrong_schema_should_raise() -> None:
    ok = {"schema": "gw.reading/1", "gateway_id": "gw-1", "readings": [VALID]}
    assert ReadingBatch.model_validate(ok).gateway_id == "gw-1"
    with pytest.raises(ValidationError):
        ReadingBatch.model_validate(ok | {"readings": []})
    with pytest.raises(ValidationError):
        ReadingBatch.model_validate(ok | {"schema": "gw.reading/2"})


def test_quantities_should_cover_every_device_type() -> None:
    assert set(QUANTITIES) == set(DeviceType)


@pytest.mark.parametrize(
    ("topic", "gateway"),
    [
        ("gw/v1/iot/gw-7/readings", "gw-7"),
        ("gw/v1/iot/a/b/readings", None),
        ("gw/v1/iot//readings", None),
        ("gw/v1/edge/n1/events", None),
    ],
)
def test_gateway_of_topic_should_parse_only_readings_topics(
    topic: str, gateway: str | None
) -> None:
    assert gateway_of_topic(topic, "gw/v1") == gateway


def test_topics_should_hang_off_the_prefix() -> None:
    assert readings_topic("gw/v1/", "g1") == "gw/v1/iot/g1/readings"
    assert all_readings_topic("x") == "x/iot/+/readings"
