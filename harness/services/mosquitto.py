"""A real Mosquitto broker on 127.0.0.1 with on-disk persistence."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from harness.services.process import free_port, stop_process

_MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> Path:
    """The mosquitto binary: $GRIDWATCH_MOSQUITTO, then PATH, then /usr/sbin.

    Raises:
        RuntimeError: no mosquitto binary was found.
    """
    configured = os.environ.get("GRIDWATCH_MOSQUITTO")
    found = configured or shutil.which("mosquitto")
    if found is None:
        found = next((c for c in _MOSQUITTO_CANDIDATES if Path(c).is_file()), None)
    if found is None or not Path(found).is_file():
        raise RuntimeError(
            "mosquitto not found: install it (apt-get install mosquitto) or set "
            "GRIDWATCH_MOSQUITTO to the binary"
        )
    return Path(found)


class MosquittoBroker:
    """A real Mosquitto on 127.0.0.1 with on-disk persistence in `workdir`.

    The port and the persistence folder stay the same across `restart`, so a
    restarted broker keeps persistent sessions, subscriptions, queued QoS 1
    messages and retained messages (Mosquitto saves them on SIGTERM).

    Args:
        workdir: Folder for the config, persistence database and log.
        port: TCP port; a free one when None.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_path = workdir / "mosquitto.log"
        self._binary = find_mosquitto()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def is_running(self) -> bool:
        """The broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def write_config(self) -> Path:
        """Write mosquitto.conf into `workdir` and return its path."""
        persistence = self.persistence_path.parent
        persistence.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    # As root, mosquitto would switch to user "mosquitto", which
                    # cannot write the test's persistence folder.
                    f"user {getpass.getuser()}",
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {persistence}/",
                    f"persistence_file {self.persistence_path.name}",
                    "autosave_interval 1",
                    # Central acknowledges a batch after its commit: let enough
                    # QoS 1 messages be in flight, and queue bursts, not drop them.
                    "max_inflight_messages 1000",
                    "max_queued_messages 200000",
                    f"log_dest file {self.log_path}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            RuntimeError: already running, exited early, or not listening in time.
        """
        if self.is_running:
            raise RuntimeError(f"mosquitto on port {self.port} is already running")
        config = self.write_config()
        self._process = subprocess.Popen(
            [str(self._binary), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited early: {self._read_failure()}")
            if _is_listening(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} in time")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (Mosquitto saves its persistence) and wait; SIGKILL if stuck."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        stop_process(process, timeout_s)
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """SIGKILL: a crash; nothing is saved beyond the last autosave."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @property
    def persistence_path(self) -> Path:
        """The broker's persistence database."""
        return self.workdir / "persistence" / "mosquitto.db"

    def wait_for_autosave(self, timeout_s: float = 5.0) -> None:
        """Wait for the next periodic save (every 1-2 s), e.g. before `kill`.

        Raises:
            TimeoutError: no save in time.
        """
        since = time.time()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            path = self.persistence_path
            if path.exists() and path.stat().st_mtime > since:
                return
            time.sleep(0.05)
        raise TimeoutError(f"mosquitto on port {self.port} did not autosave in time")

    def pause(self) -> None:
        """SIGSTOP: the broker still takes TCP bytes but reads and answers nothing."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop (saving persistence) and start again on the same port."""
        self.stop()
        self.start()

    def _read_failure(self) -> str:
        assert self._process is not None and self._process.stderr is not None
        stderr = self._process.stderr.read().decode(errors="replace").strip()
        log = (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )
        return stderr or log or f"exit code {self._process.returncode}"

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
