"""Start the RTSP replay simulator as a subprocess and drive its control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

REPO_ROOT = Path(__file__).resolve().parents[2]
# FFmpeg (OpenCV's backend) reads RTSP over TCP: no UDP port juggling in tests.
RTSP_CAPTURE_OPTIONS = "rtsp_transport;tcp"


@dataclass
class RtspSimulator:
    """A running ``python -m simulators.rtsp_server`` subprocess.

    Attributes:
        process: The server process.
        host: Address it serves on.
        rtsp_port: Bound RTSP port.
        control_port: Bound HTTP control port.
        mounts: Mount name to RTSP URL.
        log_path: File holding the server's stdout and stderr.
    """

    process: subprocess.Popen[bytes]
    host: str
    rtsp_port: int
    control_port: int
    mounts: dict[str, str]
    log_path: Path
    _workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _final_log: str | None = field(default=None, repr=False)

    def url(self, name: str) -> str:
        """RTSP URL of a mount."""
        return self.mounts[name]

    def control(self, method: str, path: str) -> Any:
        """Call the control API and return its JSON body.

        Raises:
            urllib.error.HTTPError: non-2xx answer (e.g. 404 unknown mount).
        """
        request = urllib.request.Request(
            f"http://{self.host}:{self.control_port}{path}", method=method
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def mount_status(self) -> list[dict[str, Any]]:
        """``GET /mounts``."""
        body: list[dict[str, Any]] = self.control("GET", "/mounts")
        return body

    def stop_mount(self, name: str) -> dict[str, Any]:
        """Take a mount dark (``POST /mounts/{name}/stop``)."""
        body: dict[str, Any] = self.control("POST", f"/mounts/{name}/stop")
        return body

    def start_mount(self, name: str) -> dict[str, Any]:
        """Bring a mount back (``POST /mounts/{name}/start``)."""
        body: dict[str, Any] = self.control("POST", f"/mounts/{name}/start")
        return body

    def log_text(self) -> str:
        """The server's output so far (kept after `terminate`)."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout_s: float = 10.0) -> int:
        """Stop the server with SIGTERM (SIGKILL after `timeout_s`).

        Returns:
            The exit code.
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        if self._workdir is not None:
            self._final_log = self.log_text()
            self._workdir.cleanup()
            self._workdir = None
        return int(self.process.returncode)

    def __enter__(self) -> RtspSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.terminate()


def start_rtsp_simulator(
    media_dir: Path,
    *,
    clips: Sequence[str] | None = None,
    replicate: int = 1,
    cache_dir: Path | None = None,
    host: str = "127.0.0.1",
    timeout_s: float = 120.0,
) -> RtspSimulator:
    """Start the simulator on free ports and wait until it serves.

    Ready means the ready file was written and ``GET /health`` answers. The
    first start may transcode clips (cached in `cache_dir`), hence the
    generous default timeout.

    Args:
        media_dir: Folder of clips.
        clips: Clip names to serve; None serves all.
        replicate: Mounts per clip (``<clip>-0`` ...) when above 1.
        cache_dir: Transcode cache; the server's default when None.
        host: Address to serve on.
        timeout_s: Longest wait for readiness.

    Returns:
        The running simulator; call `terminate` (or use it as a context manager).

    Raises:
        RuntimeError: the process exited or did not become ready in time;
            the message carries its output.
    """
    workdir = tempfile.TemporaryDirectory(prefix="gw-rtsp-sim-")
    ready_file = Path(workdir.name) / "ready.json"
    log_path = Path(workdir.name) / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "simulators.rtsp_server",
        "--media-dir",
        str(media_dir),
    ]
    cmd += ["--host", host, "--port", "0", "--control-port", "0"]
    cmd += ["--ready-file", str(ready_file), "--replicate", str(replicate)]
    if clips is not None:
        cmd += ["--clips", ",".join(clips)]
    if cache_dir is not None:
        cmd += ["--cache-dir", str(cache_dir)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    sim: RtspSimulator | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while sim is None:
            if process.poll() is not None:
                raise RuntimeError(
                    f"RTSP simulator exited with {process.returncode}:\n"
                    f"{log_path.read_text(errors='replace')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"RTSP simulator not ready in {timeout_s} s:\n"
                    f"{log_path.read_text(errors='replace')}"
                )
            sim = _ready_simulator(process, ready_file, log_path, workdir)
            if sim is None:
                time.sleep(0.1)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        workdir.cleanup()
        raise
    return sim


def _ready_simulator(
    process: subprocess.Popen[bytes],
    ready_file: Path,
    log_path: Path,
    workdir: tempfile.TemporaryDirectory[str],
) -> RtspSimulator | None:
    if not ready_file.is_file():
        return None
    info = json.loads(ready_file.read_text(encoding="utf-8"))
    sim = RtspSimulator(
        process=process,
        host=info["host"],
        rtsp_port=int(info["rtsp_port"]),
        control_port=int(info["control_port"]),
        mounts=dict(info["mounts"]),
        log_path=log_path,
        _workdir=workdir,
    )
    try:
        sim.control("GET", "/health")
    except (urllib.error.URLError, OSError):
        return None
    return sim


def read_frames(
    url: str, *, duration_s: float, open_timeout_s: float = 10.0
) -> tuple[list[float], npt.NDArray[np.uint8] | None]:
    """Read an RTSP stream with OpenCV's FFmpeg backend for a while.

    Args:
        url: RTSP URL.
        duration_s: How long to read after the stream opened, in seconds.
        open_timeout_s: Longest wait for the stream to open.

    Returns:
        Monotonic arrival time of each frame, and the last frame (BGR) or
        None when nothing was read.
    """
    capture = open_capture(url, open_timeout_s=open_timeout_s)
    times: list[float] = []
    frame: npt.NDArray[np.uint8] | None = None
    try:
        if not capture.isOpened():
            return times, frame
        end = time.monotonic() + duration_s
        while time.monotonic() < end:
            ok, image = capture.read()
            if not ok:
                break
            times.append(time.monotonic())
            frame = np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()
    return times, frame


def open_capture(url: str, *, open_timeout_s: float = 10.0) -> Any:
    """Open an RTSP URL with OpenCV's FFmpeg backend over TCP.

    Returns:
        A ``cv2.VideoCapture``; check ``isOpened()``.
    """
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", RTSP_CAPTURE_OPTIONS)
    import cv2

    return cv2.VideoCapture(
        url,
        cv2.CAP_FFMPEG,
        [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            5000,
        ],
    )
