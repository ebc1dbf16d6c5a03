"""Media screened for faces before central stores it.

A worker's photo comes from a phone that blurs nothing and writes EXIF (GPS
position, device, time) into the file: it is decoded, turned upright, every
face YuNet finds is blurred, and it is stored as a fresh JPEG, so no metadata
survives. An edge node blurs faces itself before media leaves it; central looks
again at its snapshots and clips and refuses one that still shows a face
(blurring it here would store other bytes than the event names by hash).

Clips are checked on sampled frames, `clip_checks_per_s` a second (2 by
default, at most `max_clip_checks`): the node has already blurred and
re-checked every frame of the encoded clip, so this is a second line against a
node whose blur is off or broken, which shows faces for as long as people are
in view; a single leaked frame can pass it. Checking every frame would cost
5 to 12 times the detector time (10 to 25 fps) for every clip of every node.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from central.media_screen import (
    MediaCheckUnavailable,
    MediaKind,
    MediaRejected,
    MediaShowsFace,
)
from models.faces import (
    FACE_BLUR_DEFAULTS,
    FACE_MODEL,
    FaceBlur,
    FaceDetector,
    FaceModelError,
    load_face_detector,
)
from models.manifest import ChecksumError, DownloadError, NotFoundError, resolve_model

logger = logging.getLogger(__name__)

CHECK_SCORE: Final = 0.5
"""YuNet's usual threshold: what counts as a face still showing. The edge blurs
at 0.3, which leaves nothing found at 0.5 after JPEG or H.264 compression
(`FaceBlurSettings`), so a node that blurs is never refused."""

DETECT_MAX_SIDE_PX: Final = 1280
"""Larger images are looked at scaled down to this (see `FaceDetector`)."""


@dataclass(frozen=True, slots=True)
class ScrubSettings:
    """How central screens media.

    Attributes:
        jpeg_quality: Quality of the re-encoded photo (1 to 100).
        max_photo_pixels: Larger photos are refused before they are decoded
            (a 16 MiB PNG can hold gigabytes of pixels).
        clip_checks_per_s: Clip frames checked per second of video.
        max_clip_checks: At most this many frames of one clip are checked
            (spread evenly over longer clips).
    """

    jpeg_quality: int = 90
    max_photo_pixels: int = 50_000_000
    clip_checks_per_s: float = 2.0
    max_clip_checks: int = 120

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if self.max_photo_pixels < 1:
            raise ValueError(
                f"max_photo_pixels must be >= 1, got {self.max_photo_pixels}"
            )
        if self.clip_checks_per_s <= 0:
            raise ValueError(
                f"clip_checks_per_s must be > 0, got {self.clip_checks_per_s}"
            )
        if self.max_clip_checks < 1:
            raise ValueError(
                f"max_clip_checks must be >= 1, got {self.max_clip_checks}"
            )


class MediaScrubber:
    """Screens media for `MediaStore.save` (one per process; thread-safe)."""

    def __init__(
        self,
        *,
        blur: FaceBlur,
        check: FaceDetector,
        settings: ScrubSettings = ScrubSettings(),
    ) -> None:
        self._blur = blur
        self._check = check
        self.settings = settings

    @classmethod
    def from_model(
        cls, path: Path, settings: ScrubSettings = ScrubSettings()
    ) -> MediaScrubber:
        """YuNet from `path`, twice: at the blur score and at `CHECK_SCORE`.

        Raises:
            FaceModelError: the file is missing or cannot be loaded.
        """
        blur = FaceBlur(
            detector=FaceDetector(
                load_face_detector(
                    path, score_threshold=FACE_BLUR_DEFAULTS.score_threshold
                ),
                max_side_px=DETECT_MAX_SIDE_PX,
            ),
            settings=FACE_BLUR_DEFAULTS,
            label="central media",
        )
        check = FaceDetector(
            load_face_detector(path, score_threshold=CHECK_SCORE),
            max_side_px=DETECT_MAX_SIDE_PX,
        )
        return cls(blur=blur, check=check, settings=settings)

    def screen(self, data: bytes, kind: MediaKind) -> bytes:
        """The bytes to store: a scrubbed photo, or a snapshot or clip as sent.

        Raises:
            MediaRejected: the file cannot be decoded (nothing unchecked is kept).
            MediaShowsFace: a snapshot or clip still shows a face.
        """
        if kind == "photo":
            return self.scrub_photo(data)
        if kind == "snapshot":
            self.check_image(data, kind)
        else:
            self.check_clip(data)
        return data

    def scrub_photo(self, data: bytes) -> bytes:
        """A JPEG of the photo, upright, faces blurred, without any metadata.

        Raises:
            MediaRejected: not decodable, or over `max_photo_pixels`.
        """
        image = self._decode(data, "photo")
        blurred = self._blur.blur(image)
        encoded = self._encode_jpeg(image)
        # Looked at again as a viewer gets it: compression can bring back a face.
        if len(self._check.detect(self._decode(encoded, "photo"))):
            logger.warning("photo: a face still found after blurring; obscuring all")
            self._blur.cover_all(image)
            encoded = self._encode_jpeg(image)
        if blurred:
            logger.info("photo: %d face regions blurred", blurred)
        return encoded

    def check_image(self, data: bytes, kind: MediaKind) -> None:
        """Refuse an image in which a face shows.

        Raises:
            MediaRejected: not decodable.
            MediaShowsFace: a face shows.
        """
        faces = self._check.detect(self._decode(data, kind))
        if len(faces):
            raise MediaShowsFace(
                f"the {kind} shows {len(faces)} unblurred face(s); the edge node "
                "must blur faces before media leaves it (refused, not stored)"
            )

    def check_clip(self, data: bytes) -> None:
        """Refuse a clip in which a sampled frame shows a face.

        Raises:
            MediaRejected: not decodable, or no video frame in it.
            MediaShowsFace: a checked frame shows a face.
        """
        checked = 0
        try:
            with av.open(io.BytesIO(data), mode="r") as container:
                if not container.streams.video:
                    raise MediaRejected("the clip has no video stream")
                stream = container.streams.video[0]
                interval_s = self._clip_interval_s(container.duration)
                next_check_s = 0.0
                for index, frame in enumerate(container.decode(stream)):
                    at_s = float(frame.time) if frame.time is not None else index
                    if at_s + 1e-6 < next_check_s:
                        continue
                    next_check_s = at_s + interval_s
                    checked += 1
                    image = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                    faces = self._check.detect(image)
                    if len(faces):
                        raise MediaShowsFace(
                            f"the clip shows {len(faces)} unblurred face(s) at "
                            f"{at_s:.2f} s; the edge node must blur faces before "
                            "media leaves it (refused, not stored)"
                        )
        except av.FFmpegError as error:
            raise MediaRejected(
                f"the clip cannot be decoded to check it for faces ({error})"
            ) from None
        if checked == 0:
            raise MediaRejected("the clip has no video frame to check for faces")

    def _clip_interval_s(self, duration_us: int | None) -> float:
        interval_s = 1.0 / self.settings.clip_checks_per_s
        if duration_us:
            spread_s = duration_us / 1_000_000 / self.settings.max_clip_checks
            interval_s = max(interval_s, spread_s)
        return interval_s

    def _decode(self, data: bytes, kind: MediaKind) -> npt.NDArray[np.uint8]:
        """BGR pixels, turned as the EXIF orientation says (Pillow)."""
        try:
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > self.settings.max_photo_pixels:
                    raise MediaRejected(
                        f"the {kind} is {width}x{height} pixels, over the "
                        f"{self.settings.max_photo_pixels} pixels accepted"
                    )
                upright = ImageOps.exif_transpose(opened).convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as error:
            if isinstance(error, MediaRejected):
                raise
            raise MediaRejected(
                f"the {kind} cannot be decoded to check it for faces ({error})"
            ) from None
        rgb = np.asarray(upright, dtype=np.uint8)
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def _encode_jpeg(self, image: npt.NDArray[np.uint8]) -> bytes:
        # cv2.imencode writes pixels only: no EXIF, GPS, ICC or comment segment.
        ok, buffer = cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality]
        )
        if not ok:
            raise MediaRejected("the photo could not be re-encoded")
        return bytes(buffer.tobytes())


@functools.cache
def shared_scrubber() -> MediaScrubber:
    """The process's scrubber: YuNet found as `models.manifest` searches
    ($GRIDWATCH_MODELS_DIR, $GRIDWATCH_DATA_DIR/models, ../shared/data/models,
    the cache), loaded once.

    Raises:
        MediaCheckUnavailable: no usable face model; no media can be stored.
    """
    try:
        path = resolve_model(FACE_MODEL, None, download=False)
        return MediaScrubber.from_model(path)
    except (
        NotFoundError,
        ChecksumError,
        DownloadError,
        FaceModelError,
        OSError,
    ) as error:
        logger.error("media cannot be screened for faces: %s", error)
        raise MediaCheckUnavailable(
            f"face model {FACE_MODEL} unavailable ({error}): media cannot be "
            "checked for faces, so none is stored (get it with "
            "`gridwatch models fetch` or set GRIDWATCH_MODELS_DIR)"
        ) from None
