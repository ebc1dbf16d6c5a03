"""The real edge node of `gridwatch bench chaos`: `gridwatch edge run` (yolox_nano
on CPU) watching a shared clip that the RTSP simulator replays, in a process of
its own so that the bench can `kill -9` it and start it again on the same outbox,
and take its camera dark at the simulator."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from edge.config import parse_config
from harness.bench.chaos_node_watch import CentralNodeWatcher, NodeObserver
from harness.services import MosquittoBroker, RtspSimulatorProcess, stop_process
from models.manifest import resolve_video

NODE_ID = "chaos-real-node"
CAMERA_ID = "chaos-door"
CLIP = "one-by-one-person-detection"  # people come and go all through it
NODE_READY = re.compile(r"^node \S+ running")
# A crowd of one, updated every second: a steady stream of event messages (start,
# an update a second while someone is in view, end a second after they left).
CROWD_OF_ONE: dict[str, Any] = {
    "type": "crowding",
    "label": "person",
    "threshold": 1,
    "dwell_s": 0,
    "clear_s": 1,
    "cooldown_s": 0,
    "update_interval_s": 1,
}


def node_config(
    broker: MosquittoBroker, *, url: str, outbox: Path, point: tuple[float, float]
) -> dict[str, Any]:
    """The node's config (checked by `parse_config`): one camera at `point`
    (a grid of its own), quick to notice an outage and to reconnect, no clips
    (their encoding would only cost CPU here)."""
    document: dict[str, Any] = {
        "node_id": NODE_ID,
        "broker": broker.node_config(NODE_ID),
        "http": {"port": 0},
        "outbox": {"path": str(outbox)},
        "media": {"clips": False},
        "batch": {"workers": 1},
        "model": {"intra_op_threads": 1},
        "status_interval_s": 1,
        "cameras": [
            {
                "id": CAMERA_ID,
                "url": url,
                "location": {"lat": point[0], "lon": point[1]},
                "analysis_fps": 5,
                "open_timeout_s": 3,
                "read_timeout_s": 3,
                "stall_after_s": 2,
                "reconnect_min_s": 0.3,
                "reconnect_max_s": 1.0,
                "zones": [
                    {
                        "id": "floor",
                        "rules": [
                            {"type": "occupancy", "labels": ["person"]},
                            CROWD_OF_ONE,
                        ],
                    }
                ],
            }
        ],
    }
    parse_config(document, source="chaos node")
    return document


class RealNode:
    """The RTSP simulator serving `CLIP` and one `gridwatch edge run` process.

    Args:
        broker: The chaos broker (the node logs in as `NODE_ID`).
        work: Folder for the node's config, outbox and log.
        point: Where the camera stands (lat, lon).
    """

    def __init__(
        self, broker: MosquittoBroker, work: Path, point: tuple[float, float]
    ) -> None:
        self.broker = broker
        self.work = work
        self.point = point
        work.mkdir(parents=True, exist_ok=True)
        self.outbox = work / "outbox.sqlite"
        self.config_path = work / "node.yaml"
        self.log_path = work / "node.log"
        self.sim: RtspSimulatorProcess | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def mount(self) -> str:
        return CLIP

    def start_camera(self) -> None:
        """Start the RTSP simulator (the first start may transcode the clip)."""
        media_dir = resolve_video(f"{CLIP}.mp4").parent
        self.sim = RtspSimulatorProcess(media_dir, clips=[CLIP]).start(timeout_s=180)
        document = node_config(
            self.broker, url=self.sim.url(CLIP), outbox=self.outbox, point=self.point
        )
        self.config_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        self.config_path.chmod(0o600)

    def start(self) -> None:
        """Start the node (returns at once; `wait_ready` waits for it)."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness", "--log-level", "WARNING",
                 "edge", "run", "--config", str(self.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout_s: float = 120.0) -> float:
        """Wait for the node's "node ... running" line; returns when it came
        (monotonic s).

        Raises:
            RuntimeError: the node exited or was not running in time.
        """
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        while True:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
            if any(NODE_READY.match(line) for line in text.splitlines()):
                return time.monotonic()
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the chaos edge node did not start:\n{text[-2000:]}"
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: events in memory are gone, the outbox stays as it was."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def camera_dark(self) -> None:
        """The simulator stops serving the camera and cuts off the node."""
        assert self.sim is not None, "start_camera() first"
        self.sim.stop_mount(CLIP)

    def camera_back(self) -> None:
        assert self.sim is not None, "start_camera() first"
        self.sim.start_mount(CLIP)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout_s=15)
        if self.sim is not None:
            self.sim.stop()


class NodeRig:
    """The real node and the bench's eyes on it: the broker's view (`observer`)
    and central's (`watcher`)."""

    def __init__(
        self, node: RealNode, observer: NodeObserver, watcher: CentralNodeWatcher
    ) -> None:
        self.node = node
        self.observer = observer
        self.watcher = watcher

    @classmethod
    def start(
        cls,
        cleanup: ExitStack,
        broker: MosquittoBroker,
        work: Path,
        *,
        point: tuple[float, float],
        dsn: str,
        held: threading.Event,
    ) -> NodeRig:
        """Start the camera, the observers and the node (each stopped by
        `cleanup`); returns without waiting for the node (see `wait_streaming`)."""
        node = RealNode(broker, work, point)
        cleanup.callback(node.stop)
        node.start_camera()
        observer = NodeObserver(broker, NODE_ID, CAMERA_ID)
        cleanup.callback(observer.stop)
        watcher = CentralNodeWatcher(dsn, NODE_ID, CAMERA_ID, held)
        cleanup.callback(watcher.stop)
        node.start()
        return cls(node, observer, watcher)

    def last_message_at(self) -> float | None:
        seen = self.observer.seen().values()
        return max(seen, default=None)

    def wait_streaming(self, timeout_s: float = 150.0) -> None:
        """Wait until the node runs and the broker passed on one of its events.

        Raises:
            RuntimeError: not in time (with the node's log).
        """
        deadline = time.monotonic() + timeout_s
        self.node.wait_ready(timeout_s)
        while self.last_message_at() is None:
            if time.monotonic() > deadline:
                tail = self.node.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the chaos edge node sent no event:\n{tail}")
            time.sleep(0.2)
