"""Real object cut-outs with alpha masks, cut from frames of the shared clips."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from simulators.scenario.footage import empty_plate, people_in, read_frame, read_frames

logger = logging.getLogger(__name__)

BoxPx = tuple[int, int, int, int]
_GRABCUT_ITERATIONS = 5
_PAD_FRAC = 0.3


@dataclass(frozen=True, slots=True)
class ObjectSource:
    """Where a real object is seen in the shared footage.

    Attributes:
        name: Asset name used by scene specs.
        clip: Clip path relative to the media folder.
        frame: Frame index the object is cut from.
        box: Tight box around the object in that frame, pixels (x1, y1, x2, y2).
        height_frac: The object's height as a fraction of an adult's height,
            to size it beside the people of another clip.
        description: What it is.
    """

    name: str
    clip: str
    frame: int
    box: BoxPx
    height_frac: float
    description: str


@dataclass(frozen=True, slots=True, eq=False)
class Cutout:
    """A real image region and its alpha mask.

    Attributes:
        name: Asset name.
        bgr: Pixels, shape (h, w, 3), uint8.
        alpha: Opacity, shape (h, w), float32 in [0, 1].
        height_frac: See `ObjectSource.height_frac`.
        origin: Where it was cut from (clip, frame, box), for the scenario notes.
    """

    name: str
    bgr: npt.NDArray[np.uint8]
    alpha: npt.NDArray[np.float32]
    height_frac: float
    origin: str


# Every object in the shared clips that a person could leave on the ground.
OBJECT_SOURCES: tuple[ObjectSource, ...] = (
    ObjectSource(
        name="bottle_blue",
        clip="bottle-detection.mp4",
        frame=0,
        box=(508, 106, 570, 317),
        height_frac=0.15,
        description="plastic water bottle with a blue cap",
    ),
    ObjectSource(
        name="bottle_pink",
        clip="gmdcsa24/subject_2_adl_23.mp4",
        frame=100,
        box=(574, 312, 600, 378),
        height_frac=0.15,
        description="pink plastic bottle standing on the floor of a bedroom",
    ),
    ObjectSource(
        name="bottle_clear",
        clip="gmdcsa24/subject_2_adl_23.mp4",
        frame=100,
        box=(535, 289, 556, 345),
        height_frac=0.14,
        description="clear water bottle with a blue label, on a bedroom floor",
    ),
    ObjectSource(
        name="plastic_bag",
        clip="gmdcsa24/subject_2_adl_23.mp4",
        frame=100,
        box=(184, 68, 246, 120),
        height_frac=0.17,
        description="white plastic bag, knotted and full (a bag of rubbish)",
    ),
    ObjectSource(
        name="black_bag",
        clip="gmdcsa24/subject_2_adl_23.mp4",
        frame=100,
        box=(591, 54, 617, 110),
        height_frac=0.2,
        description="small black shoulder bag hanging on a bedroom wall",
    ),
    ObjectSource(
        name="car_top",
        clip="person-bicycle-car-detection.gif",
        frame=20,
        box=(95, 62, 163, 174),
        height_frac=1.0,
        description="a grey hatchback seen from a drone, driving across a car park",
    ),
)


def object_source(name: str) -> ObjectSource:
    """The source of asset `name`.

    Raises:
        KeyError: No such asset.
    """
    for source in OBJECT_SOURCES:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in OBJECT_SOURCES)
    raise KeyError(f"unknown object asset {name!r} (known: {known})")


def cut_object(media_dir: Path, source: ObjectSource, *, seed: int) -> Cutout:
    """Cut one object out of its frame with GrabCut, seeded by its box.

    Args:
        media_dir: Folder of the shared clips.
        source: Where the object is.
        seed: Seed of OpenCV's random generator (GrabCut's colour models), so
            that the cut is the same on every build.

    Raises:
        FileNotFoundError: The clip is missing.
        ValueError: The frame cannot be read, or the box leaves it.
    """
    frame = read_frame(media_dir / source.clip, source.frame)
    x1, y1, x2, y2 = source.box
    height, width = frame.shape[:2]
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ValueError(f"{source.name}: box {source.box} outside {width}x{height}")
    pad_x = max(4, round((x2 - x1) * _PAD_FRAC))
    pad_y = max(4, round((y2 - y1) * _PAD_FRAC))
    c1, r1 = max(0, x1 - pad_x), max(0, y1 - pad_y)
    c2, r2 = min(width, x2 + pad_x), min(height, y2 + pad_y)
    crop = np.ascontiguousarray(frame[r1:r2, c1:c2])
    # GrabCut works better on a larger image: the objects are small.
    zoom = max(1.0, 120.0 / min(crop.shape[:2]))
    big = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    mask = _grabcut_seed(
        big.shape[:2],
        (
            round((x1 - c1) * zoom),
            round((y1 - r1) * zoom),
            round((x2 - c1) * zoom),
            round((y2 - r1) * zoom),
        ),
    )
    cv2.setRNGSeed(seed)
    cv2.grabCut(
        big,
        mask,
        (0, 0, 1, 1),  # unused: the mask seeds it
        np.zeros((1, 65), np.float64),
        np.zeros((1, 65), np.float64),
        _GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_MASK,
    )
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    fg = _largest_component(fg)
    small = cv2.resize(fg, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_AREA)
    alpha = _feather(small.astype(np.float32))
    rows = np.flatnonzero(alpha.max(axis=1) > 0.05)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.05)
    if rows.size == 0 or cols.size == 0:
        raise ValueError(f"{source.name}: GrabCut found no object in {source.box}")
    tight = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    logger.debug("asset %s: %d px of object", source.name, int(fg.sum()))
    return Cutout(
        name=source.name,
        bgr=np.ascontiguousarray(crop[tight]),
        alpha=np.ascontiguousarray(alpha[tight]),
        height_frac=source.height_frac,
        origin=f"{source.clip} frame {source.frame} box {list(source.box)}",
    )


def save_cutout(cutout: Cutout, folder: Path) -> Path:
    """Write the cut-out as a PNG with an alpha channel; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cutout.name}.png"
    alpha = np.round(cutout.alpha * 255).astype(np.uint8)
    bgra = np.dstack([cutout.bgr, alpha])
    if not cv2.imwrite(str(path), bgra):
        raise OSError(f"cannot write {path}")
    return path


def _grabcut_seed(
    shape_hw: tuple[int, ...], box: tuple[int, int, int, int]
) -> npt.NDArray[np.uint8]:
    """GrabCut's starting labels: outside the box background, its core object.

    The tight box is mostly object; its central ellipse surely is. Seeding that
    keeps see-through objects (a clear bottle shows the floor behind it) whole,
    where a plain rectangle start keeps only their opaque label.
    """
    x1, y1, x2, y2 = box
    mask = np.full(shape_hw[:2], cv2.GC_BGD, dtype=np.uint8)
    mask[y1:y2, x1:x2] = cv2.GC_PR_FGD
    centre = ((x1 + x2) // 2, (y1 + y2) // 2)
    axes = (max(1, (x2 - x1) // 4), max(1, (y2 - y1) * 3 // 8))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, color=cv2.GC_FGD, thickness=-1)
    return mask


def _largest_component(mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.asarray(labels == biggest, dtype=np.uint8)


def _feather(mask: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # A one-pixel soft edge: hard edges would give the pixel model (and any
    # viewer) an easier object than a real one.
    soft = cv2.GaussianBlur(mask, (3, 3), 0)
    return np.asarray(np.clip(soft, 0.0, 1.0), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PersonSource:
    """A real person standing still in the footage, for crowd scenes.

    Attributes:
        name: Asset name used by scene specs.
        clip: Clip path relative to the media folder.
        standing: Clip seconds in which they stand (small movements only).
        plate: Clip seconds with nobody in view, for their mask.
    """

    name: str
    clip: str
    standing: tuple[float, float]
    plate: tuple[float, float]


@dataclass(frozen=True, slots=True, eq=False)
class Sprite:
    """A person's frames cut out of the footage, aligned at their feet.

    Attributes:
        name: Asset name.
        frames: Per source frame: pixels (h, w, 3) uint8 and alpha (h, w)
            float32, each cropped to the person, feet at the bottom centre.
        fps: Rate of the source frames.
        height_px: Median height of the crops.
        origin: Where they were cut from.
    """

    name: str
    frames: tuple[tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]], ...]
    fps: float
    height_px: float
    origin: str

    def at(self, t: float) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """The frame at time `t`, played back and forth."""
        count = len(self.frames)
        if count == 1:
            return self.frames[0]
        step = int(t * self.fps) % (2 * count - 2)
        return self.frames[step if step < count else 2 * count - 2 - step]


_ROOM = "one-by-one-person-detection.mp4"
_ROOM_PLATE = (0.0, 5.5)
PERSON_SOURCES: tuple[PersonSource, ...] = (
    PersonSource("visitor1", _ROOM, (9.0, 15.0), _ROOM_PLATE),
    PersonSource("visitor2", _ROOM, (27.0, 33.0), _ROOM_PLATE),
    PersonSource("visitor3", _ROOM, (53.5, 59.5), _ROOM_PLATE),
    PersonSource("visitor4", _ROOM, (78.0, 84.0), _ROOM_PLATE),
    PersonSource("visitor5", _ROOM, (97.0, 103.0), _ROOM_PLATE),
    PersonSource("visitor6", _ROOM, (127.0, 133.0), _ROOM_PLATE),
)


def person_source(name: str) -> PersonSource:
    """The source of person asset `name`.

    Raises:
        KeyError: No such asset.
    """
    for source in PERSON_SOURCES:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in PERSON_SOURCES)
    raise KeyError(f"unknown person asset {name!r} (known: {known})")


def cut_people(
    media_dir: Path, sources: list[PersonSource], *, fps: float
) -> list[Sprite]:
    """Cut standing people out of their frames by their difference to the plate.

    All sources must come from one clip, which is decoded once.

    Args:
        media_dir: Folder of the shared clips.
        sources: Who and when.
        fps: Frame rate of the clip.

    Raises:
        FileNotFoundError: The clip is missing.
        ValueError: The sources name several clips, or a person is not found
            in some frame.
    """
    clips = {s.clip for s in sources}
    if len(clips) != 1:
        raise ValueError(f"cut_people needs sources of one clip, got {sorted(clips)}")
    path = media_dir / clips.pop()
    wanted = {
        i
        for s in sources
        for i in (*_indices(s.plate, fps), *_indices(s.standing, fps))
    }
    frames = read_frames(path, wanted)
    plates: dict[tuple[float, float], npt.NDArray[np.float32]] = {}
    sprites = []
    for source in sources:
        if source.plate not in plates:
            plates[source.plate] = empty_plate(
                [frames[i] for i in _indices(source.plate, fps)]
            )
        standing = {i: frames[i] for i in _indices(source.standing, fps)}
        sprites.append(_sprite(source, standing, plates[source.plate], fps))
    return sprites


def _sprite(
    source: PersonSource,
    standing: dict[int, npt.NDArray[np.uint8]],
    plate: npt.NDArray[np.float32],
    fps: float,
) -> Sprite:
    crops = []
    heights = []
    for index, image in sorted(standing.items()):
        blobs = people_in(image, plate)
        if not blobs:
            raise ValueError(f"{source.name}: nobody in {source.clip} frame {index}")
        x1, y1, x2, y2 = blobs[0].box
        alpha = _feather(blobs[0].mask[y1:y2, x1:x2].astype(np.float32))
        crops.append((np.ascontiguousarray(image[y1:y2, x1:x2]), alpha))
        heights.append(y2 - y1)
    return Sprite(
        name=source.name,
        frames=tuple(crops),
        fps=fps,
        height_px=float(np.median(heights)),
        origin=f"{source.clip} {source.standing[0]:g}-{source.standing[1]:g} s",
    )


def _indices(span: tuple[float, float], fps: float) -> range:
    return range(round(span[0] * fps), round(span[1] * fps))
