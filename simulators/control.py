"""Small HTTP control API for the RTSP replay simulator (stdlib http.server)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

logger = logging.getLogger(__name__)

_MOUNT_ACTION = re.compile(r"^/mounts/(?P<name>[^/]+)/(?P<action>stop|start)$")
_MOUNT_ONE = re.compile(r"^/mounts/(?P<name>[^/]+)$")


class MountController(Protocol):
    """What the control API needs from a replay server."""

    def status(self) -> list[Any]:
        """Return one dataclass per mount."""
        ...

    def stop_mount(self, name: str) -> None:
        """Take a mount dark."""
        ...

    def start_mount(self, name: str) -> None:
        """Bring a mount back."""
        ...


class ControlServer:
    """HTTP control API in a background thread.

    Routes: ``GET /health``, ``GET /mounts`` (JSON list), ``GET /mounts/{name}``,
    ``POST /mounts/{name}/stop`` and ``POST /mounts/{name}/start``; an unknown
    mount answers 404.

    Args:
        controller: The server whose mounts are controlled.
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one (see `port`).
    """

    def __init__(self, controller: MountController, *, host: str, port: int) -> None:
        self._controller = controller
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(controller))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the control API."""
        host = self._httpd.server_address[0]
        return f"http://{host!s}:{self.port}"

    def start(self) -> None:
        """Serve requests in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="rtsp-control", daemon=True
        )
        self._thread.start()
        logger.info("rtsp control: listening on %s", self.base_url)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


def _make_handler(controller: MountController) -> type[BaseHTTPRequestHandler]:
    def mounts_body() -> list[dict[str, Any]]:
        return [dataclasses.asdict(s) for s in controller.status()]

    def one_mount(name: str) -> tuple[HTTPStatus, Any]:
        for body in mounts_body():
            if body["name"] == name:
                return HTTPStatus.OK, body
        return HTTPStatus.NOT_FOUND, {"error": f"unknown mount {name!r}"}

    def act(name: str, action: Callable[[str], None]) -> tuple[HTTPStatus, Any]:
        try:
            action(name)
        except KeyError:
            return HTTPStatus.NOT_FOUND, {"error": f"unknown mount {name!r}"}
        return one_mount(name)

    actions: dict[str, Callable[[str], None]] = {
        "stop": controller.stop_mount,
        "start": controller.start_mount,
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(HTTPStatus.OK, {"status": "ok"})
            elif self.path == "/mounts":
                self._reply(HTTPStatus.OK, mounts_body())
            elif match := _MOUNT_ONE.match(self.path):
                self._reply(*one_mount(match["name"]))
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            match = _MOUNT_ACTION.match(self.path)
            if match is None:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
                return
            self._reply(*act(match["name"], actions[match["action"]]))

        def _reply(self, status: HTTPStatus, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("rtsp control: %s", format % args)

    return Handler
