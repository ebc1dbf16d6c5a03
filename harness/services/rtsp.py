"""Runs the RTSP replay simulator as a child process and controls its mounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.services.process import stop_process


class RtspSimulatorProcess:
    """`python -m simulators.rtsp_server` in a child process on free ports.

    A child process keeps GStreamer's main loop and its CPU use apart from the
    node under test, as a real camera network would be.

    Args:
        media_dir: Folder of clips.
        clips: Clip names to serve; None serves all.
        replicate: Mounts per clip (``<clip>-0`` ...) when above 1.
        cache_dir: Transcode cache; the server's default when None.
        host: Address to serve on.
        once: Play each clip once per `start_mount` instead of looping.
        speed: Replay rate (2.0: twice as fast as recorded).
    """

    def __init__(
        self,
        media_dir: Path,
        *,
        clips: list[str] | None = None,
        replicate: int = 1,
        cache_dir: Path | None = None,
        host: str = "127.0.0.1",
        once: bool = False,
        speed: float = 1.0,
    ) -> None:
        self.media_dir = media_dir
        self.once = once
        self.speed = speed
        self.clips = clips
        self.replicate = replicate
        self.cache_dir = cache_dir
        self.host = host
        self._workdir = tempfile.TemporaryDirectory(prefix="gw-rtsp-")
        self._ready_file = Path(self._workdir.name) / "ready.json"
        self._log_path = Path(self._workdir.name) / "rtsp.log"
        self._final_log: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout_s: float = 60.0) -> RtspSimulatorProcess:
        """Start and wait until every mount is served and the control API answers.

        The first start may transcode clips (cached in `cache_dir`); give it a
        longer `timeout_s` when the cache is empty.

        Raises:
            RuntimeError: the simulator exited or did not become ready in time;
                the message carries the end of its log. It is stopped then.
        """
        with self._log_path.open("wb") as log:
            # A crash inside GStreamer then leaves every thread's Python stack
            # in the log (`log_tail`), not just a bare exit status.
            env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
            self._process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout_s
        try:
            while not self._is_ready():
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"RTSP simulator exited with {self._process.returncode}: "
                        f"{self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"RTSP simulator not ready in {timeout_s} s: {self.log_tail()}"
                    )
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self) -> list[str]:
        command = [
            sys.executable, "-m", "simulators.rtsp_server",
            "--media-dir", str(self.media_dir), "--host", self.host,
            "--port", "0", "--control-port", "0",
            "--ready-file", str(self._ready_file), "--replicate", str(self.replicate),
        ]  # fmt: skip
        if self.clips:
            command += ["--clips", ",".join(self.clips)]
        if self.cache_dir is not None:
            command += ["--cache-dir", str(self.cache_dir)]
        if self.once:
            command.append("--once")
        if self.speed != 1.0:
            command += ["--speed", repr(self.speed)]
        return command

    def _is_ready(self) -> bool:
        # The ready file is written once every mount is served; the health
        # check makes sure the control API answers too.
        if not self._ready_file.is_file():
            return False
        self.info = json.loads(self._ready_file.read_text(encoding="utf-8"))
        try:
            self.control("GET", "/health")
        except (urllib.error.URLError, OSError):
            return False
        return True

    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines of the simulator's output (kept after `stop`)."""
        if self._final_log is not None:
            text = self._final_log
        elif self._log_path.exists():
            text = self._log_path.read_text(errors="replace")
        else:
            text = ""
        return "\n".join(text.splitlines()[-lines:])

    def exit_status(self) -> int | None:
        """The exit status once the simulator has exited; None while it runs."""
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        """The simulator's process id while it runs."""
        return None if self._process is None else self._process.pid

    def url(self, mount: str) -> str:
        """RTSP URL of a mount."""
        url: str = self.info["mounts"][mount]
        return url

    def replica_url(self, clip: str, index: int) -> str:
        """RTSP URL of a clip's `index`-th mount (named `<clip>-<index>` when
        the clip is served more than once, `<clip>` otherwise)."""
        return self.url(clip if self.replicate == 1 else f"{clip}-{index}")

    def mounts(self) -> list[str]:
        """Mount names, sorted."""
        return sorted(self.info.get("mounts", {}))

    def control(self, method: str, path: str) -> Any:
        """Call the control API and return its JSON body.

        Raises:
            urllib.error.HTTPError: non-2xx answer (e.g. 404 unknown mount).
        """
        request = urllib.request.Request(
            f"http://{self.host}:{self.info['control_port']}{path}",
            method=method,
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def mount_status(self) -> list[dict[str, Any]]:
        """Every mount's state (``GET /mounts``)."""
        body: list[dict[str, Any]] = self.control("GET", "/mounts")
        return body

    def mount_info(self, mount: str) -> dict[str, Any]:
        """One mount's state (``GET /mounts/<name>``), play times included."""
        body: dict[str, Any] = self.control("GET", f"/mounts/{mount}")
        return body

    def stop_mount(self, mount: str) -> dict[str, Any]:
        """Take one camera dark: its clients are cut off and new ones refused.

        Returns:
            The mount's state after the call.
        """
        body: dict[str, Any] = self.control("POST", f"/mounts/{mount}/stop")
        return body

    def start_mount(self, mount: str) -> dict[str, Any]:
        """Bring a stopped camera back.

        Returns:
            The mount's state after the call.
        """
        body: dict[str, Any] = self.control("POST", f"/mounts/{mount}/start")
        return body

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s); keeps the log for `log_tail`."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, timeout_s=10)
        if self._final_log is None and self._log_path.exists():
            self._final_log = self._log_path.read_text(errors="replace")
        self._workdir.cleanup()

    def __enter__(self) -> RtspSimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
