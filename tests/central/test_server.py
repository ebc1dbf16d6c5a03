"""`gridwatch central run` as a whole: real broker, HTTP on a real port, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import paho.mqtt.publish as publish
import pytest

from central.clock import ManualClock
from central.config import CentralSettings, HttpSettings, MediaSettings, MqttSettings
from central.server import CentralService
from gridwatch.contract import TicketNotice, Topics
from harness.services import MosquittoBroker
from tests.central.conftest import (
    GRID_1,
    GRID_1_WORKER,
    WEDNESDAY_10_LOCAL,
    grid_centre,
    make_event,
)
from tests.utils.broker import MqttCollector

pytestmark = pytest.mark.integration
WORKERS_OF_GRID_1 = (GRID_1_WORKER, "w00018", "w00002", "w00001")


def _import_city(url: str, city: tuple[Path, Path]) -> None:
    from harness.cli import main

    assert main(["central", "import-grids", str(city[0]), "--database-url", url]) == 0
    assert main(["central", "import-city", str(city[1]), "--database-url", url]) == 0


def test_service_ingests_pushes_and_serves_http(
    tmp_path: Path, mosquitto: MosquittoBroker, demo_city: tuple[Path, Path]
) -> None:
    url = f"sqlite:///{tmp_path}/central.db"
    _import_city(url, demo_city)
    settings = CentralSettings(
        database_url=url,
        mqtt=MqttSettings.model_validate(mosquitto.central_config()),
        http=HttpSettings(port=0),
        media=MediaSettings(dir=tmp_path / "media"),
    )
    service = CentralService(settings, clock=ManualClock(WEDNESDAY_10_LOCAL))
    with service:
        base = f"http://127.0.0.1:{service.http_port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/api/v1/tickets").status_code == 401
        area = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert "/api/v1/tickets/{ticket_id}/accept" in area["paths"]
        assert service.mqtt.is_connected
        # An event in grid 1 becomes a ticket pushed to the worker on duty there.
        event = make_event(*grid_centre(service.context, GRID_1))
        worker_topic = Topics().worker_tickets(GRID_1_WORKER)
        with MqttCollector.for_broker(mosquitto, worker_topic) as terminal:
            publish.single(
                Topics().events(event.node_id),
                event.to_json(),
                qos=1,
                hostname=mosquitto.host,
                port=mosquitto.port,
                auth=_node_login(mosquitto, event.node_id),
            )
            [message] = terminal.wait_for(lambda m: len(m) >= 1, timeout_s=15)
    notice = TicketNotice.model_validate_json(message.payload)
    assert (notice.action, notice.grid_code) == ("dispatched", GRID_1)
    assert notice.event_ids == [event.event_id]


def test_central_run_command_dispatches_and_stops_on_sigterm(
    tmp_path: Path, mosquitto: MosquittoBroker, demo_city: tuple[Path, Path]
) -> None:
    url = f"sqlite:///{tmp_path}/central.db"
    _import_city(url, demo_city)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "central",
            "run",
            "--database-url",
            url,
            "--mqtt-port",
            str(mosquitto.port),
            "--mqtt-username",
            "central",
            "--mqtt-password-file",
            str(mosquitto.central_config()["password_file"]),
            "--http-port",
            "0",
            "--media-dir",
            str(tmp_path / "media"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not (lines and lines[-1].startswith("central: ")):
            line = process.stdout.readline().decode()
            assert line, "central exited: " + "".join(lines)
            lines.append(line)
        assert lines[-1].startswith("central: http://"), lines
        geometry = json.loads(demo_city[0].read_text())["features"][0]["geometry"]
        lon, lat = geometry["coordinates"][0][0]
        event = make_event(lat + 0.0003, lon + 0.0003)  # just inside the first grid
        # Every notice, also a ticket held for review when nobody is on duty now.
        topic = Topics().ticket_updates()
        with MqttCollector.for_broker(mosquitto, topic) as terminal:
            publish.single(
                Topics().events(event.node_id),
                event.to_json(),
                qos=1,
                hostname=mosquitto.host,
                port=mosquitto.port,
                auth=_node_login(mosquitto, event.node_id),
            )
            [message] = terminal.wait_for(lambda m: len(m) >= 1, timeout_s=15)
        notice = TicketNotice.model_validate_json(message.payload)
        assert notice.grid_code == GRID_1 and notice.event_ids == [event.event_id]
        assert notice.assignee_id in (None, *WORKERS_OF_GRID_1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _node_login(broker: MosquittoBroker, node_id: str) -> publish.AuthParameter:
    login = broker.node(node_id)
    return {"username": login.username, "password": login.password}
