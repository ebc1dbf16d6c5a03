"""Media pipeline: built from config, clips requested on starts, named in ends."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from edge.config import NodeConfig, parse_config
from edge.media.faces import FaceBlur, FaceModelError
from edge.media.stage import MediaPipeline, clip_dir, require_face_model
from edge.metrics import NodeMetrics
from edge.types import Frame
from gridwatch.contract import (
    EventMessage,
    EventPhase,
)
from models.manifest import NotFoundError
from tests.edge.publish.factories import event_message

CAMERA = {"id": "cam", "url": "rtsp://x/y", "location": {"lat": 1, "lon": 2}}
GATE = {
    "id": "gate",
    "url": "gate",
    "kind": "snapshot",
    "push_secret_env": "GW_TEST_GATE_SECRET",
    "location": {"lat": 1, "lon": 2},
}


def _config(tmp_path: Path, **extra: Any) -> NodeConfig:
    return parse_config(
        {
            "node_id": "n1",
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "cameras": [CAMERA, GATE],
            "media": {"pre_s": 1, "post_s": 1, "buffer_s": 2},
            **extra,
        }
    )


def _event(phase: EventPhase, at: float, event_id: str = "ev-00000001") -> EventMessage:
    return event_message(
        event_id,
        phase,
        node_id="n1",
        camera_id="cam",
        at=datetime.fromtimestamp(at, UTC),
    )


def _record_one_clip(pipeline: MediaPipeline, t0: float) -> None:
    for i in range(10):
        pipeline.push(
            Frame("cam", i, t0 + i * 0.2, np.full((90, 160, 3), 100, np.uint8))
        )
        if i == 2:
            assert (
                pipeline.on_event(_event(EventPhase.START, t0 + 0.4)).media.clip is None
            )


def test_media_pipeline_given_no_central_should_keep_clips_local(
    tmp_path: Path, blur: FaceBlur
) -> None:
    config = _config(tmp_path)
    pipeline = MediaPipeline.from_config(config, metrics=NodeMetrics(), face_blur=blur)
    assert pipeline is not None
    assert pipeline.stages == {"clips": False}
    pipeline.start()
    _record_one_clip(pipeline, time.time() + 1000)
    pipeline.stop()
    assert pipeline.store.clips() == [tmp_path / "clips-n1" / "ev-00000001.mp4"]
    end = pipeline.on_event(_event(EventPhase.END, time.time()))
    assert end.media.clip is None, "without central there is no URL to name"


def test_media_pipeline_given_central_should_queue_upload_and_name_clip_in_end(
    tmp_path: Path, blur: FaceBlur, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TOKEN", "t")
    config = _config(
        tmp_path,
        central={
            "url": "http://central.test",
            "token_env": "GW_TOKEN",
            "allow_plain_http": True,
        },
    )
    answered: list[httpx.Request] = []

    def central(request: httpx.Request) -> httpx.Response:
        answered.append(request)
        return httpx.Response(200, json={"event_known": True})

    pipeline = MediaPipeline.from_config(
        config,
        metrics=NodeMetrics(),
        face_blur=blur,
        client=httpx.Client(transport=httpx.MockTransport(central)),
    )
    assert pipeline is not None
    pipeline.start()
    assert pipeline.stages == {"clips": True, "media-upload": True}
    _record_one_clip(pipeline, time.time() + 1000)
    deadline = time.monotonic() + 10
    while not answered and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline.stop()
    assert [r.url.path for r in answered] == ["/api/v1/media/ev-00000001/clip"]
    end = pipeline.on_event(_event(EventPhase.END, time.time()))
    assert end.media.clip is not None
    assert (
        end.media.clip.url
        == f"http://central.test/api/v1/media/{end.media.clip.sha256}"
    )
    assert end.media.clip.duration_s == pytest.approx(1.6)
    other = pipeline.on_event(_event(EventPhase.END, time.time(), "ev-00000002"))
    assert other.media.clip is None
    assert pipeline.store.clips() == [], "an uploaded clip is not kept"


def test_media_pipeline_given_clips_off_should_be_none(
    tmp_path: Path, blur: FaceBlur
) -> None:
    config = _config(tmp_path, media={"clips": False})
    assert (
        MediaPipeline.from_config(config, metrics=NodeMetrics(), face_blur=blur) is None
    )


def test_clip_dir_given_config_should_default_beside_the_outbox(tmp_path: Path) -> None:
    assert clip_dir(_config(tmp_path)) == tmp_path / "clips-n1"
    custom = _config(tmp_path, media={"dir": str(tmp_path / "x")})
    assert clip_dir(custom) == tmp_path / "x"


def test_require_face_model_given_model_should_return_its_path(
    models_dir: Path,
) -> None:
    path = require_face_model("yunet_face", models_dir)
    assert path.name == "face_detection_yunet_2026may.onnx"


def test_require_face_model_given_no_model_should_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str, models_dir: Path | None) -> Path:
        raise NotFoundError(f"{name} is not in any of: /nowhere")

    monkeypatch.setattr("edge.media.stage.resolve_model", missing)
    with pytest.raises(FaceModelError, match="refusing to start, no face"):
        require_face_model("yunet_face", None)
