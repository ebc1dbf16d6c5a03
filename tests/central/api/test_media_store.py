"""MediaStore: content sniffing, layout, atomic idempotent writes, lookups."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from central.media import MediaKind, MediaRejected, MediaStore, describe, sniff
from tests.central.api.conftest import tiny_jpeg, tiny_mp4

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 32
MOV = b"\0\0\0\x14ftypqt  \0\0\0\0qt  " + b"\0" * 16
WEBM = b"\x1a\x45\xdf\xa3" + b"\0" * 32


class Unscreened:
    """Stores what it is given: the store's own job, without the face screen
    (which tests/central/test_media_scrub.py checks)."""

    def screen(self, data: bytes, kind: MediaKind) -> bytes:
        return data


UNSCREENED = Unscreened()


@pytest.mark.parametrize(
    ("data", "kind", "ext", "content_type"),
    [
        (tiny_jpeg(), "snapshot", "jpg", "image/jpeg"),
        (tiny_jpeg(), "photo", "jpg", "image/jpeg"),
        (PNG, "photo", "png", "image/png"),
        (WEBP, "snapshot", "webp", "image/webp"),
        (tiny_mp4(), "clip", "mp4", "video/mp4"),
        (MOV, "clip", "mov", "video/quicktime"),
        (WEBM, "clip", "webm", "video/webm"),
    ],
)
def test_save_should_store_by_sha256_with_the_sniffed_type(
    tmp_path: Path, data: bytes, kind: str, ext: str, content_type: str
) -> None:
    store = MediaStore(tmp_path, screen=UNSCREENED)
    stored = store.save(data, kind)  # type: ignore[arg-type]
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha
    assert stored.content_type == content_type
    assert stored.size == len(data)
    assert stored.path == tmp_path / sha[:2] / f"{sha}.{ext}"
    assert stored.path.read_bytes() == data
    assert store.path_for(sha) == stored.path
    assert store.find(sha) == stored
    with store.open(sha) as f:
        assert f.read() == data


def test_save_should_be_idempotent_and_leave_no_temporary_files(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, screen=UNSCREENED)
    first = store.save(tiny_jpeg(), "snapshot")
    mtime = os.stat(first.path).st_mtime_ns
    second = store.save(tiny_jpeg(), "photo")
    assert second == first
    assert os.stat(first.path).st_mtime_ns == mtime
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (
            b"",
            "snapshot",
            "a snapshot must be a JPEG, PNG or WebP image; got an empty body",
        ),
        (b"hello world\n", "photo", "got plain text"),
        (b"<!DOCTYPE html><html>", "snapshot", "got an HTML document"),
        (b'{"a": 1}', "snapshot", "got JSON text"),
        (b"GIF89a\0\0", "photo", "got a GIF image"),
        (b"%PDF-1.7", "photo", "got a PDF document"),
        (tiny_mp4(), "snapshot", "got video/mp4 data"),
        (
            tiny_jpeg(),
            "clip",
            "a clip must be an MP4/MOV (ftyp) or WebM video; got image/jpeg",
        ),
        (
            b"\x01\x02\x03\x04\x05\x06\x07\x08\x09",
            "clip",
            "unknown data starting with 01 02",
        ),
    ],
)
def test_save_should_reject_wrong_content_naming_it(
    tmp_path: Path, data: bytes, kind: str, message: str
) -> None:
    store = MediaStore(tmp_path, screen=UNSCREENED)
    with pytest.raises(
        MediaRejected, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        store.save(data, kind)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_unknown_kind_and_bad_ids(tmp_path: Path) -> None:
    store = MediaStore(tmp_path, screen=UNSCREENED)
    with pytest.raises(MediaRejected, match="unknown media kind 'thumb'"):
        sniff(tiny_jpeg(), "thumb")  # type: ignore[arg-type]
    assert store.path_for("../../etc/passwd") is None
    assert store.path_for("A" * 64) is None
    assert store.path_for("0" * 64) is None
    assert store.find("0" * 64) is None
    with pytest.raises(FileNotFoundError):
        store.open("0" * 64)
    assert describe(b"\x89PNG\r\n\x1a\n") == "image/png data"
