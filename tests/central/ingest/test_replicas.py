"""Replica slots: the roster's bookkeeping, and with a real Mosquitto, a slot
that is away holding its share of the events until it is retired."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select

from central.clock import ManualClock
from central.config import CentralSettings, MediaSettings, MqttSettings
from central.context import CentralContext, build_context
from central.db.models import Event
from central.ingest.consumer import CentralMqtt
from central.ingest.processor import EventProcessor
from central.ingest.replicas import (
    ReplicaCollector,
    ReplicaRoster,
    SlotPresence,
    SlotState,
    slot_warnings,
)
from central.notify import RecordingNotifier
from gridwatch.contract import Topics
from harness.services import MosquittoBroker
from tests.central.conftest import (
    GRID_1,
    WEDNESDAY_10_LOCAL,
    grid_centre,
    make_context,
    make_event,
)

TOPIC = Topics().replica_slot("central-2")


def presence(state: SlotState, client_id: str = "central-2", **extra: object) -> bytes:
    return SlotPresence(client_id=client_id, state=state, **extra).to_json()  # type: ignore[arg-type]


def test_roster_should_time_an_offline_slot_from_when_it_went_away() -> None:
    clock = ManualClock(WEDNESDAY_10_LOCAL)
    roster = ReplicaRoster(clock)
    roster.record(TOPIC, presence(SlotState.ONLINE, at=clock.now()))
    clock.advance(timedelta(minutes=1))
    roster.record(TOPIC, presence(SlotState.OFFLINE))  # a will: no time in it
    clock.advance(timedelta(minutes=4))
    roster.record(TOPIC, presence(SlotState.OFFLINE))  # a retained copy again
    [slot] = roster.slots()
    assert slot.state is SlotState.OFFLINE and slot.away_s == 240
    assert roster.away(300) == []
    clock.advance(timedelta(minutes=2))
    [warning] = slot_warnings(roster, 300)
    assert "central-2 offline for 6 min" in warning
    assert "retire-slot --client-id central-2" in warning
    roster.record(TOPIC, presence(SlotState.ONLINE, at=clock.now()))
    assert roster.away(0) == [] and slot_warnings(roster, 0) == []


def test_roster_should_forget_a_retired_slot_and_ignore_what_it_cannot_read() -> None:
    roster = ReplicaRoster(ManualClock(WEDNESDAY_10_LOCAL))
    roster.record(TOPIC, presence(SlotState.OFFLINE))
    roster.record(TOPIC, b"{not json")
    roster.record(TOPIC, json.dumps({"client_id": "central-2", "state": "?"}).encode())
    roster.record(
        TOPIC, presence(SlotState.ONLINE, client_id="central-9")
    )  # not its topic
    [slot] = roster.slots()
    assert slot.state is SlotState.OFFLINE
    roster.record(TOPIC, b"")
    assert roster.slots() == []
    assert slot_warnings(None, 0) == []


def test_replica_collector_should_expose_counts_and_time_away() -> None:
    clock = ManualClock(WEDNESDAY_10_LOCAL)
    roster = ReplicaRoster(clock)
    roster.record(
        Topics().replica_slot("central-1"), presence(SlotState.ONLINE, "central-1")
    )
    roster.record(TOPIC, presence(SlotState.OFFLINE))
    clock.advance(timedelta(seconds=90))
    registry = CollectorRegistry()
    registry.register(ReplicaCollector(lambda: roster))
    text = generate_latest(registry).decode()
    assert 'gw_central_replica_slots{state="online"} 1.0' in text
    assert 'gw_central_replica_slots{state="offline"} 1.0' in text
    assert 'gw_central_replica_slot_away_seconds{client_id="central-2"} 90.0' in text


# -- with a real broker ------------------------------------------------------------


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def replicas(
    demo_city: tuple[Path, Path], tmp_path: Path, mosquitto: MosquittoBroker
) -> Iterator[tuple[CentralContext, Callable[[str], CentralMqtt]]]:
    """Replica `central-1` running, and a factory for more on the same database."""
    url = f"sqlite:///{tmp_path}/central.db"
    clock = ManualClock(WEDNESDAY_10_LOCAL)
    broker = mosquitto.central_config()

    def mqtt_settings(client_id: str) -> MqttSettings:
        return MqttSettings.model_validate({**broker, "client_id": client_id})

    first, _ = make_context(
        url, demo_city, clock, tmp_path / "media", mqtt_settings("central-1")
    )
    started: list[CentralMqtt] = []

    def replica(client_id: str) -> CentralMqtt:
        context = build_context(
            CentralSettings(
                database_url=url,
                media=MediaSettings(dir=tmp_path / "media"),
                mqtt=mqtt_settings(client_id),
            ),
            clock=clock,
            notifier=RecordingNotifier(),
        )
        context.reload_reference_data()
        side = CentralMqtt(context, EventProcessor(context))
        side.start()
        assert side.is_connected
        started.append(side)
        return side

    one = CentralMqtt(first, EventProcessor(first))
    one.start()
    started.append(one)
    try:
        yield first, replica
    finally:
        for side in started:
            side.stop()


def test_a_slot_away_should_be_reported_and_retiring_it_should_store_its_share(
    replicas: tuple[CentralContext, Callable[[str], CentralMqtt]],
    mosquitto: MosquittoBroker,
) -> None:
    context, replica = replicas
    roster = context.replicas
    assert roster is not None

    def states() -> dict[str, SlotState]:
        return {slot.client_id: slot.state for slot in roster.slots()}

    second = replica("central-2")
    wait_for(
        lambda: (
            states() == {"central-1": SlotState.ONLINE, "central-2": SlotState.ONLINE}
        ),
        "both slots online",
    )
    second.stop()  # a clean stop: the session and its share stay
    wait_for(
        lambda: states().get("central-2") is SlotState.OFFLINE, "central-2 offline"
    )

    edge = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="test-edge",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    login = mosquitto.simulator()
    edge.username_pw_set(login.username, login.password)
    edge.connect(mosquitto.host, mosquitto.port)
    edge.loop_start()
    lat, lon = grid_centre(context, GRID_1)

    def publish(n: int) -> None:
        for _ in range(n):
            event = make_event(lat, lon)
            edge.publish(
                Topics().events(event.node_id), event.to_json(), qos=1
            ).wait_for_publish(5)

    def stored() -> int:
        with context.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Event)) or 0)

    try:
        publish(10)
        wait_for(lambda: stored() >= 5, "central-1's share stored")
        time.sleep(0.5)
        assert stored() == 5  # the other half waits for central-2 in the broker
        assert isinstance(context.clock, ManualClock)
        context.clock.advance(timedelta(minutes=6))
        [warning] = slot_warnings(roster, context.settings.ingest.slot_offline_alert_s)
        assert "central-2 offline for 6 min" in warning

        drained = replica("central-2").retire(quiet_s=1.0, timeout_s=30.0)
        assert drained == 5
        assert stored() == 10
        wait_for(lambda: "central-2" not in states(), "central-2 forgotten")

        publish(6)  # the group is central-1 alone now: nothing waits anywhere
        wait_for(lambda: stored() == 16, "every later event stored by central-1")

        third = replica("central-3")
        wait_for(lambda: states().get("central-3") is SlotState.ONLINE, "central-3")
        third.client.loop_stop()  # dies without a word: the broker sends its will
        sock = third.client.socket()
        assert sock is not None
        sock.close()
        wait_for(
            lambda: states().get("central-3") is SlotState.OFFLINE,
            "central-3's will",
            timeout_s=15,
        )
    finally:
        edge.loop_stop()
        edge.disconnect()


def test_retire_slot_command_should_end_a_slot_and_refuse_without_a_group(
    tmp_path: Path, mosquitto: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    def config(**mqtt_extra: object) -> Path:
        path = tmp_path / f"central-{len(mqtt_extra)}.yaml"
        mqtt_section = {**mosquitto.central_config(), **mqtt_extra}
        path.write_text(
            json.dumps(
                {
                    "database_url": f"sqlite:///{tmp_path}/c.db",
                    "media": {"dir": str(tmp_path / "media")},
                    "mqtt": json.loads(json.dumps(mqtt_section, default=str)),
                }
            )
        )
        return path

    argv = ["central", "retire-slot", "--client-id", "central-9", "--quiet-s", "0.5"]
    assert main([*argv, "--config", str(config())]) == 0
    out = capsys.readouterr().out
    assert "central-9 retired (0 waiting messages stored" in out

    assert main([*argv, "--config", str(config(shared_group=None))]) == 2
    assert "mqtt.shared_group is unset" in capsys.readouterr().err
