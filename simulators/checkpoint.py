"""Face-checkpoint feed simulator: POST a clip's frames as JPEG snapshots."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import cv2
import httpx
import numpy as np
import numpy.typing as npt

from gridwatch.secrets import SecretError, read_secret_file
from simulators.cli import run_module_cli
from simulators.signals import stop_on_signals
from simulators.transcode import FALLBACK_FPS, ClipError, probe_clip

logger = logging.getLogger(__name__)

FALLBACK_CLIP_FPS = float(FALLBACK_FPS)


class FeedError(ValueError):
    """The feed cannot run: bad settings or an unreadable clip."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Settings of one checkpoint feed.

    Attributes:
        clip: Video or GIF whose frames are sent.
        url: Snapshot endpoint, e.g. ``http://host:port/snapshots/<camera_id>``.
        checkpoint_id: Sent as ``X-Checkpoint-Id``.
        fps: Snapshots per second.
        loop: Start the clip again at its end instead of stopping.
        max_frames: Stop after this many snapshots (sent or failed).
        max_seconds: Stop after this many seconds.
        speed: Clip seconds played per wall-clock second; the snapshot taken
            at wall time t shows the clip at ``t * speed``.
        jpeg_quality: JPEG quality, 1..100.
        timeout_s: HTTP timeout per snapshot in seconds.
        secret: The checkpoint's push secret, sent as ``Authorization: Bearer``.
    """

    clip: Path
    url: str
    checkpoint_id: str
    fps: float = 2.0
    loop: bool = False
    max_frames: int | None = None
    max_seconds: float | None = None
    speed: float = 1.0
    jpeg_quality: int = 85
    timeout_s: float = 2.0
    secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        checks = {
            "fps": self.fps > 0,
            "speed": self.speed > 0,
            "timeout_s": self.timeout_s > 0,
            "jpeg_quality": 1 <= self.jpeg_quality <= 100,
            "max_frames": self.max_frames is None or self.max_frames >= 1,
            "max_seconds": self.max_seconds is None or self.max_seconds > 0,
            "url": self.url.startswith(("http://", "https://")),
            "checkpoint_id": bool(self.checkpoint_id),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{n}={getattr(self, n)!r}" for n in bad)
            raise FeedError(f"invalid checkpoint feed settings: {values}")


@dataclass(frozen=True, slots=True)
class FeedSummary:
    """Outcome of a feed run.

    Attributes:
        sent: Snapshots the endpoint accepted (2xx).
        failed: Snapshots refused or not delivered.
        elapsed_s: Wall-clock run time in seconds.
    """

    sent: int
    failed: int
    elapsed_s: float

    @property
    def attempted(self) -> int:
        """Snapshots tried."""
        return self.sent + self.failed


class ClipFrames:
    """Frames of a clip looked up by clip time, read forward, optionally looping.

    Args:
        path: Video or GIF file.
        loop: Wrap clip times past the end instead of ending.

    Raises:
        FeedError: the clip is missing or cannot be decoded.
    """

    def __init__(self, path: Path, *, loop: bool) -> None:
        if not path.is_file():
            raise FeedError(f"clip not found: {path}")
        self.path = path
        self.loop = loop
        self.fps = self._probe_fps()
        self._capture = self._open()
        self._frame_count: int | None = None
        self._position = -1
        self._frame: npt.NDArray[np.uint8] | None = None
        if self.frame_at(0.0) is None:
            raise FeedError(f"clip has no decodable frame: {path}")

    def _probe_fps(self) -> float:
        # ffprobe's average rate is the clip's real pace; OpenCV reports the
        # nominal rate, which is off for GIFs (12.5 for a 12 fps GIF).
        try:
            return float(probe_clip(self.path).fps)
        except ClipError as exc:
            raise FeedError(str(exc)) from exc
        except RuntimeError:
            logger.warning(
                "ffprobe missing: assuming %s fps for %s", FALLBACK_CLIP_FPS, self.path
            )
            return FALLBACK_CLIP_FPS

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not capture.isOpened():
            raise FeedError(f"cannot open clip: {self.path}")
        return capture

    def frame_at(self, clip_s: float) -> npt.NDArray[np.uint8] | None:
        """Return the frame shown at a clip time.

        Args:
            clip_s: Seconds from the clip start; times only move forward,
                except when wrapping around a loop.

        Returns:
            BGR frame (H, W, 3) uint8, or None once the clip has ended
            (never when looping).
        """
        target = int(clip_s * self.fps)
        while True:
            if self._frame_count is not None:
                if not self.loop and target >= self._frame_count:
                    return None
                target %= self._frame_count
            if target < self._position:
                self._rewind()
            while self._position < target and self._capture.grab():
                self._position += 1
                self._frame = None
            if self._position == target:
                return self._current()
            self._frame_count = self._position + 1
            if self._frame_count == 0:
                return None

    def _current(self) -> npt.NDArray[np.uint8] | None:
        if self._frame is None:
            ok, frame = self._capture.retrieve()
            self._frame = np.asarray(frame, dtype=np.uint8) if ok else None
        return self._frame

    def _rewind(self) -> None:
        self._capture.release()
        self._capture = self._open()
        self._position = -1
        self._frame = None

    def close(self) -> None:
        """Release the decoder."""
        self._capture.release()


def _rfc3339_utc(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class CheckpointFeeder:
    """Push JPEG snapshots of a clip to a snapshot endpoint at a set rate.

    A failed POST (endpoint down, timeout, non-2xx) is counted and logged,
    and the next snapshot is tried on schedule.

    Args:
        config: Feed settings.
        client: HTTP client to use; one is made (and closed) when omitted.
    """

    def __init__(
        self, config: FeedConfig, *, client: httpx.Client | None = None
    ) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_s)
        self._owns_client = client is None
        self._failing_since: int | None = None

    def __enter__(self) -> CheckpointFeeder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this feeder made it."""
        if self._owns_client:
            self._client.close()

    def send(self, jpeg: bytes, *, captured_at: datetime) -> bool:
        """POST one JPEG snapshot.

        Args:
            jpeg: Encoded image.
            captured_at: Capture time, sent as RFC 3339 UTC ``X-Captured-At``.

        Returns:
            True when the endpoint answered 2xx.
        """
        headers = {
            "Content-Type": "image/jpeg",
            "X-Checkpoint-Id": self.config.checkpoint_id,
            "X-Captured-At": _rfc3339_utc(captured_at),
        }
        if self.config.secret:
            headers["Authorization"] = f"Bearer {self.config.secret}"
        try:
            response = self._client.post(self.config.url, content=jpeg, headers=headers)
        except httpx.HTTPError as exc:
            return self._note_failure(f"{type(exc).__name__}: {exc}")
        if not response.is_success:
            return self._note_failure(
                f"HTTP {response.status_code}: {response.text[:200]}"
            )
        if self._failing_since is not None:
            logger.info(
                "checkpoint %s: endpoint %s back after %d failed snapshots",
                self.config.checkpoint_id,
                self.config.url,
                self._failing_since,
            )
            self._failing_since = None
        return True

    def _note_failure(self, reason: str) -> bool:
        if self._failing_since is None:
            self._failing_since = 0
            logger.warning(
                "checkpoint %s: POST %s failed (%s); retrying with the next frame",
                self.config.checkpoint_id,
                self.config.url,
                reason,
            )
        else:
            logger.debug(
                "checkpoint %s: snapshot failed: %s", self.config.checkpoint_id, reason
            )
        self._failing_since += 1
        return False

    def _encode(self, frame: npt.NDArray[np.uint8]) -> bytes:
        ok, buffer = cv2.imencode(
            ".jpg", frame, [int(cv2.IMWRITE_JPEG_QUALITY), self.config.jpeg_quality]
        )
        if not ok:
            raise FeedError(f"JPEG encoding failed for {self.config.clip}")
        return bytes(buffer.tobytes())

    def _is_done(self, *, attempted: int, elapsed_s: float) -> bool:
        cfg = self.config
        if cfg.max_frames is not None and attempted >= cfg.max_frames:
            return True
        return cfg.max_seconds is not None and elapsed_s >= cfg.max_seconds

    def run(self, stop_event: threading.Event | None = None) -> FeedSummary:
        """Send snapshots until a limit, the clip end (no loop) or `stop_event`.

        Args:
            stop_event: Set it from another thread to stop early.

        Returns:
            Counts of sent and failed snapshots.

        Raises:
            FeedError: the clip cannot be read.
        """
        stop = stop_event or threading.Event()
        period_s = 1.0 / self.config.fps
        frames = ClipFrames(self.config.clip, loop=self.config.loop)
        sent = failed = 0
        start = due = time.monotonic()
        try:
            while not self._is_done(attempted=sent + failed, elapsed_s=due - start):
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
                frame = frames.frame_at((due - start) * self.config.speed)
                if frame is None:
                    break
                captured_at = datetime.now(UTC)
                if self.send(self._encode(frame), captured_at=captured_at):
                    sent += 1
                else:
                    failed += 1
                # A slow endpoint skips missed slots instead of bursting to catch up.
                due = max(due + period_s, time.monotonic())
        finally:
            frames.close()
        summary = FeedSummary(
            sent=sent, failed=failed, elapsed_s=time.monotonic() - start
        )
        logger.info(
            "checkpoint %s: sent=%d failed=%d in %.1f s",
            self.config.checkpoint_id,
            summary.sent,
            summary.failed,
            summary.elapsed_s,
        )
        return summary


# -- command line -------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the checkpoint feed's options to a parser (``gridwatch sim checkpoint``)."""
    parser.add_argument("--clip", type=Path, required=True, help="video or GIF to send")
    parser.add_argument(
        "--url",
        required=True,
        help="snapshot endpoint, e.g. http://127.0.0.1:8080/snapshots/cam-1",
    )
    parser.add_argument(
        "--checkpoint-id", default=None, help="X-Checkpoint-Id (default: clip name)"
    )
    parser.add_argument("--fps", type=float, default=2.0, help="snapshots per second")
    parser.add_argument(
        "--loop", action="store_true", help="repeat the clip at its end"
    )
    parser.add_argument("--seconds", type=float, default=None, help="stop after N s")
    parser.add_argument(
        "--frames", type=int, default=None, help="stop after N snapshots"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="clip seconds per wall second"
    )
    parser.add_argument("--jpeg-quality", type=int, default=85, help="1..100")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="HTTP timeout per snapshot (s)"
    )
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="file holding the checkpoint's push secret (the node refuses pushes "
        "without it)",
    )


def config_from_args(args: argparse.Namespace) -> FeedConfig:
    """Build a `FeedConfig` from parsed command-line arguments.

    Raises:
        FeedError: a value is out of range.
    """
    return FeedConfig(
        clip=args.clip,
        url=args.url,
        checkpoint_id=args.checkpoint_id or args.clip.stem,
        fps=args.fps,
        loop=args.loop,
        max_frames=args.frames,
        max_seconds=args.seconds,
        speed=args.speed,
        jpeg_quality=args.jpeg_quality,
        timeout_s=args.timeout,
        secret=_read_secret(args.secret_file),
    )


def _read_secret(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return read_secret_file(path)
    except SecretError as error:
        raise FeedError(f"--secret-file {error}") from None


def run_cli(args: argparse.Namespace) -> int:
    """Run a feed until its limits or SIGINT/SIGTERM and print a summary.

    Returns:
        0 when a snapshot was accepted or none was tried, 1 when every
        snapshot failed, 2 for bad settings or an unreadable clip.
    """
    try:
        config = config_from_args(args)
        with (
            stop_on_signals(threading.Event()) as stop,
            CheckpointFeeder(config) as feeder,
        ):
            summary = feeder.run(stop)
    except FeedError as exc:
        logger.error("checkpoint: %s", exc)
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(
        f"checkpoint {config.checkpoint_id}: sent={summary.sent} "
        f"failed={summary.failed} in {summary.elapsed_s:.1f} s\n"
    )
    return 0 if summary.sent > 0 or summary.failed == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m simulators.checkpoint``."""
    return run_module_cli(
        argv,
        prog="python -m simulators.checkpoint",
        description=__doc__,
        add_arguments=add_arguments,
        run_cli=run_cli,
    )


if __name__ == "__main__":
    sys.exit(main())
