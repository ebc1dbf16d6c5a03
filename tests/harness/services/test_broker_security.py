"""The broker as every deployment runs it: no anonymous client, each identity only
its own topics, a size limit, and logins added or revoked without a restart."""

from __future__ import annotations

import time

import pytest

from central.broker.acl import BrokerIdentity, BrokerRole
from gridwatch.contract import Topics
from harness.services.mosquitto import (
    MAX_PACKET_BYTES,
    BrokerCredentials,
    MosquittoBroker,
)
from tests.utils.broker import MqttCollector, ProbeClient

pytestmark = pytest.mark.integration
TOPICS = Topics()


def test_an_anonymous_client_is_refused(mosquitto: MosquittoBroker) -> None:
    anonymous = ProbeClient(mosquitto, None)
    try:
        assert anonymous.connack is not None and anonymous.connack.is_failure
    finally:
        anonymous.close()
    wrong = ProbeClient(mosquitto, BrokerCredentials("node-a", "not-the-password"))
    try:
        assert wrong.connack is not None and wrong.connack.is_failure
    finally:
        wrong.close()


def test_a_node_publishes_only_under_its_own_id(mosquitto: MosquittoBroker) -> None:
    node_a = ProbeClient(mosquitto, mosquitto.node("node-a"))
    try:
        with MqttCollector.for_broker(mosquitto, "gw/v1/#") as everything:
            refused = node_a.publish(TOPICS.events("node-b"), b'{"forged": true}')
            central_topic = node_a.publish(TOPICS.deadletter(), b"{}")
            own = node_a.publish(TOPICS.events("node-a"), b'{"mine": true}')
            everything.wait_for(lambda m: len(m) >= 1)
            time.sleep(0.3)  # anything forged would have arrived by now
            topics = [m.topic for m in everything.messages]
    finally:
        node_a.close()
    assert refused.is_failure and central_topic.is_failure
    assert not own.is_failure
    assert topics == [TOPICS.events("node-a")]


def test_a_worker_reads_only_its_own_tickets(mosquitto: MosquittoBroker) -> None:
    own_topic, other_topic = TOPICS.worker_tickets("w1"), TOPICS.worker_tickets("w2")
    w1 = mosquitto.account(BrokerIdentity("w1", BrokerRole.WORKER, "w1"))
    central = ProbeClient(mosquitto, mosquitto.central())
    try:
        with (
            MqttCollector(
                host=mosquitto.host,
                port=mosquitto.port,
                topic_filter=own_topic,
                credentials=w1,
            ) as own,
            MqttCollector(
                host=mosquitto.host,
                port=mosquitto.port,
                topic_filter=other_topic,
                credentials=w1,
            ) as other,
        ):
            assert not central.publish(other_topic, b"for w2").is_failure
            assert not central.publish(own_topic, b"for w1").is_failure
            own.wait_for(lambda m: len(m) >= 1)
            time.sleep(0.3)
            assert other.messages == []
    finally:
        central.close()


def test_an_oversized_message_is_refused(mosquitto: MosquittoBroker) -> None:
    node = ProbeClient(mosquitto, mosquitto.node("node-big"))
    try:
        with MqttCollector.for_broker(mosquitto, TOPICS.events("node-big")) as seen:
            node.client.publish(
                TOPICS.events("node-big"), b"x" * (MAX_PACKET_BYTES + 1), qos=1
            )
            time.sleep(1.0)
            assert seen.messages == []
    finally:
        node.close()
    # The broker itself keeps working for everyone else.
    again = ProbeClient(mosquitto, mosquitto.node("node-small"))
    try:
        assert not again.publish(TOPICS.events("node-small"), b"{}").is_failure
    finally:
        again.close()


def test_logins_are_added_and_revoked_without_a_restart(
    mosquitto: MosquittoBroker,
) -> None:
    pid_before = mosquitto.pid
    late = mosquitto.node("node-late")  # added while running: SIGHUP reload
    first = ProbeClient(mosquitto, late)
    try:
        assert first.connack is not None and not first.connack.is_failure
    finally:
        first.close()
    mosquitto.revoke("node-late")
    second = ProbeClient(mosquitto, late)
    try:
        assert second.connack is not None and second.connack.is_failure
    finally:
        second.close()
    assert mosquitto.pid == pid_before
