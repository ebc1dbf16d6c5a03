"""Sample data for the web pages: real frames and clips from the shared videos,
published as an edge node would (event over MQTT, clip over HTTP).

`python -m tests.browser.sample` runs a demo stack without cameras, fills it with
tickets in every state and prints the URLs: for working on the pages by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.db.models import Event
from gridwatch.contract import (
    CameraHealth,
    CameraStatusMessage,
    EventMessage,
    EventType,
    Location,
    LocationSource,
    Media,
    ModelInfo,
    OccupancyMessage,
    SnapshotRef,
)
from gridwatch.tls import apply_mqtt_tls
from harness.demo_stack import DEMO_PASSWORD, DemoCamera, DemoStack, demo_cameras
from simulators.signals import stop_on_signals

SAMPLE_CLIP = "one-by-one-person-detection.mp4"


@dataclass(frozen=True, slots=True)
class SampleMedia:
    snapshot_jpeg: bytes
    clip_mp4: Path


def make_sample_media(
    videos_dir: Path, workdir: Path, clip: str = SAMPLE_CLIP
) -> SampleMedia:
    """A JPEG frame and a 4 s H.264 MP4 (browser-playable) cut from a shared clip."""
    source = videos_dir / clip
    capture = cv2.VideoCapture(str(source))
    capture.set(cv2.CAP_PROP_POS_MSEC, 1500)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read a frame of {source}")
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    out = workdir / f"{Path(clip).stem}-4s.mp4"
    if not out.exists():
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-ss",
                "1",
                "-t",
                "4",
                "-i",
                str(source),
                "-an",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                "scale=640:-2",
                "-movflags",
                "+faststart",
                str(out),
            ],
            check=True,
        )
    return SampleMedia(jpeg.tobytes(), out)


class SamplePublisher:
    """Publishes events as the demo's edge node and uploads their clips."""

    def __init__(self, stack: DemoStack, media: SampleMedia) -> None:
        assert stack.broker is not None and stack.seed is not None
        self.stack = stack
        self.media = media
        self.cameras = stack.cameras or demo_cameras(
            stack.workdir / "city" / "city.json", 4
        )
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        # One test client publishes for every demo node: the simulator login.
        login = stack.broker.simulator()
        self._client.username_pw_set(login.username, login.password)
        endpoint = stack.broker.endpoint  # the demo's broker listens with TLS only
        apply_mqtt_tls(self._client, endpoint.tls)
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def camera(self, index: int = 0) -> DemoCamera:
        return self.cameras[index]

    def publish_event(
        self,
        *,
        camera: int = 0,
        type_: EventType = EventType.CROWDING,
        confidence: float = 0.9,
        with_clip: bool = True,
        offset_m: float = 0.0,
    ) -> str:
        """Publish one `start` event with its snapshot; upload its clip; return its id
        once central has stored it."""
        cam = self.camera(camera)
        now = datetime.now(UTC)
        snapshot = self.media.snapshot_jpeg
        event = EventMessage(
            event_id=secrets.token_hex(8),
            type=type_,
            node_id=cam.node_id,
            camera_id=cam.camera_id,
            started_at=now,
            detected_at=now,
            confidence=confidence,
            location=Location(
                lat=cam.lat + offset_m / 111_000,
                lon=cam.lon,
                source=LocationSource.CAMERA,
            ),
            image_box=(0.32, 0.18, 0.62, 0.95),
            zone_id="aisle",
            attributes={"count": 3},
            media=Media(
                snapshot=SnapshotRef(
                    sha256=hashlib.sha256(snapshot).hexdigest(),
                    bytes_b64=base64.b64encode(snapshot).decode(),
                )
            ),
            model=ModelInfo(name="yolox_nano", version="sample"),
        )
        topic = self.stack.topics.events(cam.node_id)
        self._client.publish(topic, event.to_json(), qos=1).wait_for_publish(5)
        self.wait_for_event(event.event_id)
        if with_clip:
            self.upload_clip(event.event_id, cam.node_id)
        return event.event_id

    def wait_for_event(self, event_id: str, timeout_s: float = 15.0) -> None:
        assert self.stack.central is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.stack.central.context.sessions() as session:
                if session.get(Event, event_id) is not None:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"central did not store event {event_id}")

    def upload_clip(self, event_id: str, node_id: str) -> None:
        assert self.stack.seed is not None
        token = self.stack.seed.edge_tokens[node_id]
        response = httpx.put(
            f"{self.stack.central_url}/api/v1/media/{event_id}/clip",
            content=self.media.clip_mp4.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"},
            timeout=30,
        )
        response.raise_for_status()

    def publish_camera_status(self) -> None:
        """Retained health and one occupancy sample for every demo camera."""
        for n, cam in enumerate(self.cameras):
            health = (
                CameraHealth.ONLINE
                if n < len(self.cameras) - 1
                else CameraHealth.STALLED
            )
            status = CameraStatusMessage(
                node_id=cam.node_id,
                camera_id=cam.camera_id,
                health=health,
                fps_in=25.0,
                fps_analysed=5.0 if health is CameraHealth.ONLINE else 0.0,
                last_frame_at=datetime.now(UTC),
            )
            self._client.publish(
                self.stack.topics.camera_status(cam.node_id, cam.camera_id),
                status.to_json(),
                qos=1,
                retain=True,
            ).wait_for_publish(5)
            occupancy = OccupancyMessage(
                node_id=cam.node_id,
                camera_id=cam.camera_id,
                at=datetime.now(UTC),
                zones={"aisle": {"person": 2 + n}},
            )
            self._client.publish(
                self.stack.topics.occupancy(cam.node_id, cam.camera_id),
                occupancy.to_json(),
                qos=1,
            ).wait_for_publish(5)


def ticket_of_event(client: httpx.Client, event_id: str) -> dict[str, Any]:
    """The ticket (detail) that holds `event_id`, asked as staff."""
    page = client.get("/tickets", params={"sort": "newest", "limit": 100})
    page.raise_for_status()
    for item in page.json()["items"]:
        detail = client.get(f"/tickets/{item['id']}")
        detail.raise_for_status()
        ticket: dict[str, Any] = detail.json()
        if any(e["event_id"] == event_id for e in ticket["events"]):
            return ticket
    raise AssertionError(f"no ticket holds event {event_id}")


def login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def fill_with_samples(stack: DemoStack, publisher: SamplePublisher) -> None:
    """Tickets in each state, review items and camera health, for the pages."""
    base = stack.central_url
    worker = {"Authorization": f"Bearer {login(base, 'w00006')}"}
    publisher.publish_camera_status()
    for n, type_ in enumerate(
        [EventType.CROWDING, EventType.INTRUSION, EventType.FALL]
    ):
        publisher.publish_event(camera=0, type_=type_, offset_m=100.0 * n)
    for camera in (1, 2, 3):
        publisher.publish_event(camera=camera, type_=EventType.CROWDING)
    publisher.publish_event(camera=0, type_=EventType.ABANDONED_OBJECT, offset_m=40)
    publisher.publish_event(
        camera=1, type_=EventType.CROWDING, confidence=0.3, offset_m=200
    )
    mine = httpx.get(f"{base}/api/v1/me/tickets", headers=worker, timeout=10).json()
    ids = [t["id"] for t in mine["items"]]
    if len(ids) >= 2:
        httpx.post(f"{base}/api/v1/tickets/{ids[0]}/accept", headers=worker, timeout=10)
        httpx.post(f"{base}/api/v1/tickets/{ids[1]}/accept", headers=worker, timeout=10)
        httpx.post(
            f"{base}/api/v1/tickets/{ids[1]}/resolve",
            headers=worker,
            data={"note": "人群已疏散 crowd dispersed"},
            timeout=10,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    args = parser.parse_args()
    with (
        stop_on_signals(threading.Event()) as stop,
        tempfile.TemporaryDirectory(prefix="gw-pages-") as tmp,
    ):
        workdir = Path(tmp)
        with DemoStack(workdir, None, cameras=0, http_port=args.port) as stack:
            publisher = SamplePublisher(stack, make_sample_media(args.videos, workdir))
            try:
                fill_with_samples(stack, publisher)
                print(
                    f"console {stack.central_url}/console/  operator / {DEMO_PASSWORD}"
                )
                print(f"worker  {stack.central_url}/worker/   w00006 / {DEMO_PASSWORD}")
                print("Ctrl-C stops it", flush=True)
                stop.wait()
            finally:
                publisher.close()


if __name__ == "__main__":
    main()
