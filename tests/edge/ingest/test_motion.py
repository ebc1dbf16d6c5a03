"""MotionGate on synthesised frames, and a source gating a still clip."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from edge.config import CameraConfig, MotionConfig
from edge.ingest import build_source
from edge.ingest.motion import MotionGate
from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame

HEIGHT, WIDTH = 360, 640


def _street(seed: int = 0, noise: float = 0.0) -> npt.NDArray[np.uint8]:
    """A textured still scene, with optional sensor noise of std `noise`."""
    rng = np.random.default_rng(seed)
    base = np.tile(np.linspace(40, 200, WIDTH, dtype=np.float32), (HEIGHT, 1))
    scene = np.repeat(base[:, :, None], 3, axis=2).astype(np.float64)
    if noise:
        scene = scene + rng.normal(0, noise, scene.shape)
    return np.clip(scene, 0, 255).astype(np.uint8)


def _with_person(x: int) -> npt.NDArray[np.uint8]:
    image = _street()
    image[150:250, x : x + 30] = 20  # a dark 30x100 px figure
    return image


def test_gate_given_first_frame_should_admit_it() -> None:
    gate = MotionGate(MotionConfig(enabled=True))
    assert gate.admits(_street(), 0.0)
    assert gate.frames_gated == 0


def test_gate_given_still_scene_should_gate_until_the_periodic_look() -> None:
    gate = MotionGate(MotionConfig(enabled=True, max_gap_s=1.0))
    admitted = [gate.admits(_street(), t / 5) for t in range(11)]  # 5 fps, 2 s
    # the first frame, then one look a second
    assert admitted == [True, False, False, False, False, True,
                        False, False, False, False, True]  # fmt: skip
    assert gate.frames_gated == 8


def test_gate_given_sensor_noise_only_should_not_see_motion() -> None:
    gate = MotionGate(MotionConfig(enabled=True, max_gap_s=60))
    gate.admits(_street(seed=1, noise=6), 0.0)
    assert not any(gate.admits(_street(seed=s, noise=6), s / 5) for s in range(2, 12))


def test_gate_given_moving_person_should_admit_every_frame() -> None:
    gate = MotionGate(MotionConfig(enabled=True, max_gap_s=60))
    assert all(gate.admits(_with_person(100 + 15 * i), i / 5) for i in range(10))


def test_gate_given_slow_creep_should_admit_once_it_adds_up() -> None:
    # 2 px a frame is too little per frame against the last admitted frame at
    # first, but the reference stays put, so the difference grows
    gate = MotionGate(MotionConfig(enabled=True, max_gap_s=60))
    admitted = [gate.admits(_with_person(100 + 2 * i), i / 5) for i in range(20)]
    assert admitted[0]
    assert any(admitted[1:])
    assert not all(admitted[1:])


def test_gate_given_reset_or_new_size_should_admit() -> None:
    gate = MotionGate(MotionConfig(enabled=True, max_gap_s=60))
    gate.admits(_street(), 0.0)
    gate.reset()
    assert gate.admits(_street(), 0.1)
    assert gate.admits(_street()[:180, :320], 0.2)


@pytest.mark.parametrize(
    ("changes", "raises"),
    [
        ({}, nullcontext()),
        ({"max_gap_s": 0}, pytest.raises(ValidationError, match="max_gap_s")),
        ({"pixel_threshold": 0}, pytest.raises(ValidationError, match="pixel_")),
        ({"min_changed_share": 0}, pytest.raises(ValidationError, match="min_chan")),
        ({"sensitivity": 1}, pytest.raises(ValidationError, match="sensitivity")),
    ],
)
def test_motion_config_given_values_should_validate_them(
    changes: dict[str, Any], raises: AbstractContextManager[object]
) -> None:
    with raises:
        MotionConfig.model_validate({"enabled": True, **changes})


class _TakingSlot(FreshestFrameSlot):
    def __init__(self) -> None:
        super().__init__("c1", threading.Condition())
        self.frames: list[Frame] = []

    def put(self, frame: Frame) -> None:
        self.frames.append(frame)


def test_source_given_still_clip_and_gating_should_look_once_per_gap(
    tmp_path: Path,
) -> None:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed to make the test clip"
    clip = tmp_path / "still.mp4"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "color=c=gray:size=160x96:rate=25:duration=2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)],
        check=True, timeout=60,
    )  # fmt: skip
    camera = CameraConfig.model_validate(
        {
            "id": "c1", "url": str(clip), "kind": "file", "decoder": "pyav",
            "location": {"lat": 1, "lon": 2}, "analysis_fps": 5,
            "motion": {"enabled": True, "max_gap_s": 0.5},
        }
    )  # fmt: skip
    slot = _TakingSlot()
    source = build_source(camera, slot)
    source.start()
    deadline = time.monotonic() + 20
    while source.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    source.request_stop()
    source.join(5)

    # 10 frames were due over 2 s; the gate passed about one per 0.5 s
    assert 3 <= len(slot.frames) <= 6
    assert len(slot.frames) + source.frames_gated == pytest.approx(10, abs=1)
