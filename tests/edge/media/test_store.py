"""Local clip folder: bounded, never deleting clips that wait for upload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.media.store import LocalClipStore


def _clip(store: LocalClipStore, event_id: str, size: int, mtime: float) -> Path:
    path = store.path_for(event_id)
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_prune_given_folder_over_limit_should_delete_oldest_not_kept(
    tmp_path: Path,
) -> None:
    kept: set[Path] = set()
    store = LocalClipStore(tmp_path / "clips", max_bytes=250, keep=lambda: kept)
    oldest = _clip(store, "ev-1", 100, 1000)
    middle = _clip(store, "ev-2", 100, 2000)
    newest = _clip(store, "ev-3", 100, 3000)
    kept.add(oldest)  # waiting for upload
    assert store.prune() == 1
    assert store.clips() == [oldest, newest]
    assert not middle.exists()
    assert store.prune() == 0


def test_prune_given_only_kept_clips_should_keep_them_over_the_limit(
    tmp_path: Path,
) -> None:
    kept: set[Path] = set()
    store = LocalClipStore(tmp_path, max_bytes=50, keep=lambda: kept)
    kept.add(_clip(store, "ev-1", 100, 1000))
    assert store.prune() == 0
    assert len(store.clips()) == 1


@pytest.mark.parametrize("event_id", ["", "../x", ".hidden", "a/b", "x" * 65])
def test_path_for_given_unsafe_id_should_raise(tmp_path: Path, event_id: str) -> None:
    store = LocalClipStore(tmp_path, max_bytes=1)
    with pytest.raises(ValueError, match="cannot name a clip file"):
        store.path_for(event_id)


def test_store_given_bad_limit_should_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        LocalClipStore(tmp_path, max_bytes=0)


def test_remove_given_missing_file_should_do_nothing(tmp_path: Path) -> None:
    store = LocalClipStore(tmp_path, max_bytes=1)
    store.remove(store.path_for("ev-9"))
