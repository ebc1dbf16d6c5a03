"""The fall rule on real staged falls: real video, yolox_nano, ByteTrack, MoveNet.

Each scenario in `scenarios/falls/` names a GMDCSA24 clip and its labelled fall
window. The clip is decoded and sampled at the scenario's analysis rate with
clip-time stamps (no RTSP, no waiting: the whole file runs in a few seconds),
and the frames go through the node's own per-camera path: the detector from
`OnnxDetector.from_config`, then `TrackedRulesAnalyser` with the tracker, the
pose stage from `build_pose_stage` and the zone rules from the camera config.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import yaml

from edge.config import CameraConfig, ModelConfig, ZoneConfig
from edge.events.builder import EventBuilder
from edge.infer.session import OnnxDetector
from edge.pipeline.camera import CameraAnalysis, TrackedRulesAnalyser, build_pose_stage
from edge.pose.movenet import PoseModels
from edge.rules.engine import CameraRules
from edge.rules.fall import FallRuleConfig
from edge.track.bytetrack import ObjectTracker
from edge.types import Frame
from gridwatch.contract import EventMessage, EventPhase, EventType, ModelInfo

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "falls"
CAMERA_ID = "fall-cam"
T0 = 1_700_000_000.0  # clip second 0 as a UNIX time


@dataclass(frozen=True, slots=True)
class FallScenario:
    """One scenario file: clip, camera section and the expected fall windows."""

    name: str
    clip: str
    camera: dict[str, Any]
    windows: list[tuple[float, float]]

    @classmethod
    def load(cls, path: Path) -> FallScenario:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        events = document["expected"]["events"]
        assert all(e["type"] == EventType.FALL for e in events), path
        return cls(
            name=path.stem,
            clip=document["clip"],
            camera=document["camera"],
            windows=[(float(e["window"][0]), float(e["window"][1])) for e in events],
        )


def _scenarios() -> list[FallScenario]:
    return [FallScenario.load(path) for path in sorted(SCENARIOS.glob("*.yaml"))]


def _camera(section: dict[str, Any]) -> CameraConfig:
    """The scenario's camera section as a config.

    The fall rules are validated on their own and put into their zones after
    validation: the rule config is validated on its own first.
    """
    zones = section.get("zones", [])
    camera = CameraConfig.model_validate(
        {
            **{k: v for k, v in section.items() if k != "zones"},
            "id": CAMERA_ID,
            "url": "unused.mp4",
            "kind": "file",
            "location": {"lat": 23.1291, "lon": 113.2644},
        }
    )
    built = [
        ZoneConfig.model_validate({**zone, "rules": []}).model_copy(
            update={"rules": [FallRuleConfig.model_validate(r) for r in zone["rules"]]}
        )
        for zone in zones
    ]
    return camera.model_copy(update={"zones": built})


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> OnnxDetector:
    # One thread: the suite runs on small shared machines.
    return OnnxDetector.from_config(ModelConfig(intra_op_threads=1), models_dir)


@pytest.fixture(scope="module")
def pose_models(models_dir: Path) -> PoseModels:
    return PoseModels(models_dir=models_dir)


def _frames(path: Path, analysis_fps: float) -> Iterator[tuple[int, float, Any]]:
    """(index, clip seconds, BGR image) of the frames due at `analysis_fps`."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    fps = capture.get(cv2.CAP_PROP_FPS)
    due, index = 0.0, 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            t = index / fps
            if t + 1e-6 >= due:
                due += 1.0 / analysis_fps
                yield index, t, image
            index += 1
    finally:
        capture.release()


def _replay(
    scenario: FallScenario,
    *,
    videos_dir: Path,
    detector: OnnxDetector,
    pose_models: PoseModels,
) -> list[EventMessage]:
    camera = _camera(scenario.camera)
    pose = build_pose_stage(camera, models=pose_models)
    assert pose is not None
    analyser = TrackedRulesAnalyser(
        CameraAnalysis(
            tracker=ObjectTracker.from_camera(camera),
            rules=CameraRules.from_config(camera),
            labels=detector.labels,
            pose=pose,
        ),
        EventBuilder.from_camera(
            camera, node_id="it-node", model=ModelInfo(name=detector.name, version="1")
        ),
    )
    events: list[EventMessage] = []
    last_t = 0.0
    for index, t, image in _frames(videos_dir / scenario.clip, camera.analysis_fps):
        pixels: npt.NDArray[np.uint8] = image
        frame = Frame(
            camera_id=CAMERA_ID, index=index, captured_at=T0 + t, image=pixels
        )
        output = analyser.analyse(frame, detector.detect(pixels))
        events.extend(build() for build in output.events)
        last_t = t
    events.extend(analyser.close(T0 + last_t))
    return events


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.name)
def test_fall_rule_given_clip_should_raise_one_fall_per_labelled_fall(
    scenario: FallScenario,
    videos_dir: Path,
    detector: OnnxDetector,
    pose_models: PoseModels,
) -> None:
    events = _replay(
        scenario, videos_dir=videos_dir, detector=detector, pose_models=pose_models
    )
    starts = [e for e in events if e.phase is EventPhase.START]
    seconds = [round(e.detected_at.timestamp() - T0, 2) for e in starts]
    assert len(starts) == len(scenario.windows), seconds
    for event, second, (first, last) in zip(
        starts, seconds, scenario.windows, strict=True
    ):
        assert event.type is EventType.FALL
        assert first <= second <= last, (second, (first, last))
        assert event.image_box is not None
        down_s = event.attributes["down_s"]
        # on the frame nearest the 1 s mark: at most half a frame interval early
        assert isinstance(down_s, float) and down_s >= 1.0 - 0.5 / 5
    # Every fall is closed again: the clip ends and the camera closes.
    ends = [e for e in events if e.phase is EventPhase.END]
    assert sorted(e.event_id for e in ends) == sorted(e.event_id for e in starts)
