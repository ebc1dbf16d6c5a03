"""`gridwatch demo`: Mosquitto + the RTSP simulator + an edge node on real clips.

Prints every event the node publishes until Ctrl-C (or --seconds), then a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import NodeConfig, parse_config
from edge.factory import build_node
from gridwatch.contract import Topics
from gridwatch.services import MosquittoBroker, RtspSimulatorProcess
from models.manifest import resolve_video
from simulators.signals import stop_on_signals

CROWD_OF_TWO: dict[str, Any] = {
    "type": "crowding",
    "label": "person",
    "threshold": 2,
    "dwell_s": 2,
    "clear_s": 3,
    "cooldown_s": 20,
    "update_interval_s": 10,
}

# clip → (camera id, zones): rules chosen so that real events happen within a minute.
DEMO_CAMERAS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "one-by-one-person-detection": (
        "lobby",
        [
            {
                "id": "floor",
                "rules": [
                    {"type": "occupancy", "labels": ["person"]},
                    CROWD_OF_TWO,
                ],
            },
            {
                "id": "table",
                "polygon_norm": [[0.3, 0.35], [0.75, 0.35], [0.75, 0.9], [0.3, 0.9]],
                "rules": [
                    {
                        "type": "intrusion",
                        "labels": ["person"],
                        "min_s": 2,
                        "cooldown_s": 20,
                    }
                ],
            },
        ],
    ),
    "worker-zone-detection": (
        "warehouse",
        [
            {
                "id": "marked-floor",
                "polygon_norm": [[0.2, 0.4], [0.8, 0.4], [0.8, 1.0], [0.2, 1.0]],
                "rules": [
                    {"type": "occupancy", "labels": ["person"]},
                    {
                        "type": "intrusion",
                        "labels": ["person"],
                        "min_s": 1,
                        "cooldown_s": 15,
                    },
                ],
            },
        ],
    ),
    "store-aisle-detection": (
        "aisle",
        [
            {
                "id": "aisle",
                "rules": [
                    {"type": "occupancy", "labels": ["person"]},
                    CROWD_OF_TWO,
                ],
            },
        ],
    ),
    "car-detection": (
        "car-park",
        [
            {
                "id": "lot",
                "rules": [{"type": "occupancy", "labels": ["car", "truck", "person"]}],
            },
        ],
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--media-dir", type=Path, default=None, help="clip folder")
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--seconds", type=float, default=None, help="stop after N s")
    parser.add_argument(
        "--json", action="store_true", help="print only the JSON summary"
    )


def demo_config(
    urls: dict[str, str], broker_port: int, workdir: Path, models_dir: Path | None
) -> NodeConfig:
    cameras = [
        {
            "id": camera_id,
            "url": urls[clip],
            "location": {"lat": 23.1291 + 0.001 * i, "lon": 113.2644},
            "analysis_fps": 5,
            "zones": zones,
        }
        for i, (clip, (camera_id, zones)) in enumerate(DEMO_CAMERAS.items())
    ]
    return parse_config(
        {
            "node_id": "demo-node",
            "broker": {"port": broker_port},
            "http": {"port": 0},
            "outbox": {"path": str(workdir / "outbox.sqlite")},
            "models_dir": str(models_dir) if models_dir else None,
            "cameras": cameras,
        },
        source="demo",
    )


class EventPrinter:
    """Prints each event the broker carries, one line each."""

    def __init__(self, port: int, *, quiet: bool) -> None:
        self.counts: dict[str, int] = {}
        self.first_event_at: float | None = None
        self._quiet = quiet
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(Topics().all_events(), qos=1)
        self._client.loop_start()

    def _on_message(
        self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage
    ) -> None:
        body = json.loads(message.payload)
        key = f"{body['type']}:{body['phase']}"
        self.counts[key] = self.counts.get(key, 0) + 1
        self.first_event_at = self.first_event_at or time.time()
        if not self._quiet:
            sys.stdout.write(
                f"{body['detected_at'][11:19]}  {body['camera_id']:<10} "
                f"{body['type']:<10} "
                f"{body['phase']:<6} zone={body.get('zone_id')} "
                f"conf={body['confidence']:.2f} attrs={body.get('attributes')}\n"
            )
            sys.stdout.flush()

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def run_cli(args: argparse.Namespace) -> int:
    media_dir: Path = (
        args.media_dir or resolve_video("one-by-one-person-detection.mp4").parent
    )
    with stop_on_signals(threading.Event()) as stop:
        return _run(args, media_dir, stop)


def _print_banner(broker_port: int, node_url: str, camera_urls: list[str]) -> None:
    sys.stdout.write(
        "gridwatch demo running (Ctrl-C stops it)\n"
        f"  MQTT broker  mqtt://127.0.0.1:{broker_port} (topics gw/v1/#)\n"
        f"  edge node    {node_url}/healthz {node_url}/metrics\n"
        + "".join(f"  camera       {url}\n" for url in camera_urls)
        + "events:\n"
    )
    sys.stdout.flush()


def _run(args: argparse.Namespace, media_dir: Path, stop: threading.Event) -> int:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="gw-demo-") as tmp:
        workdir = Path(tmp)
        with (
            MosquittoBroker(workdir / "broker") as broker,
            RtspSimulatorProcess(media_dir, clips=list(DEMO_CAMERAS)) as sim,
        ):
            urls = {m: sim.url(m) for m in sim.mounts()}
            node = build_node(demo_config(urls, broker.port, workdir, args.models_dir))
            printer = EventPrinter(broker.port, quiet=args.json)
            node.start()
            try:
                if not args.json:
                    _print_banner(broker.port, node.http_url, list(urls.values()))
                stop.wait(args.seconds)
            finally:
                node.stop()
                printer.close()
    summary = {
        "seconds": round(time.time() - started, 1),
        "events": sum(printer.counts.values()),
        "by_type_phase": printer.counts,
        "first_event_s": round(printer.first_event_at - started, 1)
        if printer.first_event_at
        else None,
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0 if summary["events"] else 1
