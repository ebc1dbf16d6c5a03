"""Stream URLs lose their credentials before they reach a log or an error."""

from __future__ import annotations

import pytest

from edge.ingest.stream_url import redact_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:pw@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("rtsp://admin@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("rtsp://u:p@ss@cam/s", "rtsp://***@cam/s"),
        ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
        ("/videos/clip.mp4", "/videos/clip.mp4"),
        ("", ""),
        ("rtsp://[::1/x", "<unparsable url>"),
    ],
)
def test_redact_given_url_should_hide_credentials(url: str, shown: str) -> None:
    assert redact_credentials(url) == shown
