"""The demo's sensors and its summary of them: a real demo stack (Mosquitto
over TLS, central on SQLite with the demo city) with the sensor simulator
replaying the city's devices, whose rules raise real sensor events."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.demo_extras import extras_summary, resolve_one_camera_ticket
from harness.demo_stack import DemoStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    workdir = tmp_path_factory.mktemp("demo-extras")
    with DemoStack(workdir, None, cameras=0, http_port=None) as running:
        yield running


def test_the_demo_sensors_should_raise_sensor_events_central_counts(
    stack: DemoStack,
) -> None:
    assert stack.central is not None and stack.sensors is not None
    assert len(stack.sensors.devices) >= 12  # every grid has sensors
    context = stack.central.context
    deadline = time.monotonic() + 60
    summary = extras_summary(context)
    while summary["sensor_events"] < 1 and time.monotonic() < deadline:
        time.sleep(1)
        summary = extras_summary(context)
    assert summary["sensor_events"] >= 1, summary
    assert summary["warnings"] >= 0
    assert summary["camera_verified"] == {
        "requested": 0,
        "gone": 0,
        "present": 0,
        "cannot_verify": 0,
        "pending": 0,
        "closed_by_camera": 0,
    }
    # No camera ticket in a stack without cameras: nothing to resolve.
    assert resolve_one_camera_ticket(context, wait_s=0) is None
