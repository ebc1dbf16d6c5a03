"""The camera check contract: requests, answers, topics."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from gridwatch.verification import (
    VerifyRequest,
    VerifyResult,
    VerifyVerdict,
    all_verify_results_topic,
    node_of_result_topic,
    verify_command_topic,
    verify_result_topic,
)

REQUEST: dict[str, Any] = {
    "schema": "gw.verify_request/1",
    "request_id": "0123456789abcdef",
    "ticket_id": 7,
    "node_id": "node-01",
    "camera_id": "cam-001",
    "zone_id": "floor",
    "event_type": "littering",
    "event_ids": ["e1e2e3e4e5"],
    "image_box": [0.1, 0.2, 0.3, 0.4],
    "look_s": 10,
    "requested_at": "2026-11-25T02:00:00+00:00",
}


@pytest.mark.parametrize(
    ("key", "value", "expectation"),
    [
        ("look_s", 300, nullcontext()),
        ("zone_id", None, nullcontext()),
        ("look_s", 301, pytest.raises(ValidationError)),
        ("request_id", "NOT-HEX-AT-ALL!!", pytest.raises(ValidationError)),
        ("event_ids", [], pytest.raises(ValidationError)),
        ("event_ids", ["e" * 8] * 33, pytest.raises(ValidationError)),
        ("ticket_id", 0, pytest.raises(ValidationError)),
        ("event_type", "Not A Type", pytest.raises(ValidationError)),
        ("image_box", [0, 0, 1, 1.5], pytest.raises(ValidationError)),
        ("requested_at", "2026-11-25T02:00:00", pytest.raises(ValidationError)),
        ("extra", 1, pytest.raises(ValidationError)),
    ],
)
def test_verify_request_given_one_changed_key_should_validate_or_refuse(
    key: str, value: object, expectation: AbstractContextManager[object]
) -> None:
    with expectation:
        VerifyRequest.model_validate({**REQUEST, key: value})


def test_verify_result_should_round_trip_with_its_schema() -> None:
    result = VerifyResult(
        request_id="ab" * 8,
        ticket_id=3,
        node_id="node-01",
        camera_id="cam-001",
        verdict=VerifyVerdict.GONE,
        reason="episode ended",
        checked_at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    text = result.to_json()
    assert '"schema":"gw.verify_result/1"' in text
    assert VerifyResult.model_validate_json(text) == result


def test_topics_should_hang_off_the_prefix_and_name_the_node() -> None:
    assert verify_command_topic("gw/v1/", "n1") == "gw/v1/edge/n1/commands/verify"
    assert verify_result_topic("gw/v1", "n1") == "gw/v1/edge/n1/verifications"
    assert all_verify_results_topic("gw/v1") == "gw/v1/edge/+/verifications"


@pytest.mark.parametrize(
    ("topic", "node"),
    [
        ("gw/v1/edge/n1/verifications", "n1"),
        ("gw/v1/edge/n1/events", None),
        ("gw/v1/edge/a/b/verifications", None),
        ("gw/v1/edge//verifications", None),
        ("other/edge/n1/verifications", None),
    ],
)
def test_node_of_result_topic_given_topic_should_name_its_node(
    topic: str, node: str | None
) -> None:
    assert node_of_result_topic(topic, "gw/v1") == node
