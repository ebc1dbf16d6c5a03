"""`gridwatch bench readers` for real: RTSP simulator, PyAV readers."""

from __future__ import annotations

import json

import pytest

from harness.cli import main

pytestmark = pytest.mark.integration


def test_bench_readers_given_tiny_run_should_read_every_stream_both_ways(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["--log-level", "WARNING", "bench", "readers", "--streams", "1",
         "--seconds", "1.5", "--warmup-s", "1", "--rounds", "1", "--clip-s", "6",
         "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    figures = json.loads(captured.out.strip().splitlines()[-1])
    assert figures["streams_read"] == 2
    assert [r["mode"] for r in figures["rounds"]] == ["pyav_timeout", "socket_timeout"]
    for row in figures["rounds"]:
        assert row["errors"] == []
        assert row["packets_per_s"] > 30  # two streams at 25 fps
        assert row["python_loops_per_s"] > 0
    assert figures["socket_over_pyav"] > 0


def test_bench_readers_given_no_streams_should_refuse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "readers", "--streams", "0"]) == 2
    assert "--streams and --rounds must be at least 1" in capsys.readouterr().err
