"""Model and video manifest: typed loading, local lookup with sha256 check, download."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridwatch.validation import StrictModel
from models.family import ModelFamily

logger = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")
REPO_ROOT = Path(__file__).resolve().parent.parent
Kind = Literal["models", "videos"]
_ENV_DIRS: dict[Kind, str] = {
    "models": "GRIDWATCH_MODELS_DIR",
    "videos": "GRIDWATCH_VIDEOS_DIR",
}
_CHUNK_BYTES = 1 << 20
_PROGRESS_EVERY_S = 0.5

__all__ = [
    "MANIFEST_PATH",
    "REPO_ROOT",
    "ChecksumError",
    "DownloadError",
    "Manifest",
    "ManifestError",
    "ModelEntry",
    "ModelRole",
    "NotFoundError",
    "UnknownEntryError",
    "VideoEntry",
    "cache_dir",
    "download_verified",
    "load_manifest",
    "resolve_entry",
    "resolve_model",
    "resolve_video",
    "search_dirs",
    "sha256_file",
]


class ManifestError(ValueError):
    """The manifest file is missing, not YAML, or invalid."""


class UnknownEntryError(LookupError):
    """No manifest entry has the requested name or file."""


class ChecksumError(RuntimeError):
    """A local file does not have the sha256 the manifest gives."""


class NotFoundError(FileNotFoundError):
    """A file is in no local folder and downloading was not allowed."""


class DownloadError(RuntimeError):
    """A missing file could not be downloaded or the download was corrupt."""


class ModelRole(StrEnum):
    DETECTOR = "detector"
    FACE_DETECTOR = "face_detector"
    POSE = "pose"
    REID = "reid"


class _Entry(StrictModel):
    file: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Path relative to the models or videos folder.",
    )
    url: str | None = Field(
        pattern=r"^(https?|file)://\S+$", description="Download URL."
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    licence: str = Field(min_length=1)
    attribution: str = Field(min_length=1)
    description: str = ""


class ModelEntry(_Entry):
    """One model file of the manifest."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    role: ModelRole
    family: ModelFamily | None = Field(default=None, description="Detector family.")
    derived_from: str | None = Field(
        default=None, description="How to rebuild a file that has no download URL."
    )
    input_size_wh: tuple[int, int] | None = None
    classes: list[str] = Field(default_factory=list)
    keypoints: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def verify_detector_fields(self) -> ModelEntry:
        if self.role is ModelRole.DETECTOR and (
            self.family is None or not self.classes
        ):
            raise ValueError(f"detector {self.name!r} needs a family and classes")
        if self.url is None and self.derived_from is None:
            raise ValueError(f"model {self.name!r} needs a url or derived_from")
        return self


class VideoEntry(_Entry):
    """One video (or its label file) of the manifest."""


class Manifest(BaseModel):
    """All models and videos gridwatch uses, with download URL and sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_id: Literal["gw.manifest/1"] = Field(alias="schema")
    coco80: list[str] = Field(min_length=80, max_length=80)
    models: list[ModelEntry]
    videos: list[VideoEntry]

    @model_validator(mode="after")
    def verify_unique(self) -> Manifest:
        for what, keys in (
            ("model name", [m.name for m in self.models]),
            ("model file", [m.file for m in self.models]),
            ("video file", [v.file for v in self.videos]),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise ValueError(f"duplicate {what}s {dupes}")
        return self

    def model(self, name: str) -> ModelEntry:
        """The model entry with this name, file name or file stem.

        Raises:
            UnknownEntryError: no model matches, naming the known ones.
        """
        for entry in self.models:
            if name in (entry.name, entry.file, Path(entry.file).stem):
                return entry
        known = sorted(m.name for m in self.models)
        raise UnknownEntryError(f"no model {name!r} in the manifest (known: {known})")

    def video(self, file: str) -> VideoEntry:
        """The video entry with this relative path or file name.

        Raises:
            UnknownEntryError: no video matches, naming the known ones.
        """
        for entry in self.videos:
            if file in (entry.file, Path(entry.file).name):
                return entry
        known = sorted(v.file for v in self.videos)
        raise UnknownEntryError(f"no video {file!r} in the manifest (known: {known})")


@functools.cache
def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Read and validate the manifest (cached per path).

    Raises:
        ManifestError: the file cannot be read, is not YAML, or is invalid.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"cannot read manifest {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"manifest {path} is not valid YAML: {error}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as error:
        raise ManifestError(f"invalid manifest {path}: {error}") from None


def cache_dir() -> Path:
    """The user cache folder: $XDG_CACHE_HOME/gridwatch or ~/.cache/gridwatch."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gridwatch"


def search_dirs(kind: Kind, explicit: Path | None = None) -> list[Path]:
    """Folders searched for a file of `kind`, first match wins.

    Order: `explicit`; $GRIDWATCH_MODELS_DIR or $GRIDWATCH_VIDEOS_DIR;
    $GRIDWATCH_DATA_DIR/<kind>; ../shared/data/<kind> beside the repository;
    the user cache folder.
    """
    dirs: list[Path] = []
    if explicit is not None:
        dirs.append(Path(explicit))
    if value := os.environ.get(_ENV_DIRS[kind]):
        dirs.append(Path(value))
    if value := os.environ.get("GRIDWATCH_DATA_DIR"):
        dirs.append(Path(value) / kind)
    dirs.append(REPO_ROOT.parent / "shared" / "data" / kind)
    dirs.append(cache_dir() / kind)
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file; remembered while its size and mtime stay the same."""
    stat = path.stat()
    return _sha256_cached(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _find_local(entry: ModelEntry | VideoEntry, dirs: list[Path]) -> Path | None:
    cache = cache_dir()
    for folder in dirs:
        path = folder / entry.file
        if not path.is_file():
            continue
        actual = sha256_file(path)
        if actual == entry.sha256:
            return path
        if folder.is_relative_to(cache):
            logger.warning(
                "cached %s has sha256 %s, not %s; fetching again",
                path,
                actual,
                entry.sha256,
            )
            path.unlink()
            continue
        raise ChecksumError(
            f"{path} has sha256 {actual}, but the manifest says {entry.sha256}; "
            f"remove or replace it"
        )
    return None


def resolve_entry(
    entry: ModelEntry | VideoEntry,
    kind: Kind,
    explicit: Path | None = None,
    *,
    download: bool = True,
    download_dir: Path | None = None,
) -> Path:
    """Find a verified local copy of `entry`, downloading it when missing.

    Args:
        entry: Manifest entry.
        kind: "models" or "videos", choosing the folders searched.
        explicit: Folder searched first.
        download: Download when no local copy exists.
        download_dir: Folder downloads go to; default the user cache.

    Returns:
        Path of a file whose sha256 matches the manifest.

    Raises:
        ChecksumError: a local copy outside the cache has another sha256.
        NotFoundError: no local copy and `download` is false.
        DownloadError: no local copy and the download failed.
    """
    dirs = search_dirs(kind, explicit)
    found = _find_local(entry, dirs)
    if found is not None:
        return found
    searched = ", ".join(str(d) for d in dirs)
    if not download:
        raise NotFoundError(f"{entry.file} is not in any of: {searched}")
    if entry.url is None:
        derived = getattr(entry, "derived_from", None)
        raise DownloadError(
            f"{entry.file} is not in any of: {searched}; it has no download URL, "
            f"build it with: {derived}"
        )
    target = (download_dir or cache_dir() / kind) / entry.file
    try:
        download_verified(url=entry.url, dest=target, sha256=entry.sha256)
    except DownloadError as error:
        raise DownloadError(f"{error}; no local copy in any of: {searched}") from None
    return target


def resolve_model(
    name: str, models_dir: Path | None = None, *, download: bool = True
) -> Path:
    """Verified local path of a manifest model (by name, file name or stem).

    See `resolve_entry` for the search order and errors.
    """
    return resolve_entry(
        load_manifest().model(name), "models", models_dir, download=download
    )


def resolve_video(
    file: str, videos_dir: Path | None = None, *, download: bool = True
) -> Path:
    """Verified local path of a manifest video (relative path or file name).

    See `resolve_entry` for the search order and errors.
    """
    return resolve_entry(
        load_manifest().video(file), "videos", videos_dir, download=download
    )


def _copy_with_progress(
    read: Callable[[int], bytes],
    write: Callable[[bytes], object],
    total: int,
    label: str,
) -> str:
    digest = hashlib.sha256()
    done, last = 0, 0.0
    while chunk := read(_CHUNK_BYTES):
        write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if time.monotonic() - last >= _PROGRESS_EVERY_S:
            last = time.monotonic()
            of_total = f" of {total / 1e6:.1f}" if total else ""
            sys.stderr.write(f"\r{label}: {done / 1e6:.1f}{of_total} MB")
            sys.stderr.flush()
    sys.stderr.write(f"\r{label}: {done / 1e6:.1f} MB, done\n")
    return digest.hexdigest()


def download_verified(
    *, url: str, dest: Path, sha256: str, timeout_s: float = 30.0
) -> None:
    """Download `url` to `dest` atomically, keeping it only if its sha256 matches.

    Progress goes to stderr. The data is written to a temporary file beside
    `dest` and renamed into place, so `dest` never holds a partial file.

    Raises:
        DownloadError: the URL cannot be fetched (names file and URL) or the
            downloaded bytes have another sha256.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", dest.name, url)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed, not closed by with
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    part = Path(handle.name)
    try:
        with handle, urllib.request.urlopen(url, timeout=timeout_s) as response:
            total = int(response.headers.get("Content-Length") or 0)
            actual = _copy_with_progress(
                response.read, handle.write, total, f"downloading {dest.name}"
            )
        if actual != sha256:
            raise DownloadError(
                f"download of {dest.name} from {url} has sha256 {actual}, "
                f"expected {sha256}"
            )
        os.replace(part, dest)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(
            f"cannot download {dest.name} from {url}: {reason}"
        ) from None
    finally:
        part.unlink(missing_ok=True)
