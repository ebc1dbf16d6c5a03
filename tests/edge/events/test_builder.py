"""Tests for edge/events/builder.py."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from edge.config import CameraConfig, GeoPoint, HomographyConfig
from edge.events.builder import EventBuilder, person_boxes
from edge.events.snapshot import Snapshotter
from edge.face_settings import FaceBlurSettings
from edge.media.faces import FaceBlur
from edge.rules.base import RuleSignal
from edge.rules.engine import CameraRules
from edge.types import Detections, Frame
from gridwatch.contract import (
    ATTRIBUTE_LIST_MAX,
    ATTRIBUTE_TEXT_MAX_CHARS,
    EventMessage,
    EventPhase,
    LocationSource,
    ModelInfo,
)

LABELS = ("person", "bicycle", "car")
T0 = 1_700_000_000.0
MODEL = ModelInfo(name="yolox_nano", version="test")
ORIGIN = GeoPoint(lat=23.1291, lon=113.2644)


def _camera(*, calibrated: bool) -> CameraConfig:
    homography = HomographyConfig(
        image_points_norm=[(0.0, 1.0), (1.0, 1.0), (0.8, 0.4), (0.2, 0.4)],
        ground_points=[
            GeoPoint(lat=23.12900, lon=113.26430),
            GeoPoint(lat=23.12900, lon=113.26450),
            GeoPoint(lat=23.12930, lon=113.26450),
            GeoPoint(lat=23.12930, lon=113.26430),
        ],
    )
    return CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://example/1",
            "location": ORIGIN.model_dump(),
            "homography": homography.model_dump() if calibrated else None,
            "zones": [
                {
                    "id": "plaza",
                    "rules": [
                        {
                            "type": "crowding",
                            "threshold": 2,
                            "dwell_s": 1.0,
                            "clear_s": 1.0,
                            "update_interval_s": 1.0,
                        }
                    ],
                }
            ],
        }
    )


def _frame(t: float) -> Frame:
    image = np.full((240, 320, 3), 100, dtype=np.uint8)
    return Frame(camera_id="cam-1", index=int(t), captured_at=T0 + t, image=image)


CROWD = Detections.from_lists(
    [[40, 100, 70, 200], [90, 110, 120, 210], [200, 50, 260, 90]],
    [0.9, 0.7, 0.8],
    [0, 0, 2],
    [1, 2, 3],
)


def _episode(camera: CameraConfig) -> list[tuple[RuleSignal, Frame]]:
    rules = CameraRules.from_config(camera)
    out: list[tuple[RuleSignal, Frame]] = []
    for t, dets in [
        (0, CROWD),
        (1, CROWD),
        (2, CROWD),
        (3, Detections.empty()),
        (4, Detections.empty()),
    ]:
        frame = _frame(t)
        out.extend((s, frame) for s in rules.update(frame, dets, LABELS).signals)
    return out


def _builder_with_snapshots(camera: CameraConfig, models_dir: Path) -> EventBuilder:
    snapshotter = Snapshotter(
        camera_id=camera.id,
        face_blur=FaceBlur.from_model(
            models_dir / "face_detection_yunet_2026may.onnx", FaceBlurSettings()
        ),
    )
    return EventBuilder.from_camera(
        camera, node_id="node-a", model=MODEL, snapshotter=snapshotter
    )


def _build_all(builder: EventBuilder, camera: CameraConfig) -> list[EventMessage]:
    return [
        builder.build(signal, frame=frame, detections=CROWD, labels=LABELS)
        for signal, frame in _episode(camera)
    ]


def test_event_builder_given_episode_should_keep_one_event_id(models_dir: Path) -> None:
    camera = _camera(calibrated=True)
    builder = _builder_with_snapshots(camera, models_dir)
    messages = _build_all(builder, camera)
    assert [m.phase for m in messages] == [
        EventPhase.START,
        EventPhase.UPDATE,
        EventPhase.END,
    ]
    assert len({m.event_id for m in messages}) == 1
    assert all(m.started_at == datetime.fromtimestamp(T0 + 1, UTC) for m in messages)
    assert [m.detected_at.timestamp() for m in messages] == [T0 + 1, T0 + 2, T0 + 4]
    assert messages[-1].ended_at == messages[-1].detected_at
    for message in messages:
        again = EventMessage.model_validate_json(message.to_json())
        assert again == message


def test_event_builder_given_start_should_fill_event_fields(models_dir: Path) -> None:
    camera = _camera(calibrated=True)
    builder = _builder_with_snapshots(camera, models_dir)
    start, _, end = _build_all(builder, camera)
    assert (start.node_id, start.camera_id, start.zone_id) == (
        "node-a",
        "cam-1",
        "plaza",
    )
    assert start.type == "crowding"
    assert start.confidence == pytest.approx(0.8)
    assert start.image_box == pytest.approx((40 / 320, 100 / 240, 120 / 320, 210 / 240))
    assert start.location.source is LocationSource.GROUND
    assert 23.1290 < start.location.lat < 23.1293
    assert start.attributes["count"] == 2
    assert start.attributes["track_ids"] == ["1", "2"]
    assert start.model == MODEL
    snapshot = start.media.snapshot
    assert snapshot is not None and snapshot.bytes_b64 is not None
    jpeg = base64.b64decode(snapshot.bytes_b64)
    assert jpeg[:2] == b"\xff\xd8"
    assert snapshot.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert end.media.snapshot is None
    assert end.image_box == start.image_box


def test_event_builder_given_no_homography_or_snapshotter_should_use_camera() -> None:
    camera = _camera(calibrated=False)
    builder = EventBuilder.from_camera(camera, node_id="node-a", model=MODEL)
    start = _build_all(builder, camera)[0]
    assert start.location.source is LocationSource.CAMERA
    assert (start.location.lat, start.location.lon) == (ORIGIN.lat, ORIGIN.lon)
    assert start.media.snapshot is None


def test_event_builder_given_signal_of_other_camera_should_raise() -> None:
    camera = _camera(calibrated=False)
    signal, frame = _episode(camera)[0]
    other = EventBuilder.from_camera(
        camera.model_copy(update={"id": "cam-2"}), node_id="node-a", model=MODEL
    )
    with pytest.raises(ValueError, match=r"'cam-1'.*'cam-2'"):
        other.build(signal, frame=frame)


def test_event_builder_given_odd_attributes_should_keep_the_event_within_bounds() -> (
    None
):
    camera = _camera(calibrated=False)
    signal, frame = _episode(camera)[0]
    odd = dataclasses.replace(
        signal,
        attributes={
            "count": 3,
            "torso_angle_deg": float("nan"),
            "label": "x" * 1000,
            "track_ids": [str(i) for i in range(1000)],
        },
    )
    builder = EventBuilder.from_camera(camera, node_id="node-a", model=MODEL)
    event = builder.build(odd, frame=frame)
    assert event.attributes["count"] == 3
    assert "torso_angle_deg" not in event.attributes
    assert len(str(event.attributes["label"])) == ATTRIBUTE_TEXT_MAX_CHARS
    assert event.attributes["track_ids"] == [str(i) for i in range(ATTRIBUTE_LIST_MAX)]


@pytest.mark.parametrize(
    ("detections", "labels", "expected"),
    [
        (None, LABELS, []),
        (Detections.empty(), LABELS, []),
        (CROWD, LABELS, [[40, 100, 70, 200], [90, 110, 120, 210]]),
        (CROWD, (), []),
    ],
)
def test_person_boxes_given_detections_should_keep_people(
    detections: Detections | None, labels: tuple[str, ...], expected: list[list[float]]
) -> None:
    result = person_boxes(detections, labels)
    np.testing.assert_array_equal(result, np.reshape(expected, (-1, 4)))
