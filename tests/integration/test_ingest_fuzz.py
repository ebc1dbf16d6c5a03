"""Fuzzed messages through a real Mosquitto into a running central (SQLite, and
PostgreSQL through the command; the demo city): every valid message stored, every
malformed one dead-lettered, ingest never stuck. The generator is
`harness.bench.poison`, the stack and the figures are `gridwatch bench fuzz`'s
(`harness.bench.fuzz`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from gridwatch.contract import EventMessage
from harness.bench.fuzz import FuzzStack
from harness.bench.poison import BAD_KINDS, EVENT_TYPES, VALID, fuzz_messages

MESSAGES = 10_000  # about 10 s on 2 cores (publishing is the slower side)


def test_the_generator_is_deterministic_and_marks_every_message_rightly() -> None:
    points = [(23.1225, 113.3225), (23.1225, 113.3275)]
    at = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    messages = fuzz_messages(1300, points=points, seed=5, now=at)
    assert messages == fuzz_messages(1300, points=points, seed=5, now=at)
    assert messages != fuzz_messages(1300, points=points, seed=6, now=at)
    kinds = Counter(m.kind for m in messages)
    assert set(kinds) == {VALID, *BAD_KINDS}
    assert 0.2 < 1 - kinds[VALID] / len(messages) < 0.4
    keys = [m.key for m in messages if m.valid]
    assert len(set(keys)) == len(keys)  # no valid message repeats another
    for message in messages:
        node = message.topic.split("/")[-2]
        try:
            event = EventMessage.model_validate_json(message.payload)
        except ValidationError:
            assert not message.valid, message
            continue
        # What passes the wire schema is bad only for central's own checks.
        storable = event.node_id == node and event.type in EVENT_TYPES
        assert storable == message.valid, message
        if message.valid:
            assert event.dedupe_key == message.key


@pytest.mark.integration
def test_fuzzed_messages_through_the_broker_are_stored_or_dead_lettered(
    tmp_path: Path,
) -> None:
    with FuzzStack(tmp_path) as stack:
        messages = fuzz_messages(MESSAGES, points=stack.points, seed=13)
        figures = stack.run(messages, timeout_s=45)
        valid = sum(m.valid for m in messages)
        assert figures["sent"] == figures["received"] == MESSAGES
        assert figures["central_alive"], "central's ingest thread died"
        # every valid message stored, nothing else
        assert figures["stored"] == valid and figures["missing"] == 0
        assert figures["unexpected"] == 0
        # every malformed one dead-lettered, on the topic and in the counters
        assert figures["dead_lettered"] == MESSAGES - valid
        assert figures["deadlettered_counted"] == MESSAGES - valid
        # the contract refused them all: no bad message reached the database
        assert figures["unstorable"] == figures["failed_batches"] == 0
        # nothing stuck
        assert figures["lag_s"] < 1 and figures["queued"] == 0
        assert (figures["healthz"], figures["ingest_status"]) == (200, "ok")
        health = httpx.get(f"{stack.base_url}/healthz", timeout=10).json()
        assert health["ingest"]["deadlettered"] == MESSAGES - valid
        assert health["ingest"]["stored"] == valid
        assert figures["ok"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("database", "stored_in"), [("sqlite", "sqlite"), ("postgres", "postgresql")]
)
def test_bench_fuzz_command_given_database_should_print_its_figures(
    database: str, stored_in: str
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "--log-level",
            "WARNING",
            "bench",
            "fuzz",
            "--messages",
            "300",
            "--seed",
            "4",
            "--timeout-s",
            "30",
            "--database",
            database,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["sent"] == 300 and figures["ok"]
    assert figures["database"] == stored_in
    assert figures["stored"] == figures["valid"] > 0
    assert (
        figures["dead_lettered"] == figures["bad"] == sum(figures["bad_kinds"].values())
    )
    assert set(figures["bad_kinds"]) == set(BAD_KINDS)
    assert figures["messages_per_s"] > 0
    # one warning per dead letter stays out of the output
    assert "dead letter from" not in result.stderr
