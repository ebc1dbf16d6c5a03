"""`gridwatch bench clips`: the same events clipped from analysed frames and
from the camera's packets, with the real face model, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.integration


def test_bench_clips_should_compare_both_ways_on_the_same_events(
    videos_dir: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "bench", "clips", "--json", "--clips", "2",
            "--clip", str(videos_dir / "one-by-one-person-detection.mp4"),
            "--models-dir", str(models_dir),
        ]
    )  # fmt: skip

    assert code == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["stream_fps"] == 10.0 and figures["analysis_fps"] == 5.0
    analysed, stream = figures["analysed"], figures["stream"]
    assert (analysed["clips"], stream["clips"]) == (2, 2)
    assert analysed["frames_from"] == ["analysed"]
    assert stream["frames_from"] == ["stream"]
    # 8 s of a 10 fps stream against 5 analysed frames a second.
    assert stream["frames_mean"] == pytest.approx(81, abs=2)
    assert analysed["frames_mean"] == pytest.approx(41, abs=2)
    assert figures["frames_ratio"] == pytest.approx(2.0, abs=0.1)
    assert figures["work_ratio"] > 0
    buffers = figures["buffer_mb_per_camera"]
    assert 0 < buffers["packets"] < buffers["analysed_frames"]


def test_bench_clips_given_a_missing_file_should_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "clips", "--clip", str(tmp_path / "none.mp4")])

    assert code == 2
    assert "none.mp4" in capsys.readouterr().err
