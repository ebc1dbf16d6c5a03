"""A real Mosquitto broker on 127.0.0.1 with on-disk persistence, secured as in
production: no anonymous client, a password and an ACL per identity, and
optionally a TLS listener with a CA of its own."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from central.broker.acl import BrokerIdentity, BrokerRole, render_acl, render_passwords
from central.broker.passwords import mosquitto_hash, new_secret
from central.pki import IssuedFiles, init_ca, issue
from gridwatch.contract import DEFAULT_TOPIC_PREFIX
from gridwatch.secrets import write_private
from gridwatch.tls import MqttTls
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


# Largest MQTT packet the broker takes: an event with its inline snapshot JPEG
# (central takes snapshots up to 8 MiB, base64 adds a third) fits; more is refused.
MAX_PACKET_BYTES = 12 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BrokerCredentials:
    """A username and password for one broker identity."""

    username: str
    password: str = ""

    def __repr__(self) -> str:  # never print the password
        return f"BrokerCredentials(username={self.username!r})"


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """Where a client connects: host, port and, for the TLS listener, the CA."""

    host: str
    port: int
    tls: MqttTls | None = None


# The names the broker's certificate carries by default: what clients on this
# machine connect to.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class MosquittoBroker:
    """A real Mosquitto on 127.0.0.1 with on-disk persistence in `workdir`.

    The port and the persistence folder stay the same across `restart`, so a
    restarted broker keeps persistent sessions, subscriptions, queued QoS 1
    messages and retained messages (Mosquitto saves them on SIGTERM).

    Anonymous clients are refused; every client logs in with credentials from
    `account` (or the `node`, `central`, `observer`, `simulator` shortcuts),
    and the ACL gives each identity only its own topics (`central.broker.acl`).
    Accounts added while running take effect at once (SIGHUP reload).

    Args:
        workdir: Folder for the config, persistence database, log and pid file.
        port: TCP port; a free one when None.
        prefix: Topic prefix the ACL is written for.
        access_dir: A folder whose `passwd` and `acl` someone else writes
            (central: `gridwatch central broker`); the account methods are then
            not for use. None: this broker keeps its own accounts.
        tls: Also listen with TLS on `tls_port`, with a CA made for this broker
            (in `workdir/tls`) and a certificate naming `tls_names`; the
            `endpoint` and the config helpers then point clients there.
        tls_names: Host names and addresses the broker's certificate names.
        plaintext: Listen without TLS on `port` (127.0.0.1 only); False needs
            `tls`.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        prefix: str = DEFAULT_TOPIC_PREFIX,
        access_dir: Path | None = None,
        tls: bool = False,
        tls_names: Sequence[str] = LOOPBACK_NAMES,
        plaintext: bool = True,
    ) -> None:
        if not (tls or plaintext):
            raise ValueError("a broker needs a plaintext or a TLS listener")
        self.workdir = workdir
        self.port = port or free_port()
        self.tls_port = _another_free_port(self.port) if tls else None
        self.plaintext = plaintext
        self.host = "127.0.0.1"
        self.prefix = prefix
        self.log_path = workdir / "mosquitto.log"
        self._own_access = access_dir is None
        self.password_path = (access_dir or workdir) / "passwd"
        self.acl_path = (access_dir or workdir) / "acl"
        self.pid_path = workdir / "mosquitto.pid"
        self._binary = find_mosquitto()
        self._process: subprocess.Popen[bytes] | None = None
        self._accounts: dict[str, tuple[BrokerIdentity, str]] = {}
        self.ca_file: Path | None = None
        self._server_files: IssuedFiles | None = None
        if tls:
            self.ca_file = init_ca(workdir / "tls" / "ca", replace=True).cert
            self._server_files = self.issue_server_cert(tls_names)

    # -- TLS -----------------------------------------------------------------------

    def issue_server_cert(self, names: Sequence[str]) -> IssuedFiles:
        """A new server certificate naming `names`, signed by this broker's CA
        (a rotation: the broker uses it after `reload` or `restart`).

        Raises:
            RuntimeError: the broker has no TLS listener.
        """
        if self.ca_file is None:
            raise RuntimeError("this broker has no TLS listener")
        files = issue(
            self.ca_file.parent, self.workdir / "tls", "broker", hostnames=names
        )
        self._server_files = files
        return files

    @property
    def client_tls(self) -> MqttTls | None:
        """What a client needs to trust the TLS listener; None without one."""
        return MqttTls(ca_file=self.ca_file) if self.ca_file is not None else None

    @property
    def endpoint(self) -> BrokerEndpoint:
        """The TLS listener when there is one, else the plaintext one."""
        if self.tls_port is not None:
            return BrokerEndpoint(self.host, self.tls_port, self.client_tls)
        return BrokerEndpoint(self.host, self.port)

    def _client_section(self, credentials: BrokerCredentials) -> dict[str, object]:
        endpoint = self.endpoint
        section: dict[str, object] = {
            "host": endpoint.host,
            "port": endpoint.port,
            "username": credentials.username,
            "password_file": str(self.secret_file(credentials)),
        }
        if endpoint.tls is not None:
            section["tls"] = {"ca_file": str(endpoint.tls.ca_file)}
        return section

    # -- identities --------------------------------------------------------------

    def account(self, identity: BrokerIdentity) -> BrokerCredentials:
        """Credentials of `identity`, created (and the broker reloaded) if new."""
        known = self._accounts.get(identity.username)
        if known is not None:
            if known[0] != identity:
                raise ValueError(
                    f"broker user {identity.username!r} exists as {known[0]}"
                )
            return BrokerCredentials(identity.username, known[1])
        password = new_secret()
        self._accounts[identity.username] = (identity, password)
        self._write_access_files()
        if self.is_running:
            self.reload()
        return BrokerCredentials(identity.username, password)

    def node(self, node_id: str) -> BrokerCredentials:
        """An edge node's login: writes only under its own topics."""
        return self.account(BrokerIdentity(node_id, BrokerRole.EDGE_NODE, node_id))

    def central(self, username: str = "central") -> BrokerCredentials:
        return self.account(BrokerIdentity(username, BrokerRole.CENTRAL))

    def observer(self, username: str = "observer") -> BrokerCredentials:
        """Reads every topic, writes none (test collectors, dashboards)."""
        return self.account(BrokerIdentity(username, BrokerRole.OBSERVER))

    def simulator(self, username: str = "simulator") -> BrokerCredentials:
        """Publishes for any node (load generators and tests only)."""
        return self.account(BrokerIdentity(username, BrokerRole.SIMULATOR))

    def secret_file(self, credentials: BrokerCredentials) -> Path:
        """The password of `credentials` in a file only its owner can read (what
        configs name instead of the password itself)."""
        path = self.workdir / "secrets" / f"{credentials.username}.secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, credentials.password + "\n")
        return path

    def node_config(self, node_id: str) -> dict[str, object]:
        """The `broker:` section of an edge node's config for `node_id` (the
        TLS listener when there is one)."""
        return self._client_section(self.node(node_id))

    def central_config(self, username: str = "central") -> dict[str, object]:
        """Central's `mqtt:` settings (host, port, login and, for the TLS
        listener, `tls`) on this broker."""
        return self._client_section(self.central(username))

    def revoke(self, username: str) -> None:
        """Remove a login; the broker forgets it at once (clients already
        connected keep their connection until they reconnect)."""
        self._accounts.pop(username, None)
        self._write_access_files()
        if self.is_running:
            self.reload()

    def reload(self, timeout_s: float = 5.0) -> None:
        """SIGHUP: Mosquitto re-reads the password and ACL files, no restart.

        Raises:
            TimeoutError: the broker did not log the reload in time.
        """
        if self._process is None:
            return
        before = self._reloads_logged()
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while self._reloads_logged() <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"mosquitto on port {self.port} did not reload")
            time.sleep(0.02)

    def _reloads_logged(self) -> int:
        return self._logged("Reloading config")

    def _logged(self, words: str) -> int:
        """How many times the log says `words`."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count(words)

    def _write_access_files(self) -> None:
        if not self._own_access:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        identities = [identity for identity, _ in self._accounts.values()]
        hashes = [
            (name, mosquitto_hash(pw)) for name, (_, pw) in self._accounts.items()
        ]
        write_private(self.acl_path, render_acl(identities, self.prefix))
        write_private(self.password_path, render_passwords(hashes))

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

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
                    *self._listener_lines(),
                    "allow_anonymous false",
                    f"password_file {self.password_path}",
                    f"acl_file {self.acl_path}",
                    f"pid_file {self.pid_path}",
                    f"max_packet_size {MAX_PACKET_BYTES}",
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

    def _listener_lines(self) -> list[str]:
        # Without per_listener_settings the login and ACL settings below hold
        # for every listener; cafile/certfile/keyfile belong to the one above.
        lines = [f"listener {self.port} {self.host}"] if self.plaintext else []
        if self.tls_port is not None:
            assert self.ca_file is not None and self._server_files is not None
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {self.ca_file}",
                f"certfile {self._server_files.cert}",
                f"keyfile {self._server_files.key}",
                "tls_version tlsv1.2",
            ]
        return lines

    def _listening_ports(self) -> list[int]:
        ports = [self.port] if self.plaintext else []
        return ports + ([self.tls_port] if self.tls_port is not None else [])

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            RuntimeError: already running, exited early, or not listening in time.
        """
        if self.is_running:
            raise RuntimeError(f"mosquitto on port {self.port} is already running")
        config = self.write_config()
        self._write_access_files()
        runs_before = self._logged("running")
        self._process = subprocess.Popen(
            [str(self._binary), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited early: {self._read_failure()}")
            # "running" is logged once its signal handlers are in place: a
            # SIGHUP (reload) before that would end the broker.
            if self._logged("running") > runs_before and all(
                _is_listening(self.host, p) for p in self._listening_ports()
            ):
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


def _another_free_port(taken: int) -> int:
    port = free_port()
    while port == taken:
        port = free_port()
    return port


def _is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
