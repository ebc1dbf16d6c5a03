"""Closure the camera confirms, end to end: a real Mosquitto with per-identity
ACLs, central (ingest, tickets, camera checks) and an edge node running
yolox_nano on two composited scenes of real footage.

On both cameras a worker drops a real bottle on a warehouse floor and walks
away: littering, a ticket for the grid worker. On camera `picked` the bottle is
taken away later; on camera `stays` it stays. The worker resolves both tickets;
central asks the node to look again: `picked` is verified gone and closed,
`stays` is refused (the bottle is still there) and returned for rework. The
node's command topic is its own: another node cannot read it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from shapely.geometry import shape
from sqlalchemy import select

from central.clock import ManualClock
from central.config import MqttSettings
from central.context import CentralContext
from central.db.models import Area, CameraCheck, Event, Ticket, UserRole
from central.ingest.consumer import CentralMqtt
from central.ingest.processor import EventProcessor
from central.media import MediaStore
from central.notify import MqttNotifier
from central.tickets.service import Actor
from central.verify import CameraCheckService, CameraCheckSettings
from edge.config import parse_config
from edge.factory import build_node
from edge.node import EdgeNode
from gridwatch.contract import EventType
from gridwatch.verification import VerifyRequest, verify_command_topic
from harness.services import MosquittoBroker
from simulators.city import generate_city, spec_for, write_city
from simulators.scenario.command import build_scenes
from simulators.scenario.scenes import scene_by_name
from simulators.scenario.spec import Drop, SceneSpec, back_and_forth
from tests.central.conftest import (
    GRID_1,
    GRID_1_WORKER,
    WEDNESDAY_10_LOCAL,
    make_context,
)
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

NODE = "node-01"
WORKER = Actor(GRID_1_WORKER, UserRole.WORKER, worker_id=GRID_1_WORKER)
SCENE_S = 48.0  # long enough for the event, the resolution and the look


def scenes() -> list[SceneSpec]:
    """The warehouse bottle scene, longer; once with the bottle taken away."""
    base = scene_by_name("litter_bottle_worker")
    background = dataclasses.replace(
        base.background,
        segments=((0.0, 4.7), *back_and_forth(3.4, 4.7, total_s=SCENE_S - 7.7)),
    )
    [drop] = base.drops
    return [
        dataclasses.replace(base, name="check_stays", background=background),
        dataclasses.replace(
            base,
            name="check_picked",
            background=background,
            drops=(Drop(drop.asset, drop.owner_near, drop.drop_s, pick_s=20.0),),
        ),
    ]


def camera_spots(context: CentralContext) -> tuple[dict[str, float], dict[str, float]]:
    """Two places in GRID_1 far enough apart that their tickets never merge."""
    with context.sessions() as session:
        geometry = session.get_one(Area, GRID_1).geometry
    assert geometry is not None
    area = shape(geometry)
    west, south, east, north = area.bounds
    lat = (south + north) / 2
    return (
        {"lat": lat, "lon": west + 0.3 * (east - west)},
        {"lat": lat, "lon": west + 0.7 * (east - west)},
    )


class Central:
    """Central's MQTT side, tickets and camera checks on SQLite."""

    def __init__(self, context: CentralContext, broker: MosquittoBroker) -> None:
        self.context = context
        self.mqtt = CentralMqtt(context, EventProcessor(context))
        context.set_notifier(MqttNotifier(self.mqtt.client, context.topics))
        self.checks = CameraCheckService(
            context,
            media=MediaStore(context.settings.media.dir),
            publish=lambda topic, body: self.mqtt.client.publish(topic, body, qos=1),
            settings=CameraCheckSettings(look_s=2.0, answer_timeout_s=60.0),
        )
        context.tickets.resolve_hooks.append(self.checks.on_resolved)
        self.mqtt.on_verification = self.checks.submit
        self.checks.start()
        self.mqtt.start()
        assert self.mqtt.is_connected

    def ticket_of(self, camera_id: str) -> Ticket | None:
        with self.context.sessions() as session:
            return session.scalars(
                select(Ticket).where(Ticket.camera_id == camera_id)
            ).first()

    def event_ended(self, camera_id: str) -> bool:
        with self.context.sessions() as session:
            ended = session.scalars(
                select(Event.ended_at).where(Event.camera_id == camera_id)
            ).first()
        return ended is not None

    def check_of(self, ticket_id: int) -> CameraCheck | None:
        with self.context.sessions() as session:
            row = session.scalars(
                select(CameraCheck).where(CameraCheck.ticket_id == ticket_id)
            ).first()
            if row is not None:
                session.expunge(row)
            return row

    def stop(self) -> None:
        self.mqtt.stop()
        self.checks.stop()
        self.context.engine.dispose()


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    city = generate_city(spec_for("demo"), clips=["one-by-one-person-detection.mp4"])
    return write_city(city, tmp_path_factory.mktemp("city"))


@pytest.fixture
def central(
    demo_city: tuple[Path, Path], tmp_path: Path, mosquitto: MosquittoBroker
) -> Iterator[Central]:
    # The city's clock: a weekday morning, the grid worker on duty.
    context, _ = make_context(
        f"sqlite:///{tmp_path}/central.db",
        demo_city,
        ManualClock(WEDNESDAY_10_LOCAL),
        tmp_path / "media",
        mqtt=MqttSettings.model_validate(
            {**mosquitto.central_config(), "client_id": "central-checks"}
        ),
    )
    side = Central(context, mosquitto)
    try:
        yield side
    finally:
        side.stop()


@pytest.fixture
def node(
    central: Central,
    mosquitto: MosquittoBroker,
    videos_dir: Path,
    models_dir: Path,
    tmp_path: Path,
) -> Iterator[EdgeNode]:
    specs = scenes()
    built = build_scenes(
        specs, media_dir=videos_dir, out_dir=tmp_path / "scenes",
        scenarios_dir=tmp_path / "scenes" / "yaml",
    )  # fmt: skip
    spots = camera_spots(central.context)
    cameras: list[dict[str, Any]] = [
        {
            "id": spec.name,
            "kind": "file",
            "url": str(scene.clip),
            "location": spot,
            "stall_after_s": 5,
            **spec.camera(),
        }
        for spec, scene, spot in zip(specs, built, spots, strict=True)
    ]
    config = parse_config(
        {
            "node_id": NODE,
            "broker": mosquitto.node_config(NODE),
            "http": {"port": 0},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "models_dir": str(models_dir),
            "status_interval_s": 1,
            "media": {"clips": False},  # snapshots only: less for a busy CPU
            "cameras": cameras,
        }
    )
    edge = build_node(config)  # its own MQTT publisher and camera checks
    edge.start()
    try:
        yield edge
    finally:
        edge.stop()


def resolve_when_ticket(central: Central, camera_id: str) -> int:
    wait_until(
        lambda: central.ticket_of(camera_id) is not None, 40, f"{camera_id} ticket"
    )
    ticket = central.ticket_of(camera_id)
    assert ticket is not None and ticket.assignee_id == GRID_1_WORKER
    assert ticket.event_type == EventType.LITTERING
    central.context.tickets.accept(WORKER, ticket.id)
    return ticket.id


def test_resolved_litter_should_be_closed_when_gone_and_returned_when_still_there(
    central: Central, node: EdgeNode, mosquitto: MosquittoBroker
) -> None:
    stays = resolve_when_ticket(central, "check_stays")
    central.context.tickets.resolve(WORKER, stays, "swept the floor", None)
    picked = resolve_when_ticket(central, "check_picked")
    # The worker reports it done once the bottle is really gone.
    wait_until(lambda: central.event_ended("check_picked"), 30, "the bottle taken")
    central.context.tickets.resolve(WORKER, picked, "picked up the bottle", None)

    def concluded(ticket_id: int) -> bool:
        check = central.check_of(ticket_id)
        return check is not None and check.outcome is not None

    wait_until(lambda: concluded(stays) and concluded(picked), 40, "both verdicts")
    refused, verified = central.check_of(stays), central.check_of(picked)
    assert refused is not None and verified is not None
    assert (refused.state, refused.outcome) == ("present", "returned"), refused.reason
    assert (verified.state, verified.outcome) == ("gone", "closed"), verified.reason
    for check in (refused, verified):
        assert check.before_sha256 is not None and check.after_sha256 is not None
    with central.context.sessions() as session:
        assert session.get_one(Ticket, stays).state == "returned"
        assert session.get_one(Ticket, picked).state == "closed"


def listener(broker: MosquittoBroker, node_id: str) -> tuple[mqtt.Client, list[bytes]]:
    """A client with `node_id`'s login subscribed to node-01's command topic."""
    received: list[bytes] = []
    login = broker.node(node_id)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{node_id}-listener",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(login.username, login.password)
    client.on_message = lambda _c, _u, message: received.append(bytes(message.payload))
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(verify_command_topic("gw/v1", NODE), qos=1)
    return client, received


def test_only_the_node_itself_should_read_its_camera_checks(
    mosquitto: MosquittoBroker,
) -> None:
    own, own_received = listener(mosquitto, NODE)
    spy, spy_received = listener(mosquitto, "node-02")
    login = mosquitto.central()
    sender = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="central-sender",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    sender.username_pw_set(login.username, login.password)
    sender.connect(mosquitto.host, mosquitto.port)
    sender.loop_start()
    try:
        time.sleep(0.5)  # both subscriptions in place
        body = VerifyRequest(
            request_id="ab" * 8,
            ticket_id=1,
            node_id=NODE,
            camera_id="c",
            event_type="littering",
            event_ids=["evt-00001"],
            requested_at=WEDNESDAY_10_LOCAL,
        ).to_json()
        topic = verify_command_topic("gw/v1", NODE)
        sender.publish(topic, body, qos=1).wait_for_publish(5)
        wait_until(lambda: len(own_received) == 1, 5, "the node's own request")
        time.sleep(0.5)
    finally:
        for client in (sender, own, spy):
            client.loop_stop()
            client.disconnect()
    assert own_received == [body.encode()]
    assert spy_received == []


def test_a_check_the_stopped_node_never_answers_should_end_as_cannot_verify(
    central: Central, node: EdgeNode
) -> None:
    stays = resolve_when_ticket(central, "check_stays")
    node.stop()  # the camera's node is gone before the ticket is resolved
    central.context.tickets.resolve(WORKER, stays, "swept the floor", None)
    pending = central.check_of(stays)
    assert pending is not None and pending.state == "pending"

    assert central.checks.expire_overdue() == 0  # not overdue yet
    waited = central.checks.settings.look_s + central.checks.settings.answer_timeout_s
    clock = central.context.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(seconds=waited + 1))
    assert central.checks.expire_overdue() == 1

    check = central.check_of(stays)
    assert check is not None and check.state == "cannot_verify"
    assert f"no answer from node {NODE}" in (check.reason or "")
    with central.context.sessions() as session:
        # littering's policy: left resolved for an operator to decide
        assert session.get_one(Ticket, stays).state == "resolved"
