"""Content-addressed media files: snapshots, clips and resolution photos.

A file is stored once under its SHA-256 at ``dir/ab/abcdef….ext`` (the first
two hex digits name the sub-folder), written to a temporary file and renamed
into place, so a reader never sees half a file and saving the same bytes twice
is a no-op. What a file is comes from its first bytes, never from what the
uploader claims. Before anything is stored it is screened for faces
(`central/media_scrub.py`): a worker's photo is stored re-encoded, metadata
gone and faces blurred; an edge node's snapshot or clip that still shows a face
is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from central.media_screen import (
    MediaCheckUnavailable,
    MediaKind,
    MediaRejected,
    MediaScreen,
    MediaShowsFace,
)

__all__ = [
    "MEDIA_KINDS",
    "MediaCheckUnavailable",
    "MediaKind",
    "MediaRejected",
    "MediaScreen",
    "MediaShowsFace",
    "MediaStore",
    "StoredMedia",
]

MEDIA_KINDS: tuple[MediaKind, ...] = ("snapshot", "clip", "photo")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# extension → content type of everything the store accepts
CONTENT_TYPES: dict[str, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}

_IMAGE_KINDS = frozenset({"snapshot", "photo"})


@dataclass(frozen=True, slots=True)
class StoredMedia:
    sha256: str
    content_type: str
    size: int
    path: Path


def is_sha256(value: str) -> bool:
    """Whether `value` is 64 lowercase hex digits (a media id)."""
    return bool(_SHA256.fullmatch(value))


def _image_ext(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _video_ext(data: bytes) -> str | None:
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mov" if data[8:12] == b"qt  " else "mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


def describe(data: bytes) -> str:
    """A short human name for what `data` looks like (for error messages)."""
    if not data:
        return "an empty body"
    if (ext := _image_ext(data) or _video_ext(data)) is not None:
        return f"{CONTENT_TYPES[ext]} data"
    known = (
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"BM", "a BMP image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
    )
    for magic, name in known:
        if data.startswith(magic):
            return name
    head = data[:512]
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        stripped = text.lstrip().lower()
        if stripped.startswith(("<!doctype html", "<html")):
            return "an HTML document"
        if stripped.startswith(("{", "[")):
            return "JSON text"
        return "plain text"
    return f"unknown data starting with {data[:8].hex(' ')}"


def sniff(data: bytes, kind: MediaKind) -> tuple[str, str]:
    """(extension, content type) of `data` as a `kind`, or MediaRejected."""
    if kind in _IMAGE_KINDS:
        ext = _image_ext(data)
        wanted = "a JPEG, PNG or WebP image"
    elif kind == "clip":
        ext = _video_ext(data)
        wanted = "an MP4/MOV (ftyp) or WebM video"
    else:
        raise MediaRejected(
            f"unknown media kind {kind!r} (one of {', '.join(MEDIA_KINDS)})"
        )
    if ext is None:
        raise MediaRejected(f"a {kind} must be {wanted}; got {describe(data)}")
    return ext, CONTENT_TYPES[ext]


class MediaStore:
    """Media files under one directory, addressed by their SHA-256.

    Args:
        directory: Where the files are kept.
        screen: What screens each file for faces before it is stored; None: the
            process's shared `MediaScrubber`, loaded at the first save (YuNet
            from the model folders, `models.manifest.search_dirs`).
    """

    def __init__(
        self, directory: Path | str, *, screen: MediaScreen | None = None
    ) -> None:
        self.directory = Path(directory)
        self._screen = screen

    def save(self, data: bytes, kind: MediaKind) -> StoredMedia:
        """Check, screen and store `data` (atomically; a no-op when already stored).

        A photo is stored as the screen re-encodes it (a JPEG without metadata,
        faces blurred), so its id is the hash of those bytes, not of the upload.

        Raises:
            MediaRejected: empty, not an accepted format for `kind`, or not
                decodable.
            MediaShowsFace: a snapshot or clip in which a face still shows.
            MediaCheckUnavailable: no face model to screen it with.
        """
        sniff(data, kind)
        data = self._screener().screen(data, kind)
        ext, content_type = sniff(data, kind)
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256, ext)
        if not (path.is_file() and path.stat().st_size == len(data)):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                dir=path.parent, prefix=f".{sha256[:16]}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
        return StoredMedia(sha256, content_type, len(data), path)

    def prepare(self) -> bool:
        """Load the face screen now rather than at the first save, so that a
        missing model shows in the log at start and the process's memory has
        its working size before any load arrives.

        Returns:
            Whether media can be screened (and so stored); when not, the error
            is logged and every save is refused until a model is found.
        """
        try:
            self._screener()
        except MediaCheckUnavailable:
            return False
        return True

    def _screener(self) -> MediaScreen:
        if self._screen is None:
            from central.media_scrub import shared_scrubber  # YuNet: loaded once

            self._screen = shared_scrubber()
        return self._screen

    def path_for(self, sha256: str) -> Path | None:
        """The stored file of `sha256`, or None (also for a malformed id)."""
        if not is_sha256(sha256):
            return None
        for ext in CONTENT_TYPES:
            path = self._path(sha256, ext)
            if path.is_file():
                return path
        return None

    def find(self, sha256: str) -> StoredMedia | None:
        """What is stored under `sha256`, or None."""
        path = self.path_for(sha256)
        if path is None:
            return None
        content_type = CONTENT_TYPES[path.suffix.removeprefix(".")]
        return StoredMedia(sha256, content_type, path.stat().st_size, path)

    def open(self, sha256: str) -> BinaryIO:
        """The stored file for reading.

        Raises:
            FileNotFoundError: nothing is stored under `sha256`.
        """
        path = self.path_for(sha256)
        if path is None:
            raise FileNotFoundError(f"no media {sha256!r} in {self.directory}")
        return path.open("rb")

    def _path(self, sha256: str, ext: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.{ext}"
