"""Camera checks on the node: the judge's rules, the episode log, the checker
answering with an after picture, and the command client's validation."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest

from edge.config import NodeConfig, parse_config
from edge.events.snapshot import Snapshotter
from edge.types import Detections, Frame
from edge.verify import CameraChecker, CameraSight, judge, max_object_s_of
from edge.verify_mqtt import VerifyCommandClient
from edge.verify_state import CameraFrames, EpisodeLog, EpisodeRecord
from gridwatch.contract import (
    CameraHealth,
    EventMessage,
    EventPhase,
    Location,
    LocationSource,
    ModelInfo,
)
from gridwatch.verification import VerifyRequest, VerifyResult, VerifyVerdict

T0 = 1_790_000_000.0  # 2026-09-21
BOX = (0.4, 0.5, 0.5, 0.6)
CONFIG: dict[str, Any] = {
    "node_id": "n1",
    "cameras": [
        {
            "id": "c1",
            "url": "rtsp://127.0.0.1/x",
            "location": {"lat": 23.1, "lon": 113.2},
            "zones": [
                {
                    "id": "floor",
                    "rules": [{"type": "littering", "max_object_s": 600}],
                }
            ],
        }
    ],
}


def request(**changes: Any) -> VerifyRequest:
    fields: dict[str, Any] = {
        "request_id": "ab" * 8,
        "ticket_id": 5,
        "node_id": "n1",
        "camera_id": "c1",
        "zone_id": "floor",
        "event_type": "littering",
        "event_ids": ["evt-00001"],
        "image_box": BOX,
        "look_s": 0,
        "requested_at": datetime.fromtimestamp(T0, UTC),
    }
    return VerifyRequest(**(fields | changes))


def record(**changes: Any) -> EpisodeRecord:
    fields: dict[str, Any] = {
        "event_id": "evt-00001",
        "camera_id": "c1",
        "zone_id": "floor",
        "event_type": "littering",
        "started_at": T0 - 100,
        "ended_at": T0 - 10,
        "image_box": BOX,
        "static_s": 5.0,
    }
    return EpisodeRecord(**(fields | changes))


ONLINE = CameraSight(CameraHealth.ONLINE, last_frame_at=T0 + 5, offline_at=None)


@pytest.mark.parametrize(
    ("sight", "records", "open_now", "max_object_s", "verdict", "says"),
    [
        (ONLINE, [record()], [], 600.0, "gone", "episode ended"),
        (ONLINE, [record(ended_at=None)], [], 600.0, "present", "still sees it"),
        # The first episode ended, a new one overlaps the same place: present.
        (
            ONLINE,
            [record()],
            [record(event_id="evt-2", ended_at=None)],
            None,
            "present",
            "still sees it",
        ),
        # A new episode elsewhere in the picture is another problem.
        (
            ONLINE,
            [record()],
            [record(event_id="evt-2", ended_at=None, image_box=(0.0, 0.0, 0.1, 0.1))],
            None,
            "gone",
            "episode ended",
        ),
        (
            CameraSight(CameraHealth.OFFLINE, T0 + 5, T0),
            [record()],
            [],
            None,
            "cannot_verify",
            "is offline",
        ),
        (
            CameraSight(CameraHealth.STALLED, T0 + 5, None),
            [record()],
            [],
            None,
            "cannot_verify",
            "is stalled",
        ),
        (
            CameraSight(CameraHealth.ONLINE, T0 - 1, None),
            [record()],
            [],
            None,
            "cannot_verify",
            "no frame",
        ),
        (ONLINE, [], [], None, "cannot_verify", "no record"),
        (
            CameraSight(CameraHealth.ONLINE, T0 + 5, T0 - 50),
            [record()],
            [],
            None,
            "cannot_verify",
            "went offline",
        ),
        # Stood 5 s before the event, 90 s after: absorbed at max_object_s 95.
        (ONLINE, [record()], [], 95.0, "cannot_verify", "part of the scene"),
    ],
)
def test_judge_given_what_the_node_sees_should_answer_so(
    sight: CameraSight,
    records: list[EpisodeRecord],
    open_now: list[EpisodeRecord],
    max_object_s: float | None,
    verdict: str,
    says: str,
) -> None:
    judgement = judge(
        request(),
        sight=sight,
        records=records,
        open_on_camera=open_now,
        asked_at=T0,
        max_object_s=max_object_s,
    )
    assert judgement.verdict.value == verdict
    assert says in judgement.reason


def test_max_object_s_of_given_the_raising_rule_should_read_its_config() -> None:
    config = parse_config(CONFIG)
    assert max_object_s_of(config, request()) == 600.0
    assert max_object_s_of(config, request(event_type="crowding")) is None
    assert max_object_s_of(config, request(zone_id="other")) is None


def event(phase: EventPhase, event_id: str = "evt-00001") -> EventMessage:
    at = datetime.fromtimestamp(T0, UTC)
    return EventMessage(
        event_id=event_id,
        type="littering",
        phase=phase,
        node_id="n1",
        camera_id="c1",
        started_at=at,
        detected_at=at,
        ended_at=at if phase is EventPhase.END else None,
        confidence=0.8,
        location=Location(lat=23.1, lon=113.2, source=LocationSource.CAMERA),
        zone_id="floor",
        image_box=BOX,
        attributes={"static_s": 4.5},
        model=ModelInfo(name="m", version="1"),
    )


def test_episode_log_given_start_then_end_should_know_when_it_ended() -> None:
    log = EpisodeLog()
    log.record(event(EventPhase.START))
    started = log.get("evt-00001")
    assert started is not None and started.is_open and started.static_s == 4.5
    assert [r.event_id for r in log.open_on("c1")] == ["evt-00001"]
    log.record(event(EventPhase.END))
    ended = log.get("evt-00001")
    assert ended is not None and ended.ended_at == T0
    assert log.open_on("c1") == []


def test_episode_log_given_more_than_its_size_should_forget_ended_ones_first() -> None:
    log = EpisodeLog(max_records=2)
    log.record(event(EventPhase.START, "evt-open1"))
    log.record(event(EventPhase.END, "evt-ended"))
    log.record(event(EventPhase.START, "evt-open2"))
    assert log.get("evt-ended") is None
    assert log.get("evt-open1") is not None and log.get("evt-open2") is not None
    with pytest.raises(ValueError, match="max_records"):
        EpisodeLog(max_records=0)


def checker(sent: list[VerifyResult]) -> tuple[CameraChecker, NodeConfig]:
    config = parse_config(CONFIG)
    return (
        CameraChecker(
            config=config,
            episodes=EpisodeLog(),
            frames=CameraFrames(["person", "bottle"]),
            snapshotter=Snapshotter(camera_id="checks", face_blur=None),
            send=sent.append,
        ),
        config,
    )


def test_checker_given_the_litter_gone_should_answer_gone_with_after_picture() -> None:
    sent: list[VerifyResult] = []
    checks, _ = checker(sent)
    checks.episodes.record(event(EventPhase.START))
    checks.episodes.record(event(EventPhase.END))
    checks.note_health("c1", CameraHealth.ONLINE, T0 - 1000)
    image = np.full((120, 160, 3), 100, np.uint8)
    person = Detections.from_lists([[10, 10, 40, 110]], [0.9], [0])
    checks.start()
    try:
        checks.submit(request())
        checks.frames.see(Frame("c1", 1, time.time() + 1, image), person)
        deadline = time.monotonic() + 5
        while not sent and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checks.stop()
    [result] = sent
    assert (result.verdict, result.ticket_id) == (VerifyVerdict.GONE, 5)
    assert result.snapshot is not None and result.snapshot.bytes_b64 is not None
    jpeg = base64.b64decode(result.snapshot.bytes_b64)
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[:2] == (120, 160)


def test_checker_given_a_camera_not_on_the_node_should_answer_cannot_verify() -> None:
    sent: list[VerifyResult] = []
    checks, _ = checker(sent)
    result = checks.answer(request(camera_id="c9"), asked_at=T0)
    assert result.verdict is VerifyVerdict.CANNOT_VERIFY
    assert "not on node n1" in result.reason and result.snapshot is None


def test_command_client_given_bad_or_foreign_requests_should_refuse_them() -> None:
    sent: list[VerifyResult] = []
    checks, config = checker(sent)
    client = VerifyCommandClient(node_id="n1", broker=config.broker, checker=checks)
    assert client.handle(b"{not json") is None
    assert client.handle(request(node_id="n2").to_json().encode()) is None
    assert client.refused == 2
    queued = client.handle(request(look_s=300).to_json().encode())
    assert queued is not None and queued.ticket_id == 5
    assert client.refused == 2


def test_checker_stop_should_end_its_thread() -> None:
    checks, _ = checker([])
    checks.start()
    assert checks.is_alive
    checks.stop()
    assert not checks.is_alive
