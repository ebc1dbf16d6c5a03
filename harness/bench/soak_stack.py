"""The demo stack with central and the edge node as processes of their own, so a
soak (`gridwatch bench soak`) can read each one's memory and open files.

`SoakStack` is `DemoStack` (same city, logins, clips, broker, RTSP simulator and
configs) except that central runs as `gridwatch central run` and the edge node as
`gridwatch edge run`, from config files written from the demo's settings.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from central.config import CentralSettings
from central.context import build_context
from central.seed import seed_city
from harness.demo_rules import DEMO_CLIP_RULES
from harness.demo_stack import (
    DEMO_PASSWORD,
    DEMO_STAFF,
    DemoStack,
    demo_cameras,
    edge_config,
    write_demo_city,
)
from harness.services import MosquittoBroker, RtspSimulatorProcess, stop_process
from simulators.clips import link_clips

CENTRAL_READY = re.compile(rb"^central: http://[^:]+:(\d+)/")
EDGE_READY = re.compile(rb"^node \S+ running")
STOP_TIMEOUT_S = 20.0


class ChildProcess:
    """A `python -m harness ...` child whose output goes to a log file; `start`
    waits for the line `ready` matches and returns its match."""

    def __init__(self, name: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() first"
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, ready: re.Pattern[bytes], timeout_s: float) -> re.Match[bytes]:
        """Start and wait for the ready line.

        Raises:
            RuntimeError: the child exited, or printed no ready line within
                `timeout_s` (with the log's tail).
        """
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness", "--log-level", "WARNING", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.log_path.read_bytes().splitlines():
                found = ready.match(line)
                if found is not None:
                    return found
            if not self.is_alive():
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout_s=STOP_TIMEOUT_S)


class SoakStack(DemoStack):
    """Broker, central (a process, SQLite, the demo city), the RTSP simulator and
    one edge node (a process) watching `cameras` demo clips."""

    def __init__(
        self,
        workdir: Path,
        media_dir: Path,
        *,
        cameras: int,
        models_dir: Path | None = None,
    ) -> None:
        if cameras < 1:
            raise ValueError(f"a soak needs at least one camera, got {cameras}")
        super().__init__(
            workdir, media_dir, cameras=cameras, http_port=None, models_dir=models_dir
        )
        self.central_process = ChildProcess(
            "central", ["central", "run"], workdir / "central.log"
        )
        self.edge_process = ChildProcess("edge", ["edge", "run"], workdir / "edge.log")
        self.http_port_found = 0
        self.city_path = workdir / "city" / "city.json"

    @property
    def central_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port_found}"

    def __enter__(self) -> SoakStack:
        self.start()
        return self

    def _start(self) -> None:
        clips = [self._clip_file(stem) for stem in DEMO_CLIP_RULES]
        grids_path, self.city_path = write_demo_city(self.workdir / "city", clips)
        # As the demo and production run it: TLS only, no plaintext listener.
        self.broker = self._stack.enter_context(
            MosquittoBroker(self.workdir / "broker", tls=True, plaintext=False)
        )
        settings = self._central_settings(self.broker)
        self.cameras = demo_cameras(self.city_path, self.camera_count)
        context = build_context(settings)
        try:
            self.seed = seed_city(
                context,
                grids_path,
                self.city_path,
                now=context.clock.now(),
                worker_password=DEMO_PASSWORD,
                staff=DEMO_STAFF,
                edge_nodes=sorted({c.node_id for c in self.cameras}),
            )
        finally:
            context.engine.dispose()
        self._start_central(settings)
        self._start_edge()

    def _start_central(self, settings: CentralSettings) -> None:
        config = self.workdir / "central.yaml"
        _write_yaml(config, settings.model_dump(mode="json", exclude_unset=True))
        self.central_process.args += ["--config", str(config)]
        found = self.central_process.start(CENTRAL_READY, timeout_s=60.0)
        self._stack.callback(self.central_process.stop)
        self.http_port_found = int(found.group(1))

    def _start_edge(self) -> None:
        assert self.broker is not None and self.seed is not None
        mounts = link_clips(self._clip_files(), self.workdir / "clips")
        sim = self._stack.enter_context(
            RtspSimulatorProcess(self.workdir / "clips", clips=sorted(mounts.values()))
        )
        urls = {Path(clip).stem: sim.url(mount) for clip, mount in mounts.items()}
        self.camera_urls = [urls[Path(c.clip).stem] for c in self.cameras]
        node_id = self.cameras[0].node_id
        token_file = self.workdir / f"edge-{node_id}.token"
        token_file.write_text(self.seed.edge_tokens[node_id] + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        node = edge_config(
            self.cameras,
            broker=self.broker.node_config(node_id),
            urls=urls,
            workdir=self.workdir,
            models_dir=self.models_dir,
            central_url=self.central_url,
            token_file=token_file,
        )
        config = self.workdir / "edge.yaml"
        _write_yaml(config, node.model_dump(mode="json", exclude_unset=True))
        self.edge_process.args += ["--config", str(config)]
        self.edge_process.start(EDGE_READY, timeout_s=120.0)
        self._stack.callback(self.edge_process.stop)


def _write_yaml(path: Path, document: object) -> None:
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    path.chmod(0o600)
