"""SkipPlanner: which frames the decoder may skip, from the packets seen."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import pytest

from edge.config import SkipFrames
from edge.ingest.skip_planner import SkipLevel, SkipPlanner


def _feed(
    planner: SkipPlanner,
    *,
    fps: float,
    gop: int,
    seconds: float,
    decoded_per_packet: float = 1.0,
) -> SkipLevel:
    """Packets of a `fps` stream with a key frame every `gop` packets."""
    decoded_carry = 0.0
    level = planner.level
    for i in range(round(fps * seconds)):
        level = planner.observe_packet(at_s=i / fps, is_key=i % gop == 0)
        decoded_carry += decoded_per_packet
        whole = int(decoded_carry)
        decoded_carry -= whole
        planner.observe_decoded(whole)
    return level


@pytest.mark.parametrize(
    ("mode", "analysis_fps", "fps", "gop", "expected"),
    [
        # a 25 fps camera analysed at 5 fps: B-frames are not needed
        (SkipFrames.AUTO, 5.0, 25, 50, SkipLevel.NON_REFERENCE),
        # 15 of 25 frames wanted: too many to leave any out
        (SkipFrames.AUTO, 15.0, 25, 50, SkipLevel.NONE),
        # one look every 2 s and a key frame every 2 s: key frames are enough
        (SkipFrames.AUTO, 0.5, 25, 50, SkipLevel.NON_KEY),
        # one look a second but key frames every 2 s: they are not enough
        (SkipFrames.AUTO, 1.0, 25, 50, SkipLevel.NON_REFERENCE),
        (SkipFrames.OFF, 5.0, 25, 50, SkipLevel.NONE),
        (SkipFrames.OFF, 0.5, 25, 50, SkipLevel.NONE),
    ],
)
def test_planner_given_stream_and_rate_should_pick_level(
    mode: SkipFrames, analysis_fps: float, fps: float, gop: int, expected: SkipLevel
) -> None:
    planner = SkipPlanner(analysis_fps=analysis_fps, mode=mode)
    assert _feed(planner, fps=fps, gop=gop, seconds=10) == expected


def test_planner_given_no_packets_yet_should_skip_nothing() -> None:
    planner = SkipPlanner(analysis_fps=5.0, mode=SkipFrames.AUTO)
    assert planner.level is SkipLevel.NONE
    assert planner.stream_fps == 0.0
    assert planner.key_interval_s is None


def test_planner_given_reference_frames_too_sparse_should_decode_every_frame() -> None:
    # Skipping non-reference frames leaves 1 of 4 (6.25 fps) for a 5 fps
    # analysis: under 1.5 times the rate, so the planner gives it up for good.
    planner = SkipPlanner(analysis_fps=5.0, mode=SkipFrames.AUTO)
    level = _feed(planner, fps=25, gop=50, seconds=6, decoded_per_packet=0.25)
    assert level is SkipLevel.NONE
    assert _feed(planner, fps=25, gop=50, seconds=4) is SkipLevel.NONE


def test_planner_given_enough_reference_frames_should_keep_skipping() -> None:
    planner = SkipPlanner(analysis_fps=5.0, mode=SkipFrames.AUTO)
    level = _feed(planner, fps=25, gop=50, seconds=6, decoded_per_packet=0.34)
    assert level is SkipLevel.NON_REFERENCE


def test_planner_given_key_frames_stop_should_leave_key_only_decoding() -> None:
    planner = SkipPlanner(analysis_fps=0.5, mode=SkipFrames.AUTO)
    assert _feed(planner, fps=25, gop=50, seconds=10) is SkipLevel.NON_KEY
    # the camera now sends one key frame in ten seconds
    level = SkipLevel.NON_KEY
    for i in range(1, 4 * 25):
        level = planner.observe_packet(at_s=10 + i / 25, is_key=False)
    assert level is SkipLevel.NON_REFERENCE


def test_planner_given_reset_should_forget_the_stream() -> None:
    planner = SkipPlanner(analysis_fps=0.5, mode=SkipFrames.AUTO)
    _feed(planner, fps=25, gop=50, seconds=10)
    planner.reset()
    assert planner.level is SkipLevel.NONE
    assert planner.key_interval_s is None
    assert planner.stream_fps == 0.0


def test_planner_given_timestamps_running_backwards_should_keep_its_clock() -> None:
    planner = SkipPlanner(analysis_fps=5.0, mode=SkipFrames.AUTO)
    for at_s in (0.0, 0.04, 0.08, 0.02, 0.12):
        planner.observe_packet(at_s=at_s, is_key=False)
    assert planner.stream_fps == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("analysis_fps", "raises"),
    [
        (5.0, nullcontext()),
        (0.0, pytest.raises(ValueError, match=r"analysis_fps must be > 0, got 0\.0")),
        (-1.0, pytest.raises(ValueError, match="analysis_fps")),
    ],
)
def test_planner_given_analysis_fps_should_accept_only_positive(
    analysis_fps: float, raises: AbstractContextManager[object]
) -> None:
    with raises:
        SkipPlanner(analysis_fps=analysis_fps, mode=SkipFrames.AUTO)
