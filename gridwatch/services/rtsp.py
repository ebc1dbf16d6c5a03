"""Runs the RTSP replay simulator as a child process and controls its mounts."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


class RtspSimulatorProcess:
    """`python -m simulators.rtsp_server` in a child process on free ports.

    A child process keeps GStreamer's main loop and its CPU use apart from the
    node under test, as a real camera network would be.
    """

    def __init__(
        self,
        media_dir: Path,
        *,
        clips: list[str] | None = None,
        replicate: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        self.media_dir = media_dir
        self.clips = clips
        self.replicate = replicate
        self.cache_dir = cache_dir
        self._workdir = tempfile.TemporaryDirectory(prefix="gw-rtsp-")
        self._ready_file = Path(self._workdir.name) / "ready.json"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout_s: float = 60.0) -> RtspSimulatorProcess:
        """Start and wait until every mount is served.

        Raises:
            RuntimeError: the simulator exited or did not become ready in time.
        """
        command = [
            sys.executable, "-m", "simulators.rtsp_server",
            "--media-dir", str(self.media_dir), "--port", "0", "--control-port", "0",
            "--ready-file", str(self._ready_file), "--replicate", str(self.replicate),
        ]  # fmt: skip
        if self.clips:
            command += ["--clips", ",".join(self.clips)]
        if self.cache_dir is not None:
            command += ["--cache-dir", str(self.cache_dir)]
        log = open(Path(self._workdir.name) / "rtsp.log", "wb")  # noqa: SIM115
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"RTSP simulator exited: {self.log_tail()}")
            if self._ready_file.exists():
                self.info = json.loads(self._ready_file.read_text(encoding="utf-8"))
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"RTSP simulator not ready in {timeout_s} s: {self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        path = Path(self._workdir.name) / "rtsp.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def url(self, mount: str) -> str:
        url: str = self.info["mounts"][mount]
        return url

    def mounts(self) -> list[str]:
        return sorted(self.info.get("mounts", {}))

    def _control(self, mount: str, action: str) -> None:
        url = f"http://127.0.0.1:{self.info['control_port']}/mounts/{mount}/{action}"
        request = urllib.request.Request(url, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop_mount(self, mount: str) -> None:
        """Take one camera dark: its clients are cut off and new ones refused."""
        self._control(mount, "stop")

    def start_mount(self, mount: str) -> None:
        self._control(mount, "start")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._workdir.cleanup()

    def __enter__(self) -> RtspSimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
