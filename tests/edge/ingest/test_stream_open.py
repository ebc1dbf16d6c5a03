"""How camera streams are opened: FFmpeg's socket timeout bounds the reads."""

from __future__ import annotations

import pytest

from edge.ingest.stream_open import stream_open_arguments


@pytest.mark.parametrize(
    "url", ["rtsp://cam.example/live", "RTSP://u:p@10.0.0.2:554/s1", "rtsps://h/x"]
)
def test_rtsp_given_read_timeout_should_use_ffmpegs_socket_timeout(url: str) -> None:
    arguments = stream_open_arguments(
        url, is_file=False, open_timeout_s=5, read_timeout_s=2.5
    )
    assert arguments == {
        "options": {"rtsp_transport": "tcp", "timeout": "2500000"},
        "timeout": (5, None),  # no PyAV read timeout: it takes the GIL per wait
    }


def test_other_network_url_should_bound_reads_with_rw_timeout() -> None:
    arguments = stream_open_arguments(
        "http://cam.example/stream.ts", is_file=False, open_timeout_s=4,
        read_timeout_s=0.0000001,
    )  # fmt: skip
    assert arguments == {"options": {"rw_timeout": "1"}, "timeout": (4, None)}


def test_file_should_have_no_transport_and_no_read_timeout() -> None:
    arguments = stream_open_arguments(
        "/videos/clip.mp4", is_file=True, open_timeout_s=5, read_timeout_s=5
    )
    assert arguments == {"options": {}, "timeout": (5, None)}
