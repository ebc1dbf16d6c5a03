"""MqttPublisher against a real Mosquitto: delivery, status/LWT, outages, restarts."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.config import BrokerConfig
from edge.publish.mqtt import MqttPublisher
from edge.publish.options import MqttPublisherOptions
from edge.publish.outbox import Outbox, OutboxFullError
from gridwatch.contract import EventMessage, EventPhase, NodeStatusMessage, Topics
from tests.edge.publish.factories import build_event
from tests.utils.broker import MosquittoBroker, MqttCollector, ReceivedMessage

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
TOPICS = Topics()
FAST = MqttPublisherOptions(reconnect_min_s=1, reconnect_max_s=1, stop_timeout_s=3)


@contextmanager
def running_publisher(
    broker: MosquittoBroker, node_id: str, outbox_path: Path
) -> Iterator[MqttPublisher]:
    """A started publisher with its own outbox; stopped and closed afterwards."""
    with Outbox(outbox_path, max_rows=1000, node_id=node_id) as outbox:
        publisher = MqttPublisher(
            node_id=node_id,
            broker=BrokerConfig.model_validate(broker.node_config(node_id)),
            outbox=outbox,
            options=FAST,
        )
        publisher.start()
        try:
            yield publisher
        finally:
            publisher.stop()


def event_ids(messages: list[ReceivedMessage]) -> Counter[str]:
    return Counter(
        EventMessage.model_validate_json(m.payload).event_id for m in messages
    )


def has_ids(count: int) -> Callable[[list[ReceivedMessage]], bool]:
    return lambda messages: len(event_ids(messages)) >= count


def status_states(messages: list[ReceivedMessage]) -> list[str]:
    return [NodeStatusMessage.model_validate_json(m.payload).state for m in messages]


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


@contextmanager
def broker_outage(broker: MosquittoBroker, publisher: MqttPublisher) -> Iterator[None]:
    """Stop the broker for the block, once the publisher has seen the cut."""
    broker.stop()
    wait_until(lambda: not publisher.is_connected)
    try:
        yield
    finally:
        broker.start()


def test_mqtt_publisher_given_events_should_deliver_each_with_qos1(
    mosquitto_session: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-deliver"
    with (
        MqttCollector.for_broker(mosquitto_session, TOPICS.events(node)) as sub,
        running_publisher(mosquitto_session, node, tmp_path / "o.db") as pub,
    ):
        for n in range(10):
            assert pub.publish_event(build_event(node, n)) is True
        messages = sub.wait_for(has_ids(10))
        wait_until(lambda: pub.stats().outbox_depth == 0)
        stats = pub.stats()

    assert sorted(event_ids(messages)) == [f"ev-{n:08d}" for n in range(10)]
    assert all(m.qos == 1 and not m.retain for m in messages)
    assert stats.in_flight == 0
    assert stats.published >= 10


def test_mqtt_publisher_given_same_event_twice_should_send_it_once(
    mosquitto_session: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-dedupe"
    with (
        MqttCollector.for_broker(mosquitto_session, TOPICS.events(node)) as sub,
        running_publisher(mosquitto_session, node, tmp_path / "o.db") as pub,
    ):
        assert pub.publish_event(build_event(node, 1)) is True
        sub.wait_for(has_ids(1))
        wait_until(lambda: pub.stats().outbox_depth == 0)
        assert pub.publish_event(build_event(node, 1)) is False
        assert pub.publish_event(build_event(node, 2)) is True
        messages = sub.wait_for(has_ids(2))

    assert event_ids(messages) == Counter({"ev-00000001": 1, "ev-00000002": 1})


def test_mqtt_publisher_given_start_and_clean_stop_should_leave_retained_status(
    mosquitto_session: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-status"
    topic = TOPICS.node_status(node)
    with running_publisher(mosquitto_session, node, tmp_path / "o.db") as pub:
        assert pub.wait_until_connected(5)
        with MqttCollector.for_broker(mosquitto_session, topic) as late:
            online = late.wait_for(lambda m: len(m) >= 1)[0]

    with MqttCollector.for_broker(mosquitto_session, topic) as after_stop:
        offline = after_stop.wait_for(lambda m: len(m) >= 1)[0]

    assert online.retain and online.qos == 1
    assert status_states([online]) == ["online"]
    assert offline.retain
    assert status_states([offline]) == ["offline"]


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from edge.config import BrokerConfig
    from edge.publish.mqtt import MqttPublisher
    from edge.publish.outbox import Outbox

    port, path, secret = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    publisher = MqttPublisher(
        node_id="n-lwt",
        broker=BrokerConfig(port=port, username="n-lwt", password_file=secret),
        outbox=Outbox(path, max_rows=10),
    )
    publisher.start()
    print("connected" if publisher.wait_until_connected(5) else "failed", flush=True)
    time.sleep(60)
    """
)


def test_mqtt_publisher_given_killed_process_should_leave_lwt_offline(
    mosquitto_session: MosquittoBroker, tmp_path: Path
) -> None:
    topic = TOPICS.node_status("n-lwt")
    with MqttCollector.for_broker(mosquitto_session, topic) as sub:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(mosquitto_session.port),
                str(tmp_path / "o.db"),
                str(mosquitto_session.node_config("n-lwt")["password_file"]),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "connected"
            sub.wait_for(lambda m: status_states(m) == ["online"], timeout_s=5)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
        messages = sub.wait_for(lambda m: len(m) >= 2, timeout_s=5)

    assert status_states(messages) == ["online", "offline"]
    assert messages[1].qos == 1


def test_mqtt_publisher_given_broker_outage_should_deliver_each_event_once(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-outage"
    with (
        MqttCollector.for_broker(mosquitto, TOPICS.events(node)) as sub,
        running_publisher(mosquitto, node, tmp_path / "o.db") as pub,
    ):
        assert pub.wait_until_connected(5)
        with broker_outage(mosquitto, pub):
            for n in range(50):
                pub.publish_event(build_event(node, n))
            assert pub.stats().outbox_depth == 50

        sub.wait_for(has_ids(50), timeout_s=15)
        wait_until(lambda: pub.stats().outbox_depth == 0)
        time.sleep(0.3)  # give any duplicate a chance to show up
        messages = sub.messages
        assert pub.stats().reconnects >= 1

    counts = event_ids(messages)
    assert len(counts) == 50
    assert set(counts.values()) == {1}


def test_mqtt_publisher_given_restart_mid_stream_should_lose_no_event(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-midstream"
    with (
        MqttCollector.for_broker(mosquitto, TOPICS.events(node)) as sub,
        running_publisher(mosquitto, node, tmp_path / "o.db") as pub,
    ):
        for n in range(200):
            pub.publish_event(build_event(node, n))
            if n == 100:
                mosquitto.restart()
        messages = sub.wait_for(has_ids(200), timeout_s=15)
        wait_until(lambda: pub.stats().outbox_depth == 0)

    assert len(event_ids(messages)) == 200
    # The broker itself re-sends (DUP flag set) messages whose PUBACK from this
    # subscriber it had not recorded when it stopped: that leg is at least once
    # and central dedupes it. What our publisher sent arrives once per event:
    # rows in flight at the cut are re-sent by paho alone, never by the drain.
    first_copies = event_ids([m for m in messages if not m.dup])
    assert set(first_copies.values()) == {1}


def test_mqtt_publisher_given_unacked_messages_at_cut_should_resend_once_in_order(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-cut"
    state_topic = TOPICS.camera_status(node, "cam-1")
    with (
        MqttCollector.for_broker(mosquitto, TOPICS.events(node)) as events_sub,
        MqttCollector.for_broker(mosquitto, state_topic) as states_sub,
        running_publisher(mosquitto, node, tmp_path / "o.db") as pub,
    ):
        assert pub.wait_until_connected(5)
        mosquitto.wait_for_autosave()  # so the killed broker keeps the sessions
        mosquitto.pause()  # bytes are accepted, never read: no PUBACK comes back
        pub.publish_state(state_topic, "v1")
        for n in range(10):
            pub.publish_event(build_event(node, n))
        wait_until(lambda: pub.stats().in_flight == 10)
        mosquitto.kill()  # everything sent since the pause is lost with it
        wait_until(lambda: not pub.is_connected)
        pub.publish_state(state_topic, "v2")

        mosquitto.start()
        messages = events_sub.wait_for(has_ids(10), timeout_s=10)
        states_sub.wait_for(lambda m: any(s.payload == b"v2" for s in m))
        wait_until(lambda: pub.stats().outbox_depth == 0)
        time.sleep(0.3)  # a stale v1 re-sent after v2 would show up here
        messages, states = events_sub.messages, states_sub.messages

    assert set(event_ids(messages).values()) == {1}
    assert len(event_ids(messages)) == 10
    assert [s.payload for s in states] == [b"v2"]


def test_mqtt_publisher_given_node_restart_should_send_previous_outbox_rows(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-restart"
    path = tmp_path / "o.db"
    with MqttCollector.for_broker(mosquitto, TOPICS.events(node)) as sub:
        mosquitto.stop()
        with running_publisher(mosquitto, node, path) as first:
            for n in range(20):
                first.publish_event(build_event(node, n))
        mosquitto.start()
        with Outbox(path, max_rows=10) as reopened:
            assert reopened.depth() == 20

        with running_publisher(mosquitto, node, path) as second:
            messages = sub.wait_for(has_ids(20), timeout_s=10)
            wait_until(lambda: second.stats().outbox_depth == 0)

    counts = event_ids(messages)
    assert len(counts) == 20
    assert set(counts.values()) == {1}


def test_mqtt_publisher_given_states_during_outage_should_send_only_latest(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-state"
    topic = TOPICS.camera_status(node, "cam-1")
    with (
        MqttCollector.for_broker(mosquitto, topic) as sub,
        running_publisher(mosquitto, node, tmp_path / "o.db") as pub,
    ):
        assert pub.wait_until_connected(5)
        pub.publish_state(topic, b'{"v": 0}')
        sub.wait_for(lambda m: len(m) >= 1)
        with broker_outage(mosquitto, pub):
            for v in range(1, 4):
                pub.publish_state(topic, json.dumps({"v": v}))

        assert pub.wait_until_connected(10)
        sub.wait_for(lambda m: len(m) >= 2)
        time.sleep(0.3)
        messages = sub.messages

    assert [json.loads(m.payload)["v"] for m in messages] == [0, 3]


def test_mqtt_publisher_given_disconnected_should_drop_transients_and_count(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    node = "n-transient"
    topic = TOPICS.occupancy(node, "cam-1")
    with (
        MqttCollector.for_broker(mosquitto, topic) as sub,
        running_publisher(mosquitto, node, tmp_path / "o.db") as pub,
    ):
        assert pub.wait_until_connected(5)
        assert pub.publish_transient(topic, b"live") is True
        sub.wait_for(lambda m: len(m) >= 1)
        with broker_outage(mosquitto, pub):
            assert pub.publish_transient(topic, b"lost") is False
            assert pub.stats().dropped == 1

        assert pub.wait_until_connected(10)
        time.sleep(0.3)
        messages = sub.messages

    assert [m.payload for m in messages] == [b"live"]
    assert messages[0].qos == 0


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (EventPhase.START, "ev-00000007:start"),
        (EventPhase.END, "ev-00000007:end"),
        (EventPhase.UPDATE, "ev-00000007:update:2025-01-01T08:00:07+00:00"),
    ],
)
def test_mqtt_publisher_given_event_phase_should_store_it_under_that_key(
    tmp_path: Path, phase: EventPhase, expected: str
) -> None:
    with Outbox(tmp_path / "o.db", max_rows=10) as outbox:
        publisher = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)

        assert publisher.publish_event(build_event("n1", 7, phase)) is True
        assert [row.dedupe_key for row in outbox.peek(10)] == [expected]


def test_mqtt_publisher_given_two_updates_should_store_both(tmp_path: Path) -> None:
    first = build_event("n1", 7, EventPhase.UPDATE)
    later = first.model_copy(update={"detected_at": build_event("n1", 8).detected_at})
    with Outbox(tmp_path / "o.db", max_rows=10) as outbox:
        publisher = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)

        assert publisher.publish_event(first) is True
        assert publisher.publish_event(later) is True
        keys = [row.dedupe_key for row in outbox.peek(10)]

    assert keys == [first.dedupe_key, later.dedupe_key]
    assert first.dedupe_key != later.dedupe_key


def test_mqtt_publisher_given_a_failing_disk_should_count_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Outbox(tmp_path / "o.db", max_rows=10) as outbox:
        publisher = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)

        def disk_full(*_args: object, **_kwargs: object) -> bool:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(outbox, "put", disk_full)
        with pytest.raises(OutboxFullError, match="disk is full"):
            publisher.publish_event(build_event("n1", 1))

        stats = publisher.stats()
    # Counted as refused, so the node's /healthz turns degraded.
    assert stats.refused == 1 and stats.last_refused_at is not None


def test_mqtt_publisher_given_other_nodes_event_should_raise(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db", max_rows=10) as outbox:
        publisher = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)

        with pytest.raises(ValueError, match="from node 'n2'"):
            publisher.publish_event(build_event("n2", 1))
        assert outbox.depth() == 0


def test_mqtt_publisher_given_unset_password_variable_should_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GW_TEST_BROKER_PASSWORD", raising=False)
    broker = BrokerConfig(username="edge", password_env="GW_TEST_BROKER_PASSWORD")

    with (
        Outbox(tmp_path / "o.db", max_rows=10) as outbox,
        pytest.raises(ValueError, match="GW_TEST_BROKER_PASSWORD"),
    ):
        MqttPublisher(node_id="n1", broker=broker, outbox=outbox)


@pytest.mark.parametrize(
    ("topic", "qos"), [("", 1), ("gw/v1/+/status", 1), ("gw/v1/ok", 5)]
)
def test_mqtt_publisher_given_bad_state_topic_or_qos_should_raise(
    tmp_path: Path, topic: str, qos: int
) -> None:
    with Outbox(tmp_path / "o.db", max_rows=10) as outbox:
        publisher = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)

        with pytest.raises(ValueError):
            publisher.publish_state(topic, b"x", qos=qos)


def test_mqtt_publisher_given_events_left_open_by_a_killed_run_should_end_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.db"
    cut = build_event("n1", 7, EventPhase.START)
    later = build_event("n1", 9).detected_at
    cut_update = cut.model_copy(
        update={"phase": EventPhase.UPDATE, "detected_at": later}
    )
    whole = build_event("n1", 8, EventPhase.START)
    with Outbox(path, max_rows=20) as outbox:
        first_run = MqttPublisher(
            node_id="n1", broker=BrokerConfig(), outbox=outbox, track_open_events=True
        )
        for event in (cut, cut_update, whole):
            first_run.publish_event(event)
        first_run.publish_event(whole.model_copy(update={"phase": EventPhase.END}))
        assert [event_id for event_id, _ in outbox.open_events()] == [cut.event_id]
        # killed here: no stop, so `cut` never got its end

    with Outbox(path, max_rows=20) as outbox:
        next_run = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)
        assert next_run.end_left_open() == 1
        ends = [
            EventMessage.model_validate_json(row.payload)
            for row in outbox.peek(20)
            if row.dedupe_key == f"{cut.event_id}:end"
        ]
        assert outbox.open_events() == []
        assert next_run.end_left_open() == 0  # once only

    assert len(ends) == 1
    end = ends[0]
    assert end.phase is EventPhase.END
    assert end.ended_at == cut_update.detected_at  # its last observation
    assert end.attributes["ended_by"] == "node_restart"
    assert end.attributes["count"] == 12  # the rest as it last was


def test_mqtt_publisher_given_a_left_open_event_of_another_node_should_drop_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, max_rows=20) as outbox:
        old_name = MqttPublisher(
            node_id="n1", broker=BrokerConfig(), outbox=outbox, track_open_events=True
        )
        old_name.publish_event(build_event("n1", 7, EventPhase.START))
    with Outbox(path, max_rows=20) as outbox:
        renamed = MqttPublisher(node_id="n2", broker=BrokerConfig(), outbox=outbox)
        assert renamed.end_left_open() == 0
        assert outbox.open_events() == []


def test_mqtt_publisher_not_tracking_should_keep_no_open_events(
    tmp_path: Path,
) -> None:
    # Start-only loads (benches) would fill the list and end everything later.
    with Outbox(tmp_path / "o.db", max_rows=20) as outbox:
        load = MqttPublisher(node_id="n1", broker=BrokerConfig(), outbox=outbox)
        load.publish_event(build_event("n1", 7, EventPhase.START))
        assert outbox.open_events() == []
        assert load.end_left_open() == 0
