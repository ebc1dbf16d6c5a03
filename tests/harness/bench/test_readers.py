"""`bench readers`: the two read-timeout modes and the summary."""

from __future__ import annotations

import pytest

from harness.bench.readers import open_arguments, summarise


def test_open_arguments_should_differ_only_in_how_reads_are_bounded() -> None:
    url = "rtsp://127.0.0.1:8554/sub360-0"
    socket = open_arguments("socket_timeout", url)
    pyav = open_arguments("pyav_timeout", url)
    assert socket["options"]["timeout"] == "10000000"
    assert socket["timeout"] == (10.0, None)
    assert pyav == {"options": {"rtsp_transport": "tcp"}, "timeout": 10.0}
    with pytest.raises(ValueError, match="unknown mode 'nogil'"):
        open_arguments("nogil", url)


def test_summarise_should_take_each_modes_median_and_their_ratio() -> None:
    rounds = [
        {"mode": "pyav_timeout", "python_loops_per_s": 100},
        {"mode": "socket_timeout", "python_loops_per_s": 110},
        {"mode": "pyav_timeout", "python_loops_per_s": 200},
        {"mode": "socket_timeout", "python_loops_per_s": 220},
    ]
    figures = summarise(rounds, cameras=3)
    assert figures["cameras"] == 3
    assert figures["streams_read"] == 6
    assert figures["python_loops_per_s"] == {
        "pyav_timeout": 150,
        "socket_timeout": 165,
    }
    assert figures["socket_over_pyav"] == 1.1
