"""The limit: what the cores could analyse doing nothing but decode and infer."""

from __future__ import annotations

import pytest

from harness.bench.limit import (
    limit_fps,
    limit_streams,
    usable_cores,
    useful_cpu_share,
)


@pytest.mark.parametrize(
    ("decode_ms_per_s", "expected"),
    [
        (0.0, 400.0),  # 2 cores, 5 ms an image
        (500.0, 300.0),  # a quarter of the cores decode
        (2000.0, 0.0),
        (3000.0, 0.0),  # decoding alone exceeds the cores
    ],
)
def test_limit_fps_given_decode_load_should_leave_the_rest_to_the_detector(
    decode_ms_per_s: float, expected: float
) -> None:
    assert limit_fps(
        cores=2, infer_cpu_ms_per_image=5.0, decode_cpu_ms_per_s=decode_ms_per_s
    ) == pytest.approx(expected)


def test_limit_streams_given_costs_should_divide_the_cores() -> None:
    # 5 images a second at 10 ms = 50 ms, decoding 50 ms more: 100 ms a stream
    streams = limit_streams(
        cores=2,
        infer_cpu_ms_per_image=10.0,
        decode_cpu_ms_per_stream_s=50.0,
        analysis_fps=5.0,
    )
    assert streams == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("cores", "image_ms", "decode_ms", "named"),
    [
        (0, 5.0, 0.0, "cores must be >= 1"),
        (2, 0.0, 0.0, "infer_cpu_ms_per_image"),
        (2, 5.0, -1.0, "decode_cpu_ms_per_s"),
    ],
)
def test_limit_fps_given_bad_input_should_raise(
    cores: int, image_ms: float, decode_ms: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        limit_fps(
            cores=cores, infer_cpu_ms_per_image=image_ms, decode_cpu_ms_per_s=decode_ms
        )


@pytest.mark.parametrize(
    ("decode", "fps", "named"),
    [(-0.1, 5.0, "decode_cpu_ms_per_stream_s"), (1.0, 0.0, "analysis_fps")],
)
def test_limit_streams_given_bad_input_should_raise(
    decode: float, fps: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        limit_streams(
            cores=2,
            infer_cpu_ms_per_image=5.0,
            decode_cpu_ms_per_stream_s=decode,
            analysis_fps=fps,
        )


@pytest.mark.parametrize(
    ("cpu_percent", "expected"),
    [
        (100.0, 0.6),  # 100 images x 5 ms + 100 ms decoding in one core-second
        (0.0, None),
    ],
)
def test_useful_cpu_share_given_node_cpu_should_compare_the_useful_part(
    cpu_percent: float, expected: float | None
) -> None:
    share = useful_cpu_share(
        analysed_fps=100.0,
        infer_cpu_ms_per_image=5.0,
        decode_cpu_ms_per_s=100.0,
        node_cpu_percent=cpu_percent,
    )
    assert share == (pytest.approx(expected) if expected is not None else None)


def test_usable_cores_should_count_at_least_one() -> None:
    assert usable_cores() >= 1
