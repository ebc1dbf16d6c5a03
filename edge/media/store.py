"""The node's local clip folder, bounded in bytes (oldest clips go first)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CLIP_SUFFIX = ".mp4"


class LocalClipStore:
    """Clips on disk as `<dir>/<event_id>.mp4`.

    Args:
        directory: The folder (created).
        max_bytes: Largest total size; `prune` deletes the oldest clips beyond it,
            except those `keep` names (waiting for upload).
        node_id: For log lines.
        keep: Paths that must not be deleted now (pending uploads).

    Raises:
        ValueError: `max_bytes` is not positive.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        node_id: str = "-",
        keep: Callable[[], set[Path]] | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
        self.directory = directory
        self.max_bytes = max_bytes
        self._node_id = node_id
        self._keep = keep or set
        directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, event_id: str) -> Path:
        """Where the clip of `event_id` goes.

        Raises:
            ValueError: the id could not be a file name.
        """
        if not _SAFE_ID.fullmatch(event_id) or event_id.startswith("."):
            raise ValueError(f"event id {event_id!r} cannot name a clip file")
        return self.directory / f"{event_id}{CLIP_SUFFIX}"

    def remove(self, path: Path) -> None:
        """Delete a clip (e.g. central has it); a missing file is fine."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def clips(self) -> list[Path]:
        """Clip files, oldest first."""
        found = []
        for path in self.directory.glob(f"*{CLIP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                found.append((path.stat().st_mtime, path))
        return [path for _, path in sorted(found)]

    def prune(self) -> int:
        """Delete the oldest clips not kept until the folder fits; how many went."""
        keep = {p.resolve() for p in self._keep()}
        sized = []
        for path in self.clips():
            with contextlib.suppress(FileNotFoundError):
                sized.append((path, path.stat().st_size))
        total = sum(size for _, size in sized)
        removed = 0
        for path, size in sized:
            if total <= self.max_bytes:
                break
            if path.resolve() in keep:
                continue
            self.remove(path)
            total -= size
            removed += 1
        if total > self.max_bytes:
            logger.warning(
                "node %s: clip folder %s holds %.1f MiB waiting for upload "
                "(limit %.1f MiB)",
                self._node_id,
                self.directory,
                total / 2**20,
                self.max_bytes / 2**20,
            )
        return removed
