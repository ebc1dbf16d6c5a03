"""The device rules: one reading (or the lack of one) → episode transitions.

Pure functions over a device's `RuleState`, which central keeps in the device's
row, so that whichever replica takes a device's next reading continues where
the last one stopped. Times of episodes come from the state (never from the
replica's clock alone), which keeps the event ids they make the same on every
replica and on every redelivery.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from central.iot.profiles import DeviceProfile
from gridwatch.contract import EventPhase, EventType


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    RATE = "rate"
    HEARTBEAT = "heartbeat"
    STUCK = "stuck"


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # not newer than the last reading: a repeat or out of order


@dataclass(frozen=True, slots=True)
class Transition:
    """An episode opening (`start`) or closing (`end`).

    Attributes:
        event_type: The event it is.
        phase: start or end.
        started_at: When the episode began (part of its identity).
        at: When this transition happened.
        rule: Which rule decided it.
        value: The watched value then, None for a heartbeat.
    """

    event_type: str
    phase: EventPhase
    started_at: datetime
    at: datetime
    rule: RuleKind
    value: float | None = None


@dataclass(frozen=True, slots=True)
class RuleState:
    """What the rules remember of one device (stored as JSON in its row).

    Attributes:
        last_ts: Device time of the newest reading applied.
        last_heard_at: Central's time when that reading arrived (heartbeat).
        last_value: The watched value of the newest reading carrying it.
        pending_since: Since when the level condition has held, not yet long enough.
        active_since: Start of the open episode of the device's event type.
        active_rule: The rule that opened it.
        rate_hits: Successive readings rising faster than the rate rule allows.
        offline_since: Start of the open `sensor_offline` episode.
        same_since: Device time since which the value has not changed.
        stuck_since: Start of the open `sensor_fault` (stuck value) episode.
    """

    last_ts: datetime | None = None
    last_heard_at: datetime | None = None
    last_value: float | None = None
    pending_since: datetime | None = None
    active_since: datetime | None = None
    active_rule: RuleKind | None = None
    rate_hits: int = 0
    offline_since: datetime | None = None
    same_since: datetime | None = None
    stuck_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            if value is not None:
                out[item.name] = value
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> RuleState:
        if not raw:
            return cls()
        times = {
            name: datetime.fromisoformat(raw[name])
            for name in (
                "last_ts",
                "last_heard_at",
                "pending_since",
                "active_since",
                "offline_since",
                "same_since",
                "stuck_since",
            )
            if raw.get(name)
        }
        rule = raw.get("active_rule")
        return cls(
            last_value=raw.get("last_value"),
            rate_hits=int(raw.get("rate_hits", 0)),
            active_rule=RuleKind(rule) if rule else None,
            **times,
        )


def apply_reading(
    profile: DeviceProfile,
    state: RuleState,
    *,
    ts: datetime,
    value: float | None,
    heard_at: datetime,
) -> tuple[RuleState, list[Transition], Outcome]:
    """Apply one reading of a device.

    Args:
        profile: The device type's rules.
        state: The device's state before.
        ts: When the device measured it (its own clock).
        value: The watched quantity, None when the reading does not carry it
            (a heartbeat).
        heard_at: When central received it.

    Returns:
        The new state, the transitions it caused (oldest first) and whether it
        was applied or ignored as stale.
    """
    if state.last_ts is not None and ts <= state.last_ts:
        return state, [], Outcome.STALE
    transitions: list[Transition] = []
    if state.offline_since is not None:
        transitions.append(
            Transition(
                EventType.SENSOR_OFFLINE,
                EventPhase.END,
                state.offline_since,
                heard_at,
                RuleKind.HEARTBEAT,
            )
        )
    heard = replace(state, last_ts=ts, last_heard_at=heard_at, offline_since=None)
    if value is None:
        return heard, transitions, Outcome.APPLIED
    rate_hits = _rate_hits(profile, state, ts=ts, value=value)
    stuck_state, stuck = _stuck_rule(
        profile, heard, previous_ts=state.last_ts, ts=ts, value=value
    )
    level = replace(stuck_state, last_value=value, rate_hits=rate_hits)
    new_state, changes = _level_rules(profile, level, ts=ts, value=value)
    return new_state, transitions + stuck + changes, Outcome.APPLIED


def _stuck_rule(
    profile: DeviceProfile,
    state: RuleState,
    *,
    previous_ts: datetime | None,
    ts: datetime,
    value: float,
) -> tuple[RuleState, list[Transition]]:
    """A value that never changes for `stuck_after_s` is a broken sensor (its
    level rules go on: a stuck value may still be a true one)."""
    if profile.stuck_after_s is None:
        return state, []
    if state.last_value is None or value != state.last_value:
        if state.stuck_since is None:
            return replace(state, same_since=None), []
        end = Transition(
            EventType.SENSOR_FAULT,
            EventPhase.END,
            state.stuck_since,
            ts,
            RuleKind.STUCK,
            value,
        )
        return replace(state, same_since=None, stuck_since=None), [end]
    same_since = state.same_since or previous_ts or ts
    held = ts - same_since >= timedelta(seconds=profile.stuck_after_s)
    if state.stuck_since is not None or not held:
        return replace(state, same_since=same_since), []
    start = Transition(
        EventType.SENSOR_FAULT, EventPhase.START, same_since, ts, RuleKind.STUCK, value
    )
    return replace(state, same_since=same_since, stuck_since=same_since), [start]


def _rate_hits(
    profile: DeviceProfile, state: RuleState, *, ts: datetime, value: float
) -> int:
    if profile.rate is None or state.last_value is None or state.last_ts is None:
        return 0
    minutes = (ts - state.last_ts).total_seconds() / 60.0
    rising = (value - state.last_value) / minutes >= profile.rate.rise_per_min
    return state.rate_hits + 1 if rising else 0


def _level_rules(
    profile: DeviceProfile, state: RuleState, *, ts: datetime, value: float
) -> tuple[RuleState, list[Transition]]:
    """Threshold (hysteresis, minimum duration) and rate of change."""
    threshold = profile.threshold
    event_type = profile.event_type
    if state.active_since is not None:
        if value < threshold.off_below and state.rate_hits == 0:
            end = Transition(
                event_type,
                EventPhase.END,
                state.active_since,
                ts,
                state.active_rule or RuleKind.THRESHOLD,
                value,
            )
            return replace(state, active_since=None, active_rule=None), [end]
        return state, []
    pending = None
    if value >= threshold.on_at:
        pending = state.pending_since or ts
    rule: RuleKind | None = None
    if pending is not None and ts - pending >= timedelta(
        seconds=threshold.min_duration_s
    ):
        rule = RuleKind.THRESHOLD
    elif profile.rate is not None and state.rate_hits >= profile.rate.consecutive:
        rule = RuleKind.RATE
    if rule is None:
        return replace(state, pending_since=pending), []
    started = pending if rule is RuleKind.THRESHOLD and pending is not None else ts
    start = Transition(event_type, EventPhase.START, started, ts, rule, value)
    opened = replace(state, pending_since=None, active_since=started, active_rule=rule)
    return opened, [start]


def check_heartbeat(
    profile: DeviceProfile, state: RuleState, *, now: datetime
) -> tuple[RuleState, list[Transition]]:
    """A `sensor_offline` episode when the device has been silent too long.

    The episode starts at the last time heard plus the heartbeat interval, not
    at `now`, so every replica (and every sweep) names it the same way. A device
    never heard from has no heartbeat to miss.
    """
    if state.offline_since is not None or state.last_heard_at is None:
        return state, []
    due = state.last_heard_at + timedelta(seconds=profile.heartbeat_s)
    if now < due:
        return state, []
    start = Transition(
        EventType.SENSOR_OFFLINE, EventPhase.START, due, now, RuleKind.HEARTBEAT
    )
    return replace(state, offline_since=due), [start]
