"""IoT sensor simulator: replay realistic readings of a city's devices over MQTT.

Reads the devices of a `city.json` (`gridwatch sim city`) and publishes
`gw.reading/1` batches, one message per gateway and tick, on
`{prefix}/iot/{gateway}/readings`. Simulated time runs from `--hours` ago up to
now, `--speed` simulated seconds per wall second, then for `--live-hours` on
in real time (a reading is never sent before its time), so the timestamps are
ones central accepts. The series:

- noise and PM2.5 follow the day (traffic peaks), with noise on top;
- bins fill through the day and are emptied at 06:00 local time;
- a rain event raises the water-level gauges for two hours;
- one smoke alarm goes off for 20 minutes, one manhole cover is knocked askew,
  one gate is left open;
- faults: stuck values, dropouts (silent devices), single-sample spikes, clock
  skew (a few minutes behind, or ten ahead: refused), and bad readings (a wrong
  unit, an out-of-range value, a malformed message) that central dead-letters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gridwatch.readings import READING_SCHEMA, DeviceType, readings_topic
from gridwatch.secrets import SecretError, read_secret_file
from gridwatch.tls import MqttTls, TlsError, apply_mqtt_tls
from simulators.cli import run_module_cli
from simulators.signals import stop_on_signals

logger = logging.getLogger(__name__)


class Fault(StrEnum):
    STUCK = "stuck"
    DROPOUT = "dropout"
    SPIKE = "spike"
    SKEW = "skew"


@dataclass(frozen=True, slots=True)
class SimDevice:
    id: str
    type: DeviceType
    gateway_id: str


@dataclass(frozen=True, slots=True)
class SensorPlan:
    """What the replay does.

    Attributes:
        start: First simulated instant (aware).
        hours: Simulated hours.
        interval_s: Simulated seconds between two readings of a device.
        seed: Random seed (same seed, same series).
        timezone: The city's zone (bins are emptied at 06:00 local).
        rain_at_h: Hours after `start` when the rain begins (None: no rain).
        fire_at_h: Hours after `start` when one smoke alarm goes off.
        fault_rate: Share of devices with each fault.
        bad_rate: Share of readings sent bad (wrong unit, out of range).
    """

    start: datetime
    hours: float = 24.0
    interval_s: float = 60.0
    seed: int = 1
    timezone: str = "Asia/Shanghai"
    rain_at_h: float | None = 12.0
    fire_at_h: float | None = 18.0
    fault_rate: float = 0.05
    bad_rate: float = 0.002

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be aware")
        if self.hours <= 0 or self.interval_s <= 0:
            raise ValueError("hours and interval_s must be > 0")
        for name in ("fault_rate", "bad_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish at simulated time `at`."""

    at: datetime
    gateway_id: str
    payload: bytes
    readings: int
    bad: int


@dataclass(slots=True)
class _Quirks:
    faults: set[Fault] = field(default_factory=set)
    stuck_at: float = 0.0  # hours after start
    dropout: tuple[float, float] = (0.0, 0.0)  # hours after start
    skew_s: float = 0.0
    scale: float = 1.0  # per-device variety (fill rate, exposure)
    value: dict[str, tuple[float, str]] | None = None  # the stuck values


def load_devices(city_file: Path) -> list[SimDevice]:
    """The devices of a `city.json`."""
    document = json.loads(city_file.read_text(encoding="utf-8"))
    return [
        SimDevice(d["id"], DeviceType(d["type"]), d["gateway_id"])
        for d in document.get("devices", [])
    ]


def _rng_for(seed: int, device_id: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{device_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _quirks(device: SimDevice, plan: SensorPlan) -> _Quirks:
    rng = _rng_for(plan.seed, device.id)
    quirks = _Quirks(scale=rng.uniform(0.6, 1.4))
    for fault in Fault:
        if rng.random() < plan.fault_rate:
            quirks.faults.add(fault)
    quirks.stuck_at = rng.uniform(0, plan.hours)
    begin = rng.uniform(0, max(0.0, plan.hours - 1))
    quirks.dropout = (begin, begin + rng.uniform(0.5, 2.0))
    quirks.skew_s = rng.choice([-180.0, 600.0])
    return quirks


def _day(local_hour: float, peak: float) -> float:
    """0..1, highest at `peak` o'clock, lowest twelve hours away."""
    return 0.5 + 0.5 * math.cos((local_hour - peak) / 24 * 2 * math.pi)


@dataclass(frozen=True, slots=True)
class _Moment:
    hours: float  # since the plan's start
    local_hour: float
    since_six_h: float  # hours since the last 06:00 local


class _Story:
    """Who the one-off incidents happen to (picked once per replay)."""

    def __init__(self, devices: Sequence[SimDevice], plan: SensorPlan) -> None:
        rng = random.Random(plan.seed)

        def pick(kind: DeviceType) -> str | None:
            ids = sorted(d.id for d in devices if d.type is kind)
            return rng.choice(ids) if ids else None

        self.fire = pick(DeviceType.SMOKE_ALARM)
        self.manhole = pick(DeviceType.MANHOLE_COVER)
        self.door = pick(DeviceType.DOOR_CONTACT)
        self.plan = plan

    def value(
        self, device: SimDevice, m: _Moment, scale: float, rng: random.Random
    ) -> dict[str, tuple[float, str]]:
        plan = self.plan
        match device.type:
            case DeviceType.SMOKE_ALARM:
                on = (
                    device.id == self.fire
                    and plan.fire_at_h is not None
                    and plan.fire_at_h <= m.hours < plan.fire_at_h + 1 / 3
                )
                return {
                    "alarm": (1.0 if on else 0.0, "state"),
                    "smoke_obscuration": (
                        round(12 + rng.random() * 5 if on else rng.random() * 0.3, 2),
                        "%/m",
                    ),
                }
            case DeviceType.WATER_LEVEL:
                level = abs(rng.gauss(1.0, 0.3))
                if plan.rain_at_h is not None and 0 <= m.hours - plan.rain_at_h < 2:
                    level += (
                        30 * scale * math.sin(math.pi * (m.hours - plan.rain_at_h) / 2)
                    )
                return {"level": (round(min(level, 500), 1), "cm")}
            case DeviceType.MANHOLE_COVER:
                tilt = abs(rng.gauss(0.5, 0.3))
                if device.id == self.manhole and m.hours >= plan.hours * 0.4:
                    tilt = 25 + rng.random()
                return {"tilt": (round(tilt, 1), "deg")}
            case DeviceType.BIN_FILL:
                fill = m.since_six_h * 6.0 * scale + rng.gauss(0, 1.5)
                return {"fill": (round(min(100.0, max(0.0, fill)), 1), "%")}
            case DeviceType.NOISE:
                laeq = 45 + 18 * _day(m.local_hour, 14) * scale + rng.gauss(0, 2)
                return {"laeq": (round(min(140.0, max(20.0, laeq)), 1), "dBA")}
            case DeviceType.AIR_QUALITY:
                rush = max(_day(m.local_hour, 8), _day(m.local_hour, 18)) ** 4
                pm25 = 25 + 40 * rush * scale + abs(rng.gauss(0, 4))
                return {"pm25": (round(pm25, 1), "ug/m3")}
            case DeviceType.DOOR_CONTACT:
                left_open = device.id == self.door and (
                    plan.hours * 0.6 <= m.hours < plan.hours * 0.6 + 0.5
                )
                passing = rng.random() < 0.05
                return {"open": (1.0 if left_open or passing else 0.0, "state")}


def _bad(values: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A reading made bad: a wrong unit or an impossible value."""
    name = next(iter(values))
    if rng.random() < 0.5:
        return {**values, name: {**values[name], "unit": "furlong"}}
    return {**values, name: {**values[name], "value": -9999.0}}


def replay(devices: Sequence[SimDevice], plan: SensorPlan) -> Iterator[Outgoing]:
    """Every message of the replay, in time order (pure: no network)."""
    story = _Story(devices, plan)
    quirks = {d.id: _quirks(d, plan) for d in devices}
    rngs = {d.id: _rng_for(plan.seed + 1, d.id) for d in devices}
    seqs: Counter[str] = Counter()
    zone = ZoneInfo(plan.timezone)
    bad_rng = random.Random(plan.seed + 2)
    steps = int(plan.hours * 3600 / plan.interval_s)
    for step in range(steps + 1):
        at = plan.start + timedelta(seconds=step * plan.interval_s)
        local = at.astimezone(zone)
        local_hour = local.hour + local.minute / 60
        moment = _Moment(
            step * plan.interval_s / 3600, local_hour, (local_hour - 6) % 24
        )
        by_gateway: dict[str, list[dict[str, Any]]] = defaultdict(list)
        bad_count: Counter[str] = Counter()
        for device in devices:
            reading = _reading(device, moment, at, story, quirks[device.id], rngs)
            if reading is None:
                continue
            seqs[device.id] += 1
            reading["seq"] = seqs[device.id]
            if reading["values"] and bad_rng.random() < plan.bad_rate:
                reading["values"] = _bad(reading["values"], bad_rng)
                bad_count[device.gateway_id] += 1
            by_gateway[device.gateway_id].append(reading)
        for gateway, readings in sorted(by_gateway.items()):
            yield _message(at, gateway, readings, bad_count[gateway], bad_rng, plan)


def _reading(
    device: SimDevice,
    m: _Moment,
    at: datetime,
    story: _Story,
    quirks: _Quirks,
    rngs: dict[str, random.Random],
) -> dict[str, Any] | None:
    if Fault.DROPOUT in quirks.faults and (
        quirks.dropout[0] <= m.hours < quirks.dropout[1]
    ):
        return None
    values = story.value(device, m, quirks.scale, rngs[device.id])
    if Fault.STUCK in quirks.faults and m.hours >= quirks.stuck_at:
        if quirks.value is None:
            quirks.value = values
        values = quirks.value
    name, (value, unit) = next(iter(values.items()))
    if (
        Fault.SPIKE in quirks.faults
        and unit != "state"
        and rngs[device.id].random() < 0.01
    ):
        values = {**values, name: (min(value * 4 + 10, 100.0), unit)}
    ts = at + timedelta(seconds=quirks.skew_s if Fault.SKEW in quirks.faults else 0)
    return {
        "device_id": device.id,
        "device_type": device.type.value,
        "ts": ts.isoformat(),
        "values": {k: {"value": v, "unit": u} for k, (v, u) in values.items()},
    }


def _message(
    at: datetime,
    gateway: str,
    readings: list[dict[str, Any]],
    bad: int,
    rng: random.Random,
    plan: SensorPlan,
) -> Outgoing:
    body = {
        "schema": READING_SCHEMA,
        "gateway_id": gateway,
        "sent_at": at.isoformat(),
        "readings": readings,
    }
    payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
    if rng.random() < plan.bad_rate:  # a gateway firmware bug: cut short
        return Outgoing(at, gateway, payload[: len(payload) // 2], len(readings), bad)
    return Outgoing(at, gateway, payload, len(readings), bad)


# -- publishing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broker:
    """Where and as whom the simulator publishes."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: MqttTls | None = None
    prefix: str = "gw/v1"


def connect(broker: Broker, client_id: str) -> mqtt.Client:
    """A connected MQTT 5 client, its network loop running."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    apply_mqtt_tls(client, broker.tls)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish_all(
    client: mqtt.Client,
    messages: Iterator[Outgoing],
    *,
    prefix: str,
    speed: float,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Publish in simulated-time order, `speed` simulated seconds per wall
    second (0: as fast as the broker takes them), and never a message before
    its time (the live part of a replay); counts of what was sent."""
    counts: Counter[str] = Counter()
    stop = stop or threading.Event()
    wall0 = time.monotonic()
    sim0: datetime | None = None
    for out in messages:
        sim0 = sim0 or out.at
        pause = (out.at - datetime.now(UTC)).total_seconds()
        if speed > 0:
            due = wall0 + (out.at - sim0).total_seconds() / speed
            pause = max(pause, due - time.monotonic())
        if (pause > 0 and stop.wait(pause)) or stop.is_set():
            break
        info = client.publish(
            readings_topic(prefix, out.gateway_id), out.payload, qos=1
        )
        info.wait_for_publish(timeout=30)
        counts["messages"] += 1
        counts["readings"] += out.readings
        counts["bad_readings"] += out.bad
    return dict(counts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``gridwatch sim sensors``."""
    parser.add_argument("--city", type=Path, required=True, help="city.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--username", help="broker login (a simulator or gateway)")
    parser.add_argument("--password-file", type=Path, help="its password file")
    parser.add_argument("--ca-file", type=Path, help="CA of the broker's TLS")
    parser.add_argument("--prefix", default="gw/v1", help="topic prefix")
    parser.add_argument(
        "--gateway", help="only this gateway's devices (with the gateway's login)"
    )
    parser.add_argument(
        "--hours", type=float, default=24.0, help="simulated hours up to now"
    )
    parser.add_argument(
        "--live-hours",
        type=float,
        default=0.0,
        help="then go on in real time this long (a demo's running sensors)",
    )
    parser.add_argument("--interval-s", type=float, default=60.0)
    parser.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per wall second (0: as fast as possible)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--bad-rate", type=float, default=0.002)
    parser.add_argument("--no-rain", action="store_true")
    parser.add_argument("--no-fire", action="store_true")


def run_cli(args: argparse.Namespace) -> int:
    devices = load_devices(args.city)
    if args.gateway:
        devices = [d for d in devices if d.gateway_id == args.gateway]
    if not devices:
        sys.stderr.write(
            "sim sensors: no devices (is this a city.json with devices?)\n"
        )
        return 2
    timezone = json.loads(args.city.read_text(encoding="utf-8")).get("timezone", "UTC")
    try:
        plan = SensorPlan(
            start=datetime.now(UTC) - timedelta(hours=args.hours),
            hours=args.hours + args.live_hours,
            interval_s=args.interval_s,
            seed=args.seed,
            timezone=timezone,
            rain_at_h=None if args.no_rain else args.hours / 2,
            fire_at_h=None if args.no_fire else args.hours * 0.75,
            fault_rate=args.fault_rate,
            bad_rate=args.bad_rate,
        )
        password = read_secret_file(args.password_file) if args.password_file else None
        tls = MqttTls(ca_file=args.ca_file) if args.ca_file else None
        broker = Broker(args.host, args.port, args.username, password, tls, args.prefix)
        client = connect(broker, f"gw-sim-sensors-{args.seed}")
    except (ValueError, SecretError, TlsError, OSError) as error:
        sys.stderr.write(f"sim sensors: {error}\n")
        return 2
    try:
        with stop_on_signals(threading.Event()) as stop:
            counts = publish_all(
                client,
                replay(devices, plan),
                prefix=args.prefix,
                speed=args.speed,
                stop=stop,
            )
    finally:
        client.loop_stop()
        client.disconnect()
    sys.stdout.write(json.dumps({"devices": len(devices), **counts}) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_module_cli(
        argv,
        prog="gridwatch sim sensors",
        description=__doc__,
        add_arguments=add_arguments,
        run_cli=run_cli,
    )


if __name__ == "__main__":
    sys.exit(main())
