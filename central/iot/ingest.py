"""Readings of IoT gateways → device state and events of the `gw.event/1` contract.

A batch of reading messages is checked (envelope, then each reading alone, so
one bad reading is dead-lettered with its reason and the rest still count),
matched to the device registry (a device must be known, belong to the gateway
that sends it and be of the type it claims), run through its type's rules
(`central.iot.rules`), and what the rules decide becomes `EventMessage`s that
go through the same `EventProcessor` as a camera's events: matter list, grid,
ticket, dispatch and deadlines work unchanged. The event's `node_id` is the
gateway, its `camera_id` the device.

Event ids are derived from device, event type and episode start, so that a
redelivered batch, or one raced by another replica, makes the same ids and the
processor's dedupe keeps one copy. Device rows are locked (PostgreSQL) for the
batch, in id order, so two replicas never apply readings of one device at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.context import CentralContext
from central.db.models import Device
from central.ingest.processor import (
    BatchResult,
    EventProcessor,
    InboundMessage,
    dead_letter_for,
)
from central.iot.profiles import PROFILES, DeviceProfile
from central.iot.rules import (
    Outcome,
    RuleState,
    Transition,
    apply_reading,
    check_heartbeat,
)
from gridwatch.contract import (
    EventMessage,
    EventPhase,
    EventType,
    Location,
    LocationSource,
    ModelInfo,
)
from gridwatch.readings import (
    DeviceType,
    Reading,
    ReadingBatch,
    gateway_of_topic,
)
from gridwatch.validation import describe_validation_error

log = logging.getLogger(__name__)

RULES_MODEL = ModelInfo(name="gridwatch-iot-rules", version="1")
# Readings from further ahead than this are a broken device clock.
MAX_SKEW_AHEAD = timedelta(minutes=5)
RECENT_MAX = 60


class DeviceStatus(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    ALARM = "alarm"
    FAULT = "fault"  # a stuck value
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class _Item:
    reading: Reading
    gateway_id: str
    inbound: InboundMessage


def event_id_for(device_id: str, event_type: str, started_at: datetime) -> str:
    """The stable id of one device episode (hex, 32 characters)."""
    key = f"{device_id}|{event_type}|{started_at.isoformat()}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class ReadingProcessor:
    """Applies reading batches and heartbeat sweeps; thread-compatible, not
    thread-safe (one ingest thread calls it)."""

    def __init__(self, context: CentralContext, events: EventProcessor) -> None:
        self.context = context
        self.events = events
        self.prefix = context.topics.prefix
        self.stale = 0  # readings ignored as repeats or out of order

    # -- parsing ---------------------------------------------------------------------

    def _parse(
        self, messages: Sequence[InboundMessage], now: datetime, result: BatchResult
    ) -> list[_Item]:
        items: list[_Item] = []
        for inbound in messages:
            gateway = gateway_of_topic(inbound.topic, self.prefix)
            if gateway is None:
                reason = f"not a readings topic: {inbound.topic}"
                result.deadletters.append(dead_letter_for(inbound, reason, now))
                continue
            try:
                batch = ReadingBatch.model_validate_json(inbound.payload)
            except ValidationError as exc:
                problems = describe_validation_error(exc, limit=5, top="(body)")
                reason = f"invalid gw.reading/1 message: {problems}"
                result.deadletters.append(dead_letter_for(inbound, reason, now))
                continue
            if batch.gateway_id != gateway:
                reason = (
                    f"gateway_id {batch.gateway_id!r} does not match the topic's "
                    f"gateway {gateway!r}"
                )
                result.deadletters.append(dead_letter_for(inbound, reason, now))
                continue
            for n, raw in enumerate(batch.readings):
                reading = self._reading(inbound, n, raw, now, result)
                if reading is not None:
                    items.append(_Item(reading, gateway, inbound))
        return items

    def _reading(
        self,
        inbound: InboundMessage,
        n: int,
        raw: dict[str, object],
        now: datetime,
        result: BatchResult,
    ) -> Reading | None:
        try:
            reading = Reading.model_validate(raw)
        except ValidationError as exc:
            problems = describe_validation_error(exc, limit=5, top=f"readings[{n}]")
            self._refuse(inbound, raw, f"invalid reading: {problems}", now, result)
            return None
        if reading.ts > now + MAX_SKEW_AHEAD:
            ahead = (reading.ts - now).total_seconds()
            reason = (
                f"readings[{n}]: ts {reading.ts.isoformat()} is {ahead:.0f} s ahead "
                "of central's clock (device clock skew)"
            )
            self._refuse(inbound, raw, reason, now, result)
            return None
        return reading

    @staticmethod
    def _refuse(
        inbound: InboundMessage,
        raw: object,
        reason: str,
        now: datetime,
        result: BatchResult,
    ) -> None:
        """Dead-letter one reading alone (its own JSON as the payload)."""
        try:
            body = json.dumps(raw, default=str).encode("utf-8")
        except ValueError:
            body = inbound.payload
        one = InboundMessage(inbound.topic, body, inbound.token)
        result.deadletters.append(dead_letter_for(one, reason, now))

    # -- the batch -------------------------------------------------------------------

    def process(self, messages: Sequence[InboundMessage]) -> BatchResult:
        """Apply a batch of reading messages; raises if the database fails (retry)."""
        now = self.context.clock.now()
        result = BatchResult()
        items = self._parse(messages, now, result)
        if not items:
            return result
        items.sort(key=lambda i: (i.reading.device_id, i.reading.ts, i.reading.seq))
        with self.context.sessions.begin() as session:
            devices = _lock_devices(
                session, sorted({i.reading.device_id for i in items})
            )
            events: list[EventMessage] = []
            for item in items:
                device = devices.get(item.reading.device_id)
                reason = _mismatch(device, item)
                if device is None or reason:
                    self._refuse(
                        item.inbound, _as_json(item.reading), reason, now, result
                    )
                    continue
                events += self._apply(device, item.reading, now)
            self._raise_events(events, result)
        return result

    def _apply(
        self, device: Device, reading: Reading, now: datetime
    ) -> list[EventMessage]:
        profile = PROFILES[DeviceType(device.device_type)]
        state = RuleState.from_json(device.rule_state)
        value = reading.value_of(profile.quantity)
        state, transitions, outcome = apply_reading(
            profile, state, ts=reading.ts, value=value, heard_at=now
        )
        if outcome is Outcome.STALE:
            self.stale += 1
            return []
        device.rule_state = state.to_json()
        device.last_seen_at = now
        device.last_values = {
            "ts": reading.ts.isoformat(),
            "seq": reading.seq,
            **{k: v.model_dump() for k, v in reading.values.items()},
            **(
                {"battery_pct": reading.battery_pct}
                if reading.battery_pct is not None
                else {}
            ),
        }
        if value is not None:
            recent = [*device.recent, [reading.ts.isoformat(), value]]
            device.recent = recent[-RECENT_MAX:]
        device.status = _status_of(state).value
        return [self._event(device, profile, t) for t in transitions]

    def sweep(self) -> BatchResult:
        """Open `sensor_offline` episodes of devices silent past their heartbeat."""
        now = self.context.clock.now()
        result = BatchResult()
        oldest_due = now - timedelta(
            seconds=min(p.heartbeat_s for p in PROFILES.values())
        )
        with self.context.sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(Device.id)
                    .where(
                        Device.last_seen_at.is_not(None),
                        Device.last_seen_at <= oldest_due,
                        Device.status != DeviceStatus.OFFLINE,
                    )
                    .order_by(Device.id)
                )
            )
            events: list[EventMessage] = []
            for device in _lock_devices(session, ids).values():
                profile = PROFILES[DeviceType(device.device_type)]
                state, transitions = check_heartbeat(
                    profile, RuleState.from_json(device.rule_state), now=now
                )
                if transitions:
                    device.rule_state = state.to_json()
                    device.status = _status_of(state).value
                    events += [self._event(device, profile, t) for t in transitions]
            self._raise_events(events, result)
        return result

    # -- events ----------------------------------------------------------------------

    def _event(
        self, device: Device, profile: DeviceProfile, transition: Transition
    ) -> EventMessage:
        attributes: dict[str, Any] = {
            "device_type": device.device_type,
            "rule": transition.rule.value,
        }
        if transition.event_type == EventType.SENSOR_OFFLINE:
            attributes["heartbeat_s"] = profile.heartbeat_s
        elif transition.event_type == EventType.SENSOR_FAULT:
            attributes["stuck_after_s"] = profile.stuck_after_s or 0.0
            if transition.value is not None:
                attributes["value"] = transition.value
        else:
            attributes |= {
                "quantity": profile.quantity,
                "unit": profile.unit,
                "threshold": profile.threshold.on_at,
            }
            if transition.value is not None:
                attributes["value"] = transition.value
        return EventMessage(
            event_id=event_id_for(
                device.id, transition.event_type, transition.started_at
            ),
            type=transition.event_type,
            phase=transition.phase,
            node_id=device.gateway_id,
            camera_id=device.id,
            started_at=transition.started_at,
            detected_at=transition.at,
            ended_at=transition.at if transition.phase is EventPhase.END else None,
            confidence=1.0,
            location=Location(
                lat=device.lat, lon=device.lon, source=LocationSource.GROUND
            ),
            attributes=attributes,
            model=RULES_MODEL,
        )

    def _raise_events(self, events: list[EventMessage], result: BatchResult) -> None:
        """Store the events as a camera's would be (one processor batch)."""
        if not events:
            return
        inbound = [
            InboundMessage(
                self.context.topics.events(e.node_id), e.to_json().encode("utf-8")
            )
            for e in events
        ]
        stored = self.events.process(inbound)
        result.accepted += stored.accepted
        result.duplicates += stored.duplicates
        result.tickets_created += stored.tickets_created
        result.merged += stored.merged
        result.notices += stored.notices
        result.deadletters += stored.deadletters


def _lock_devices(session: Session, ids: list[str]) -> dict[str, Device]:
    """The devices of `ids`, locked for this transaction (PostgreSQL) in id order."""
    rows = session.scalars(
        select(Device).where(Device.id.in_(ids)).order_by(Device.id).with_for_update()
    )
    return {d.id: d for d in rows}


def _mismatch(device: Device | None, item: _Item) -> str:
    reading = item.reading
    if device is None:
        return f"unknown device {reading.device_id!r} (not in the device registry)"
    if device.gateway_id != item.gateway_id:
        return (
            f"device {device.id!r} belongs to gateway {device.gateway_id!r}, "
            f"not {item.gateway_id!r}"
        )
    if device.device_type != reading.device_type.value:
        return (
            f"device {device.id!r} is a {device.device_type}, "
            f"not a {reading.device_type.value}"
        )
    return ""


def _status_of(state: RuleState) -> DeviceStatus:
    if state.offline_since is not None:
        return DeviceStatus.OFFLINE
    if state.stuck_since is not None:
        return DeviceStatus.FAULT
    if state.active_since is not None:
        return DeviceStatus.ALARM
    return DeviceStatus.OK


def _as_json(reading: Reading) -> dict[str, Any]:
    return reading.model_dump(mode="json")
