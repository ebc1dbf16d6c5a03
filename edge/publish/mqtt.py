"""MQTT publisher of one edge node: durable events, retained states, transient data.

Delivery classes:

- Events go to the on-disk outbox first and are drained to the broker with QoS 1;
  a row is deleted only after its PUBACK (see `edge.publish.drain` for why an
  outage causes no duplicates). Delivery is at least once: a crash between the
  broker's PUBACK and the outbox delete re-sends the row after restart, so every
  event carries a stable `event_id` + phase that central dedupes on.
- States (node/camera status) are retained and latest-only: the latest payload per
  topic is kept in memory and re-published on every (re)connect. What paho still
  holds from before a disconnect is taken back and re-sent first, so an older
  state can never land after (and overwrite) a newer one.
- Transients (occupancy) are QoS 0 and dropped, counted, while disconnected.

Connection: MQTT 5, fixed client id per node, clean_start False with a session
expiry (persistent session), last will `offline` (retained, QoS 1) set before
connecting, retained `online` published on every connect, automatic reconnect
with exponential back-off by paho's loop thread.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.config import BrokerConfig
from edge.publish.base import PublisherStats
from edge.publish.drain import OutboxDrain, SendError
from edge.publish.options import MqttPublisherOptions, client_id_for, read_password
from edge.publish.outbox import (
    EpisodeMark,
    Outbox,
    OutboxClosedError,
    OutboxFullError,
    OutboxRow,
)
from gridwatch.contract import (
    ATTRIBUTES_MAX,
    EventMessage,
    EventPhase,
    Media,
    NodeStatusMessage,
    Topics,
    utc_now,
)
from gridwatch.tls import TlsError, apply_mqtt_tls

logger = logging.getLogger(__name__)

# MQTT 5 PUBACK reason 0x10: accepted, but no subscription matched (see drain.py).
NO_MATCHING_SUBSCRIBERS = 16


@dataclass(frozen=True, slots=True)
class _State:
    payload: bytes
    qos: int
    retain: bool


class MqttPublisher:
    """The MQTT `Publisher` of one edge node (see the module docstring).

    Single use: `start` once, `stop` once. `publish_*` may be called from any
    thread, also before `start` (events then wait in the outbox). The outbox is
    owned by the caller, who closes it after `stop`.

    Args:
        node_id: This node's id (client id, topics, status messages).
        broker: Where to connect; the password comes from `broker.password_env`.
        outbox: Durable store of events.
        options: Tuning; defaults when None.
        online_status: Template for the retained node status (version, model,
            cameras); `state` and `at` are filled in on each publish.
        track_open_events: Keep each event in progress in the outbox, so that
            the next start ends those a killed run left open (`end_left_open`).
            For publishers of rule episodes (start, updates, end); off for
            start-only loads, whose events would never leave the list.

    Raises:
        ValueError: the password variable is unset, a TLS file cannot be used,
            or `online_status` is for another node.
    """

    def __init__(
        self,
        *,
        node_id: str,
        broker: BrokerConfig,
        outbox: Outbox,
        options: MqttPublisherOptions | None = None,
        online_status: NodeStatusMessage | None = None,
        track_open_events: bool = False,
    ) -> None:
        template = online_status or NodeStatusMessage(node_id=node_id, state="online")
        if template.node_id != node_id:
            raise ValueError(
                f"online_status is for node {template.node_id!r}, not {node_id!r}"
            )
        self._node_id = node_id
        self._broker = broker
        self._outbox = outbox
        self._options = options or MqttPublisherOptions()
        self._topics = Topics(broker.topic_prefix)
        self._status_template = template
        self._track_open_events = track_open_events
        self._connected = threading.Event()
        self._stop_event = threading.Event()
        self._is_stopping = False
        self._states: dict[str, _State] = {}
        self._state_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._published = self._failed = self._dropped = self._refused = 0
        self._last_refused_at: float | None = None
        self._connects = 0
        self._client = self._build_client(read_password(broker))
        self._drain = OutboxDrain(
            outbox=outbox,
            send=self._send_row,
            connected=self._connected,
            node_id=node_id,
            window=self._options.in_flight_window,
        )
        self._drain_thread: threading.Thread | None = None

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self._node_id

    @property
    def outbox(self) -> Outbox:
        """The outbox (owned by the caller: close it after `stop`)."""
        return self._outbox

    @property
    def is_connected(self) -> bool:
        """Connected to the broker now."""
        return self._connected.is_set()

    def wait_until_connected(self, timeout_s: float) -> bool:
        """Block until connected; True when connected, False on timeout."""
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        """Connect in the background (retrying with back-off) and start draining.

        Raises:
            RuntimeError: already started.
        """
        if self._drain_thread is not None:
            raise RuntimeError(f"publisher of node {self._node_id!r} already started")
        self.end_left_open()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._options.session_expiry_s
        self._client.connect_async(
            self._broker.host,
            self._broker.port,
            keepalive=self._broker.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._drain_thread = threading.Thread(
            target=self._drain.run,
            args=(self._stop_event,),
            name=f"outbox-drain-{self._node_id}",
            daemon=True,
        )
        self._drain_thread.start()
        logger.info(
            "node %s: publisher started for %s:%s (%s)",
            self._node_id,
            self._broker.host,
            self._broker.port,
            "TLS" if self._broker.tls is not None else "plain MQTT",
        )

    def stop(self) -> None:
        """Stop sending, await in-flight PUBACKs briefly, publish `offline`, disconnect.

        A clean disconnect does not fire the last will, so `offline` is published
        here. Rows not yet acknowledged stay in the outbox for the next start.
        """
        if self._drain_thread is None or self._is_stopping:
            return
        self._is_stopping = True
        timeout_s = self._options.stop_timeout_s
        self._flush_outbox(timeout_s)
        self._drain.pause()
        if self._connected.is_set() and not self._drain.wait_for_in_flight(timeout_s):
            logger.warning(
                "node %s: stopping with %s events unacked; they stay in the outbox",
                self._node_id,
                self._drain.in_flight,
            )
        self._stop_event.set()
        self._drain.wake()
        self._drain_thread.join()
        if self._connected.is_set():
            self._publish_final_offline(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        logger.info("node %s: publisher stopped", self._node_id)

    def _flush_outbox(self, timeout_s: float) -> None:
        """While connected, let the drain empty the outbox (end events of a stop)."""
        deadline = time.monotonic() + timeout_s
        while (
            self._connected.is_set()
            and self._outbox.depth() > 0
            and time.monotonic() < deadline
        ):
            self._drain.wake()
            time.sleep(0.05)

    def publish_event(self, event: EventMessage) -> bool:
        """Store an event in the outbox; the drain sends it with QoS 1.

        Returns:
            True when stored, False when this phase of the event was already
            stored or recently delivered (same `EventMessage.dedupe_key`).

        Raises:
            ValueError: the event belongs to another node.
            OutboxFullError: the outbox is full; the event was not stored.
        """
        if event.node_id != self._node_id:
            raise ValueError(
                f"event {event.event_id} is from node {event.node_id!r}, "
                f"this publisher is node {self._node_id!r}"
            )
        try:
            is_stored = self._outbox.put(
                self._topics.events(self._node_id),
                payload=event.to_json().encode(),
                qos=1,
                retain=False,
                dedupe_key=event.dedupe_key,
                # An event that started must be able to end, even when full.
                reserved=event.phase is EventPhase.END,
                episode=self._episode_mark(event),
            )
        except OutboxFullError:
            self._count_refusal()
            raise
        except (sqlite3.Error, OSError) as error:
            # A full or failing disk: the event is lost unless the caller knows,
            # so it is counted (the node reports itself degraded) and raised.
            self._count_refusal()
            raise OutboxFullError(
                f"outbox not writable ({type(error).__name__}: {error})"
            ) from error
        if is_stored:
            self._drain.wake()
        return is_stored

    def _episode_mark(self, event: EventMessage) -> EpisodeMark | None:
        if not self._track_open_events:
            return None
        if event.phase is EventPhase.END:
            return EpisodeMark(event.event_id, None)
        newest = event.model_copy(update={"media": Media()})
        return EpisodeMark(event.event_id, newest.to_json().encode())

    def end_left_open(self) -> int:
        """End the events a previous run of this node left open (it was killed
        mid-episode, so they never got their `end`): each ends at its last
        observation, marked `ended_by: node_restart`. `start` calls this first.

        Returns:
            How many events were ended.
        """
        ended = 0
        for event_id, payload in self._outbox.open_events():
            try:
                last = EventMessage.model_validate_json(payload)
            except ValidationError as error:
                logger.warning(
                    "node %s: left-open event %s unreadable, not ended: %s",
                    self._node_id,
                    event_id,
                    error,
                )
                self._outbox.forget_open(event_id)
                continue
            if last.node_id != self._node_id:  # the outbox of a renamed node
                self._outbox.forget_open(event_id)
                continue
            attributes = dict(last.attributes)
            if len(attributes) < ATTRIBUTES_MAX:
                attributes["ended_by"] = "node_restart"
            end = last.model_copy(
                update={
                    "phase": EventPhase.END,
                    "ended_at": last.detected_at,
                    "attributes": attributes,
                }
            )
            try:
                self.publish_event(end)
                self._outbox.forget_open(event_id)
            except OutboxFullError as error:
                logger.error(
                    "node %s: could not end left-open event %s: %s",
                    self._node_id,
                    event_id,
                    error,
                )
                continue
            ended += 1
        if ended:
            logger.warning(
                "node %s: ended %d events the previous run left open (killed?)",
                self._node_id,
                ended,
            )
        return ended

    def _count_refusal(self) -> None:
        with self._stats_lock:
            self._refused += 1
            self._last_refused_at = time.time()

    def publish_state(
        self, topic: str, payload: bytes | str, *, retain: bool = True, qos: int = 1
    ) -> None:
        """Publish the latest state for `topic`; kept and re-sent on every connect.

        While disconnected only the latest payload per topic is kept.

        Raises:
            ValueError: bad topic (empty or with wildcards) or QoS.
        """
        _check_topic(topic, qos)
        state = _State(payload=_as_bytes(payload), qos=qos, retain=retain)
        with self._state_lock:
            self._states[topic] = state
            if self._connected.is_set() and not self._is_stopping:
                self._send_state(topic, state)

    def publish_transient(
        self, topic: str, payload: bytes | str, *, qos: int = 0
    ) -> bool:
        """Publish now if connected; otherwise drop the message and count it.

        Returns:
            True when handed to the connection, False when dropped.

        Raises:
            ValueError: bad topic (empty or with wildcards) or QoS.
        """
        _check_topic(topic, qos)
        is_sent = False
        if self._connected.is_set() and not self._is_stopping:
            info = self._client.publish(topic, _as_bytes(payload), qos=qos)
            is_sent = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        with self._stats_lock:
            if is_sent:
                self._published += 1
            else:
                self._dropped += 1
        return is_sent

    def stats(self) -> PublisherStats:
        """A snapshot of the counters (for Prometheus)."""
        try:
            depth, size = self._outbox.depth(), self._outbox.size_bytes()
        except OutboxClosedError:
            depth = size = 0
        with self._stats_lock:
            return PublisherStats(
                published=self._published + self._drain.acked,
                failed=self._failed + self._drain.failed,
                dropped=self._dropped,
                refused=self._refused,
                last_refused_at=self._last_refused_at,
                reconnects=max(self._connects - 1, 0),
                outbox_depth=depth,
                outbox_bytes=size,
                in_flight=self._drain.in_flight,
                is_connected=self._connected.is_set(),
            )

    def _build_client(self, password: str | None) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id_for(self._node_id),
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        # The will must be set before connecting: the broker publishes it for us
        # when the connection dies without a DISCONNECT (crash, power, network).
        client.will_set(
            self._topics.node_status(self._node_id),
            self._status("offline").to_json(),
            qos=1,
            retain=True,
        )
        client.reconnect_delay_set(
            self._options.reconnect_min_s, self._options.reconnect_max_s
        )
        if self._broker.username is not None:
            client.username_pw_set(self._broker.username, password)
        try:
            apply_mqtt_tls(client, self._broker.tls)
        except TlsError as error:
            raise TlsError(f"broker.tls.{error}") from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _status(self, state: Literal["online", "offline"]) -> NodeStatusMessage:
        return self._status_template.model_copy(
            update={"state": state, "at": utc_now()}
        )

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
                "node %s: broker %s:%s refused the connection: %s",
                self._node_id,
                self._broker.host,
                self._broker.port,
                reason_code,
            )
            return
        with self._stats_lock:
            self._connects += 1
        logger.info(
            "node %s: connected to %s:%s (session present: %s)",
            self._node_id,
            self._broker.host,
            self._broker.port,
            flags.session_present,
        )
        if self._is_stopping:
            self._connected.set()  # lets stop() still publish `offline`
            return
        with self._state_lock:
            self._take_back_held_messages()
            online = self._status("online").to_json().encode()
            self._send_state(
                self._topics.node_status(self._node_id),
                _State(payload=online, qos=1, retain=True),
            )
            for topic, state in self._states.items():
                self._send_state(topic, state)
            # Set last, under the lock: a concurrent publish_state either went
            # into the cache sent above or is sent after this, never before.
            self._connected.set()
        self._drain.notify_connected()

    def _take_back_held_messages(self) -> None:
        # paho would re-send the QoS>0 messages it still holds right after this
        # callback, i.e. AFTER the fresh states below: a stale retained state
        # would win. So take them back and re-send them here, first: events
        # (their new ids go to the drain), but not states, whose latest value
        # is re-sent from the cache anyway. Runs on paho's network thread, so no
        # PUBACK for a new id can be handled before the drain hears of the id.
        held = self._client.drop_out_messages()
        superseded = set(self._states) | {self._topics.node_status(self._node_id)}
        resent = 0
        for message in held:
            if message.topic in superseded:
                continue
            info = self._client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            self._drain.notify_resent(message.mid, info.mid)
            resent += 1
        if held:
            logger.info(
                "node %s: re-sending %s unacknowledged messages (%s stale states "
                "replaced by their latest)",
                self._node_id,
                resent,
                len(held) - resent,
            )

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its `except`: the error (a refused TLS
        # certificate, say) is the one being handled.
        logger.warning(
            "node %s: cannot reach broker %s:%s (%s); retrying with back-off",
            self._node_id,
            self._broker.host,
            self._broker.port,
            sys.exception() or "no error given",
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if self._is_stopping:
            logger.info("node %s: disconnected from broker", self._node_id)
            return
        logger.warning(
            "node %s: lost broker %s:%s (%s); reconnecting, %s events in flight",
            self._node_id,
            self._broker.host,
            self._broker.port,
            reason_code,
            self._drain.in_flight,
        )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        # Runs on paho's network thread while paho holds its message lock:
        # only post a notice, never touch the disk or our locks here.
        self._drain.notify_ack(
            mid,
            is_failure=reason_code.is_failure,
            reason=str(reason_code),
            no_subscribers=reason_code.value == NO_MATCHING_SUBSCRIBERS,
        )

    def _send_row(self, row: OutboxRow) -> int:
        # QoS >= 1 always: the PUBACK is what deletes the row.
        try:
            info = self._client.publish(
                row.topic, row.payload, qos=max(row.qos, 1), retain=row.retain
            )
        except ValueError as error:
            raise SendError(f"row {row.row_id} to {row.topic!r}: {error}") from error
        # NO_CONN: the link dropped after our connected check; paho keeps the
        # message and sends it after reconnecting, so it is in flight all the same.
        if info.rc not in (
            MQTTErrorCode.MQTT_ERR_SUCCESS,
            MQTTErrorCode.MQTT_ERR_NO_CONN,
        ):
            raise SendError(f"row {row.row_id}: {mqtt.error_string(info.rc)}")
        return info.mid

    def _send_state(self, topic: str, state: _State) -> None:
        info = self._client.publish(
            topic, state.payload, qos=state.qos, retain=state.retain
        )
        is_sent = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
        if not is_sent:
            logger.debug(
                "node %s: state for %s not sent now (%s); re-sent on reconnect",
                self._node_id,
                topic,
                mqtt.error_string(info.rc),
            )
        with self._stats_lock:
            if is_sent:
                self._published += 1
            else:
                self._failed += 1

    def _publish_final_offline(self, timeout_s: float) -> None:
        info = self._client.publish(
            self._topics.node_status(self._node_id),
            self._status("offline").to_json(),
            qos=1,
            retain=True,
        )
        try:
            info.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError) as error:
            logger.warning(
                "node %s: could not publish offline: %s", self._node_id, error
            )
            return
        if not info.is_published():
            logger.warning(
                "node %s: offline status not acknowledged in time", self._node_id
            )


def _check_topic(topic: str, qos: int) -> None:
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"cannot publish to topic {topic!r}: empty or has wildcards")
    if qos not in (0, 1, 2):
        raise ValueError(f"qos must be 0, 1 or 2, got {qos}")


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload
