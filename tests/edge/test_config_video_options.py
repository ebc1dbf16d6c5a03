"""Camera video options: detection stream, decoder, frame skipping."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import (
    CameraConfig,
    ConfigError,
    DecoderKind,
    SkipFrames,
    parse_config,
)

CAMERA: dict[str, Any] = {
    "id": "c1",
    "url": "rtsp://127.0.0.1/main",
    "location": {"lat": 23.1, "lon": 113.2},
}


def _config(**camera: Any) -> dict[str, Any]:
    return {"node_id": "n1", "cameras": [{**CAMERA, **camera}]}


def test_camera_given_no_video_options_should_decode_url_with_opencv() -> None:
    camera = parse_config(_config()).cameras[0]
    assert camera.analysis_url == "rtsp://127.0.0.1/main"
    assert camera.decoder is DecoderKind.OPENCV
    assert camera.skip_frames is SkipFrames.AUTO


def test_camera_given_detect_url_should_analyse_the_sub_stream() -> None:
    camera = parse_config(
        _config(detect_url="rtsp://127.0.0.1/sub", decoder="pyav", skip_frames="off")
    ).cameras[0]
    assert camera.url == "rtsp://127.0.0.1/main"
    assert camera.analysis_url == "rtsp://127.0.0.1/sub"
    assert camera.decoder is DecoderKind.PYAV
    assert camera.skip_frames is SkipFrames.OFF


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"decoder": "gstreamer"}, "cameras.0.decoder"),
        ({"skip_frames": "sometimes"}, "cameras.0.skip_frames"),
        ({"detect_url": ""}, "cameras.0.detect_url"),
        (
            {"kind": "snapshot", "push_secret_env": "GW_PUSH", "detect_url": "x"},
            "detect_url is for rtsp/file cameras",
        ),
        (
            {"kind": "snapshot", "push_secret_env": "GW_PUSH", "decoder": "pyav"},
            "decoder 'pyav' is for rtsp/file cameras",
        ),
    ],
)
def test_camera_given_bad_video_option_should_name_it(
    changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_config(_config(**changes))


def test_snapshot_camera_given_default_video_options_should_validate() -> None:
    camera = CameraConfig.model_validate(
        {**CAMERA, "kind": "snapshot", "push_secret_env": "GW_PUSH"}
    )
    assert camera.detect_url is None
