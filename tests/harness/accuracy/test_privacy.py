"""The eval's privacy check: real YuNet over real frames with faces in view."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from harness.accuracy.command import _finish
from harness.accuracy.privacy import PrivacyTally, SnapshotFaceCheck
from harness.accuracy.results import EvalSummary, ScenarioResult
from harness.accuracy.scenario import ScenarioLoad
from tests.edge.media.faces import read_frames


@pytest.fixture(scope="module")
def walkers(videos_dir: Path) -> npt.NDArray[np.uint8]:
    """A frame of two people walking toward the camera, faces in full view."""
    return read_frames(videos_dir / "face-demographics-walking.gif")[29]


@pytest.fixture(scope="module")
def check(models_dir: Path) -> SnapshotFaceCheck:
    loaded = SnapshotFaceCheck.load(models_dir)
    assert loaded is not None
    return loaded


def jpeg(image: npt.NDArray[np.uint8]) -> bytes:
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def test_tally_given_unblurred_faces_should_count_them_per_event(
    check: SnapshotFaceCheck, walkers: npt.NDArray[np.uint8]
) -> None:
    blurred = np.asarray(cv2.blur(walkers, (41, 41)), dtype=np.uint8)

    tally = check.tally(
        [("raw", jpeg(walkers)), ("blurred", jpeg(blurred)), ("none", None)]
    )

    assert tally.snapshots == 2
    assert tally.faces == 2, "both walkers' faces are in the raw frame"
    assert tally.with_faces == ("raw",)
    assert tally.unreadable == 0


def test_tally_given_bytes_that_are_no_image_should_count_them_unreadable(
    check: SnapshotFaceCheck,
) -> None:
    tally = check.tally([("broken", b"\xff\xd8 not a jpeg")])

    assert tally == PrivacyTally(snapshots=1, unreadable=1)


def test_load_given_missing_or_broken_face_model_should_give_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "yunet.onnx"
    broken.write_bytes(b"not an onnx graph")
    found: list[Path | None] = [None, broken]
    monkeypatch.setattr(
        "harness.accuracy.privacy.face_model_path", lambda _dir: found.pop(0)
    )

    assert SnapshotFaceCheck.load(tmp_path) is None  # not found
    assert SnapshotFaceCheck.load(tmp_path) is None  # found, does not load


def test_finish_given_a_face_in_a_snapshot_should_exit_1_and_say_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = ScenarioResult(
        name="people/walkers",
        path=Path("walkers.yaml"),
        privacy=PrivacyTally(snapshots=3, faces=1, with_faces=("ev-1",)),
    )
    summary = EvalSummary(results=(result,))
    args = argparse.Namespace(report=None, json=True, fail_under_f1=None)

    code = _finish(summary, ScenarioLoad(scenarios=(), errors=()), args)

    captured = capsys.readouterr()
    assert code == 1
    assert "1 faces found in published snapshots (events ev-1)" in captured.err
    assert '"faces_found": 1' in captured.out
