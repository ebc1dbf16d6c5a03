"""The demo's people channels against a real demo stack (Mosquitto, central on
SQLite with the demo city): a patrol report, a citizen report followed to its
close and rated, and what `gridwatch demo --check --json` reports of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.demo import channels_ok, summarise
from harness.demo_channels import ChannelError, exercise_channels
from harness.demo_stack import DEMO_PASSWORD, DemoStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    workdir = tmp_path_factory.mktemp("demo-channels")
    with DemoStack(workdir, None, cameras=0, http_port=None) as running:
        yield running


@pytest.mark.integration
def test_the_demo_should_file_a_patrol_and_a_rated_citizen_ticket(
    stack: DemoStack,
) -> None:
    outcome = exercise_channels(stack.central_url, DEMO_PASSWORD)
    assert outcome.patrol_ticket != outcome.citizen_ticket
    assert outcome.rating == "satisfied"
    summary = summarise(stack)
    assert summary["tickets_by_source"]["patrol"] >= 1
    assert summary["tickets_by_source"]["citizen"] >= 1
    assert summary["rated"] >= 1


@pytest.mark.integration
def test_a_wrong_password_should_name_the_failed_step(stack: DemoStack) -> None:
    with pytest.raises(ChannelError, match="login operator: HTTP 401"):
        exercise_channels(stack.central_url, "not-the-password")


def summary_of(**overrides: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "dispatched": 3,
        "tickets_by_source": {"ai": 4, "patrol": 1, "citizen": 1, "open311": 0},
        "rated": 1,
    }
    return {**summary, **overrides}


@pytest.mark.parametrize(
    ("overrides", "ok"),
    [
        ({}, True),
        ({"dispatched": 0}, False),
        ({"rated": 0}, False),
        ({"tickets_by_source": {"ai": 4, "patrol": 0, "citizen": 1}}, False),
        ({"tickets_by_source": {"ai": 4, "patrol": 1}}, False),
    ],
)
def test_the_check_should_need_every_channel_and_a_rating(
    overrides: dict[str, Any], ok: bool
) -> None:
    assert channels_ok(summary_of(**overrides)) is ok
