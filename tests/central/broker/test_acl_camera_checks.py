"""Broker ACL lines for camera checks: central writes every node's commands and
reads their answers; a node reads only its own commands (the real broker's
refusal of another node is in tests/integration/test_camera_checks.py)."""

from __future__ import annotations

import pytest

from central.broker.acl import BrokerIdentity, BrokerRole


@pytest.mark.parametrize(
    ("identity", "granted", "not_granted"),
    [
        (
            BrokerIdentity("central", BrokerRole.CENTRAL),
            [
                "topic write gw/v1/edge/+/commands/#",
                "topic read gw/v1/edge/+/verifications",
            ],
            ["topic read gw/v1/edge/+/commands/#"],
        ),
        (
            BrokerIdentity("n1", BrokerRole.EDGE_NODE, "n1"),
            ["topic read gw/v1/edge/n1/commands/#", "topic write gw/v1/edge/n1/#"],
            [
                "topic read gw/v1/edge/+/commands/#",
                "topic write gw/v1/edge/+/commands/#",
            ],
        ),
        (
            BrokerIdentity("w1", BrokerRole.WORKER, "w1"),
            [],
            ["topic read gw/v1/edge/+/verifications"],
        ),
    ],
)
def test_grants_given_a_role_should_allow_only_its_camera_check_topics(
    identity: BrokerIdentity, granted: list[str], not_granted: list[str]
) -> None:
    lines = identity.grants("gw/v1")
    assert all(line in lines for line in granted)
    assert not any(line in lines for line in not_granted)
