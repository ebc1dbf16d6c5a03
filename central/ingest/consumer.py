"""The MQTT side of central: consume events, push tickets, feed the SSE stream.

Events arrive through an MQTT 5 shared subscription (`$share/{group}/...`) so that
replicas share the load; each message is acknowledged (manual PUBACK) only after
the batch holding it has been committed, so a crash or a database outage loses
nothing: the broker redelivers and the dedupe key makes redelivery harmless.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import ValidationError

from central.config import CentralConfigError, broker_password
from central.context import CentralContext
from central.ingest.camera_status import CameraStatusRecorder
from central.ingest.processor import BatchResult, EventProcessor, InboundMessage
from central.ingest.replicas import ReplicaRoster, SlotPresence, SlotState
from central.ingest.storer import BatchStorer
from central.iot.worker import ReadingWorker
from central.notify import MqttNotifier
from gridwatch.contract import TicketNotice
from gridwatch.tls import TlsError, apply_mqtt_tls
from gridwatch.verification import all_verify_results_topic

log = logging.getLogger(__name__)


_heap_frozen = False


def _freeze_heap() -> None:
    """Move what is alive now (reference data: the grid index, the worker
    directory, ...) out of the cyclic garbage collector's sight, once per process.

    Otherwise every full collection walks those hundreds of thousands of objects,
    pausing ingest for 50-150 ms each time (the p99 dispatch latency).
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


class CentralMqtt:
    """One MQTT connection per central process: ingest, pushes and the stream."""

    def __init__(
        self, context: CentralContext, processor: EventProcessor | None
    ) -> None:
        self.context = context
        self.settings = context.settings.mqtt
        self.ingest = context.settings.ingest
        self.processor = processor
        self.topics = context.topics
        self.stats = context.ingest_stats
        context.runs_ingest = processor is not None
        self.camera_status = CameraStatusRecorder(context)
        self.replicas = context.replicas = ReplicaRoster(context.clock)
        self._queue: queue.Queue[InboundMessage] = queue.Queue(self.ingest.max_inflight)
        self._stop = threading.Event()
        # When the oldest message of the batch being stored was queued.
        self._storing_since: float | None = None
        self.stats.lag_probe = self._lag_s
        self.stats.queue_probe = self._queue.qsize
        self._storer = (
            BatchStorer(
                processor.process,
                stats=self.stats,
                stop=self._stop,
                retry_s=self.ingest.retry_s,
                tries_per_message=self.ingest.tries_per_message,
            )
            if processor is not None
            else None
        )
        # Sensor readings: their own queue and thread (central/iot, docs/iot.md).
        self.readings = (
            ReadingWorker(
                context,
                processor,
                publish=self._publish,
                ack=lambda token: self.client.ack(token, 1),
            )
            if processor is not None
            else None
        )
        # Camera-check answers go here (central/verify/); unset: not subscribed.
        self.on_verification: Callable[[str, bytes], None] | None = None
        self._connected = threading.Event()
        self._retired = False
        self._readings_received = 0
        self._worker: threading.Thread | None = None
        self._shared = True
        # Whether this process's own notices reach its SSE stream without the
        # broker: then notice topics are subscribed "no local" (see start).
        self._own_notices_local = False
        self._slots_prefix = self.topics.replica_slot("")
        self.client = self._build_client()

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        notifier = self.context.notifier
        if isinstance(notifier, MqttNotifier) and notifier.client is self.client:
            # Our own notices go straight to our stream instead of a round trip
            # through the broker (two messages back per notice otherwise).
            if notifier.local is None:
                notifier.local = self.context.stream
            self._own_notices_local = notifier.local is self.context.stream
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.session_expiry_s
        properties.ReceiveMaximum = min(65535, self.ingest.max_inflight)
        self.client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self.camera_status.start()
        self.client.loop_start()
        if self.processor is not None:
            _freeze_heap()
            self._worker = threading.Thread(
                target=self._run, name="central-ingest", daemon=True
            )
            self._worker.start()
        if self.readings is not None:
            self.readings.start()
        if not self._connected.wait(timeout_s):
            log.warning(
                "central: broker %s:%s not reachable yet; retrying in the background",
                self.settings.host,
                self.settings.port,
            )

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        if self.readings is not None:
            self.readings.stop()
        if not self._retired and self.is_connected:
            # The session keeps its share of the events while we are away.
            said = self._say_slot(SlotState.OFFLINE)
            if said is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    said.wait_for_publish(2.0)
        self.client.disconnect()
        self.camera_status.stop()
        self.client.loop_stop()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def retire(self, *, quiet_s: float = 5.0, timeout_s: float = 300.0) -> int:
        """End this replica's slot for good: take and store what the broker kept
        for it, leave the shared subscriptions, clear its presence message and
        end its session, so the broker hands it nothing more.

        Returns:
            The messages this process took (from its start: what waited for the
            slot arrives as soon as it connects).

        Raises:
            ValueError: this process holds no share (no ingest, no shared group).
            TimeoutError: not connected, or still receiving after `timeout_s`.
        """
        if not self._holds_a_share or self.processor is None:
            raise ValueError(
                "this process holds no share of the events (it runs no ingest or "
                "mqtt.shared_group is unset): there is no slot to retire"
            )
        deadline = time.monotonic() + timeout_s
        if not self._connected.wait(timeout_s):
            raise TimeoutError(
                f"broker {self.settings.host}:{self.settings.port} not reachable"
            )
        self._wait_quiet(quiet_s, deadline)
        group = self.settings.shared_group
        shares = [self._events_filter()]
        if self.readings is not None:
            shares.append(self.readings.subscription_filter(group))
        self.client.unsubscribe(shares)
        self._wait_quiet(quiet_s, deadline)  # what was already on its way
        self._retired = True
        cleared = self.client.publish(
            self.topics.replica_slot(self.settings.client_id), b"", qos=1, retain=True
        )
        cleared.wait_for_publish(5.0)
        ending = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        ending.SessionExpiryInterval = 0
        self.client.disconnect(properties=ending)
        return self.stats.received + self._readings_received

    def _wait_quiet(self, quiet_s: float, deadline: float) -> None:
        """Until nothing has arrived for `quiet_s` and everything taken is stored."""
        seen = -1
        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            taken = self.stats.received + self._readings_received
            pending = self._queue.qsize() + (
                self.readings.pending() if self.readings is not None else 0
            )
            busy = pending > 0 or self._storing_since is not None
            if taken != seen or busy:
                seen, quiet_since = taken, now
            elif now - quiet_since >= quiet_s:
                return
            if now > deadline:
                raise TimeoutError(
                    f"slot {self.settings.client_id} still receiving after the "
                    f"time-out ({taken} messages so far)"
                )
            time.sleep(0.1)

    # -- MQTT callbacks --------------------------------------------------------------

    def _build_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 10)
        if self.settings.username is not None:
            client.username_pw_set(
                self.settings.username, broker_password(self.settings)
            )
        try:
            apply_mqtt_tls(client, self.settings.tls)
        except TlsError as error:
            raise CentralConfigError(f"mqtt.tls.{error}") from None
        if self._holds_a_share:
            # The broker says it for us when we vanish (central/ingest/replicas.py).
            client.will_set(
                self.topics.replica_slot(self.settings.client_id),
                self._presence(SlotState.OFFLINE, stamped=False),
                qos=1,
                retain=True,
            )
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    @property
    def _holds_a_share(self) -> bool:
        """Whether this process is a member of the events' shared subscription."""
        return self.processor is not None and bool(self.settings.shared_group)

    def _presence(self, state: SlotState, *, stamped: bool = True) -> bytes:
        return SlotPresence(
            client_id=self.settings.client_id,
            state=state,
            at=self.context.clock.now() if stamped else None,
        ).to_json()

    def _say_slot(self, state: SlotState) -> mqtt.MQTTMessageInfo | None:
        if not self._holds_a_share:
            return None
        return self.client.publish(
            self.topics.replica_slot(self.settings.client_id),
            self._presence(state),
            qos=1,
            retain=True,
        )

    def _events_filter(self) -> str:
        group = self.settings.shared_group
        if group and self._shared:
            return f"$share/{group}/{self.topics.all_events()}"
        return self.topics.all_events()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("central: broker refused the connection: %s", reason)
            return
        shared = getattr(properties, "SharedSubscriptionAvailable", 1)
        if shared == 0 and self._shared:
            log.warning("broker has no shared subscriptions; subscribing directly")
            self._shared = False
        # Notices from other replicas feed this one's SSE stream.
        notices = SubscribeOptions(qos=0, noLocal=self._own_notices_local)
        cameras = f"{self.topics.prefix}/edge/+/cameras/+"
        subscriptions = [
            (self.topics.worker_tickets("+"), notices),
            (self.topics.ticket_updates(), notices),
            (f"{cameras}/status", SubscribeOptions(qos=1)),
            (self.topics.node_status("+"), SubscribeOptions(qos=1)),
            (f"{cameras}/occupancy", SubscribeOptions(qos=0)),
            (self.topics.replica_slots(), SubscribeOptions(qos=1)),
        ]
        if self.processor is not None:
            subscriptions.insert(0, (self._events_filter(), SubscribeOptions(qos=1)))
        if self.readings is not None:
            group = self.settings.shared_group if self._shared else None
            readings = self.readings.subscription_filter(group)
            subscriptions.insert(1, (readings, SubscribeOptions(qos=1)))
        if self.on_verification is not None:
            answers = all_verify_results_topic(self.topics.prefix)
            if self.settings.shared_group and self._shared:
                answers = f"$share/{self.settings.shared_group}/{answers}"
            subscriptions.append((answers, SubscribeOptions(qos=1)))
        client.subscribe(subscriptions)
        self._say_slot(SlotState.ONLINE)
        log.info(
            "central connected to %s:%s (session present: %s)",
            self.settings.host,
            self.settings.port,
            getattr(flags, "session_present", "?"),
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Connected means subscribed: an event published after start() returns
        # is never missed on the very first start.
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            log.error("central: broker refused subscriptions: %s", failed)
        self._connected.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its `except`: the error (a refused TLS
        # certificate, say) is the one being handled.
        log.warning(
            "central: cannot reach broker %s:%s (%s); retrying",
            self.settings.host,
            self.settings.port,
            sys.exception() or "no error given",
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("central lost the broker (%s); reconnecting", reason)

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        topic = message.topic
        payload = bytes(message.payload)
        if topic.endswith("/events"):
            self.stats.received += 1
            # Blocks the network thread when central is behind: back-pressure.
            self._queue.put(
                InboundMessage(topic, payload, message.mid, queued_at=time.monotonic())
            )
            return
        if topic.endswith("/readings") and self.readings is not None:
            self._readings_received += 1
            self.readings.submit(
                InboundMessage(topic, payload, message.mid, queued_at=time.monotonic())
            )
            return
        try:
            if topic.endswith("/tickets"):
                self._relay_notice(topic, payload)
            elif topic.endswith("/occupancy"):
                self.context.live.record_occupancy(topic, payload)
            elif topic.endswith("/verifications") and self.on_verification:
                self.on_verification(topic, payload)
            elif topic.startswith(self._slots_prefix):
                self.replicas.record(topic, payload)
            elif topic.endswith("/status") and "/cameras/" in topic:
                self.camera_status.submit(topic, payload)
            elif topic.endswith("/status"):
                self.context.live.record_node_status(topic, payload)
        except Exception:
            log.exception("central: could not handle %s", topic)
        finally:
            if message.qos > 0:
                client.ack(message.mid, message.qos)

    def _relay_notice(self, topic: str, payload: bytes) -> None:
        """Worker notices from any replica reach SSE listeners on this one."""
        if not self.context.stream.listener_count():
            return  # nobody listening here: not worth parsing
        try:
            notice = TicketNotice.model_validate_json(payload)
        except ValidationError:
            log.warning("ignoring a malformed ticket notice on %s", topic)
            return
        if topic == self.topics.ticket_updates():
            self.context.stream.deliver(notice, [], staff=True)
        else:
            worker_id = topic.split("/")[-2]
            self.context.stream.deliver(notice, [worker_id], staff=False)

    # -- the batch loop --------------------------------------------------------------

    def _next_batch(self) -> list[InboundMessage]:
        """Up to `batch_max` messages; the oldest waits up to `batch_wait_ms` for
        company, counted from when it was queued: a message that already waited
        while the previous batch was stored does not wait again."""
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        wait_s = self.ingest.batch_wait_ms / 1000.0
        deadline = (first.queued_at or time.monotonic()) + wait_s
        get = self._queue.get_nowait
        while len(batch) < self.ingest.batch_max:
            try:
                batch.append(get())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        assert self._storer is not None
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            self._storing_since = batch[0].queued_at or time.monotonic()
            result = self._storer.store(batch)
            self._storing_since = None
            if result is None:
                return  # stopping: unacknowledged messages will be redelivered
            self._publish(result)
            for message in batch:
                self.client.ack(message.token, 1)
            self._count(result)

    def _lag_s(self) -> float:
        """Age of the oldest event taken from the broker and not yet stored."""
        oldest = self._storing_since
        with self._queue.mutex:
            if oldest is None and self._queue.queue:
                oldest = self._queue.queue[0].queued_at or None
        return 0.0 if oldest is None else max(0.0, time.monotonic() - oldest)

    def _publish(self, result: BatchResult) -> None:
        notifier = self.context.notifier
        for notice, recipients in result.notices:
            try:
                notifier.ticket_changed(notice, recipients)
            except Exception:
                log.exception("central: could not push ticket %s", notice.ticket_id)
        for letter in result.deadletters:
            log.warning("dead letter from %s: %s", letter.topic, letter.reason)
            try:
                notifier.deadletter(letter)
            except Exception:
                log.exception("central: could not publish a dead letter")

    def _count(self, result: BatchResult) -> None:
        s = self.stats
        s.batches += 1
        s.accepted += result.accepted
        s.duplicates += result.duplicates
        s.deadlettered += len(result.deadletters)
        s.tickets_created += result.tickets_created
        s.merged += result.merged
