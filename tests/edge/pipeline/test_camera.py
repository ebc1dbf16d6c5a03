"""Tests for edge/pipeline/camera.py: the pose stage of fall zones and its wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import CameraConfig, ZoneConfig
from edge.events.builder import EventBuilder
from edge.pipeline.camera import CameraAnalysis, TrackedRulesAnalyser, build_pose_stage
from edge.pose.movenet import PoseModels
from edge.pose.stage import PoseStage
from edge.rules.engine import CameraRules
from edge.rules.fall import FallRuleConfig
from edge.track.bytetrack import ObjectTracker
from edge.types import Detections, Frame
from edge.zones import Zone
from gridwatch.contract import ModelInfo
from tests.edge.rules.factories import LABELS, T0

LOCATION = {"lat": 23.1, "lon": 113.3}


def _camera(zones: list[dict[str, Any]]) -> CameraConfig:
    """A camera whose zones may hold fall rules, given as config objects (they
    go into their zones after validation)."""
    camera = CameraConfig.model_validate(
        {"id": "cam-1", "url": "rtsp://example/1", "location": LOCATION}
    )
    built = [
        ZoneConfig.model_validate({**zone, "rules": []}).model_copy(
            update={"rules": zone["rules"]}
        )
        for zone in zones
    ]
    return camera.model_copy(update={"zones": built})


@pytest.fixture(scope="module")
def pose_models(models_dir: Path) -> PoseModels:
    return PoseModels(models_dir=models_dir)


def test_build_pose_stage_given_no_fall_rule_should_return_none(
    pose_models: PoseModels,
) -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://example/1",
            "location": LOCATION,
            "zones": [{"id": "z1", "rules": [{"type": "crowding"}]}],
        }
    )
    assert build_pose_stage(camera, models=pose_models) is None


def test_build_pose_stage_given_fall_zones_should_watch_them(
    pose_models: PoseModels,
) -> None:
    camera = _camera(
        [
            {"id": "hall", "rules": [FallRuleConfig(min_keypoint_score=0.4)]},
            {"id": "other", "rules": []},
            {"id": "ward", "rules": [FallRuleConfig(labels=["person", "doll"])]},
        ]
    )
    stage = build_pose_stage(camera, models=pose_models)
    assert isinstance(stage, PoseStage)
    assert stage.camera_id == "cam-1"
    assert stage.settings.min_keypoint_score == pytest.approx(0.3)


def test_build_pose_stage_given_two_pose_models_should_raise(
    pose_models: PoseModels,
) -> None:
    camera = _camera(
        [
            {"id": "a", "rules": [FallRuleConfig()]},
            {"id": "b", "rules": [FallRuleConfig(pose_model="movenet_thunder")]},
        ]
    )
    with pytest.raises(ValueError, match="different pose models"):
        build_pose_stage(camera, models=pose_models)


class FailingEstimator:
    def estimate(
        self,
        image: npt.NDArray[np.uint8],
        boxes_xyxy: npt.NDArray[np.float32],
        *,
        margins: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        raise RuntimeError("onnxruntime failed")


def test_analyse_given_failing_pose_model_should_still_run_the_rules() -> None:
    camera = _camera([{"id": "z1", "rules": [FallRuleConfig()]}])
    zone = Zone.from_points("z1", [(0, 0), (1, 0), (1, 1), (0, 1)])
    analyser = TrackedRulesAnalyser(
        CameraAnalysis(
            tracker=ObjectTracker.from_camera(camera),
            rules=CameraRules.from_config(camera),
            labels=LABELS,
            pose=PoseStage(
                camera_id="cam-1",
                zones=[zone],
                labels={"person"},
                estimator=FailingEstimator(),
            ),
        ),
        EventBuilder.from_camera(
            camera, node_id="n1", model=ModelInfo(name="m", version="1")
        ),
    )
    standing = Detections.from_lists(
        [[100.0, 50.0, 160.0, 250.0]], confidence=[0.9], class_id=[0]
    )
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    for i in range(5):
        frame = Frame(camera_id="cam-1", index=i, captured_at=T0 + i / 10, image=image)
        output = analyser.analyse(frame, standing)
        assert output.events == []
    assert analyser.close(T0 + 1.0) == []
