"""Event snapshots: downscale, blur faces, draw the event boxes, encode a small JPEG."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from edge.media.faces import FaceBlur, expand_boxes, obscure
from gridwatch.contract import SnapshotRef

logger = logging.getLogger(__name__)

BOX_COLOR_BGR: Final = (0, 0, 255)
TEXT_COLOR_BGR: Final = (255, 255, 255)
_MAX_SHRINKS = 4
_CHECK_ROUNDS = 3  # obscuring rounds after encoding; the last one is whole-image

__all__ = [
    "FaceAndHeadBlur",
    "Snapshot",
    "SnapshotSettings",
    "Snapshotter",
    "draw_boxes",
    "encode_jpeg",
    "expand_boxes",
    "head_boxes",
    "obscure",
]


@dataclass(frozen=True, slots=True)
class SnapshotSettings:
    """How snapshots are made.

    Attributes:
        max_side_px: Frames larger than this on their long side are downscaled.
        jpeg_quality: First JPEG quality tried (lower ones follow if too large).
        max_bytes: Largest JPEG allowed; quality, then size, drop to fit.
        head_fraction: Without a face model, this top fraction of every person
            box is blurred instead.
    """

    max_side_px: int = 1280
    jpeg_quality: int = 80
    max_bytes: int = 200_000
    head_fraction: float = 0.35

    def __post_init__(self) -> None:
        if self.max_side_px < 64:
            raise ValueError(f"max_side_px must be >= 64, got {self.max_side_px}")
        if not 20 <= self.jpeg_quality <= 100:
            raise ValueError(
                f"jpeg_quality must be in [20, 100], got {self.jpeg_quality}"
            )
        if self.max_bytes < 10_000:
            raise ValueError(f"max_bytes must be >= 10000, got {self.max_bytes}")
        if not 0.0 < self.head_fraction <= 1.0:
            raise ValueError(
                f"head_fraction must be in (0, 1], got {self.head_fraction}"
            )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An encoded, face-blurred snapshot.

    Attributes:
        jpeg: JPEG bytes.
        resolution_wh: Size of the encoded image in pixels.
        faces_blurred: Regions obscured (faces, or heads in the fallback).
    """

    jpeg: bytes
    resolution_wh: tuple[int, int]
    faces_blurred: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()

    def to_ref(self) -> SnapshotRef:
        """Inline contract reference (base64 bytes and sha256)."""
        return SnapshotRef(
            sha256=self.sha256,
            content_type="image/jpeg",
            bytes_b64=base64.b64encode(self.jpeg).decode("ascii"),
        )


def head_boxes(
    person_xyxy: npt.NDArray[np.floating], fraction: float
) -> npt.NDArray[np.float32]:
    """Top `fraction` of each (N, 4) person box, where a face would be."""
    boxes = np.asarray(person_xyxy, dtype=np.float32).reshape(-1, 4).copy()
    boxes[:, 3] = boxes[:, 1] + (boxes[:, 3] - boxes[:, 1]) * fraction
    return boxes


def _contains_any_center(
    boxes: npt.NDArray[np.floating], others: npt.NDArray[np.floating]
) -> npt.NDArray[np.bool_]:
    """(N,) mask: box i contains the centre of at least one of `others` (M, 4)."""
    if len(boxes) == 0 or len(others) == 0:
        return np.zeros(len(boxes), dtype=bool)
    cx = (others[:, 0] + others[:, 2]) / 2
    cy = (others[:, 1] + others[:, 3]) / 2
    inside = (
        (boxes[:, None, 0] <= cx)
        & (cx <= boxes[:, None, 2])
        & (boxes[:, None, 1] <= cy)
        & (cy <= boxes[:, None, 3])
    )
    return np.asarray(inside.any(axis=1), dtype=bool)


class FaceAndHeadBlur:
    """A snapshot's blur: faces YuNet finds plus the heads of people with no face
    found; only heads without a face detector.

    The node refuses to start without the face model, so the head-only mode is
    for tools that run without it and for a detector failing at run time. Clip
    frames use `FaceBlur` alone (no person boxes travel with them).
    """

    def __init__(
        self, *, camera_id: str, face_blur: FaceBlur | None, head_fraction: float
    ) -> None:
        self.camera_id = camera_id
        self._head_fraction = head_fraction
        self._warned = False
        self._faces = (
            None
            if face_blur is None
            else face_blur.with_label(f"camera {camera_id} snapshot")
        )
        if face_blur is None:
            logger.warning(
                "camera %s: no face model; blurring heads of people instead",
                camera_id,
            )

    @property
    def face_blur(self) -> FaceBlur | None:
        return self._faces

    def blur(
        self, image: npt.NDArray[np.uint8], person_xyxy: npt.NDArray[np.floating]
    ) -> int:
        """Obscure faces in `image` in place.

        Args:
            image: BGR uint8 image, shape (H, W, 3); modified.
            person_xyxy: (N, 4) person boxes in pixels of `image`: their heads
                are blurred when no face is found in them.

        Returns:
            Number of regions obscured.
        """
        heads = head_boxes(person_xyxy, self._head_fraction)
        faces = self._detect(image)
        if faces is None or self._faces is None:
            return sum(obscure(image, box) for box in heads)
        found = expand_boxes(faces, self._faces.settings.margin)
        # A face the detector missed (small, turned away) still must not leave
        # the node: blur the head of every person box with no face found in it.
        regions = np.concatenate([found, heads[~_contains_any_center(heads, found)]])
        obscured = sum(obscure(image, box) for box in regions)
        # Pixelating a face can leave a face-like patch beside it: look again.
        return obscured + self._faces.blur(image)

    def find_in_jpeg(self, jpeg: bytes) -> npt.NDArray[np.float32] | None:
        """Face boxes YuNet finds in the encoded JPEG (pixels of the JPEG), or
        None without a face model."""
        if self._faces is None:
            return None
        image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("the snapshot JPEG does not decode")
        return self._faces.find(np.asarray(image, dtype=np.uint8))

    def cover(
        self,
        image: npt.NDArray[np.uint8],
        faces_xyxy: npt.NDArray[np.floating],
        *,
        whole: bool,
    ) -> int:
        """Obscure face boxes (or the whole image) in place; regions obscured."""
        if self._faces is None:
            return 0
        if whole:
            return self._faces.cover_all(image)
        return self._faces.cover(image, faces_xyxy)

    def _detect(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32] | None:
        if self._faces is None:
            return None
        try:
            return self._faces.detect(image)
        except cv2.error as error:
            # Keep the privacy guarantee: fall back to head blurring, say so once.
            if not self._warned:
                logger.warning(
                    "camera %s: face detection failed (%s); blurring heads instead",
                    self.camera_id,
                    error,
                )
                self._warned = True
            return None


class Snapshotter:
    """Makes the JPEG that goes with an event; every face is blurred before encoding.

    Cost is one YuNet pass on an image of at most `max_side_px`, a few draws and
    a JPEG encode: meant for event start/update, not every frame.

    Args:
        camera_id: For log lines.
        face_blur: The node's face blur (its detector shared by every camera
            and the clips), or None to blur only the heads of people.
        settings: Size and encoding; defaults when None.
    """

    def __init__(
        self,
        *,
        camera_id: str,
        face_blur: FaceBlur | None,
        settings: SnapshotSettings | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.settings = settings or SnapshotSettings()
        self._faces = FaceAndHeadBlur(
            camera_id=camera_id,
            face_blur=face_blur,
            head_fraction=self.settings.head_fraction,
        )

    @property
    def face_blur(self) -> FaceBlur | None:
        """The face blur snapshots use (None: heads only)."""
        return self._faces.face_blur

    @property
    def has_face_model(self) -> bool:
        return self._faces.face_blur is not None

    def render(
        self,
        image: npt.NDArray[np.uint8],
        *,
        boxes_xyxy: npt.NDArray[np.floating],
        texts: Sequence[str] = (),
        person_xyxy: npt.NDArray[np.floating] | None = None,
    ) -> Snapshot:
        """Blur faces, draw the boxes with their texts and encode.

        Args:
            image: BGR uint8 frame, shape (H, W, 3); not modified.
            boxes_xyxy: (K, 4) event boxes in pixels of `image`.
            texts: Label text per box (may be shorter than the boxes).
            person_xyxy: (P, 4) person boxes in pixels, for the head-blur fallback.

        Returns:
            The encoded snapshot.

        Raises:
            ValueError: The image is not (H, W, 3) uint8, cannot be encoded, or
                still shows a face after obscuring (the event goes without it).
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}"
            )
        canvas, scale = self._downscale(image)
        persons = np.zeros((0, 4)) if person_xyxy is None else person_xyxy
        blurred = self._faces.blur(
            canvas, np.asarray(persons, dtype=np.float32) * scale
        )
        draw_boxes(canvas, np.asarray(boxes_xyxy, dtype=np.float32) * scale, texts)
        jpeg, resolution_wh, covered = self._encode_checked(canvas)
        return Snapshot(
            jpeg=jpeg, resolution_wh=resolution_wh, faces_blurred=blurred + covered
        )

    def _encode_checked(
        self, canvas: npt.NDArray[np.uint8]
    ) -> tuple[bytes, tuple[int, int], int]:
        """Encode, then look for faces in the JPEG itself (compression can make
        a smooth patch score as a face); obscure what is found and encode again,
        the last round obscuring the whole image. Modifies `canvas`.

        Raises:
            ValueError: faces were still found then (no snapshot is sent).
        """
        covered = 0
        for round_ in range(_CHECK_ROUNDS + 1):
            jpeg, resolution_wh = encode_jpeg(
                canvas,
                quality=self.settings.jpeg_quality,
                max_bytes=self.settings.max_bytes,
            )
            faces = self._faces.find_in_jpeg(jpeg)
            if faces is None or len(faces) == 0:
                return jpeg, resolution_wh, covered
            if round_ == _CHECK_ROUNDS:
                break
            # The JPEG may be smaller than the canvas (shrunk to fit max_bytes).
            faces = faces * (canvas.shape[1] / resolution_wh[0])
            whole = round_ == _CHECK_ROUNDS - 1
            covered += self._faces.cover(canvas, faces, whole=whole)
        raise ValueError("faces still found in the snapshot after obscuring it whole")

    def _downscale(
        self, image: npt.NDArray[np.uint8]
    ) -> tuple[npt.NDArray[np.uint8], float]:
        h, w = image.shape[:2]
        scale = min(1.0, self.settings.max_side_px / max(h, w))
        if scale >= 1.0:
            return image.copy(), 1.0
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return np.asarray(resized, dtype=np.uint8), scale


def draw_boxes(
    image: npt.NDArray[np.uint8],
    boxes_xyxy: npt.NDArray[np.float32],
    texts: Sequence[str],
) -> None:
    """Draw boxes and their label texts on `image` in place."""
    h, w = image.shape[:2]
    thickness = max(2, round(max(h, w) / 400))
    font_scale = 0.4 * thickness
    for i, box in enumerate(boxes_xyxy.reshape(-1, 4)):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), BOX_COLOR_BGR, thickness)
        if i < len(texts) and texts[i]:
            _draw_text(image, texts[i], (x1, y1), font_scale, thickness)


def _draw_text(
    image: npt.NDArray[np.uint8],
    text: str,
    corner: tuple[int, int],
    font_scale: float,
    thickness: int,
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    weight = max(1, thickness // 2)
    (tw, th), base = cv2.getTextSize(text, font, font_scale, weight)
    x, y = corner
    top = y - th - base - thickness if y - th - base - thickness >= 0 else y
    cv2.rectangle(image, (x, top), (x + tw + 2, top + th + base + 2), BOX_COLOR_BGR, -1)
    cv2.putText(
        image,
        text,
        (x + 1, top + th + 1),
        font,
        font_scale,
        TEXT_COLOR_BGR,
        weight,
        cv2.LINE_AA,
    )


def encode_jpeg(
    image: npt.NDArray[np.uint8], *, quality: int, max_bytes: int
) -> tuple[bytes, tuple[int, int]]:
    """Encode as JPEG under `max_bytes`, lowering quality and then size as needed.

    Returns:
        JPEG bytes and the (width, height) that was encoded.

    Raises:
        ValueError: Encoding failed or could not get under `max_bytes`.
    """
    current = image
    for _ in range(_MAX_SHRINKS):
        for q in (quality, max(20, quality - 20), max(20, quality - 40)):
            ok, buffer = cv2.imencode(".jpg", current, [cv2.IMWRITE_JPEG_QUALITY, q])
            if not ok:
                raise ValueError(f"JPEG encoding failed for image {current.shape}")
            if buffer.size <= max_bytes:
                return buffer.tobytes(), (int(current.shape[1]), int(current.shape[0]))
        smaller = cv2.resize(
            current, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA
        )
        current = np.asarray(smaller, dtype=np.uint8)
    raise ValueError(f"cannot encode image {image.shape} under {max_bytes} bytes")
