"""Event clips from a real edge node reach a real central, with no face in them.

Everything is real: gst-rtsp-server replays `one-by-one-person-detection`, the
edge node (yolox_nano, crowding threshold 1) records clips with YuNet face blur
and H.264, uploads them over HTTP from its SQLite queue, and central (Mosquitto,
SQLite, the demo city) links them to the events it got over MQTT. The tests then
fetch the media as an operator would and look for faces in every frame.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from central.db.models import Event
from edge.config import NodeConfig, parse_config
from edge.factory import build_node
from edge.node import EdgeNode
from edge.publish.uploads import UploadQueue
from harness.demo_stack import DemoStack, demo_cameras
from harness.services import RtspSimulatorProcess
from tests.browser.sample import login
from tests.edge.media.faces import (
    FACE_MODEL,
    FaceCounter,
    decode_jpeg,
    probe_video,
    read_frames,
)
from tests.integration.conftest import (
    EMPTY_CLIP,
    PERSON_CLIP,
    camera,
    crowding_zone,
    wait_until,
)

pytestmark = pytest.mark.integration

CAMERA_ID = "cam-001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """Broker + central on SQLite with the demo city (no demo cameras)."""
    with DemoStack(
        tmp_path_factory.mktemp("stack"), None, cameras=0, http_port=None
    ) as running:
        yield running


@pytest.fixture(scope="module")
def operator(stack: DemoStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(stack.central_url, 'operator')}"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node_config(
    stack: DemoStack,
    workdir: Path,
    rtsp_url: str,
    models_dir: Path,
    central_url: str,
    decoder: str = "opencv",
    main_url: str | None = None,
) -> NodeConfig:
    assert stack.broker is not None and stack.seed is not None
    demo = demo_cameras(stack.workdir / "city" / "city.json", 1)[0]
    assert (demo.node_id, demo.camera_id) == ("node-01", CAMERA_ID)
    token_file = workdir / "node-01.token"
    token_file.write_text(stack.seed.edge_tokens[demo.node_id], encoding="utf-8")
    location = {"lat": demo.lat, "lon": demo.lon}
    return parse_config(
        {
            "node_id": demo.node_id,
            "broker": stack.broker.node_config(demo.node_id),
            "http": {"port": 0},
            "outbox": {"path": str(workdir / "outbox.sqlite")},
            "models_dir": str(models_dir),
            "status_interval_s": 1,
            "cameras": [
                camera(
                    CAMERA_ID,
                    main_url or rtsp_url,
                    [crowding_zone()],
                    location=location,
                    decoder=decoder,
                    **({"detect_url": rtsp_url} if main_url else {}),
                )
            ],
            "media": {"pre_s": 2, "post_s": 2, "buffer_s": 3},
            "central": {
                "url": central_url,
                "token_file": str(token_file),
                "retry_min_s": 0.2,
                "retry_max_s": 1.0,
            },
        },
        source="test",
    )


class RunningNode:
    """Starts a node and stops it on exit (also when the test fails)."""

    def __init__(self, config: NodeConfig) -> None:
        self.node: EdgeNode = build_node(config)

    def __enter__(self) -> EdgeNode:
        self.node.start()
        return self.node

    def __exit__(self, *exc: object) -> None:
        self.node.stop()


def _metric(node: EdgeNode, name: str, **labels: str) -> float:
    return node.registry.get_sample_value(name, labels) or 0.0


def _events_with_clips(stack: DemoStack) -> dict[str, str]:
    """event id → clip sha256 of the camera's events whose clip central has."""
    assert stack.central is not None
    with stack.central.context.sessions() as session:
        rows = session.execute(
            select(Event.event_id, Event.clip_sha256).where(
                Event.camera_id == CAMERA_ID, Event.clip_sha256.is_not(None)
            )
        ).all()
    return {event_id: str(sha) for event_id, sha in rows}


def _ticket_event(
    stack: DemoStack, operator: dict[str, str], event_id: str
) -> dict[str, Any]:
    """The event as `GET /api/v1/tickets/{id}` shows it to an operator."""
    assert stack.central is not None
    with stack.central.context.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.ticket_id is not None
        ticket_id = event.ticket_id
    response = httpx.get(
        f"{stack.central_url}/api/v1/tickets/{ticket_id}", headers=operator, timeout=10
    )
    assert response.status_code == 200, response.text
    events = {e["event_id"]: e for e in response.json()["events"]}
    found: dict[str, Any] = events[event_id]
    return found


def _fetch(stack: DemoStack, operator: dict[str, str], url: str) -> httpx.Response:
    response = httpx.get(f"{stack.central_url}{url}", headers=operator, timeout=10)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    ("decoder", "main", "frames_per_s"),
    # opencv: the analysed frames (5 a second); pyav: the stream's packets
    # decoded for the clip, every frame the camera sent (10 a second); with
    # a main stream (the parking lot, 12.5 fps) beside the analysed one: the
    # main stream's packets, read for clips only.
    [
        ("opencv", False, (4.0, 6.0)),
        ("pyav", False, (9.0, 11.0)),
        ("opencv", True, (11.5, 13.5)),
    ],
)
def test_clip_given_event_should_reach_central_with_no_face_in_any_media(
    stack: DemoStack,
    operator: dict[str, str],
    rtsp_sim: RtspSimulatorProcess,
    models_dir: Path,
    tmp_path: Path,
    decoder: str,
    main: bool,
    frames_per_s: tuple[float, float],
) -> None:
    config = _node_config(
        stack,
        tmp_path,
        rtsp_sim.url(f"{PERSON_CLIP}-1"),
        models_dir,
        stack.central_url,
        decoder=decoder,
        main_url=rtsp_sim.url(f"{EMPTY_CLIP}-1") if main else None,
    )
    before = _events_with_clips(stack)

    def new_clips() -> dict[str, str]:
        return {k: v for k, v in _events_with_clips(stack).items() if k not in before}

    with RunningNode(config) as node:
        wait_until(lambda: bool(new_clips()), 60, "a clip at central")
        assert _metric(node, "gw_clips_written_total", camera=CAMERA_ID) >= 1
    event_id, sha256 = sorted(new_clips().items())[0]
    event = _ticket_event(stack, operator, event_id)
    assert event["clip_url"] == f"/api/v1/media/{sha256}"
    clip = _fetch(stack, operator, event["clip_url"])
    assert clip.headers["content-type"] == "video/mp4"
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip.content)
    codec, pix_fmt, (width, height), times = probe_video(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert width % 2 == 0 and height % 2 == 0 and max(width, height) <= 960
    assert 2.0 <= times[-1] <= 4.5, f"clip spans {times[-1]:.2f}s, not pre+post"
    rate = (len(times) - 1) / times[-1]
    assert frames_per_s[0] <= rate <= frames_per_s[1], (decoder, rate)

    # The footage shows people (some facing the camera, many from behind, whose
    # hair YuNet may score as a face); tests/edge/media prove the blur on faces.
    faces = FaceCounter(models_dir / FACE_MODEL)
    frames = read_frames(path)
    assert len(frames) == len(times) >= 10
    assert [faces.count(frame) for frame in frames] == [0] * len(frames)
    snapshot = _fetch(stack, operator, event["snapshot_url"])
    assert faces.count(decode_jpeg(snapshot.content)) == 0


def test_clips_given_central_unreachable_at_first_should_arrive_after_restart(
    stack: DemoStack,
    operator: dict[str, str],
    rtsp_sim: RtspSimulatorProcess,
    models_dir: Path,
    tmp_path: Path,
) -> None:
    url = rtsp_sim.url(f"{PERSON_CLIP}-2")
    down = f"http://127.0.0.1:{_closed_port()}"
    with RunningNode(_node_config(stack, tmp_path, url, models_dir, down)) as node:
        wait_until(
            lambda: _metric(node, "gw_media_upload_retries_total") >= 2,
            60,
            "uploads failing against the closed port",
        )
    queue = UploadQueue(tmp_path / "outbox.sqlite", 1000)
    pending = queue.pending()
    queue.close()
    assert pending, "no upload was left waiting"
    assert any(u.attempts >= 1 and "ConnectError" in str(u.last_error) for u in pending)
    waiting = {u.event_id: u.sha256 for u in pending}

    config = _node_config(stack, tmp_path, url, models_dir, stack.central_url)
    with RunningNode(config):
        wait_until(
            lambda: waiting.items() <= _events_with_clips(stack).items(),
            30,
            "the queued clips at central",
        )
    for event_id, sha256 in waiting.items():
        event = _ticket_event(stack, operator, event_id)
        assert event["clip_url"] == f"/api/v1/media/{sha256}"
        assert _fetch(stack, operator, event["clip_url"]).content[4:8] == b"ftyp"
