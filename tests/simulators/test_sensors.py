"""The sensor simulator's series: the day, the rain, the fire, faults, bad data."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from gridwatch.readings import DeviceType, Reading, ReadingBatch
from simulators.sensors import Outgoing, SensorPlan, SimDevice, publish_all, replay

START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # midnight in Guangzhou
DEVICES = [
    SimDevice("smk-1", DeviceType.SMOKE_ALARM, "gw-1"),
    SimDevice("wl-1", DeviceType.WATER_LEVEL, "gw-1"),
    SimDevice("bin-1", DeviceType.BIN_FILL, "gw-2"),
    SimDevice("noise-1", DeviceType.NOISE, "gw-2"),
]


def series(plan: SensorPlan) -> dict[str, list[tuple[datetime, float]]]:
    """Main value per device over time, from valid readings only."""
    found: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for out in replay(DEVICES, plan):
        batch = ReadingBatch.model_validate_json(out.payload)
        for raw in batch.readings:
            reading = Reading.model_validate(raw)
            name = next(iter(reading.values))
            found[reading.device_id].append((reading.ts, reading.values[name].value))
    return found


def test_replay_given_a_clean_day_should_tell_the_story() -> None:
    plan = SensorPlan(
        start=START,
        hours=24,
        interval_s=600,
        fault_rate=0,
        bad_rate=0,
        rain_at_h=12,
        fire_at_h=18,
    )
    found = series(plan)
    alarm = [t for t, v in found["smk-1"] if v == 1]
    assert alarm and min(alarm).hour == 10  # 18 h after 16:00 UTC
    peak_at, peak = max(found["wl-1"], key=lambda p: p[1])
    assert peak > 15 and 12 <= (peak_at - START).total_seconds() / 3600 < 14
    fills = [v for _, v in found["bin-1"]]
    assert max(fills) > 90 and min(fills) < 10  # full by night, emptied at 06:00
    noise = dict(found["noise-1"])
    afternoon = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 local
    night = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # 02:00 local
    assert noise[afternoon] > noise[night] + 5


def test_replay_given_the_same_seed_should_repeat_itself() -> None:
    plan = SensorPlan(start=START, hours=2, interval_s=600, seed=5)
    assert list(replay(DEVICES, plan)) == list(replay(DEVICES, plan))


def test_replay_given_faults_and_bad_rate_should_send_invalid_readings() -> None:
    plan = SensorPlan(
        start=START, hours=6, interval_s=300, fault_rate=1.0, bad_rate=0.2
    )
    invalid = malformed = skewed = 0
    for out in replay(DEVICES, plan):
        try:
            batch = ReadingBatch.model_validate_json(out.payload)
        except ValidationError:
            malformed += 1
            continue
        for raw in batch.readings:
            try:
                reading = Reading.model_validate(raw)
            except ValidationError:
                invalid += 1
                continue
            skewed += reading.ts != out.at
    assert invalid > 0 and malformed > 0 and skewed > 0


def test_plan_given_bad_values_should_raise() -> None:
    with pytest.raises(ValueError, match="aware"):
        SensorPlan(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="fault_rate"):
        SensorPlan(start=START, fault_rate=2)


def test_replay_given_no_devices_should_send_nothing() -> None:
    assert list(replay([], SensorPlan(start=START, hours=1))) == []


class _Sent:
    def wait_for_publish(self, timeout: float) -> None:
        return None


class _Client:
    """Records publishes (publish_all's only use of the client)."""

    def __init__(self) -> None:
        self.topics: list[str] = []

    def publish(self, topic: str, payload: bytes, qos: int) -> _Sent:
        self.topics.append(topic)
        return _Sent()


def test_publish_given_a_message_from_the_future_should_wait_for_its_time() -> None:
    now = datetime.now(UTC)
    messages = [
        Outgoing(now - timedelta(seconds=1), "gw-1", b"{}", 1, 0),
        Outgoing(now + timedelta(minutes=5), "gw-2", b"{}", 1, 0),
    ]
    client = _Client()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    client_any: Any = client
    counts = publish_all(client_any, iter(messages), prefix="p", speed=0, stop=stop)
    assert client.topics == ["p/iot/gw-1/readings"]
    assert counts == {"messages": 1, "readings": 1, "bad_readings": 0}
