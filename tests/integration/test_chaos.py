"""`gridwatch bench chaos --small`: every fault against real processes (PostgreSQL,
Mosquitto, two central replicas, the edge's outbox and publisher) costs nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from harness.bench.chaos import DEFAULT_FAULTS

pytestmark = pytest.mark.integration

# The one fault Mosquitto itself can lose events in (docs/reliability.md, "Fault
# injection"): after a restart, a persistent session's subscriptions match
# nothing until its client reconnects; an event that arrives in between is
# acknowledged to the edge with "no matching subscribers" and dropped.
BROKER_RESTART = "broker_kill"


def _run_chaos(*extra: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(
        [
            sys.executable, "-m", "harness", "--log-level", "WARNING",
            "bench", "chaos", "--small", "--json", "--seed", "5", *extra,
        ],
        capture_output=True,
        text=True,
        timeout=420,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-3000:]
    figures: dict[str, Any] = json.loads(lines[-1])
    return result.returncode, figures, result.stderr


@pytest.mark.timeout(450)
def test_chaos_small_given_every_fault_should_lose_and_duplicate_nothing() -> None:
    code, figures, stderr = _run_chaos()
    faults = {f["name"]: f for f in figures["faults"]}
    assert list(faults) == DEFAULT_FAULTS, stderr[-3000:]
    for name, fault in faults.items():
        assert fault["published"] > 0, name
        assert fault["duplicates"] == 0, fault
        if name == BROKER_RESTART:
            # Every event lost there is one the broker said it routed to nobody.
            assert fault["lost"] <= fault["unrouted"], fault
        else:
            assert fault["lost"] == 0, fault
            assert fault["recovery_s"] is not None, fault
        assert fault["tickets"] == fault["published"] - fault["lost"], fault
        assert f"chaos: {name}: published" in stderr  # a progress line each
    # The faults bit: the dead replica's share waited in its session, and the
    # full disk refused the edge's new events (counted, never published).
    assert faults["replica_kill"]["pending_at_clear"] > 0
    assert faults["edge_disk_full"]["note"].startswith("outbox disk (tmpfs")
    assert faults["edge_disk_full"]["not_stored"] > 0
    poison = figures["poison"]
    assert poison["sent"] >= 13  # every malformation of harness.bench.poison
    assert poison["dead_lettered"] == poison["sent"]
    assert poison["good_after_bad"] > 0
    assert poison["good_after_bad_ticketed"] == poison["good_after_bad"]
    assert (code == 0) == figures["ok"]


def test_chaos_given_an_unknown_fault_should_refuse_with_the_choices() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "bench", "chaos", "--faults", "meteor"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown faults" in result.stderr and "replica_kill" in result.stderr
