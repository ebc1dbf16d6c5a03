"""Replica slots: which central client ids hold a share of the events, and
which of them are away.

Mosquitto 2.0 keeps handing a member of a shared subscription its round-robin
share while it is disconnected, as long as its session lives
(`mqtt.session_expiry_s`, 24 h by default): those events wait in the broker
until a process connects with that client id again, and the broker publishes
no per-client queue depth to alert on (docs/reliability.md). So every
ingesting replica says where it stands on its slot's topic: a retained
`online` when it connects, a retained `offline` as its will and on a clean
stop. Every process reads them all; a slot offline for longer than
`ingest.slot_offline_alert_s` is reported in `/healthz`'s body, in `/metrics`
and in the console's system view. It does not turn `/healthz` into a 503: one
missing peer would fail every replica's probe and take the healthy ones out of
a load balancer too.

`gridwatch central retire-slot` ends a slot for good: it drains the slot's
share, leaves the group, ends the session and clears the retained message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from central.clock import Clock

log = logging.getLogger(__name__)

REPLICA_SCHEMA: Final = "gw.replica/1"


class SlotState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class SlotPresence(BaseModel):
    """What a replica says of its slot (retained on `{prefix}/central/replicas/{id}`).

    `at` is when the state began where the sender knew it; a will is written at
    connect time, so an `offline` will carries no `at` and the reader takes the
    moment it heard it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(default=REPLICA_SCHEMA, alias="schema")
    client_id: str = Field(min_length=1, max_length=128)
    state: SlotState
    at: datetime | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


@dataclass(frozen=True, slots=True)
class SlotView:
    """A slot as this process last heard of it."""

    client_id: str
    state: SlotState
    since: datetime
    away_s: float
    """Seconds offline (0 when online)."""


class ReplicaRoster:
    """The slots heard of, fed by the MQTT thread, read by the API (thread-safe)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[SlotState, datetime]] = {}

    def record(self, topic: str, payload: bytes) -> None:
        """Take one message of a slot's topic; an empty one retires the slot.

        A malformed message is logged and ignored: it tells nothing about a slot.
        """
        slot = topic.rsplit("/", 1)[-1]
        if not payload:
            with self._lock:
                self._slots.pop(slot, None)
            return
        try:
            presence = SlotPresence.model_validate(json.loads(payload))
        except (ValueError, ValidationError) as error:
            log.warning(
                "replica slot %s: unreadable presence message (%s)", slot, error
            )
            return
        if presence.client_id != slot:
            log.warning(
                "replica slot %s: presence names %s; ignored", slot, presence.client_id
            )
            return
        now = self._clock.now()
        since = presence.at if presence.at is not None else now
        with self._lock:
            known = self._slots.get(slot)
            if known is not None and known[0] is presence.state:
                return  # the same state again (a retained copy): keep its start
            self._slots[slot] = (presence.state, min(since, now))

    def slots(self) -> list[SlotView]:
        now = self._clock.now()
        with self._lock:
            known = sorted(self._slots.items())
        return [
            SlotView(
                client_id=slot,
                state=state,
                since=since,
                away_s=(now - since).total_seconds()
                if state is SlotState.OFFLINE
                else 0.0,
            )
            for slot, (state, since) in known
        ]

    def away(self, longer_than_s: float) -> list[SlotView]:
        """Slots offline for at least `longer_than_s`."""
        return [
            slot
            for slot in self.slots()
            if slot.state is SlotState.OFFLINE and slot.away_s >= longer_than_s
        ]


def away_warning(slot: SlotView) -> str:
    """What an operator reads about a slot that is away, and what to do."""
    minutes = slot.away_s / 60
    return (
        f"replica slot {slot.client_id} offline for {minutes:.0f} min: its share "
        f"of the events waits in the broker until a central process connects as "
        f"{slot.client_id} again (or retire it: gridwatch central retire-slot "
        f"--client-id {slot.client_id})"
    )


def slot_warnings(roster: ReplicaRoster | None, alert_after_s: float) -> list[str]:
    """One line per slot away for at least `alert_after_s` (none without a roster)."""
    if roster is None:
        return []
    return [away_warning(slot) for slot in roster.away(alert_after_s)]


class ReplicaCollector(Collector):
    """The slots for Prometheus: how many are online and offline, and for how
    long each offline one has been away (alert on it: its share is waiting)."""

    def __init__(self, roster: Callable[[], ReplicaRoster | None]) -> None:
        self._roster = roster

    def collect(self) -> Iterator[GaugeMetricFamily]:
        roster = self._roster()
        slots = roster.slots() if roster is not None else []
        counts = GaugeMetricFamily(
            "gw_central_replica_slots",
            "Replica slots heard of on the broker, by state.",
            labels=["state"],
        )
        for state in SlotState:
            counts.add_metric(
                [state.value], sum(1 for slot in slots if slot.state is state)
            )
        yield counts
        away = GaugeMetricFamily(
            "gw_central_replica_slot_away_seconds",
            "How long each offline replica slot has been away; its share of the "
            "events waits in the broker meanwhile.",
            labels=["client_id"],
        )
        for slot in slots:
            if slot.state is SlotState.OFFLINE:
                away.add_metric([slot.client_id], slot.away_s)
        yield away
