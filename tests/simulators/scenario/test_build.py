"""Tests for simulators/scenario/command.py: a tiny scene built from the real clips.

The scene is composited: a real bottle (cut from bottle-detection.mp4) carried
and put down by the first visitor of one-by-one-person-detection.mp4.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gridwatch.contract import EventType
from harness.accuracy.scenario import load_scenario
from simulators.scenario.command import build_scenes
from simulators.scenario.scenes import (
    OWNER_AWAY_S,
    STATIC_S,
    Drop,
    SceneSpec,
    littering_rule,
    room,
)
from simulators.scenario.writing import WINDOW_BEFORE_S

DROP_S = 1.0
# Clip seconds 15-23: the first visitor stands at the table, then walks out.
TINY = SceneSpec(
    name="tiny_drop",
    kind="positive",
    description="test",
    background=room(15.0, 23.0, empty=(20.8, 22.7), total_s=10.0),
    rules=(littering_rule(),),
    drops=(
        Drop("bottle_blue", (DROP_S, 0.58, 0.91), DROP_S, expect=EventType.LITTERING),
    ),
)


@pytest.fixture(scope="module")
def built(videos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenes")
    build_scenes([TINY], media_dir=videos_dir, out_dir=out, scenarios_dir=out / "yaml")
    return out


def _frame(path: Path, index: int) -> npt.NDArray[np.uint8]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {path}"
    return np.asarray(image, dtype=np.uint8)


def test_build_given_tiny_scene_should_write_h264_clip(built: Path) -> None:
    clip = built / "composited" / "tiny_drop.mp4"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,"
         "r_frame_rate", "-of", "json", str(clip)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == (768, 432)
    assert stream["r_frame_rate"] == "10/1"
    assert int(stream["nb_read_frames"]) == 100
    assert (built / "composited" / "assets" / "bottle_blue.png").is_file()


def test_build_given_tiny_scene_should_write_a_scenario_the_harness_loads(
    built: Path,
) -> None:
    path = built / "yaml" / "tiny_drop.yaml"
    loaded = load_scenario(path, name="tiny_drop", media_dir=built)
    assert loaded.clip_path == built / "composited" / "tiny_drop.mp4"
    assert loaded.scenario.composited and "bottle-detection.mp4" in (
        loaded.scenario.composited
    )
    (event,) = loaded.scenario.expected.events
    assert event.type is EventType.LITTERING
    # Due when the owner has been away owner_away_s; never before the object
    # has lain static_s after the paste.
    note = event.note or ""
    away = float(note.split(" from ")[1].split(" s")[0])
    due = max(DROP_S + STATIC_S, away + OWNER_AWAY_S)
    assert event.window[0] == pytest.approx(due - WINDOW_BEFORE_S, abs=0.05)
    assert DROP_S < away < 10.0
    assert event.region is not None


def test_build_given_tiny_scene_should_paste_the_object_from_the_drop_time(
    built: Path, videos_dir: Path
) -> None:
    loaded = load_scenario(built / "yaml" / "tiny_drop.yaml", name="t", media_dir=built)
    region = loaded.scenario.expected.events[0].region
    assert region is not None
    x1, y1, x2, y2 = (
        round(v * s) for v, s in zip(region, (768, 432, 768, 432), strict=True)
    )
    clip = built / "composited" / "tiny_drop.mp4"
    source = videos_dir / "one-by-one-person-detection.mp4"

    def change_at(t: float) -> float:
        written = _frame(clip, round(t * 10))[y1:y2, x1:x2].astype(np.float32)
        real = _frame(source, round((15.0 + t) * 10))[y1:y2, x1:x2]
        return float(np.abs(written - real).mean())

    assert change_at(DROP_S - 0.5) < 6.0  # still carried: the floor is the footage
    assert change_at(DROP_S + 1.0) > 12.0  # on the floor from the drop on
    assert change_at(9.0) > 12.0


def test_build_given_same_seed_should_write_the_same_clip(
    built: Path, videos_dir: Path, tmp_path: Path
) -> None:
    build_scenes([TINY], media_dir=videos_dir, out_dir=tmp_path, scenarios_dir=tmp_path)
    first = (built / "composited" / "tiny_drop.mp4").read_bytes()
    assert (tmp_path / "composited" / "tiny_drop.mp4").read_bytes() == first
    assert (tmp_path / "tiny_drop.yaml").read_text() == (
        built / "yaml" / "tiny_drop.yaml"
    ).read_text()
