"""Dual background model on small colour frames: what changed and then stayed.

A long-term background (learned over `background_s`, never under people, never
under objects being watched) and a short-term one (about a second) are kept as
running averages. A pixel that differs from the long-term background but not from
the short-term one has changed and stayed: it is *static foreground*. Connected
regions of it, away from people, are the candidate objects (`StaticBlob`).

Three things look like that and are not objects; each blob carries the evidence
to tell them apart:

- a *ghost*: something that was in the background left (an object taken away,
  a person who stood there at start-up). The edges at the region's border are
  in the background, not in the frame;
- a *lighting change* or a shadow: brightness changes, the texture stays (the
  frame and the background correlate inside the region) and no new edges appear;
- a *global illumination change*: compensated each frame by the median gain of
  the frame over the background (per channel); a change over most of the zone
  that the gain does not explain re-learns the background at once.

No verdict is final on a fragment: a region whose border runs along a person
(its owner still standing over it) or along the edge of the picture (a car or
a person partly out of view) says so (`occluded_frac`), and border pixels
on a person or on an edge that frame and background share (a kerb, a wall, a
bench the object was put against) do not count towards the ghost test. And
relearning is reversible: a region taken into the background keeps its former
background on a *shelf* for `shelf_s`; while the picture there keeps differing
from the shelf and the whole region, unoccluded, looks like an object against
it for `revive_frames` frames, the shelf is put back and the object returns
with its first appearance time.

Differences are the largest over the three colour channels: an object can have
the brightness of the floor it lies on and still differ in colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]
FloatMap = npt.NDArray[np.float32]  # (h, w) or (h, w, 3)
TimeMap = npt.NDArray[np.float64]
BoolMap = npt.NDArray[np.bool_]

_EPS = 1.0


class BlobVerdict(StrEnum):
    """What a static region most likely is."""

    OBJECT = "object"
    GHOST = "ghost"
    LIGHT = "light"
    UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class SceneSettings:
    """Parameters of the model; time constants in seconds, levels 0-255.

    Attributes:
        short_s: Time constant of the short-term background: a change stable
            for about 1.5 times this is static.
        background_s: Time constant of the long-term background.
        warmup_s: The first seconds learn the scene quickly and report nothing.
        cover_s: A pixel a person's box covered within this long stays masked
            (bridges frames where the detector misses the person).
        cover_margin: Person boxes grow by this fraction of their size per side.
        diff_level: Difference from the long-term background that is a change.
        motion_level: Difference from the short-term background that is motion.
        relearn_frac: A change over more than this fraction of the visible zone
            that the global gain does not explain re-learns the background.
        min_area_px: Smallest blob, small-frame pixels.
        object_contrast: Edge contrast (frame minus background over their sum,
            at the blob's border) from which a blob is an object.
        same_texture: Correlation of frame and background inside the blob from
            which it is the same surface, differently lit.
        occluded_frac: A blob with more of its border than this on people or
            beyond the picture's edge is a fragment (see
            `StaticBlob.is_fragment`).
        shelf_s: A relearned region keeps its former background this long.
        revive_frames: Frames in a row a shelved region must look like an
            object against its former background to be put back.
        shared_edge: Border pixels whose gradient is this strong (levels of the
            summed Sobel magnitude) in both frame and background, within a
            factor of two, are a structure both show, not the object's outline.
    """

    short_s: float = 0.8
    background_s: float = 120.0
    warmup_s: float = 2.0
    cover_s: float = 1.5
    cover_margin: float = 0.1
    diff_level: float = 20.0
    motion_level: float = 10.0
    relearn_frac: float = 0.35
    min_area_px: int = 6
    object_contrast: float = 0.12
    same_texture: float = 0.75
    occluded_frac: float = 0.1
    shelf_s: float = 60.0
    revive_frames: int = 3
    shared_edge: float = 200.0

    def __post_init__(self) -> None:
        for name in ("short_s", "background_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.relearn_frac <= 1:
            raise ValueError(f"relearn_frac must be in (0, 1], got {self.relearn_frac}")
        if self.min_area_px < 1:
            raise ValueError(f"min_area_px must be >= 1, got {self.min_area_px}")
        if self.revive_frames < 1:
            raise ValueError(f"revive_frames must be >= 1, got {self.revive_frames}")
        if not 0 <= self.occluded_frac <= 1:
            raise ValueError(
                f"occluded_frac must be in [0, 1], got {self.occluded_frac}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class StaticBlob:
    """A region of the picture that changed and then stayed, away from people.

    Attributes:
        box: Small-frame box (x1, y1, x2, y2), x2/y2 exclusive.
        area_px: Pixels in the region.
        appeared_at: When most of its pixels started to differ from the
            background, UNIX seconds (possibly while a person still hid it).
        edge_contrast: (E_frame - E_background) / (E_frame + E_background) of
            the gradient along the region's border, in [-1, 1].
        texture_corr: Correlation of frame and background inside the region,
            in [-1, 1]; 0 when either is flat.
        verdict: What it most likely is.
        occluded_frac: Share of the ring just outside the region that people
            cover or that lies beyond the picture's edge, in [0, 1]: the
            region may go on under them, or out of view.
        is_fragment: More than `SceneSettings.occluded_frac` of its border is
            on people or beyond the edge: only part of it is in view, so its
            verdict is no verdict on the whole.
        astir_frac: Share of the ring just outside the region where something
            that is not background moves (someone beside it, seen or not).
    """

    box: Box
    area_px: int
    appeared_at: float
    edge_contrast: float
    texture_corr: float
    verdict: BlobVerdict
    occluded_frac: float = 0.0
    is_fragment: bool = False
    astir_frac: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class SceneUpdate:
    """The model's answer for one frame.

    Attributes:
        blobs: Static regions inside the zone, away from people.
        is_warm: The warm-up is over (blobs are reported).
        relearned: The background was re-learned on this frame.
        gain: Global brightness of the frame over the background.
        revived: Small-frame boxes of shelved regions put back on this frame.
    """

    blobs: tuple[StaticBlob, ...] = ()
    is_warm: bool = False
    relearned: bool = False
    gain: float = 1.0
    revived: tuple[Box, ...] = ()


class StaticScene:
    """The long- and short-term backgrounds (BGR) of one zone's view of a camera.

    Not thread-safe: feed one camera's frames from one thread, in time order.
    """

    def __init__(self, settings: SceneSettings | None = None) -> None:
        self.settings = settings or SceneSettings()
        self._long: FloatMap | None = None
        self._short: FloatMap | None = None
        self._known: BoolMap | None = None
        self._changed_since: TimeMap | None = None
        self._covered_at: TimeMap | None = None
        self._frame: FloatMap | None = None
        self._covered: BoolMap | None = None
        # The shelf: former background of relearned pixels, until when it is
        # kept, their first change time, and frames in a row they looked like
        # an object against it.
        self._shelf: FloatMap | None = None
        self._shelf_until: TimeMap | None = None
        self._shelf_since: TimeMap | None = None
        self._revive_votes: npt.NDArray[np.int32] | None = None
        self._started_at = 0.0
        self._last_t = 0.0

    @property
    def background(self) -> FloatMap | None:
        """The long-term background, (h, w, 3) float32; None before a frame."""
        return self._long

    def update(
        self,
        image: npt.NDArray[np.uint8],
        *,
        timestamp: float,
        person_boxes: npt.NDArray[np.float32],
        keep_boxes: list[Box],
        zone_mask: BoolMap,
    ) -> SceneUpdate:
        """Learn one frame and return the static regions of the zone.

        Args:
            image: Small BGR frame, (h, w, 3) uint8.
            timestamp: Capture time, UNIX seconds.
            person_boxes: People's boxes in small-frame pixels, (P, 4) float32.
            keep_boxes: Small-frame boxes of objects being watched: not learned.
            zone_mask: Small-frame pixels of the zone, (h, w) bool.

        Raises:
            ValueError: The frame size changed, or a mask has another shape.
        """
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must have shape (h, w, 3), got {image.shape}")
        frame = cv2.GaussianBlur(image, (5, 5), 0).astype(np.float32)
        if zone_mask.shape != frame.shape[:2]:
            raise ValueError(
                f"zone_mask has shape {zone_mask.shape}, frame {frame.shape}"
            )
        if self._long is None:
            self._start(frame, timestamp)
        elif self._long.shape != frame.shape:
            raise ValueError(
                f"frame size changed from {self._long.shape} to {frame.shape}"
            )
        dt = timestamp - self._last_t
        if dt <= 0 and self._frame is not None:
            return SceneUpdate(is_warm=self._is_warm(timestamp))
        self._last_t = timestamp
        self._frame = frame
        covered = self._cover(person_boxes, timestamp)
        self._covered = covered
        return self._step(
            frame, timestamp, max(dt, 0.0), covered, keep_boxes, zone_mask
        )

    @property
    def shelved_px(self) -> int:
        """Pixels whose former background is still kept (see `relearn`)."""
        if self._shelf_until is None:
            return 0
        return int(np.count_nonzero(self._shelf_until > self._last_t))

    def relearn(self, box: Box, *, shelve: bool = True) -> None:
        """Take the current frame as background inside `box` (a ghost, a shadow).

        Pixels a person covers keep their background. With `shelve`, the former
        background stays on the shelf for `shelf_s`, so that evidence (the
        region, in full view, still differing from it and looking like an
        object) can undo the decision; without, it is final (an object left so
        long that it is part of the scene).
        """
        if self._long is None or self._frame is None or self._changed_since is None:
            return
        height, width = self._long.shape[:2]
        x1, y1, x2, y2 = max(0, box[0]), max(0, box[1]), box[2], box[3]
        cut = (slice(y1, min(height, y2)), slice(x1, min(width, x2)))
        take = np.ones(self._long[cut].shape[:2], dtype=np.bool_)
        if self._covered is not None:
            take &= ~self._covered[cut]
        if shelve:
            self._shelve(cut, take)
        elif self._shelf_until is not None:
            self._shelf_until[cut][take] = -np.inf
        self._long[cut][take] = self._frame[cut][take]
        self._changed_since[cut][take] = np.inf

    def _shelve(self, cut: tuple[slice, slice], take: BoolMap) -> None:
        assert self._long is not None and self._changed_since is not None
        if self._shelf is None:
            self._shelf = self._long.copy()
            shape = self._long.shape[:2]
            self._shelf_until = np.full(shape, -np.inf, dtype=np.float64)
            self._shelf_since = np.full(shape, np.inf, dtype=np.float64)
            self._revive_votes = np.zeros(shape, dtype=np.int32)
        assert self._shelf_until is not None and self._shelf_since is not None
        assert self._revive_votes is not None
        # A pixel shelved twice keeps its first background: the one from
        # before anything was decided.
        fresh = take & (self._shelf_until[cut] <= self._last_t)
        self._shelf[cut][fresh] = self._long[cut][fresh]
        self._shelf_since[cut][fresh] = self._changed_since[cut][fresh]
        self._shelf_until[cut][take] = self._last_t + self.settings.shelf_s
        self._revive_votes[cut][fresh] = 0

    def _start(self, frame: FloatMap, timestamp: float) -> None:
        self._long = frame.copy()
        self._short = frame.copy()
        shape = frame.shape[:2]
        self._known = np.zeros(shape, dtype=np.bool_)
        # float64: UNIX seconds need more digits than float32 has.
        self._changed_since = np.full(shape, np.inf, dtype=np.float64)
        self._covered_at = np.full(shape, -np.inf, dtype=np.float64)
        self._started_at = timestamp
        self._last_t = timestamp

    def _is_warm(self, timestamp: float) -> bool:
        return timestamp - self._started_at >= self.settings.warmup_s

    def _cover(self, person_boxes: npt.NDArray[np.float32], now: float) -> BoolMap:
        assert self._covered_at is not None
        height, width = self._covered_at.shape
        margin = self.settings.cover_margin
        for x1, y1, x2, y2 in person_boxes:
            dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
            c1, r1 = max(0, math.floor(x1 - dx)), max(0, math.floor(y1 - dy))
            c2, r2 = min(width, math.ceil(x2 + dx)), min(height, math.ceil(y2 + dy))
            self._covered_at[r1:r2, c1:c2] = now
        covered: BoolMap = (now - self._covered_at) < self.settings.cover_s
        return covered

    def _step(
        self,
        frame: FloatMap,
        now: float,
        dt: float,
        covered: BoolMap,
        keep_boxes: list[Box],
        zone_mask: BoolMap,
    ) -> SceneUpdate:
        assert self._long is not None and self._short is not None
        assert self._known is not None and self._changed_since is not None
        settings = self.settings
        warm = self._is_warm(now)
        visible = self._known & ~covered
        gain = self._compensate(frame, visible)
        changed = self._known & (_difference(frame, self._long) > settings.diff_level)
        moving = _difference(frame, self._short) > settings.motion_level
        self._changed_since[~changed] = np.inf
        self._changed_since[changed & np.isinf(self._changed_since)] = now
        relearned = warm and self._is_relit(changed, visible & zone_mask)
        # Learning: fast while warming up, slow after; never under people or
        # under watched objects, so neither ever becomes background.
        learn_s = settings.warmup_s / 4 if not warm else settings.background_s
        watched = _boxes_mask(keep_boxes, frame.shape)
        learn = visible & ~watched
        if relearned:
            learn = ~covered
            self._changed_since[learn] = np.inf
            alpha = 1.0
        else:
            alpha = 1.0 - math.exp(-dt / max(learn_s, 1e-6))
        cv2.accumulateWeighted(frame, self._long, alpha, mask=learn.view(np.uint8))
        fresh = ~self._known & ~covered
        np.copyto(self._long, frame, where=fresh[:, :, None])
        self._known |= fresh
        alpha_short = 1.0 - math.exp(-dt / settings.short_s)
        cv2.accumulateWeighted(frame, self._short, alpha_short)
        if not warm or relearned:
            if relearned and self._shelf_until is not None:
                self._shelf_until[:] = -np.inf
            return SceneUpdate(is_warm=warm, relearned=relearned, gain=gain)
        usable = ~moving & ~covered & zone_mask
        revived = self._revive(frame, now, usable, covered)
        if revived:
            changed = self._known & (
                _difference(frame, self._long) > settings.diff_level
            )
        blobs = self._blobs(changed & usable, frame, covered, changed & moving, watched)
        return SceneUpdate(blobs=blobs, is_warm=True, gain=gain, revived=revived)

    def _revive(
        self, frame: FloatMap, now: float, usable: BoolMap, covered: BoolMap
    ) -> tuple[Box, ...]:
        """Put shelved backgrounds back where the evidence says they were right.

        A shelved region whose pixels still differ from their former background,
        seen whole (no person along its border) and judged an object against
        that background on `revive_frames` frames in a row, was an object: the
        relearn is undone and its pixels get back their first change time.
        """
        if self._shelf_until is None:
            return ()
        assert self._shelf is not None and self._shelf_since is not None
        assert self._revive_votes is not None and self._long is not None
        assert self._changed_since is not None
        active = self._shelf_until > now
        if not np.any(active):
            return ()
        reference = np.where(active[:, :, None], self._shelf, self._long)
        differs = _difference(frame, reference) > self.settings.diff_level
        # The picture went back to the former background: nothing to revive.
        self._shelf_until[active & ~differs & usable] = -np.inf
        active &= self._shelf_until > now
        revived: list[Box] = []
        for blob, region_px in self._regions(differs & usable, covered, active):
            blob_verdict = self._judge(blob, region_px, frame, reference, covered)
            x1, y1, x2, y2 = blob
            votes = self._revive_votes[y1:y2, x1:x2]
            shelf = region_px & active[y1:y2, x1:x2]
            if blob_verdict is not BlobVerdict.OBJECT:
                votes[shelf] = 0
                continue
            votes[shelf] += 1
            if int(votes[shelf].max()) < self.settings.revive_frames:
                continue
            cut = (slice(y1, y2), slice(x1, x2))
            self._long[cut][shelf] = self._shelf[cut][shelf]
            self._changed_since[cut][shelf] = np.minimum(
                self._shelf_since[cut][shelf], now
            )
            self._shelf_until[cut][shelf] = -np.inf
            votes[shelf] = 0
            revived.append(blob)
        return tuple(revived)

    def _regions(
        self, mask: BoolMap, covered: BoolMap, touching: BoolMap
    ) -> list[tuple[Box, BoolMap]]:
        """Cleaned connected regions of `mask` that overlap `touching`, as
        (box, region mask within the box)."""
        raster = _clean(mask)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            raster, connectivity=8
        )
        regions = []
        for index in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[index])
            if area < self.settings.min_area_px:
                continue
            region = labels[y : y + h, x : x + w] == index
            if not np.any(region & touching[y : y + h, x : x + w]):
                continue
            regions.append(((x, y, x + w, y + h), region))
        return regions

    def _judge(
        self,
        box: Box,
        region: BoolMap,
        frame: FloatMap,
        background: FloatMap,
        covered: BoolMap,
    ) -> BlobVerdict:
        """The verdict on a whole region against `background`; UNSURE for a
        fragment (people or the picture's edge along its border)."""
        contrast, corr, occluded = _evidence(
            box,
            region,
            frame,
            background,
            covered,
            shared_edge=self.settings.shared_edge,
        )
        if occluded > self.settings.occluded_frac:
            return BlobVerdict.UNSURE
        return self._verdict(contrast, corr)

    def _compensate(self, frame: FloatMap, visible: BoolMap) -> float:
        # A global brightness change (clouds, lights dimmed, auto exposure)
        # scales the whole picture: scale the background with it.
        assert self._long is not None
        sample = visible[::3, ::3]
        if np.count_nonzero(sample) < 50:
            return 1.0
        ratio = (frame[::3, ::3][sample] + _EPS) / (self._long[::3, ::3][sample] + _EPS)
        gains = np.clip(np.median(ratio, axis=0), 0.5, 2.0).astype(np.float32)
        if np.any(np.abs(gains - 1.0) > 1e-3):
            self._long *= gains
        return float(gains.mean())

    def _is_relit(self, changed: BoolMap, visible_zone: BoolMap) -> bool:
        total = np.count_nonzero(visible_zone)
        if total == 0:
            return False
        share = np.count_nonzero(changed & visible_zone) / total
        return bool(share > self.settings.relearn_frac)

    def _blobs(
        self,
        static: BoolMap,
        frame: FloatMap,
        covered: BoolMap,
        astir: BoolMap,
        watched: BoolMap,
    ) -> tuple[StaticBlob, ...]:
        assert self._long is not None and self._changed_since is not None
        raster = _clean(static)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            raster, connectivity=8
        )
        blobs = []
        for index in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[index])
            region = labels[y : y + h, x : x + w] == index
            if area < self.settings.min_area_px and not (
                # An object being watched is not lost because its region
                # shrinks a little below the size needed to start watching.
                2 * area >= self.settings.min_area_px
                and np.any(region & watched[y : y + h, x : x + w])
            ):
                continue
            box = (x, y, x + w, y + h)
            since = self._changed_since[y : y + h, x : x + w][region]
            stirring = _ring_share(box, region, astir, beyond_edge=False)
            blobs.append(
                self._describe(box, region, frame, covered, int(area), since, stirring)
            )
        return tuple(blobs)

    def _describe(
        self,
        box: Box,
        region: BoolMap,
        frame: FloatMap,
        covered: BoolMap,
        area: int,
        since: TimeMap,
        astir_frac: float,
    ) -> StaticBlob:
        assert self._long is not None
        contrast, corr, occluded = _evidence(
            box,
            region,
            frame,
            self._long,
            covered,
            shared_edge=self.settings.shared_edge,
        )
        finite = since[np.isfinite(since)]
        appeared = float(np.median(finite)) if finite.size else self._last_t
        return StaticBlob(
            box=box,
            area_px=area,
            appeared_at=appeared,
            edge_contrast=contrast,
            texture_corr=corr,
            verdict=self._verdict(contrast, corr),
            occluded_frac=occluded,
            is_fragment=occluded > self.settings.occluded_frac,
            astir_frac=astir_frac,
        )

    def _verdict(self, contrast: float, corr: float) -> BlobVerdict:
        settings = self.settings
        if corr >= settings.same_texture:
            return BlobVerdict.LIGHT
        if contrast >= settings.object_contrast:
            return BlobVerdict.OBJECT
        if contrast <= -settings.object_contrast:
            return BlobVerdict.GHOST
        return BlobVerdict.UNSURE


def _clean(mask: BoolMap) -> npt.NDArray[np.uint8]:
    """`mask` opened then closed with a 3x3 square, uint8 0/1."""
    kernel = np.ones((3, 3), dtype=np.uint8)
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel), np.uint8)


def _evidence(
    box: Box,
    region: BoolMap,
    frame: FloatMap,
    background: FloatMap,
    covered: BoolMap,
    *,
    shared_edge: float,
) -> tuple[float, float, float]:
    """Edge contrast, texture correlation and occluded share of one region.

    Args:
        box: The region's small-frame box.
        region: The region inside `box`, bool.
        frame: Current frame (blurred), (h, w, 3).
        background: What it is compared with, (h, w, 3).
        covered: Pixels people cover, (h, w).
        shared_edge: See `SceneSettings.shared_edge`.
    """
    pad = 3
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    p1, q1 = max(0, x1 - pad), max(0, y1 - pad)
    p2, q2 = min(width, x2 + pad), min(height, y2 + pad)
    mask = np.zeros((q2 - q1, p2 - p1), dtype=np.uint8)
    mask[y1 - q1 : y2 - q1, x1 - p1 : x2 - p1] = region
    people = covered[q1:q2, p1:p2]
    contrast = _edge_contrast(
        frame[q1:q2, p1:p2],
        background[q1:q2, p1:p2],
        mask.astype(np.bool_),
        ignore=people,
        shared_edge=shared_edge,
    )
    occluded = _ring_share(box, region, covered, beyond_edge=True)
    inner = _interior(region)
    corr = _texture_correlation(
        frame[y1:y2, x1:x2][inner], background[y1:y2, x1:x2][inner]
    )
    return contrast, corr, occluded


def _ring_share(
    box: Box, region: BoolMap, marked: BoolMap, *, beyond_edge: bool
) -> float:
    """Share of the ring just outside `region` that is `marked` (people cover
    it, something moves there), counting the ring beyond the picture's edge as
    marked when `beyond_edge` (where the region may go on out of view: a car
    leaving the picture, a person cut by its border)."""
    pad = 3
    height, width = marked.shape
    x1, y1, x2, y2 = box
    mask = np.pad(region.astype(np.uint8), pad)
    kernel = np.ones((3, 3), dtype=np.uint8)
    ring = (cv2.dilate(mask, kernel, iterations=2) > 0) & (mask == 0)
    hidden = np.full(mask.shape, beyond_edge, dtype=np.bool_)
    r1, c1 = max(0, y1 - pad), max(0, x1 - pad)
    r2, c2 = min(height, y2 + pad), min(width, x2 + pad)
    top, left = r1 - (y1 - pad), c1 - (x1 - pad)
    hidden[top : top + r2 - r1, left : left + c2 - c1] = marked[r1:r2, c1:c2]
    ring_px = int(np.count_nonzero(ring))
    return float(np.count_nonzero(ring & hidden)) / float(max(1, ring_px))


def _boxes_mask(boxes: list[Box], shape: tuple[int, ...]) -> BoolMap:
    mask = np.zeros(shape[:2], dtype=np.bool_)
    for x1, y1, x2, y2 in boxes:
        mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = True
    return mask


def _difference(a: FloatMap, b: FloatMap) -> FloatMap:
    """Largest absolute difference over the channels, (h, w)."""
    blue, green, red = cv2.split(cv2.absdiff(a, b))
    diff: FloatMap = np.maximum(np.maximum(blue, green), red)
    return diff


def _gradient(image: FloatMap) -> FloatMap:
    """Gradient magnitude summed over the channels, (h, w)."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    magnitude: FloatMap = (np.abs(gx) + np.abs(gy)).sum(axis=2)
    return magnitude


_MIN_BAND_SHARE = 0.25


def _edge_contrast(
    frame: FloatMap,
    background: FloatMap,
    region: BoolMap,
    *,
    ignore: BoolMap | None = None,
    shared_edge: float = math.inf,
) -> float:
    """Gradient of frame vs background along the border band of `region`.

    Band pixels in `ignore` (people: their outline is not the region's) and
    pixels on an edge that frame and background both show about as strongly
    (a kerb, a wall, a marking the object was put against) say nothing about
    which of the two holds the object, and are left out while at least a
    quarter of the band remains.
    """
    raster = region.astype(np.uint8)
    kernel = np.ones((3, 3), dtype=np.uint8)
    band = cv2.dilate(raster, kernel, iterations=2) > cv2.erode(raster, kernel)
    if ignore is not None:
        band &= ~ignore
    if not np.any(band):
        return 0.0
    g_frame = _gradient(frame)[band]
    g_background = _gradient(background)[band]
    low = np.minimum(g_frame, g_background)
    high = np.maximum(g_frame, g_background)
    shared = (low >= shared_edge) & (low >= 0.5 * high)
    if np.count_nonzero(~shared) >= _MIN_BAND_SHARE * band.sum():
        g_frame, g_background = g_frame[~shared], g_background[~shared]
    e_frame = float(g_frame.mean())
    e_background = float(g_background.mean())
    return (e_frame - e_background) / (e_frame + e_background + _EPS)


def _interior(region: BoolMap) -> BoolMap:
    """The region without its border, where the blur mixes it with outside."""
    # Zero padding: the region's box is its edge too.
    padded = np.pad(region.astype(np.uint8), 2)
    inner = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=2)[2:-2, 2:-2]
    return inner.astype(np.bool_) if np.count_nonzero(inner) >= 8 else region


def _texture_correlation(a: FloatMap, b: FloatMap) -> float:
    """Mean over channels of the correlation of two (N, 3) pixel sets.

    Each channel is compared with itself, so that one surface differently lit
    still correlates; a channel (nearly) flat in either set counts 0.
    """
    if a.shape[0] < 4:
        return 0.0
    total = 0.0
    for channel in range(a.shape[1]):
        x, y = a[:, channel], b[:, channel]
        sx, sy = float(x.std()), float(y.std())
        if sx >= 2.0 and sy >= 2.0:
            total += float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))
    return total / float(a.shape[1])
