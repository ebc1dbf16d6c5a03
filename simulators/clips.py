"""Find the clips of a media folder and name their RTSP mounts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators.transcode import CLIP_SUFFIXES, PreparedClip

_MOUNT_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MediaFolderError(ValueError):
    """The media folder is missing, empty, or holds no usable clip."""


@dataclass(frozen=True, slots=True)
class Mount:
    """One served RTSP path and the clip behind it.

    Attributes:
        name: Mount name; the URL path is ``/<name>``.
        clip: The prepared clip the mount replays.
    """

    name: str
    clip: PreparedClip


def mount_name_for(path: Path) -> str:
    """Return the mount name of a clip: its file stem, URL-safe.

    Args:
        path: The clip file.

    Returns:
        The stem with characters other than letters, digits, ``.``, ``_`` and
        ``-`` replaced by ``-``.
    """
    return _MOUNT_NAME_UNSAFE.sub("-", path.stem)


def discover_clips(
    media_dir: Path, *, clips: Sequence[str] | None = None
) -> list[Path]:
    """List the clip files of a folder, optionally limited to some names.

    Args:
        media_dir: Folder holding the clips (not searched recursively).
        clips: Clip names (file stems) to keep; None keeps all.

    Returns:
        Clip paths sorted by name.

    Raises:
        MediaFolderError: the folder is missing or has no clip, or a requested
            clip name is not in it.
    """
    if not media_dir.is_dir():
        raise MediaFolderError(f"media folder not found: {media_dir}")
    found = sorted(
        p
        for p in media_dir.iterdir()
        if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES
    )
    if not found:
        wanted = ", ".join(sorted(CLIP_SUFFIXES))
        raise MediaFolderError(f"no clips ({wanted}) in media folder {media_dir}")
    if clips is None:
        return found
    by_name = {mount_name_for(p): p for p in found}
    missing = [c for c in clips if c not in by_name]
    if missing:
        raise MediaFolderError(
            f"clips not found in {media_dir}: {', '.join(missing)} "
            f"(available: {', '.join(sorted(by_name))})"
        )
    return [by_name[c] for c in clips]


def link_clips(clips: Mapping[str, Path], folder: Path) -> dict[str, str]:
    """Links every clip into one flat folder for the simulator.

    Args:
        clips: Clip name as the scenarios give it (``gmdcsa24/x.mp4``) -> file.
        folder: The flat folder (created).

    Returns:
        Clip name -> mount name: the name without suffix, folders joined
        with ``__`` (``gmdcsa24__x``), made unique.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mounts: dict[str, str] = {}
    used: set[str] = set()
    for name, path in sorted(clips.items()):
        stem = mount_name_for(
            Path(Path(name).with_suffix("").as_posix().replace("/", "__"))
        )
        mount, number = stem, 2
        while mount in used:
            mount, number = f"{stem}-{number}", number + 1
        link = folder / f"{mount}{path.suffix.lower()}"
        link.unlink(missing_ok=True)  # a kept folder may link elsewhere
        link.symlink_to(path.resolve())
        used.add(mount)
        mounts[name] = mount
    return mounts
