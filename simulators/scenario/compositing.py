"""Drawing a scene: its real footage, real cut-outs pasted in, changes of light.

The renderer also measures, on the footage itself, what the ground truth needs:
where each owner is in every frame (their difference to the empty plate), so
when they went away from the object they left, and how many real people a
crowd scene's footage shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gridwatch.contract import EventType
from simulators.scenario.assets import Cutout, Sprite
from simulators.scenario.footage import (
    Blob,
    empty_plate,
    follow,
    people_in,
    read_frames,
)
from simulators.scenario.scenes import (
    Drop,
    Lighting,
    Mover,
    Placed,
    SceneSpec,
    Walker,
)
from simulators.transcode import probe_clip

Canvas = npt.NDArray[np.float32]
BoxPx = tuple[float, float, float, float]
BoxInt = tuple[int, int, int, int]

_MOVE_S = 0.5  # putting an object down or picking it up takes this long
_SHADOW = 0.35  # contact shadow darkens the floor under an object this much
_OBJECT_NOISE = 1.5  # sensor noise (grey levels) on pasted pixels
_PLATE = -1  # source index of the empty plate (lead-in frames)
_CROUCH = 0.6  # a crouching walker's height over their standing height


@dataclass(frozen=True, slots=True)
class ObjectTruth:
    """What one pasted object did, for the expected events.

    Attributes:
        asset: Object asset name.
        origin: Where the cut-out comes from.
        expect: Event type it should raise, None if none.
        ground_box: Pixel box while on the ground, None if never put down.
        drop_s: Scene time it was put down.
        pick_s: Scene time it was picked up again.
        owner_away_from_s: Scene time from which its owner stayed away (farther
            than the rule's distance, or out of view), None if they never did.
    """

    asset: str
    origin: str
    expect: EventType | None
    ground_box: BoxPx | None
    drop_s: float | None
    pick_s: float | None
    owner_away_from_s: float | None


@dataclass(frozen=True, slots=True)
class SceneTruth:
    """The measured facts of a rendered scene.

    Attributes:
        resolution_wh: Frame size.
        fps: Frame rate.
        frame_count: Frames written.
        objects: One entry per dropped or placed object.
        real_people: People of the footage in view, per written frame.
    """

    resolution_wh: tuple[int, int]
    fps: float
    frame_count: int
    objects: tuple[ObjectTruth, ...]
    real_people: tuple[int, ...]

    def real_people_at(self, t: float) -> int:
        index = min(self.frame_count - 1, max(0, round(t * self.fps)))
        return self.real_people[index]


@dataclass(frozen=True, slots=True, eq=False)
class _DropPlan:
    drop: Drop
    cutout: Cutout
    size_wh: tuple[int, int]
    owner: tuple[BoxInt | None, ...]
    ground_box: BoxPx | None


class SceneRenderer:
    """Renders one scene spec frame by frame.

    Args:
        spec: The scene.
        media_dir: Folder of the shared clips.
        cutouts: Object cut-outs by asset name.
        sprites: Person sprites by asset name.
        seed: Seed of the pasted pixels' noise.
    """

    def __init__(
        self,
        spec: SceneSpec,
        *,
        media_dir: Path,
        cutouts: Mapping[str, Cutout],
        sprites: Mapping[str, Sprite],
        seed: int,
    ) -> None:
        self.spec = spec
        self._cutouts = cutouts
        self._sprites = sprites
        self._rng = np.random.default_rng(seed)
        path = media_dir / spec.background.clip
        source_fps = probe_clip(path).fps
        self._sources = _source_indices(spec, source_fps)
        self._frames = read_frames(path, {i for i in self._sources if i >= 0})
        plate_indices = (
            _span_indices(spec.background.plate, source_fps)
            if spec.background.plate is not None
            else sorted(self._frames)
        )
        plate_frames = read_frames(path, plate_indices)
        self._plate = empty_plate(list(plate_frames.values()))
        self._frames[_PLATE] = np.clip(self._plate + 0.5, 0, 255).astype(np.uint8)
        blobs_of = {
            i: people_in(image, self._plate) for i, image in self._frames.items()
        }
        self._blobs = [blobs_of[i] for i in self._sources]
        height, width = self._plate.shape[:2]
        self.resolution_wh = (width, height)
        self._walker_boxes = [self._walk(walker) for walker in spec.walkers]
        self._plans = [self._plan(drop) for drop in spec.drops]

    @property
    def frame_count(self) -> int:
        return len(self._sources)

    def frames(self) -> Iterator[npt.NDArray[np.uint8]]:
        """The scene's frames, BGR uint8, in order."""
        for index, source in enumerate(self._sources):
            yield self._render(index, self._frames[source])

    def truth(self) -> SceneTruth:
        objects = [self._drop_truth(plan) for plan in self._plans]
        objects += [self._placed_truth(placed) for placed in self.spec.placed]
        return SceneTruth(
            resolution_wh=self.resolution_wh,
            fps=self.spec.fps,
            frame_count=self.frame_count,
            objects=tuple(objects),
            real_people=tuple(len(blobs) for blobs in self._blobs),
        )

    def _walk(self, walker: Walker) -> list[BoxInt | None]:
        """A pasted walker's box in each written frame (None: out of view)."""
        width, height = self.resolution_wh
        sprite = self._sprites[walker.person]
        crop = sprite.frames[0][0]
        aspect = crop.shape[1] / crop.shape[0]
        boxes: list[BoxInt | None] = []
        for index in range(self.frame_count):
            t = index / self.spec.fps
            feet = walker.feet_at(t)
            if feet is None:
                boxes.append(None)
                continue
            h = walker.height_at(feet[1])
            if walker.crouch is not None and walker.crouch[0] <= t < walker.crouch[1]:
                h *= _CROUCH
            fx, fy = feet[0] * width, feet[1] * height
            w = h * aspect / (_CROUCH if h < walker.height_at(feet[1]) else 1.0)
            boxes.append(
                (round(fx - w / 2), round(fy - h), round(fx + w / 2), round(fy))
            )
        return boxes

    def _owner_track(self, drop: Drop) -> tuple[tuple[BoxInt | None, ...], int]:
        """The owner's box per frame and a frame in which they are in view."""
        if drop.walker is not None:
            if not 0 <= drop.walker < len(self._walker_boxes):
                raise ValueError(
                    f"scene {self.spec.name}: no walker {drop.walker} to carry "
                    f"{drop.asset}"
                )
            track = tuple(self._walker_boxes[drop.walker])
            seen = [i for i, box in enumerate(track) if box is not None]
            if not seen:
                raise ValueError(f"scene {self.spec.name}: walker never in view")
            return track, seen[0]
        if drop.owner_near is None:
            raise ValueError(
                f"scene {self.spec.name}: {drop.asset} has neither owner_near "
                "nor walker"
            )
        width, height = self.resolution_wh
        t, x, y = drop.owner_near
        start = self._index_at(t)
        blobs = follow(self._blobs, start=start, near_xy=(x * width, y * height))
        if blobs[start] is None:
            raise ValueError(
                f"scene {self.spec.name}: nobody near ({x}, {y}) at {t} s "
                "to carry the object"
            )
        return tuple(b.box if b is not None else None for b in blobs), start

    def _plan(self, drop: Drop) -> _DropPlan:
        width, height = self.resolution_wh
        owner, start = self._owner_track(drop)
        cutout = self._cutouts[drop.asset]
        at = self._index_at(drop.drop_s) if drop.drop_s is not None else start
        holder = owner[at] or owner[start]
        if holder is None:
            raise ValueError(f"scene {self.spec.name}: owner not in view at the drop")
        holder_h = holder[3] - holder[1]
        obj_h = drop.height_px or max(8, round(cutout.height_frac * holder_h))
        obj_w = max(3, round(obj_h * cutout.bgr.shape[1] / cutout.bgr.shape[0]))
        ground = None
        if drop.drop_s is not None and drop.at is not None:
            gx, gy = drop.at[0] * width, drop.at[1] * height
            ground = (gx - obj_w / 2, gy - obj_h, gx + obj_w / 2, gy)
        elif drop.drop_s is not None:
            x1, _, x2, y2 = holder
            feet_x = (x1 + x2) / 2
            gx = feet_x + drop.side * (0.3 * (x2 - x1) + 0.5 * obj_w)
            gx = min(max(gx, obj_w / 2), width - obj_w / 2)
            gy = min(float(y2) + 0.01 * holder_h, height - 1.0)
            ground = (gx - obj_w / 2, gy - obj_h, gx + obj_w / 2, gy)
        return _DropPlan(drop, cutout, (obj_w, obj_h), owner, ground)

    def _index_at(self, t: float) -> int:
        return min(self.frame_count - 1, max(0, round(t * self.spec.fps)))

    def _render(
        self, index: int, image: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.uint8]:
        t = index / self.spec.fps
        canvas = image.astype(np.float32)
        if self._sources[index] == _PLATE:
            noise = self._rng.normal(0.0, _OBJECT_NOISE, canvas.shape)
            canvas += noise.astype(np.float32)
        self._draw_crowd(canvas, t)
        blobs = self._blobs[index]
        # Painter's order: what stands lower in the picture is nearer.
        layers: list[tuple[float, int, Callable[[], None]]] = []
        for placed in self.spec.placed:
            if placed.until_s is None or t < placed.until_s:
                layers.append(
                    (
                        self._placed_box(placed)[3],
                        len(layers),
                        partial(self._draw_placed, canvas, placed, blobs),
                    )
                )
        for plan in self._plans:
            depth = self._drop_depth(plan, index, t)
            drop = partial(self._draw_drop, canvas, plan, index, t, blobs)
            layers.append((depth, len(layers), drop))
        for number, walker in enumerate(self.spec.walkers):
            box = self._walker_boxes[number][index]
            if box is not None:
                person = partial(self._draw_walker, canvas, walker, box, t)
                layers.append((box[3], len(layers), person))
        for mover in self.spec.movers:
            feet = mover.feet_at(t)
            if feet is not None:
                move = partial(self._draw_mover, canvas, mover, feet)
                layers.append((feet[1] * self.resolution_wh[1], len(layers), move))
        for _, _, paint in sorted(layers, key=lambda layer: layer[:2]):
            paint()
        for light in self.spec.lighting:
            _relight(canvas, light, t)
        return np.asarray(np.clip(canvas + 0.5, 0, 255), dtype=np.uint8)

    def _draw_crowd(self, canvas: Canvas, t: float) -> None:
        width, height = self.resolution_wh
        for member in sorted(self.spec.crowd, key=lambda m: m.feet[1]):
            sprite = self._sprites[member.person]
            bgr, alpha = sprite.at(t + member.phase_s)
            scale = member.height_px / sprite.height_px
            bgr, alpha = _resized(bgr, alpha, scale)
            if member.flip:
                bgr, alpha = bgr[:, ::-1], alpha[:, ::-1]
            feet = (member.feet[0] * width, member.feet[1] * height)
            left = round(feet[0] - bgr.shape[1] / 2)
            top = round(feet[1] - bgr.shape[0])
            paste(canvas, bgr, alpha, top_left=(left, top))

    def _drop_depth(self, plan: _DropPlan, index: int, t: float) -> float:
        """Bottom of the object in the picture; carried: just before its holder."""
        drop = plan.drop
        holder = plan.owner[index]
        on_ground = (
            plan.ground_box is not None
            and drop.drop_s is not None
            and t >= drop.drop_s + 0.5
            and (drop.pick_s is None or t < drop.pick_s)
        )
        if on_ground and plan.ground_box is not None:
            return plan.ground_box[3]
        return float(holder[3]) + 0.5 if holder is not None else 0.0

    def _draw_walker(
        self, canvas: Canvas, walker: Walker, box: BoxInt, t: float
    ) -> None:
        sprite = self._sprites[walker.person]
        bgr, alpha = sprite.at(t)
        w, h = max(1, box[2] - box[0]), max(1, box[3] - box[1])
        mode = cv2.INTER_AREA if h < bgr.shape[0] else cv2.INTER_LINEAR
        bgr = np.asarray(cv2.resize(bgr, (w, h), interpolation=mode), dtype=np.uint8)
        alpha = np.asarray(cv2.resize(alpha, (w, h), interpolation=mode), np.float32)
        if walker.flip:
            bgr, alpha = bgr[:, ::-1], alpha[:, ::-1]
        paste(canvas, bgr, alpha, top_left=(box[0], box[1]))

    def _draw_mover(
        self, canvas: Canvas, mover: Mover, feet: tuple[float, float]
    ) -> None:
        width, height = self.resolution_wh
        cutout = self._cutouts[mover.asset]
        obj_h = mover.height_px
        obj_w = obj_h * cutout.bgr.shape[1] / cutout.bgr.shape[0]
        gx, gy = feet[0] * width, feet[1] * height
        box = (gx - obj_w / 2, gy - obj_h, gx + obj_w / 2, gy)
        self._paste_object(canvas, cutout, box, behind=None)

    def _draw_placed(self, canvas: Canvas, placed: Placed, blobs: list[Blob]) -> None:
        box = self._placed_box(placed)
        self._draw_on_ground(canvas, self._cutouts[placed.asset], box, blobs)

    def _placed_box(self, placed: Placed) -> BoxPx:
        width, height = self.resolution_wh
        cutout = self._cutouts[placed.asset]
        obj_h = placed.height_px
        obj_w = obj_h * cutout.bgr.shape[1] / cutout.bgr.shape[0]
        gx, gy = placed.feet[0] * width, placed.feet[1] * height
        return (gx - obj_w / 2, gy - obj_h, gx + obj_w / 2, gy)

    def _draw_drop(
        self, canvas: Canvas, plan: _DropPlan, index: int, t: float, blobs: list[Blob]
    ) -> None:
        carried = self._carried_box(plan, index)
        ground = plan.ground_box
        drop = plan.drop
        if ground is None or drop.drop_s is None or t < drop.drop_s:
            box = carried
        elif drop.pick_s is not None and t >= drop.pick_s:
            box = _lerp(ground, carried, (t - drop.pick_s) / _MOVE_S)
        else:
            box = _lerp(carried, ground, (t - drop.drop_s) / _MOVE_S)
        if box is None:
            return
        if ground is not None and box == ground:
            self._draw_on_ground(canvas, plan.cutout, ground, blobs)
        else:
            self._paste_object(canvas, plan.cutout, box, behind=None)

    def _carried_box(self, plan: _DropPlan, index: int) -> BoxPx | None:
        holder = plan.owner[index]
        if holder is None:
            return None
        x1, y1, x2, y2 = holder
        obj_w, obj_h = plan.size_wh
        hand_x = x2 - 0.12 * (x2 - x1) if plan.drop.side > 0 else x1 + 0.12 * (x2 - x1)
        hand_y = y1 + 0.5 * (y2 - y1)
        return (hand_x - obj_w / 2, hand_y, hand_x + obj_w / 2, hand_y + obj_h)

    def _draw_on_ground(
        self, canvas: Canvas, cutout: Cutout, box: BoxPx, blobs: list[Blob]
    ) -> None:
        _contact_shadow(canvas, box)
        # People nearer the camera (feet lower in the picture) hide the object.
        in_front = [b.mask for b in blobs if b.box[3] > box[3] + 2]
        behind = np.any(np.stack(in_front), axis=0) if in_front else None
        self._paste_object(canvas, cutout, box, behind=behind)

    def _paste_object(
        self,
        canvas: Canvas,
        cutout: Cutout,
        box: BoxPx,
        *,
        behind: npt.NDArray[np.bool_] | None,
    ) -> None:
        w = max(1, round(box[2] - box[0]))
        h = max(1, round(box[3] - box[1]))
        bgr = np.asarray(
            cv2.resize(cutout.bgr, (w, h), interpolation=_interpolation(cutout, h)),
            dtype=np.float32,
        )
        alpha = cv2.resize(cutout.alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        noisy = bgr + self._rng.normal(0.0, _OBJECT_NOISE, bgr.shape).astype(np.float32)
        paste(
            canvas,
            noisy,
            np.asarray(alpha, dtype=np.float32),
            top_left=(round(box[0]), round(box[1])),
            hidden=behind,
        )

    def _drop_truth(self, plan: _DropPlan) -> ObjectTruth:
        drop = plan.drop
        away = None
        if plan.ground_box is not None and drop.drop_s is not None:
            away = self._owner_away_from(plan)
        return ObjectTruth(
            asset=drop.asset,
            origin=plan.cutout.origin,
            expect=drop.expect,
            ground_box=plan.ground_box,
            drop_s=drop.drop_s,
            pick_s=drop.pick_s,
            owner_away_from_s=away,
        )

    def _owner_away_from(self, plan: _DropPlan) -> float | None:
        assert plan.ground_box is not None and plan.drop.drop_s is not None
        limit = _away_frac(self.spec) * math.hypot(*self.resolution_wh)
        end = self.frame_count
        if plan.drop.pick_s is not None:
            end = self._index_at(plan.drop.pick_s)
        away_from = None
        for index in range(self._index_at(plan.drop.drop_s), end):
            holder = plan.owner[index]
            is_away = holder is None or _gap(holder, plan.ground_box) > limit
            if not is_away:
                away_from = None
            elif away_from is None:
                away_from = index / self.spec.fps
        return away_from

    def _placed_truth(self, placed: Placed) -> ObjectTruth:
        return ObjectTruth(
            asset=placed.asset,
            origin=self._cutouts[placed.asset].origin,
            expect=None,
            ground_box=self._placed_box(placed),
            drop_s=0.0,
            pick_s=placed.until_s,
            owner_away_from_s=None,
        )


def paste(
    canvas: Canvas,
    bgr: npt.NDArray[np.uint8] | npt.NDArray[np.float32],
    alpha: npt.NDArray[np.float32],
    *,
    top_left: tuple[int, int],
    hidden: npt.NDArray[np.bool_] | None = None,
) -> None:
    """Blend `bgr` over `canvas` in place with `alpha`, clipped to the canvas.

    Args:
        canvas: Frame being drawn, (H, W, 3) float32.
        bgr: Pixels to paste, (h, w, 3).
        alpha: Their opacity, (h, w) in [0, 1].
        top_left: Canvas (x, y) of the pasted image's top-left corner.
        hidden: Canvas pixels (H, W) that stay as they are (something in
            front), None for none.
    """
    height, width = canvas.shape[:2]
    x, y = top_left
    c1, r1 = max(0, x), max(0, y)
    c2, r2 = min(width, x + bgr.shape[1]), min(height, y + bgr.shape[0])
    if c1 >= c2 or r1 >= r2:
        return
    src = (slice(r1 - y, r2 - y), slice(c1 - x, c2 - x))
    a = alpha[src][:, :, None]
    if hidden is not None:
        a = a * ~hidden[r1:r2, c1:c2][:, :, None]
    region = canvas[r1:r2, c1:c2]
    region += a * (bgr[src].astype(np.float32) - region)


def _resized(
    bgr: npt.NDArray[np.uint8], alpha: npt.NDArray[np.float32], scale: float
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    w = max(1, round(bgr.shape[1] * scale))
    h = max(1, round(bgr.shape[0] * scale))
    mode = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return (
        np.asarray(cv2.resize(bgr, (w, h), interpolation=mode), dtype=np.uint8),
        np.asarray(cv2.resize(alpha, (w, h), interpolation=mode), dtype=np.float32),
    )


def _interpolation(cutout: Cutout, height: int) -> int:
    return cv2.INTER_AREA if height < cutout.bgr.shape[0] else cv2.INTER_LINEAR


def _contact_shadow(canvas: Canvas, box: BoxPx) -> None:
    x1, _, x2, y2 = box
    w = x2 - x1
    pad = max(4, round(0.3 * w))
    left, top = round(x1) - pad, round(y2 - 0.25 * w) - pad
    size = (round(w) + 2 * pad, round(0.5 * w) + 2 * pad)
    shade = np.zeros((size[1], size[0]), dtype=np.float32)
    cv2.ellipse(
        shade,
        (size[0] // 2, size[1] // 2),
        (max(1, round(0.6 * w)), max(1, round(0.15 * w))),
        0,
        0,
        360,
        color=1.0,
        thickness=-1,
    )
    shade = np.asarray(
        cv2.GaussianBlur(shade, (0, 0), max(1.0, 0.15 * w)), dtype=np.float32
    )
    dark = np.zeros((size[1], size[0], 3), dtype=np.float32)
    height, width = canvas.shape[:2]
    c1, r1 = max(0, left), max(0, top)
    c2, r2 = min(width, left + size[0]), min(height, top + size[1])
    if c1 < c2 and r1 < r2:
        dark[r1 - top : r2 - top, c1 - left : c2 - left] = canvas[r1:r2, c1:c2]
    paste(
        canvas,
        dark,
        _SHADOW * np.asarray(shade, dtype=np.float32),
        top_left=(left, top),
    )


def _relight(canvas: Canvas, light: Lighting, t: float) -> None:
    factor = light.at(t)
    if factor == 1.0:
        return
    if light.region is None:
        canvas *= factor
        return
    height, width = canvas.shape[:2]
    x1, y1, x2, y2 = light.region
    pool = np.zeros((height, width), dtype=np.float32)
    pool[
        round(y1 * height) : round(y2 * height), round(x1 * width) : round(x2 * width)
    ] = 1
    pool = np.asarray(
        cv2.GaussianBlur(pool, (0, 0), 0.08 * min(width, height)), dtype=np.float32
    )
    canvas *= (1.0 + (factor - 1.0) * pool)[:, :, None]


def _lerp(a: BoxPx | None, b: BoxPx | None, u: float) -> BoxPx | None:
    if a is None or b is None:
        return b if u >= 1 else None if a is None else a
    u = min(1.0, max(0.0, u))
    if u >= 1.0:
        return b
    x1, y1, x2, y2 = (a[i] + (b[i] - a[i]) * u for i in range(4))
    return (x1, y1, x2, y2)


def _gap(a: tuple[int, int, int, int], b: BoxPx) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return math.hypot(dx, dy)


def _away_frac(spec: SceneSpec) -> float:
    for rule in spec.rules:
        if "owner_away_frac" in rule:
            return float(rule["owner_away_frac"])
    return 0.15


def _source_indices(spec: SceneSpec, fps: Fraction) -> list[int]:
    """Clip frame index behind each written frame."""
    lead_in = round(spec.background.lead_in_s * spec.fps)
    indices = [_PLATE] * lead_in
    count = round(spec.duration_s * spec.fps)
    for index in range(lead_in, count):
        t = (index - lead_in) / spec.fps
        for start, end in spec.background.segments:
            span = abs(end - start)
            if t < span or (start, end) == spec.background.segments[-1]:
                clip_t = start + t if end >= start else start - t
                indices.append(max(0, math.floor(clip_t * fps + 1e-6)))
                break
            t -= span
    return indices


def _span_indices(span: tuple[float, float], fps: Fraction) -> list[int]:
    return list(range(round(span[0] * fps), round(span[1] * fps)))
