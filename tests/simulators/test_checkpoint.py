"""Checkpoint feed simulator against a real (stdlib) HTTP receiver."""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from harness.services import free_port
from simulators.checkpoint import (
    CheckpointFeeder,
    ClipFrames,
    FeedConfig,
    FeedError,
    add_arguments,
    config_from_args,
    run_cli,
)

GIF = "person-bicycle-car-detection.gif"  # 41 frames, 3.41 s, 480x270
MP4 = "test_video.mp4"  # 38 frames, 1.52 s, 1280x720


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: Message
    body: bytes
    at: float


@dataclass
class Receiver:
    """A snapshot endpoint that records every POST."""

    port: int
    status: HTTPStatus = HTTPStatus.NO_CONTENT
    received: list[Received] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/snapshots/cam-7"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    Received(self.path, self.headers, body, time.monotonic())
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._httpd.server_address[1])
        threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True
        ).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver(port=0)
    endpoint.start()
    yield endpoint
    endpoint.stop()


def test_checkpoint_feeder_given_live_endpoint_should_post_jpegs_with_headers(
    videos_dir: Path, receiver: Receiver
) -> None:
    config = FeedConfig(
        clip=videos_dir / GIF,
        url=receiver.url,
        checkpoint_id="cp-12",
        fps=10.0,
        max_frames=12,
    )
    before = datetime.now(UTC)

    with CheckpointFeeder(config) as feeder:
        summary = feeder.run()

    assert (summary.sent, summary.failed) == (12, 0)
    assert len(receiver.received) == 12
    for post in receiver.received:
        assert post.path == "/snapshots/cam-7"
        assert post.headers["Content-Type"] == "image/jpeg"
        assert post.headers["X-Checkpoint-Id"] == "cp-12"
        captured_at = datetime.fromisoformat(post.headers["X-Captured-At"])
        assert post.headers["X-Captured-At"].endswith("Z")
        assert before - timedelta(seconds=1) <= captured_at <= datetime.now(UTC)
        image = cv2.imdecode(np.frombuffer(post.body, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        assert image.shape == (270, 480, 3)
    gaps = np.diff([p.at for p in receiver.received])
    assert statistics.median(gaps) == pytest.approx(0.1, abs=0.03)


def test_checkpoint_feeder_given_a_secret_should_send_it_as_bearer(
    videos_dir: Path, receiver: Receiver, tmp_path: Path
) -> None:
    secret_file = tmp_path / "cp.secret"
    secret_file.write_text("cp-12-push-secret-0123456789\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            *("--clip", str(videos_dir / GIF), "--url", receiver.url),
            *("--frames", "2", "--secret-file", str(secret_file)),
        ]
    )
    config = config_from_args(args)
    assert "secret" not in repr(config)
    with CheckpointFeeder(config) as feeder:
        assert feeder.run().sent == 2
    assert {p.headers["Authorization"] for p in receiver.received} == {
        "Bearer cp-12-push-secret-0123456789"
    }


def test_checkpoint_feeder_given_endpoint_down_should_keep_going_and_recover(
    videos_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = Receiver(port=free_port())
    config = FeedConfig(
        clip=videos_dir / MP4,
        url=endpoint.url,
        checkpoint_id="cp-down",
        fps=20.0,
        loop=True,
        max_seconds=1.5,
        timeout_s=0.5,
    )
    caplog.set_level(logging.INFO, logger="simulators.checkpoint")
    results: list[Any] = []

    with CheckpointFeeder(config) as feeder:
        worker = threading.Thread(target=lambda: results.append(feeder.run()))
        worker.start()
        time.sleep(0.5)
        endpoint.start()
        worker.join(timeout=10)
    endpoint.stop()

    summary = results[0]
    assert summary.failed >= 3
    assert summary.sent >= 10
    assert summary.sent == len(endpoint.received)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per outage, not one per frame"
    assert "cp-down" in warnings[0].getMessage()
    assert any("back after" in r.getMessage() for r in caplog.records)


def test_checkpoint_feeder_given_error_status_should_count_failures(
    videos_dir: Path, receiver: Receiver
) -> None:
    receiver.status = HTTPStatus.SERVICE_UNAVAILABLE
    config = FeedConfig(
        clip=videos_dir / MP4,
        url=receiver.url,
        checkpoint_id="cp",
        fps=50,
        max_frames=3,
    )

    with CheckpointFeeder(config) as feeder:
        summary = feeder.run()

    assert (summary.sent, summary.failed) == (0, 3)


@pytest.mark.parametrize(("loop", "fewest", "most"), [(False, 5, 8), (True, 12, 12)])
def test_checkpoint_feeder_given_clip_end_should_stop_unless_looping(
    videos_dir: Path, receiver: Receiver, loop: bool, fewest: int, most: int
) -> None:
    # At 2x speed and 10 snapshots/s each snapshot moves 0.2 s into the 1.52 s
    # clip: 8 snapshots before its end (fewer if a slow send skips a slot).
    config = FeedConfig(
        clip=videos_dir / MP4,
        url=receiver.url,
        checkpoint_id="cp",
        fps=10.0,
        speed=2.0,
        loop=loop,
        max_frames=12,
    )

    with CheckpointFeeder(config) as feeder:
        summary = feeder.run()

    assert fewest <= summary.sent <= most


def test_checkpoint_feeder_given_stop_event_should_return_early(
    videos_dir: Path, receiver: Receiver
) -> None:
    config = FeedConfig(clip=videos_dir / MP4, url=receiver.url, checkpoint_id="cp")
    stop = threading.Event()
    stop.set()

    with CheckpointFeeder(config) as feeder:
        summary = feeder.run(stop)

    assert summary.attempted == 0


@pytest.mark.parametrize(
    ("loop", "clip_s", "is_frame"),
    [(False, 0.0, True), (False, 3.3, True), (False, 3.6, False), (True, 3.6, True)],
)
def test_clip_frames_given_time_past_end_should_wrap_only_when_looping(
    videos_dir: Path, loop: bool, clip_s: float, is_frame: bool
) -> None:
    frames = ClipFrames(videos_dir / GIF, loop=loop)
    try:
        frame = frames.frame_at(clip_s)
    finally:
        frames.close()

    assert (frame is not None) == is_frame


def test_clip_frames_given_junk_file_should_raise_feed_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)

    with pytest.raises(FeedError, match=r"junk\.mp4"):
        ClipFrames(junk, loop=False)


@pytest.mark.parametrize(
    ("change", "is_valid"),
    [
        ({}, True),
        ({"fps": 0.0}, False),
        ({"speed": -1.0}, False),
        ({"jpeg_quality": 0}, False),
        ({"max_frames": 0}, False),
        ({"max_seconds": 0.0}, False),
        ({"url": "ftp://example/snap"}, False),
        ({"checkpoint_id": ""}, False),
    ],
)
def test_feed_config_given_one_changed_value_should_validate(
    change: dict[str, Any], is_valid: bool
) -> None:
    values: dict[str, Any] = {
        "clip": Path("clip.mp4"),
        "url": "http://127.0.0.1:1/snapshots/cam",
        "checkpoint_id": "cp",
    }
    values.update(change)

    if is_valid:
        FeedConfig(**values)
    else:
        with pytest.raises(FeedError, match=next(iter(change))):
            FeedConfig(**values)


def test_run_cli_given_frame_limit_should_print_summary(
    videos_dir: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            *("--clip", str(videos_dir / MP4), "--url", receiver.url),
            *("--fps", "50", "--frames", "3", "--checkpoint-id", "cp-cli"),
        ]
    )

    assert run_cli(args) == 0
    assert "checkpoint cp-cli: sent=3 failed=0" in capsys.readouterr().out
    assert [p.headers["X-Checkpoint-Id"] for p in receiver.received] == ["cp-cli"] * 3


def test_run_cli_given_missing_clip_should_return_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--clip", str(tmp_path / "none.mp4"), "--url", "http://127.0.0.1:1/s/c"]
    )

    assert run_cli(args) == 2
    assert "clip not found" in capsys.readouterr().err
