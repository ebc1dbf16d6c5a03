"""How many inference workers a node runs, and with how many threads each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import ConfigError, parse_config
from edge.events.snapshot import Snapshotter
from edge.face_settings import FaceBlurSettings
from edge.factory import MAX_AUTO_WORKERS, build_node, inference_plan
from edge.media.faces import load_face_detector
from edge.types import Detections
from tests.edge.publish.factories import NullPublisher

CAMERA = {"id": "c", "url": "rtsp://x/y", "location": {"lat": 1, "lon": 2}}


def _config(**extra: Any) -> Any:
    return parse_config({"node_id": "n", "cameras": [CAMERA], **extra})


@pytest.mark.parametrize(
    ("cores", "batch", "model", "expected_workers", "expected_threads"),
    [
        (2, {}, {}, 2, 1),
        (1, {}, {}, 1, 1),
        (64, {}, {}, MAX_AUTO_WORKERS, 1),
        (8, {}, {"intra_op_threads": 2}, 4, 2),
        (8, {"workers": 3}, {}, 3, 0),
        (8, {"workers": 1}, {"intra_op_threads": 8}, 1, 8),
    ],
)
def test_inference_plan_given_cpu_should_use_cores_or_the_config(
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
    batch: dict[str, int],
    model: dict[str, int],
    expected_workers: int,
    expected_threads: int,
) -> None:
    monkeypatch.setattr("edge.factory.os.cpu_count", lambda: cores)
    workers, model_config = inference_plan(_config(batch=batch, model=model))
    assert (workers, model_config.intra_op_threads) == (
        expected_workers,
        expected_threads,
    )


def test_inference_plan_given_gpu_provider_should_use_one_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "edge.factory.select_providers",
        lambda requested: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    workers, _ = inference_plan(_config())
    assert workers == 1


class _NoDetector:
    name = "none"

    @property
    def labels(self) -> list[str]:
        return ["person"]

    def detect_batch(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        return [Detections.empty() for _ in images]


def test_build_node_given_media_face_settings_should_load_yunet_once_for_all(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[float] = []

    def counting_load(path: Path, *, score_threshold: float) -> Any:
        loads.append(score_threshold)
        return load_face_detector(path, score_threshold=score_threshold)

    snapshotters: list[Snapshotter] = []

    class RecordingSnapshotter(Snapshotter):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            snapshotters.append(self)

    monkeypatch.setattr("models.faces.load_face_detector", counting_load)
    monkeypatch.setattr("edge.factory.Snapshotter", RecordingSnapshotter)
    config = _config(
        cameras=[CAMERA, {**CAMERA, "id": "d"}],
        models_dir=str(models_dir),
        outbox={"path": str(tmp_path / "outbox.db")},
        media={"face_score": 0.55, "face_margin": 0.8},
    )

    node = build_node(config, detectors=[_NoDetector()], publisher=NullPublisher())

    assert loads == [0.55], "one YuNet for the node, at media.face_score"
    assert node.media is not None
    blurs = [s.face_blur for s in snapshotters]
    assert len(blurs) == 2
    for blur in blurs:
        assert blur is not None
        assert blur.settings == FaceBlurSettings(score_threshold=0.55, margin=0.8)
        assert blur.detector.score_threshold == pytest.approx(0.55)
    assert len({id(blur.detector) for blur in blurs if blur is not None}) == 1


def test_build_node_given_an_unreadable_monitor_token_should_raise_naming_it(
    models_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "monitor.token"
    config = _config(
        models_dir=str(models_dir),
        outbox={"path": str(tmp_path / "outbox.db")},
        http={"port": 0, "monitor_token_file": str(missing)},
    )
    with pytest.raises(ConfigError, match=f"http.monitor_token_file {missing}"):
        build_node(config, detectors=[_NoDetector()], publisher=NullPublisher())
