"""`gridwatch bench density` for real: RTSP simulator, broker, YOLOX-Nano."""

from __future__ import annotations

import json

import pytest

from harness.cli import main

pytestmark = pytest.mark.integration


def test_bench_density_given_tiny_run_should_print_sane_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "density", "--start-streams", "1",
         "--max-streams", "2", "--resolution", "1", "--trial-s", "3",
         "--warmup-s", "1", "--ceiling-s", "0.5", "--decode-s", "0.3",
         "--clip-s", "6", "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    figures = json.loads(captured.out.strip().splitlines()[-1])
    required = {
        "streams_sustained", "streams_per_core", "source", "analysis_fps",
        "limit_fps", "ratio_to_limit", "cpu_percent", "rss_mb", "trials",
        "decode_cpu_ms_per_stream_s",
    }  # fmt: skip
    assert required <= set(figures)
    assert "bench density: trial with 1 streams" in captured.err
    assert figures["analysis_fps"] == 5.0
    assert "640x360 sub-stream" in figures["source"]
    trials = figures["trials"]
    assert [t["streams"] for t in trials][:1] == [1]
    for trial in trials:
        assert trial["analysed_fps"] > 0
        # the node decodes the 25 fps sub-stream of each camera
        assert trial["decoded_fps"] > 10 * trial["streams"]
        assert trial["rss_mb"] > 50
    assert figures["streams_sustained"] in (0, 1, 2)
    assert figures["streams_per_core"] == pytest.approx(
        figures["streams_sustained"] / figures["cores"], abs=0.01
    )
    assert figures["limit_fps"] > 0
    decode = figures["decode_cpu_ms_per_stream_s"]
    # 1280x720 costs more to decode than 640x360
    assert decode["main_every_frame"] > decode["detect_every_frame"] > 0
    # with B-frames, skipping the non-reference ones saves decoding
    assert figures["decoded_share"]["main_b_frames_economy"] < 0.6
    assert decode["main_b_frames_economy"] < 0.8 * decode["main_b_frames_every_frame"]
    # the limit: the cores' CPU time over what one stream costs to decode and infer
    per_stream_ms = decode["detect_economy"] + 5.0 * figures["infer_cpu_ms_per_image"]
    assert figures["limit_streams"] == pytest.approx(
        figures["cores"] * 1000 / per_stream_ms, rel=0.02
    )
    if figures["streams_sustained"]:
        assert figures["ratio_to_limit"] == pytest.approx(
            figures["analysed_fps"] / figures["limit_fps"], abs=0.01
        )
        assert 0 < figures["cpu_ratio_to_limit"] <= 1.5
        assert figures["streams_per_core_by_cpu"] > 0
