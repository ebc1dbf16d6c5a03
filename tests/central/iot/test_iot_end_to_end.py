"""IoT end to end: a gateway logs in to a secured Mosquitto (TLS, ACL), the sensor
simulator's readings reach central (SQLite) and become a dispatched ticket, bad
readings are dead-lettered with a reason, and the broker refuses a gateway
publishing under another gateway's id."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import select

from central.broker.acl import BrokerIdentity, BrokerRole
from central.clock import ManualClock
from central.config import MqttSettings
from central.context import CentralContext
from central.db.models import Device, Event, Ticket
from central.ingest.consumer import CentralMqtt
from central.ingest.processor import EventProcessor
from central.notify import MqttNotifier
from gridwatch.contract import DeadLetterMessage, Topics
from gridwatch.readings import DeviceType, readings_topic
from gridwatch.tls import apply_mqtt_tls
from harness.services import MosquittoBroker
from simulators.sensors import SensorPlan, SimDevice, publish_all, replay
from tests.central.conftest import make_context
from tests.utils.broker import MqttCollector

pytestmark = pytest.mark.integration


@pytest.fixture
def central(
    demo_city: tuple[Path, Path],
    clock: ManualClock,
    tmp_path: Path,
    mosquitto_tls: MosquittoBroker,
) -> Iterator[CentralContext]:
    context, _ = make_context(
        f"sqlite:///{tmp_path}/central.db",
        demo_city,
        clock,
        tmp_path / "media",
        mqtt=MqttSettings.model_validate(
            {**mosquitto_tls.central_config(), "client_id": "central-iot-test"}
        ),
    )
    side = CentralMqtt(context, EventProcessor(context))
    assert side.readings is not None
    side.readings.sweep_every_s = 0.2  # heartbeats checked often, not every 30 s
    context.set_notifier(MqttNotifier(side.client, context.topics))
    side.start()
    assert side.is_connected
    try:
        yield context
    finally:
        side.stop()
        context.engine.dispose()


def gateway_client(broker: MosquittoBroker, gateway_id: str) -> mqtt.Client:
    """A gateway's own login over TLS; PUBACK reason codes kept in `userdata`."""
    login = broker.account(
        BrokerIdentity(gateway_id, BrokerRole.IOT_GATEWAY, gateway_id)
    )
    acks: dict[int, Any] = {}
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"test-{gateway_id}",
        protocol=MQTTProtocolVersion.MQTTv5,
        userdata=acks,
    )
    client.on_publish = lambda _c, data, mid, reason, _p: data.__setitem__(mid, reason)
    client.username_pw_set(login.username, login.password)
    endpoint = broker.endpoint
    apply_mqtt_tls(client, endpoint.tls)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    return client


def devices_by_gateway(context: CentralContext) -> dict[str, list[Device]]:
    with context.sessions() as session:
        found: dict[str, list[Device]] = {}
        for device in session.scalars(select(Device).order_by(Device.id)):
            found.setdefault(device.gateway_id, []).append(device)
        return found


def wait_for(check: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("condition not met in time")


def test_simulated_readings_should_become_tickets_and_bad_ones_dead_letters(
    central: CentralContext, mosquitto_tls: MosquittoBroker, clock: ManualClock
) -> None:
    by_gateway = devices_by_gateway(central)
    gateway, devices = next(
        (g, ds)
        for g, ds in sorted(by_gateway.items())
        if any(d.device_type == DeviceType.SMOKE_ALARM for d in ds)
    )
    letters = MqttCollector.for_broker(mosquitto_tls, Topics().deadletter()).start()
    client = gateway_client(mosquitto_tls, gateway)
    try:
        plan = SensorPlan(
            start=clock.now() - timedelta(hours=2),
            hours=2,
            interval_s=300,
            fire_at_h=1.0,
            rain_at_h=0.5,
            fault_rate=0.0,
            bad_rate=0.05,
            seed=3,
        )
        sim = [SimDevice(d.id, DeviceType(d.device_type), gateway) for d in devices]
        counts = publish_all(client, replay(sim, plan), prefix="gw/v1", speed=0)
        assert counts["bad_readings"] > 0

        def fire_ticket() -> Ticket | None:
            with central.sessions() as session:
                return session.scalars(
                    select(Ticket)
                    .join(Event, Event.ticket_id == Ticket.id)
                    .where(Event.node_id == gateway, Ticket.category_code == "0602")
                ).first()

        ticket = wait_for(fire_ticket)
        assert ticket.assignee_id is not None  # dispatched to a grid worker
        assert ticket.priority == "urgent"
        reasons = wait_for(
            lambda: [
                DeadLetterMessage.model_validate_json(m.payload).reason
                for m in letters.messages
            ]
        )
        assert any("invalid reading" in r for r in reasons), reasons
    finally:
        letters.stop()
        client.loop_stop()
        client.disconnect()


def test_gateway_given_another_gateways_topic_should_be_refused_by_the_broker(
    central: CentralContext, mosquitto_tls: MosquittoBroker, clock: ManualClock
) -> None:
    by_gateway = devices_by_gateway(central)
    mine, theirs = sorted(by_gateway)[:2]
    victim = by_gateway[theirs][0]
    client = gateway_client(mosquitto_tls, mine)
    try:
        heartbeat = {
            "device_id": victim.id,
            "device_type": victim.device_type,
            "ts": clock.now().isoformat(),
            "seq": 1,
        }
        body = json.dumps(
            {"schema": "gw.reading/1", "gateway_id": theirs, "readings": [heartbeat]}
        )
        denied = client.publish(readings_topic("gw/v1", theirs), body, qos=1)
        denied.wait_for_publish(5)
        own = client.publish(readings_topic("gw/v1", mine), b"{}", qos=1)
        own.wait_for_publish(5)
        acks = client.user_data_get()
        wait_for(lambda: denied.mid in acks and own.mid in acks, 5)
        assert acks[denied.mid].is_failure  # 0x87 not authorized
        assert not acks[own.mid].is_failure
        time.sleep(1.0)
        with central.sessions() as session:
            row = session.get(Device, victim.id)
            assert row is not None and row.last_seen_at is None
    finally:
        client.loop_stop()
        client.disconnect()


def test_sensor_given_silence_past_its_heartbeat_should_open_a_maintenance_ticket(
    central: CentralContext, mosquitto_tls: MosquittoBroker, clock: ManualClock
) -> None:
    by_gateway = devices_by_gateway(central)
    gateway, devices = sorted(by_gateway.items())[0]
    device = devices[0]
    client = gateway_client(mosquitto_tls, gateway)
    try:
        heartbeat = {
            "device_id": device.id,
            "device_type": device.device_type,
            "ts": clock.now().isoformat(),
            "seq": 1,
        }
        body = {
            "schema": "gw.reading/1",
            "gateway_id": gateway,
            "readings": [heartbeat],
        }
        sent = client.publish(readings_topic("gw/v1", gateway), json.dumps(body), qos=1)
        sent.wait_for_publish(5)

        def seen() -> bool:
            with central.sessions() as session:
                row = session.get(Device, device.id)
                return row is not None and row.status == "ok"

        wait_for(seen)
        clock.advance(timedelta(hours=2))  # past every type's heartbeat

        def maintenance() -> Ticket | None:
            with central.sessions() as session:
                return session.scalars(
                    select(Ticket)
                    .join(Event, Event.ticket_id == Ticket.id)
                    .where(Event.camera_id == device.id, Ticket.category_code == "0203")
                ).first()

        ticket = wait_for(maintenance)
        assert ticket.grid_code == device.grid_code
        with central.sessions() as session:
            row = session.get(Device, device.id)
            assert row is not None and row.status == "offline"
    finally:
        client.loop_stop()
        client.disconnect()
