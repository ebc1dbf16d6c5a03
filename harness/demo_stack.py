"""The demo's running parts: broker, central on SQLite with the demo city, the RTSP
simulator and an edge node watching the demo clips.

`DemoStack` is what `gridwatch demo` runs and what the browser tests drive.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.config import CentralSettings, HttpSettings, MediaSettings, MqttSettings
from central.db.models import UserRole
from central.seed import SeedResult, StaffLogin, seed_city
from central.server import CentralService
from edge.config import NodeConfig, parse_config
from edge.factory import build_node
from edge.node import EdgeNode
from gridwatch.contract import Topics
from gridwatch.secrets import write_private
from gridwatch.tls import apply_mqtt_tls
from harness.demo_extras import DemoSensors
from harness.demo_rules import DEMO_CLIP_RULES, DEMO_CLIP_SOURCES, demo_analysis_fps
from harness.services import MosquittoBroker, RtspSimulatorProcess
from harness.services.mosquitto import BrokerCredentials, BrokerEndpoint
from simulators.city import generate_city, spec_for, write_city
from simulators.clips import link_clips

DEMO_PASSWORD = "gridwatch-demo"
DEMO_STAFF = (
    StaffLogin("operator", DEMO_PASSWORD, UserRole.OPERATOR, "值班操作员 Operator"),
    StaffLogin("supervisor", DEMO_PASSWORD, UserRole.SUPERVISOR, "督办 Supervisor"),
    StaffLogin("admin", DEMO_PASSWORD, UserRole.ADMIN, "管理员 Admin"),
)
# Every day, all day: a demo started at night or on Sunday still dispatches.
ALWAYS_ON_DUTY = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59:59"}]
DEFAULT_HTTP_PORT = 8080
LineSink = Callable[[str], None]  # gets one printable line per event or notice


@dataclass(frozen=True, slots=True)
class DemoCamera:
    node_id: str
    camera_id: str
    name: str
    clip: str
    lat: float
    lon: float


def write_demo_city(out_dir: Path, clips: list[str]) -> tuple[Path, Path]:
    """The demo city (12 grids, 20 workers, 6 cameras + 1 checkpoint) with the
    cameras on `clips` in turn and full-time workers always on duty."""
    grids_path, city_path = write_city(
        generate_city(spec_for("demo"), clips=clips), out_dir
    )
    document = json.loads(city_path.read_text(encoding="utf-8"))
    for worker in document["workers"]:
        if worker["role"] == "full_time":
            worker["duty"] = ALWAYS_ON_DUTY
    city_path.write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return grids_path, city_path


def demo_cameras(city_path: Path, count: int) -> list[DemoCamera]:
    """The first `count` cameras (kind camera) of the city file."""
    document = json.loads(city_path.read_text(encoding="utf-8"))
    cameras = [c for c in document["cameras"] if c["kind"] == "camera"][:count]
    return [
        DemoCamera(
            node_id=c["node_id"],
            camera_id=c["camera_id"],
            name=c["name"],
            clip=c["clip"],
            lat=c["lat"],
            lon=c["lon"],
        )
        for c in cameras
    ]


def edge_config(
    cameras: list[DemoCamera],
    *,
    broker: dict[str, object],
    urls: dict[str, str],
    workdir: Path,
    models_dir: Path | None,
    central_url: str | None = None,
    token_file: Path | None = None,
    monitor_token_file: Path | None = None,
) -> NodeConfig:
    """One edge node for `cameras` (all on one node id) with the demo rules;
    clips go to `central_url` with the token in `token_file` when given, and
    `/metrics` answers the bearer token in `monitor_token_file` when given."""
    central = (
        {"url": central_url, "token_file": str(token_file)}
        if central_url and token_file
        else None
    )
    return parse_config(
        {
            "node_id": cameras[0].node_id,
            "central": central,
            "broker": broker,
            "http": {"port": 0}
            | (
                {"monitor_token_file": str(monitor_token_file)}
                if monitor_token_file
                else {}
            ),
            "outbox": {"path": str(workdir / "outbox.sqlite")},
            "models_dir": str(models_dir) if models_dir else None,
            "cameras": [
                {
                    "id": camera.camera_id,
                    "url": urls[Path(camera.clip).stem],
                    "location": {"lat": camera.lat, "lon": camera.lon},
                    "analysis_fps": demo_analysis_fps(Path(camera.clip).stem),
                    "zones": DEMO_CLIP_RULES[Path(camera.clip).stem],
                }
                for camera in cameras
            ],
        },
        source="demo",
    )


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class NoticeWatcher:
    """Counts the events the edge publishes and the ticket notices central pushes
    to worker terminals; remembers when each first happened."""

    def __init__(
        self,
        endpoint: BrokerEndpoint,
        topics: Topics,
        credentials: BrokerCredentials,
        on_line: LineSink | None = None,
    ) -> None:
        self.event_counts: dict[str, int] = {}
        self.first_event_at: float | None = None
        self.first_notice_at: float | None = None
        self.notices = 0
        self._on_line = on_line
        self._topics = topics
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.username_pw_set(credentials.username, credentials.password)
        apply_mqtt_tls(self._client, endpoint.tls)
        self._client.on_message = self._on_message
        self._client.connect(endpoint.host, endpoint.port)
        self._client.subscribe(
            [(topics.all_events(), 1), (topics.worker_tickets("+"), 1)]
        )
        self._client.loop_start()

    def _on_message(
        self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage
    ) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        now = time.time()
        with self._lock:
            if message.topic.endswith("/events"):
                key = f"{body.get('type')}:{body.get('phase')}"
                self.event_counts[key] = self.event_counts.get(key, 0) + 1
                self.first_event_at = self.first_event_at or now
                line = (
                    f"event   {str(body.get('detected_at', ''))[11:19]}  "
                    f"{body.get('camera_id', '?'):<8} {body.get('type', '?'):<10} "
                    f"{body.get('phase', '?'):<6} conf={body.get('confidence', 0):.2f}"
                )
            else:
                self.notices += 1
                self.first_notice_at = self.first_notice_at or now
                worker = message.topic.split("/")[-2]
                line = (
                    f"ticket  #{body.get('ticket_id')} {body.get('action', '?'):<10} "
                    f"→ {worker}  {body.get('title', '')}"
                )
        if self._on_line is not None:
            self._on_line(line)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class DemoStack:
    """Starts the demo's parts in order and stops them in reverse.

    `cameras` 0 runs broker and central only (no RTSP simulator, no edge node):
    enough to develop or test the web pages with events published by hand.
    """

    def __init__(
        self,
        workdir: Path,
        media_dir: Path | None,
        *,
        cameras: int = 4,
        http_host: str = "127.0.0.1",
        http_port: int | None = DEFAULT_HTTP_PORT,
        models_dir: Path | None = None,
        on_line: LineSink | None = None,
    ) -> None:
        if cameras > 0 and media_dir is None:
            raise ValueError("the demo cameras need a clip folder (media_dir)")
        if not 0 <= cameras <= len(DEMO_CLIP_RULES):
            raise ValueError(
                f"cameras must be 0..{len(DEMO_CLIP_RULES)}, got {cameras}"
            )
        self.workdir = workdir
        self.media_dir = media_dir
        self.camera_count = cameras
        self.http_host = http_host
        self.http_port = http_port
        self.models_dir = models_dir
        self.on_line = on_line
        self.topics = Topics()
        self.started_at = 0.0
        self.broker: MosquittoBroker | None = None
        self.observer_secret: Path | None = None
        self.monitor_token_file: Path | None = None
        self.central: CentralService | None = None
        self.node: EdgeNode | None = None
        self.watcher: NoticeWatcher | None = None
        self.sensors: DemoSensors | None = None
        self.seed: SeedResult | None = None
        self.cameras: list[DemoCamera] = []
        self.camera_urls: list[str] = []
        self._stack = ExitStack()

    @property
    def central_url(self) -> str:
        assert self.central is not None, "start() first"
        return f"http://{self.http_host}:{self.central.http_port}"

    def start(self) -> DemoStack:
        self.started_at = time.time()
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        clips = [self._clip_file(stem) for stem in DEMO_CLIP_RULES]
        grids_path, city_path = write_demo_city(self.workdir / "city", clips)
        # Secure as in production: TLS only (a CA made for this run), no
        # plaintext listener at all.
        self.broker = self._stack.enter_context(
            MosquittoBroker(self.workdir / "broker", tls=True, plaintext=False)
        )
        # A read-only login for people who want to watch the topics.
        self.observer_secret = self.broker.secret_file(self.broker.observer())
        self.central = CentralService(self._central_settings(self.broker))
        self.cameras = demo_cameras(city_path, self.camera_count)
        self.seed = seed_city(
            self.central.context,
            grids_path,
            city_path,
            now=self.central.context.clock.now(),
            worker_password=DEMO_PASSWORD,
            staff=DEMO_STAFF,
            edge_nodes=sorted({c.node_id for c in self.cameras}) or ["node-01"],
        )
        self.central.start()
        self._stack.callback(self.central.stop)
        self.watcher = NoticeWatcher(
            self.broker.endpoint, self.topics, self.broker.observer(), self.on_line
        )
        self._stack.callback(self.watcher.close)
        # The city's sensors report through the sensor simulator (docs/iot.md).
        self.sensors = DemoSensors(self.broker, city_path, self.topics.prefix)
        self.sensors.start()
        self._stack.callback(self.sensors.stop)
        if self.cameras:
            self._start_edge()

    def _clip_file(self, stem: str) -> str:
        """The clip's path in the media folder (.mp4, .gif, ...; a subfolder for
        the clips `DEMO_CLIP_SOURCES` names)."""
        if stem in DEMO_CLIP_SOURCES:
            return DEMO_CLIP_SOURCES[stem].path
        if self.media_dir is not None:
            for found in sorted(self.media_dir.glob(f"{stem}.*")):
                return found.name
        return f"{stem}.mp4"

    def _central_settings(self, broker: MosquittoBroker) -> CentralSettings:
        port = self.http_port
        if port is None or (port and not _port_is_free(self.http_host, port)):
            port = 0  # taken: any free one (the banner prints the real one)
        return CentralSettings(
            database_url=f"sqlite:///{self.workdir / 'central.db'}",
            media=MediaSettings(dir=self.workdir / "media"),
            mqtt=MqttSettings.model_validate(
                {**broker.central_config("central-demo"), "client_id": "central-demo"}
            ),
            http=HttpSettings(host=self.http_host, port=port),
        )

    def _start_edge(self) -> None:
        assert self.broker is not None and self.media_dir is not None
        # The simulator serves one folder; some demo clips are in subfolders.
        mounts = link_clips(self._clip_files(), self.workdir / "clips")
        sim = self._stack.enter_context(
            RtspSimulatorProcess(self.workdir / "clips", clips=sorted(mounts.values()))
        )
        urls = {Path(clip).stem: sim.url(mount) for clip, mount in mounts.items()}
        self.camera_urls = [urls[Path(c.clip).stem] for c in self.cameras]
        assert self.seed is not None
        node_id = self.cameras[0].node_id
        token_file = self.workdir / f"edge-{node_id}.token"
        token_file.write_text(self.seed.edge_tokens[node_id] + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        # The node's /metrics and detailed /healthz need this; printed as a path.
        self.monitor_token_file = self.workdir / f"edge-{node_id}.monitor-token"
        write_private(self.monitor_token_file, secrets.token_urlsafe(32) + "\n")
        self.node = build_node(
            edge_config(
                self.cameras,
                broker=self.broker.node_config(self.cameras[0].node_id),
                urls=urls,
                workdir=self.workdir,
                models_dir=self.models_dir,
                central_url=self.central_url,
                token_file=token_file,
                monitor_token_file=self.monitor_token_file,
            )
        )
        self.node.start()
        self._stack.callback(self.node.stop)

    def _clip_files(self) -> dict[str, Path]:
        """Each camera's clip (path in the media folder) and its file."""
        assert self.media_dir is not None
        files = {}
        for camera in self.cameras:
            source = self.media_dir / camera.clip
            if not source.is_file():
                raise RuntimeError(
                    f"demo clip not found: {source} (camera {camera.camera_id}; "
                    "use --cameras to watch fewer clips)"
                )
            files[camera.clip] = source
        return files

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
