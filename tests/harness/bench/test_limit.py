"""The limit: what the cores could analyse doing nothing but decode and infer."""

from __future__ import annotations

import pytest

from harness.bench.limit import limit_fps, limit_streams, usable_cores


@pytest.mark.parametrize(
    ("cores", "ceiling", "decode_cores", "expected"),
    [
        (2, 300.0, 0.0, 300.0),
        (2, 300.0, 0.5, 225.0),  # a quarter of the cores decode
        (2, 300.0, 2.0, 0.0),
        (2, 300.0, 3.0, 0.0),  # decoding alone exceeds the cores
    ],
)
def test_limit_fps_given_decode_load_should_scale_the_ceiling(
    cores: int, ceiling: float, decode_cores: float, expected: float
) -> None:
    assert limit_fps(
        cores=cores, ceiling_fps=ceiling, decode_cores=decode_cores
    ) == pytest.approx(expected)


def test_limit_streams_given_costs_should_divide_the_cores() -> None:
    # an image costs 2/200 = 0.01 core-s, 5 a second 0.05; decoding 0.05 more
    streams = limit_streams(
        cores=2, ceiling_fps=200.0, decode_cores_per_stream=0.05, analysis_fps=5.0
    )
    assert streams == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"cores": 0, "ceiling_fps": 1.0, "decode_cores": 0.0}, "cores must be >= 1"),
        ({"cores": 2, "ceiling_fps": 0.0, "decode_cores": 0.0}, "ceiling_fps"),
        ({"cores": 2, "ceiling_fps": 1.0, "decode_cores": -1.0}, "decode_cores"),
    ],
)
def test_limit_fps_given_bad_input_should_raise(
    kwargs: dict[str, float], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        limit_fps(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("decode", "fps", "named"),
    [(-0.1, 5.0, "decode_cores_per_stream"), (0.1, 0.0, "analysis_fps")],
)
def test_limit_streams_given_bad_input_should_raise(
    decode: float, fps: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        limit_streams(
            cores=2, ceiling_fps=100.0, decode_cores_per_stream=decode, analysis_fps=fps
        )


def test_usable_cores_should_count_at_least_one() -> None:
    assert usable_cores() >= 1
