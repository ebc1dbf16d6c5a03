"""The node's command connection: camera-check requests in, answers out.

A second MQTT client beside the event publisher (its own client id, the node's
own login): it subscribes to `{prefix}/edge/{node}/commands/verify`, which the
broker lets only this node read and only central write, and publishes answers
with QoS 1 on `{prefix}/edge/{node}/verifications`. A persistent session keeps
requests sent while the node was away; one that can no longer be answered in
time is answered `cannot_verify` by central's time-out instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.config import BrokerConfig, NodeConfig
from edge.events.snapshot import Snapshotter
from edge.media.faces import FaceBlur
from edge.publish.options import read_password
from edge.verify import CameraChecker
from edge.verify_state import CameraFrames, EpisodeLog
from gridwatch.contract import CameraHealth
from gridwatch.tls import TlsError, apply_mqtt_tls
from gridwatch.verification import (
    VerifyRequest,
    VerifyResult,
    verify_command_topic,
    verify_result_topic,
)

logger = logging.getLogger(__name__)

SESSION_EXPIRY_S = 3600


def command_client_id(node_id: str) -> str:
    """The fixed client id of a node's command connection."""
    return f"gw-edge-{node_id}-commands"


class VerifyCommandClient:
    """Receives a node's camera-check requests and sends its answers.

    Args:
        node_id: This node's id.
        broker: Where to connect (the node's own login).
        checker: Judges the requests; its `send` should be this client's `send`.
    """

    def __init__(
        self, *, node_id: str, broker: BrokerConfig, checker: CameraChecker | None
    ) -> None:
        self._node_id = node_id
        self._broker = broker
        self.checker = checker
        self._commands = verify_command_topic(broker.topic_prefix, node_id)
        self._answers = verify_result_topic(broker.topic_prefix, node_id)
        self.refused = 0
        self._client = self._build_client(read_password(broker))

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._client.connect_async(
            self._broker.host,
            self._broker.port,
            keepalive=self._broker.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def send(self, result: VerifyResult) -> None:
        """Publish an answer with QoS 1 (paho re-sends it after a reconnect)."""
        info = self._client.publish(self._answers, result.to_json(), qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            logger.warning(
                "node %s: answer for ticket %s not sent: %s",
                self._node_id,
                result.ticket_id,
                mqtt.error_string(info.rc),
            )

    def handle(self, payload: bytes) -> VerifyRequest | None:
        """Validate one request and queue it; a bad one is logged and dropped."""
        try:
            request = VerifyRequest.model_validate_json(payload)
        except ValidationError as error:
            self.refused += 1
            logger.warning(
                "node %s: refused a camera-check request: %s",
                self._node_id,
                error.errors(include_url=False, include_input=False)[:3],
            )
            return None
        if request.node_id != self._node_id:
            self.refused += 1
            logger.warning(
                "node %s: refused a camera-check request for node %r",
                self._node_id,
                request.node_id,
            )
            return None
        if self.checker is not None:
            self.checker.submit(request)
        return request

    def _build_client(self, password: str | None) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=command_client_id(self._node_id),
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.reconnect_delay_set(1, 30)
        if self._broker.username is not None:
            client.username_pw_set(self._broker.username, password)
        try:
            apply_mqtt_tls(client, self._broker.tls)
        except TlsError as error:
            raise TlsError(f"broker.tls.{error}") from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "node %s: broker refused the command connection: %s",
                self._node_id,
                reason_code,
            )
            return
        client.subscribe(self._commands, qos=1)
        logger.info("node %s: listening for camera checks", self._node_id)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        logger.warning(
            "node %s: command connection to %s:%s failed (%s); retrying",
            self._node_id,
            self._broker.host,
            self._broker.port,
            sys.exception() or "no error given",
        )

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        self.handle(bytes(message.payload))


class CameraChecks:
    """A node's camera checks: the judging thread and its command connection.

    The node wraps its analysers and publisher with `frames` and `episodes`
    (see `edge.verify_state`), reports camera health changes, and starts and
    stops this with its other stages.
    """

    def __init__(self, checker: CameraChecker, client: VerifyCommandClient) -> None:
        self.checker = checker
        self.client = client

    @classmethod
    def for_node(
        cls, config: NodeConfig, *, labels: Sequence[str], face_blur: FaceBlur
    ) -> CameraChecks:
        """Checks for a node on the broker of its config, faces blurred with
        the node's face blur."""
        client = VerifyCommandClient(
            node_id=config.node_id, broker=config.broker, checker=None
        )
        checker = CameraChecker(
            config=config,
            episodes=EpisodeLog(),
            frames=CameraFrames(labels),
            snapshotter=Snapshotter(camera_id="camera-checks", face_blur=face_blur),
            send=client.send,
        )
        client.checker = checker
        return cls(checker, client)

    @property
    def episodes(self) -> EpisodeLog:
        return self.checker.episodes

    @property
    def frames(self) -> CameraFrames:
        return self.checker.frames

    def note_health(self, camera_id: str, health: CameraHealth, at: float) -> None:
        self.checker.note_health(camera_id, health, at)

    def start(self) -> None:
        self.checker.start()
        self.client.start()

    def stop(self) -> None:
        self.client.stop()
        self.checker.stop()
