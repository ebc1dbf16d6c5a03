"""A whole central process: database, MQTT ingest and pushes, deadlines, HTTP API."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from central.api.app import create_app
from central.api.deps import build_link_signer
from central.clock import Clock
from central.config import CentralSettings
from central.context import CentralContext, build_context
from central.ingest.consumer import CentralMqtt
from central.ingest.processor import EventProcessor
from central.media import MediaStore
from central.notify import MqttNotifier
from central.reference_watch import ReferenceWatch
from central.scheduler import DeadlineWatcher
from central.verify import CameraCheckService

log = logging.getLogger(__name__)


class CentralService:
    def __init__(
        self,
        settings: CentralSettings,
        *,
        clock: Clock | None = None,
        ingest: bool = True,
        api: bool = True,
        scheduler: bool = True,
    ) -> None:
        self.settings = settings
        # Made first, before the database is opened, so that a bad link secret
        # stops the process at once; an ingest-only replica needs none.
        self.link_signer = build_link_signer(settings.http.links) if api else None
        self.context: CentralContext = build_context(settings, clock=clock)
        self.media = MediaStore(settings.media.dir)
        processor = EventProcessor(self.context, self.media) if ingest else None
        self.mqtt = CentralMqtt(self.context, processor)
        self.context.set_notifier(MqttNotifier(self.mqtt.client, self.context.topics))
        # Closure the camera confirms: ask on resolve, apply answers, time out.
        self.camera_checks = CameraCheckService(
            self.context,
            media=self.media,
            publish=lambda topic, body: self.mqtt.client.publish(topic, body, qos=1),
        )
        self.context.tickets.resolve_hooks.append(self.camera_checks.on_resolved)
        self.mqtt.on_verification = self.camera_checks.submit
        self.watcher = DeadlineWatcher(self.context) if scheduler else None
        if self.watcher is not None:
            self.watcher.camera_checks = self.camera_checks
        # Workers, rosters and grids changed by another replica or a CLI import.
        self.reference_watch = ReferenceWatch(self.context)
        self._api_enabled = api
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None

    @property
    def http_port(self) -> int:
        if self._server is None or not self._server.servers:
            return self.settings.http.port
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1]) if sockets else self.settings.http.port

    def start(self, timeout_s: float = 15.0) -> None:
        self.media.prepare()
        self.camera_checks.start()
        self.mqtt.start(timeout_s)
        if self.watcher is not None:
            self.watcher.start()
        self.reference_watch.start()
        if self._api_enabled:
            # The console's map layers take seconds for a big city: build them
            # now, so that the first operator to open the map does not wait.
            threading.Thread(
                target=self.context.map_layers.warm,
                args=(self.context.grid_index, self.context.sessions),
                name="map-layers",
                daemon=True,
            ).start()
            self._start_http(timeout_s)
        log.info("central running (http port %s)", self.http_port)

    def _start_http(self, timeout_s: float) -> None:
        app = create_app(self.context, self.media, link_signer=self.link_signer)
        tls = self.settings.http.tls
        config = uvicorn.Config(
            app,
            host=self.settings.http.host,
            port=self.settings.http.port,
            ssl_certfile=str(tls.cert_file) if tls is not None else None,
            ssl_keyfile=str(tls.key_file) if tls is not None else None,
            log_level="warning",
            lifespan="off",
            # SSE streams never end by themselves; don't wait for them forever.
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, name="central-http", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._server_thread.is_alive():
                raise RuntimeError(
                    f"central HTTP server did not start on "
                    f"{self.settings.http.host}:{self.settings.http.port}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("central HTTP server did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        if self.watcher is not None:
            self.watcher.stop()
        self.reference_watch.stop()
        self.mqtt.stop()
        self.camera_checks.stop()
        self.context.engine.dispose()

    def __enter__(self) -> CentralService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
