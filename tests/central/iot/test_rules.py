"""Device rules: hysteresis, minimum duration, rate of change, heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.iot.profiles import (
    PROFILES,
    DeviceProfile,
    RateOfChange,
    Threshold,
)
from central.iot.rules import (
    Outcome,
    RuleKind,
    RuleState,
    Transition,
    apply_reading,
    check_heartbeat,
)
from gridwatch.contract import EventPhase, EventType
from gridwatch.readings import DeviceType

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)

WATER = DeviceProfile(
    DeviceType.WATER_LEVEL,
    "level",
    EventType.WATERLOGGING,
    Threshold(on_at=15, off_below=8, min_duration_s=300),
    rate=RateOfChange(rise_per_min=3),
    heartbeat_s=900,
)
INSTANT = DeviceProfile(
    DeviceType.WATER_LEVEL,
    "level",
    EventType.WATERLOGGING,
    Threshold(on_at=15, off_below=8),
)


def run(
    profile: DeviceProfile, values: list[float | None], step_s: float = 60
) -> tuple[RuleState, list[Transition]]:
    """Apply one reading every `step_s` from T0; all transitions in order."""
    state = RuleState()
    seen: list[Transition] = []
    for n, value in enumerate(values):
        at = T0 + timedelta(seconds=n * step_s)
        state, transitions, _ = apply_reading(
            profile, state, ts=at, value=value, heard_at=at
        )
        seen += transitions
    return state, seen


def phases(transitions: list[Transition]) -> list[str]:
    return [f"{t.event_type}:{t.phase}" for t in transitions]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([5, 6, 7], []),
        ([20], ["waterlogging:start"]),
        ([20, 12, 14, 12], ["waterlogging:start"]),  # between the thresholds: held
        ([20, 12, 7], ["waterlogging:start", "waterlogging:end"]),
        ([20, 7, 16, 7], ["waterlogging:start", "waterlogging:end"] * 2),
        ([14.9, 14.9], []),
    ],
)
def test_threshold_given_values_should_open_and_close_with_hysteresis(
    values: list[float | None], expected: list[str]
) -> None:
    _, transitions = run(INSTANT, values)
    assert phases(transitions) == expected


def test_threshold_given_a_spike_shorter_than_min_duration_should_raise_nothing() -> (
    None
):
    _, transitions = run(WATER, [5, 40, 5, 5], step_s=120)
    assert transitions == []


def test_threshold_given_a_level_held_long_enough_should_start_at_its_onset() -> None:
    state, transitions = run(WATER, [5, 16, 17, 16, 18], step_s=120)
    assert phases(transitions) == ["waterlogging:start"]
    start = transitions[0]
    assert start.started_at == T0 + timedelta(seconds=120)  # onset, not decision
    assert start.at == T0 + timedelta(seconds=480)
    assert start.rule is RuleKind.THRESHOLD
    assert state.active_since == start.started_at


def test_rate_given_two_fast_rises_should_start_before_the_threshold() -> None:
    _, transitions = run(WATER, [1, 5, 10], step_s=60)  # +4, +5 cm/min
    assert phases(transitions) == ["waterlogging:start"]
    assert transitions[0].rule is RuleKind.RATE
    assert transitions[0].value == 10


def test_rate_given_a_single_jump_should_raise_nothing() -> None:
    _, transitions = run(WATER, [1, 9, 9, 9], step_s=60)
    assert transitions == []


def test_rate_episode_given_the_rise_stops_low_should_end() -> None:
    _, transitions = run(WATER, [1, 5, 10, 7, 6], step_s=60)
    assert phases(transitions) == ["waterlogging:start", "waterlogging:end"]


def test_reading_given_an_older_or_repeated_ts_should_be_stale() -> None:
    state, _, _ = apply_reading(INSTANT, RuleState(), ts=T0, value=20, heard_at=T0)
    for ts in (T0, T0 - timedelta(seconds=1)):
        again, transitions, outcome = apply_reading(
            INSTANT, state, ts=ts, value=1, heard_at=T0
        )
        assert outcome is Outcome.STALE
        assert again == state
        assert transitions == []


def test_heartbeat_given_silence_should_open_offline_once_and_close_on_reading() -> (
    None
):
    state, _ = run(WATER, [5])
    assert check_heartbeat(WATER, state, now=T0 + timedelta(seconds=899)) == (
        state,
        [],
    )
    late = T0 + timedelta(seconds=2000)
    offline, transitions = check_heartbeat(WATER, state, now=late)
    assert phases(transitions) == ["sensor_offline:start"]
    assert transitions[0].started_at == T0 + timedelta(seconds=900)  # stable id
    assert check_heartbeat(WATER, offline, now=late + timedelta(hours=1))[1] == []
    back, transitions, _ = apply_reading(
        WATER, offline, ts=late, value=None, heard_at=late
    )
    assert phases(transitions) == ["sensor_offline:end"]
    assert back.offline_since is None
    assert back.last_value == 5  # a heartbeat-only reading keeps the last value


def test_heartbeat_given_a_device_never_heard_should_raise_nothing() -> None:
    assert check_heartbeat(WATER, RuleState(), now=T0) == (RuleState(), [])


def test_state_given_json_round_trip_should_be_equal() -> None:
    state, _ = run(WATER, [1, 5, 10, 16])
    state, _ = check_heartbeat(WATER, state, now=T0 + timedelta(days=1))
    assert RuleState.from_json(state.to_json()) == state
    assert RuleState.from_json({}) == RuleState()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"threshold": Threshold(on_at=1, off_below=0)}, None),
        ({"quantity": "fill"}, "has no quantity"),
        ({"heartbeat_s": 0}, "heartbeat_s"),
    ],
)
def test_profile_given_bad_fields_should_raise(
    kwargs: dict[str, object], error: str | None
) -> None:
    fields: dict[str, object] = {
        "device_type": DeviceType.WATER_LEVEL,
        "quantity": "level",
        "event_type": EventType.WATERLOGGING,
        "threshold": Threshold(on_at=15, off_below=8),
    } | kwargs
    if error is None:
        DeviceProfile(**fields)  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError, match=error):
        DeviceProfile(**fields)  # type: ignore[arg-type]


def test_threshold_given_off_above_on_should_raise() -> None:
    with pytest.raises(ValueError, match="off_below"):
        Threshold(on_at=5, off_below=6)


def test_profiles_should_cover_every_device_type() -> None:
    assert set(PROFILES) == set(DeviceType)


def test_fire_alarm_given_alarm_then_reset_should_start_at_once_and_end() -> None:
    _, transitions = run(PROFILES[DeviceType.SMOKE_ALARM], [0, 1, 1, 0])
    assert phases(transitions) == ["fire_alarm:start", "fire_alarm:end"]
    assert transitions[0].phase is EventPhase.START


STUCK = DeviceProfile(
    DeviceType.NOISE,
    "laeq",
    EventType.NOISE,
    Threshold(on_at=70, off_below=62),
    stuck_after_s=600,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([50, 51, 50, 51, 50, 51, 50, 51, 50, 51, 50, 51], []),
        ([50] * 10, []),  # 9 minutes the same: not yet
        ([50] * 11, ["sensor_fault:start"]),
        ([50] * 15, ["sensor_fault:start"]),  # once
        ([50] * 12 + [52], ["sensor_fault:start", "sensor_fault:end"]),
        ([50, 50, 50, None, 50, 50, 50, 50, 50, 50, 50, 50], ["sensor_fault:start"]),
    ],
)
def test_stuck_given_values_should_open_a_fault_once_and_close_on_change(
    values: list[float | None], expected: list[str]
) -> None:
    state, transitions = run(STUCK, values)
    assert phases(transitions) == expected
    if expected[:1] == ["sensor_fault:start"]:
        assert transitions[0].started_at == T0  # since the value stopped moving
        assert transitions[0].rule is RuleKind.STUCK
    assert RuleState.from_json(state.to_json()) == state


def test_stuck_given_a_profile_without_it_should_never_fault() -> None:
    _, transitions = run(INSTANT, [5] * 100)
    assert transitions == []
