"""Tests for edge/rules/static_scene.py on synthesised small frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.rules.static_scene import (
    BlobVerdict,
    SceneSettings,
    SceneUpdate,
    StaticScene,
)
from tests.edge.rules.synthetic_scene import floor

T0 = 1_700_000_000.0
H, W = 60, 80
NO_PEOPLE = np.zeros((0, 4), dtype=np.float32)
ZONE = np.ones((H, W), dtype=np.bool_)
SETTINGS = SceneSettings(warmup_s=1.0, short_s=0.5, min_area_px=4)


def _floor() -> npt.NDArray[np.float32]:
    return floor(seed=3)[:H, :W]


def _bgr(grey: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    image = np.clip(grey, 0, 255).astype(np.uint8)
    return np.repeat(image[:, :, None], 3, axis=2)


def _feed(
    scene: StaticScene,
    frames: list[npt.NDArray[np.float32]],
    *,
    start_s: float = 0.0,
    people: npt.NDArray[np.float32] = NO_PEOPLE,
) -> SceneUpdate:
    update = SceneUpdate()
    for i, grey in enumerate(frames):
        update = scene.update(
            _bgr(grey),
            timestamp=T0 + start_s + i * 0.2,
            person_boxes=people,
            keep_boxes=[],
            zone_mask=ZONE,
        )
    return update


def _with_patch(base: npt.NDArray[np.float32], level: float) -> npt.NDArray[np.float32]:
    image = base.copy()
    image[30:40, 30:38] = level
    image[34:36, 30:38] = level - 100  # a label across it: edges inside
    return image


def test_static_scene_given_new_object_should_report_one_object_blob() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_with_patch(base, 230.0)] * 10, start_s=2.0)
    assert update.is_warm
    assert [b.verdict for b in update.blobs] == [BlobVerdict.OBJECT]
    x1, y1, x2, y2 = update.blobs[0].box
    assert x1 <= 31 and y1 <= 31 and x2 >= 37 and y2 >= 39
    assert 2.0 <= update.blobs[0].appeared_at - T0 <= 2.3


def test_static_scene_given_object_taken_away_should_report_a_ghost() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [_with_patch(base, 230.0)] * 10)  # learned with the object
    update = _feed(scene, [base] * 10, start_s=2.0)
    assert [b.verdict for b in update.blobs] == [BlobVerdict.GHOST]


def test_static_scene_given_shadow_on_texture_should_report_lighting() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor() * 1.0
    base[::2, :] += 30.0  # a strongly textured surface
    _feed(scene, [base] * 10)
    shaded = base.copy()
    shaded[20:45, 20:50] *= 0.6  # a soft-edged shadow would be the same
    update = _feed(scene, [shaded] * 10, start_s=2.0)
    assert update.blobs
    assert {b.verdict for b in update.blobs} == {BlobVerdict.LIGHT}


def test_static_scene_given_global_light_change_should_report_nothing() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    first = _feed(scene, [base * 0.6], start_s=2.0)
    assert first.gain == pytest.approx(0.6, abs=0.05)
    update = _feed(scene, [base * 0.6] * 10, start_s=2.2)
    assert update.blobs == ()


def test_static_scene_given_change_over_most_of_zone_should_relearn() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    changed = base.copy()
    changed[:, : W * 3 // 4] = 240.0  # not a gain: a new scene
    relearned = [
        _feed(scene, [changed], start_s=2.0 + 0.2 * i).relearned for i in range(3)
    ]
    assert relearned[0] is True
    assert _feed(scene, [changed] * 5, start_s=3.0).blobs == ()


def test_static_scene_given_person_standing_should_not_report_or_learn_them() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    person = base.copy()
    person[10:50, 30:42] = 40.0
    box = np.array([[30, 10, 42, 50]], dtype=np.float32)
    update = _feed(scene, [person] * 20, start_s=2.0, people=box)
    assert update.blobs == ()
    # Never learned: once they leave nothing is left behind (no ghost).
    after = _feed(scene, [base] * 15, start_s=6.0)
    assert after.blobs == ()


def test_static_scene_during_warmup_should_report_nothing() -> None:
    scene = StaticScene(SceneSettings(warmup_s=5.0, short_s=0.5, min_area_px=4))
    base = _floor()
    _feed(scene, [base] * 3)
    update = _feed(scene, [_with_patch(base, 230.0)] * 10, start_s=0.6)
    assert not update.is_warm
    assert update.blobs == ()


def test_static_scene_relearn_without_shelf_should_absorb_a_region() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_with_patch(base, 230.0)] * 10, start_s=2.0)
    scene.relearn(update.blobs[0].box, shelve=False)
    assert _feed(scene, [_with_patch(base, 230.0)] * 6, start_s=4.0).blobs == ()
    assert scene.shelved_px == 0


def test_static_scene_given_object_relearned_by_mistake_should_revive_it() -> None:
    # A relearn is undone by evidence: the region keeps differing from its
    # former background and looks like an object against it, frame after frame.
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_with_patch(base, 230.0)] * 10, start_s=2.0)
    scene.relearn(update.blobs[0].box)
    assert scene.shelved_px > 0
    first = _feed(scene, [_with_patch(base, 230.0)], start_s=4.0)
    assert first.blobs == ()  # relearned: gone for now
    revived = [
        _feed(scene, [_with_patch(base, 230.0)], start_s=4.2 + 0.2 * i)
        for i in range(4)
    ]
    assert any(u.revived for u in revived)
    back = revived[-1].blobs
    assert [b.verdict for b in back] == [BlobVerdict.OBJECT]
    # With its first appearance time, not the time it was revived.
    assert 2.0 <= back[0].appeared_at - T0 <= 2.3
    assert scene.shelved_px == 0


def test_static_scene_given_ghost_relearned_should_not_revive_it() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [_with_patch(base, 230.0)] * 10)  # learned with the object
    update = _feed(scene, [base] * 10, start_s=2.0)
    assert [b.verdict for b in update.blobs] == [BlobVerdict.GHOST]
    scene.relearn(update.blobs[0].box)
    after = [_feed(scene, [base], start_s=4.0 + 0.2 * i) for i in range(15)]
    assert all(u.revived == () and u.blobs == () for u in after)


def test_static_scene_given_object_picked_up_after_relearn_should_drop_shelf() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_with_patch(base, 230.0)] * 10, start_s=2.0)
    scene.relearn(update.blobs[0].box)
    # The floor shows again: the former background was right there.
    _feed(scene, [base] * 12, start_s=4.0)
    assert scene.shelved_px == 0


def _kerb_floor() -> npt.NDArray[np.float32]:
    image = _floor().copy()
    image[:, 40:] = 200.0  # a kerb: a strong vertical edge at x = 40
    return image


def _bag_against_kerb(base: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    image = base.copy()
    image[30:44, 28:40] = 30.0  # a dark bag whose right side lies on the edge
    return image


def test_static_scene_given_object_against_an_edge_should_report_an_object() -> None:
    scene = StaticScene(SETTINGS)
    base = _kerb_floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_bag_against_kerb(base)] * 10, start_s=2.0)
    assert [b.verdict for b in update.blobs] == [BlobVerdict.OBJECT]
    assert not update.blobs[0].is_fragment


def test_static_scene_given_ghost_against_an_edge_should_report_a_ghost() -> None:
    scene = StaticScene(SETTINGS)
    base = _kerb_floor()
    _feed(scene, [_bag_against_kerb(base)] * 10)
    update = _feed(scene, [base] * 10, start_s=2.0)
    assert [b.verdict for b in update.blobs] == [BlobVerdict.GHOST]


def test_static_scene_given_owner_over_object_should_report_a_fragment() -> None:
    scene = StaticScene(SETTINGS)
    base = _kerb_floor()
    _feed(scene, [base] * 10)
    owner = _bag_against_kerb(base)
    owner[5:41, 22:36] = 60.0  # the owner stands over most of the bag
    box = np.array([[22, 5, 36, 41]], dtype=np.float32)
    update = _feed(scene, [owner] * 10, start_s=2.0, people=box)
    assert update.blobs
    assert all(b.is_fragment for b in update.blobs)


def test_static_scene_given_someone_undetected_moving_beside_it_should_say_astir() -> (
    None
):
    # Nobody detected: a dark shape that keeps changing (legs, a coat) stands
    # right beside the patch.
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    frames = []
    for i in range(10):
        image = _with_patch(base, 230.0)
        image[28:42, 39:46] = 20.0 if i % 2 else 90.0
        frames.append(image)
    update = _feed(scene, frames, start_s=2.0)
    (patch,) = [b for b in update.blobs if b.box[0] <= 31]
    assert patch.astir_frac > 0.1
    assert not patch.is_fragment  # not hidden: what moves is beside it
    calm = StaticScene(SETTINGS)
    _feed(calm, [base] * 10)
    (alone,) = _feed(calm, [_with_patch(base, 230.0)] * 10, start_s=2.0).blobs
    assert alone.astir_frac == 0.0


def test_static_scene_given_watched_object_below_min_area_should_keep_it() -> None:
    # An object 4x4 (32 px once the blur spreads it) against a 40 px minimum:
    # reported while watched (at least half the minimum), not otherwise.
    settings = SceneSettings(warmup_s=1.0, short_s=0.5, min_area_px=40)
    base = _floor()
    small = base.copy()
    small[30:34, 30:34] = 240.0
    for keep, expected in (([(29, 29, 35, 35)], 1), ([], 0)):
        scene = StaticScene(settings)
        _feed(scene, [base] * 10)
        update = SceneUpdate()
        for i in range(10):
            update = scene.update(
                _bgr(small),
                timestamp=T0 + 2.0 + i * 0.2,
                person_boxes=NO_PEOPLE,
                keep_boxes=keep,
                zone_mask=ZONE,
            )
        assert len(update.blobs) == expected, keep


def _patch_at(
    base: npt.NDArray[np.float32], rows: slice, cols: slice
) -> npt.NDArray[np.float32]:
    image = base.copy()
    image[rows, cols] = 230.0
    return image


@pytest.mark.parametrize(
    ("rows", "cols"),
    [(slice(0, 4), slice(30, 40)), (slice(25, 35), slice(0, 5))],
    ids=["top_edge", "left_edge"],
)
def test_static_scene_given_change_cut_by_the_picture_edge_should_be_a_fragment(
    rows: slice, cols: slice
) -> None:
    # Seen on the car-park footage: a car partly out of the picture moves at
    # the top edge; the part in view says nothing about the whole.
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(scene, [_patch_at(base, rows, cols)] * 10, start_s=2.0)
    assert update.blobs
    assert all(b.is_fragment and b.occluded_frac > 0.1 for b in update.blobs)


def test_static_scene_given_object_near_but_inside_the_edge_should_be_whole() -> None:
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    update = _feed(
        scene, [_patch_at(base, slice(4, 10), slice(30, 40))] * 10, start_s=2.0
    )
    assert [b.verdict for b in update.blobs] == [BlobVerdict.OBJECT]
    assert not update.blobs[0].is_fragment
    assert update.blobs[0].occluded_frac == 0.0


def test_static_scene_given_object_at_the_edge_relearned_should_not_revive() -> None:
    # Reviving takes the whole region in view; one cut by the edge never is.
    scene = StaticScene(SETTINGS)
    base = _floor()
    _feed(scene, [base] * 10)
    edge = _patch_at(base, slice(0, 4), slice(30, 40))
    update = _feed(scene, [edge] * 10, start_s=2.0)
    scene.relearn(update.blobs[0].box)
    after = [_feed(scene, [edge], start_s=4.0 + 0.2 * i) for i in range(6)]
    assert all(u.revived == () for u in after)


@pytest.mark.parametrize(
    ("image", "zone"),
    [
        (np.zeros((H, W), dtype=np.uint8), ZONE),
        (np.zeros((H, W, 3), dtype=np.uint8), np.ones((H, W + 1), dtype=np.bool_)),
    ],
)
def test_static_scene_given_bad_shapes_should_raise(
    image: npt.NDArray[np.uint8], zone: npt.NDArray[np.bool_]
) -> None:
    scene = StaticScene(SETTINGS)
    with pytest.raises(ValueError, match="shape"):
        scene.update(
            image, timestamp=T0, person_boxes=NO_PEOPLE, keep_boxes=[], zone_mask=zone
        )


def test_static_scene_given_frame_size_change_should_raise() -> None:
    scene = StaticScene(SETTINGS)
    _feed(scene, [_floor()])
    with pytest.raises(ValueError, match="size changed"):
        scene.update(
            np.zeros((H + 2, W, 3), dtype=np.uint8),
            timestamp=T0 + 1,
            person_boxes=NO_PEOPLE,
            keep_boxes=[],
            zone_mask=np.ones((H + 2, W), dtype=np.bool_),
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"short_s": 0},
        {"background_s": -1},
        {"relearn_frac": 0},
        {"min_area_px": 0},
        {"revive_frames": 0},
        {"occluded_frac": 1.5},
    ],
)
def test_scene_settings_given_bad_value_should_raise(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        SceneSettings(**bad)  # type: ignore[arg-type]
