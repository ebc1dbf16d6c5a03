"""Tests for edge/rules/static_objects.py: candidates, owners, away clocks."""

from __future__ import annotations

import numpy as np
import pytest

from edge.rules.static_objects import (
    LedgerSettings,
    LeftObject,
    ObjectLedger,
    People,
    Sighting,
    StillTracks,
    still_detections,
)
from edge.rules.static_scene import BlobVerdict
from edge.types import Detections

T0 = 1_700_000_000.0
RESOLUTION = (400, 300)  # diagonal 500 px
LABELS = ("person", "bottle", "backpack")
OBJECT = [200.0, 250.0, 210.0, 265.0]
SETTINGS = LedgerSettings(owner_away_frac=0.1, owner_near_frac=0.1, clear_s=1.0)


def _people(t: float, *persons: tuple[int, list[float]]) -> People:
    return People(
        timestamp=T0 + t,
        xyxy=np.asarray([box for _, box in persons], dtype=np.float32).reshape(-1, 4),
        track_id=np.asarray([tid for tid, _ in persons], dtype=np.int64),
    )


def _seen(
    box: list[float] = OBJECT,
    *,
    appeared: float = 0.0,
    verdict: BlobVerdict = BlobVerdict.OBJECT,
) -> Sighting:
    return Sighting(
        xyxy=np.asarray(box, dtype=np.float32),
        appeared_at=T0 + appeared,
        verdict=verdict,
    )


def _step(
    ledger: ObjectLedger,
    t: float,
    sightings: list[Sighting],
    *persons: tuple[int, list[float]],
    others: Detections | None = None,
) -> LeftObject | None:
    ledger.update(
        sightings,
        people=_people(t, *persons),
        others=others if others is not None else Detections.empty(),
        labels=LABELS,
    )
    return ledger.objects[0] if ledger.objects else None


def _person_at(x: float) -> list[float]:
    return [x, 200.0, x + 20.0, 265.0]


def test_ledger_given_object_beside_person_should_make_them_its_owner() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [], (7, _person_at(175)))
    first = _step(ledger, 0.2, [_seen()], (7, _person_at(175)))
    assert first is not None and not first.is_confirmed
    obj = _step(ledger, 0.4, [_seen()], (7, _person_at(175)))
    assert obj is not None and obj.is_confirmed and obj.owner_id == 7
    assert obj.away_since is None
    assert obj.owner_gap_frac == pytest.approx(5 / 500)  # 5 px over the diagonal


def test_ledger_given_owner_walking_off_should_start_the_away_clock() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    near = _step(ledger, 1.0, [_seen()], (7, _person_at(215)))  # gap 5 px
    assert near is not None and near.away_since is None
    far = _step(ledger, 2.0, [_seen()], (7, _person_at(300)))  # gap 90 px > 50
    assert far is not None and far.away_since == T0 + 2.0
    assert far.away_for_s(T0 + 7.0) == pytest.approx(5.0)
    gone = _step(ledger, 3.0, [_seen()])  # out of view: still away
    assert gone is not None and gone.away_since == T0 + 2.0
    assert gone.owner_gap_frac is None
    back = _step(ledger, 4.0, [_seen()], (7, _person_at(215)))
    assert back is not None and back.away_since is None


def _fragment(box: list[float]) -> Sighting:
    return Sighting(
        xyxy=np.asarray(box, dtype=np.float32),
        appeared_at=T0,
        verdict=BlobVerdict.OBJECT,
        is_fragment=True,
    )


# The object's region grown over an owner the detector no longer finds.
OVER_OWNER = [190.0, 215.0, 212.0, 266.0]


def test_ledger_given_owner_lost_over_the_object_should_not_count_them_away() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    # The detector loses the owner; the region runs on into them. Where they
    # were last seen is masked for cover_s: that fragment proves nothing.
    obj = _step(ledger, 1.0, [_fragment(OVER_OWNER)])
    assert obj is not None and obj.away_since == T0 + 1.0
    for t in (3.0, 6.0, 9.0):
        obj = _step(ledger, t, [_fragment(OVER_OWNER)])
        assert obj is not None and obj.away_since is None, t
    # A frame of the object alone does not end it; a steady view does.
    obj = _step(ledger, 9.2, [_seen()])
    assert obj is not None and obj.away_since is None
    obj = _step(ledger, 10.6, [_seen()])  # cover_s (1.5 s) after the last
    assert obj is not None and obj.away_since == T0 + 10.6


def test_ledger_given_owner_lost_moving_beside_it_should_not_count_them_away() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    stirring = Sighting(
        xyxy=np.asarray(OBJECT, dtype=np.float32),
        appeared_at=T0,
        verdict=BlobVerdict.OBJECT,
        beside_motion=True,
    )
    for t in (3.0, 6.0):
        obj = _step(ledger, t, [stirring])
        assert obj is not None and obj.away_since is None, t
    obj = _step(ledger, 8.0, [_seen()])  # still now, nobody beside it
    assert obj is not None and obj.away_since == T0 + 8.0


def test_ledger_given_fragment_explained_by_a_passer_by_should_count_owner_away() -> (
    None
):
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    _step(ledger, 1.0, [_seen()])  # the owner is gone from view
    # Someone else walks in and over the object: that is what cuts its region.
    _step(ledger, 4.0, [_seen()], (12, _person_at(0)))
    obj = _step(ledger, 5.0, [_fragment(OVER_OWNER)], (12, _person_at(185)))
    assert obj is not None and obj.away_since == T0 + 1.0


def test_ledger_given_owner_last_seen_far_should_not_hold_them_over_it() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    _step(ledger, 1.0, [_seen()], (7, _person_at(370)))  # walked off to the right
    obj = _step(ledger, 2.0, [_fragment(OVER_OWNER)])
    assert obj is not None and obj.away_since == T0 + 1.0


def test_ledger_given_owner_found_again_under_new_id_should_follow_them() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    _step(ledger, 1.0, [_seen()])  # lost by the tracker for a moment
    obj = _step(ledger, 1.6, [_seen()], (9, _person_at(178)))
    assert obj is not None and obj.owner_id == 9 and obj.away_since is None


def test_ledger_given_newcomer_near_object_should_not_take_it_over() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        _step(ledger, 0.2 * i, [_seen()], (7, _person_at(175)))
    _step(ledger, 1.0, [_seen()], (7, _person_at(380)))  # leaves at the right
    _step(ledger, 2.0, [_seen()])
    # A stranger walks in from the left, 10 s later, and stops by the object.
    _step(ledger, 12.0, [_seen()], (11, _person_at(0)))
    obj = _step(ledger, 14.0, [_seen()], (11, _person_at(178)))
    assert obj is not None and obj.owner_id == 7 and obj.away_since == T0 + 1.0


def test_ledger_given_owner_unconfirmed_by_the_tracker_should_still_own_it() -> None:
    # Tracked walking up (id 7), then only unconfirmed detections while they
    # stand by the object: those continue track 7.
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [], (7, _person_at(170)))  # before the owner window
    for t in (1.2, 1.6, 2.0):
        obj = _step(ledger, t, [_seen(appeared=1.4)], (-1, _person_at(178)))
    assert obj is not None and obj.is_confirmed and obj.owner_id == 7


def test_ledger_given_unconfirmed_stranger_long_after_a_track_should_not_own_it() -> (
    None
):
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [], (7, _person_at(170)))
    for t in (5.2, 5.6, 6.0):  # 5 s later: no continuation of track 7
        obj = _step(ledger, t, [_seen(appeared=5.4)], (-1, _person_at(178)))
    assert obj is not None and obj.is_confirmed and obj.owner_id is None


def test_ledger_given_nobody_near_when_it_appeared_should_have_no_owner() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    for i in range(3):
        obj = _step(ledger, 0.2 * i, [_seen()], (7, _person_at(10)))
    assert obj is not None and obj.is_confirmed and obj.owner_id is None
    assert obj.away_since == obj.first_seen


def test_ledger_given_region_the_size_of_a_person_should_mark_it_a_person() -> None:
    ledger = ObjectLedger(LedgerSettings(max_area_frac=0.05), resolution_wh=RESOLUTION)
    body = [180.0, 200.0, 200.0, 265.0]
    _step(ledger, 0.0, [], (3, body))
    for i in range(1, 4):  # the detector lost them; their body stays
        obj = _step(ledger, 0.2 * i, [_seen(body)])
    assert obj is not None and obj.is_person


@pytest.mark.parametrize("verdict", [BlobVerdict.GHOST, BlobVerdict.LIGHT])
def test_ledger_given_ghost_or_light_over_time_should_drop_it_and_ask_to_relearn(
    verdict: BlobVerdict,
) -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    ghost = _seen(verdict=verdict)
    updates = [
        ledger.update(
            [ghost], people=_people(t), others=Detections.empty(), labels=LABELS
        )
        for t in (0.0, 0.2, 0.4, 0.6)
    ]
    # Not on a glimpse: three verdicts spanning half a second.
    assert [u.relearn for u in updates[:3]] == [(), (), ()]
    assert ledger.objects == []
    assert [b.tolist() for b in updates[3].relearn] == [OBJECT]


def test_ledger_given_fragment_looking_like_ghost_should_keep_it_watchable() -> None:
    # The owner stands over most of the bag: the visible part's border runs
    # along a structure edge and reads as a ghost. Its votes do not count.
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    owner = (7, [195.0, 180.0, 215.0, 262.0])
    fragment = Sighting(
        xyxy=np.asarray([208.0, 250.0, 212.0, 265.0], dtype=np.float32),
        appeared_at=T0,
        verdict=BlobVerdict.GHOST,
        is_fragment=True,
    )
    for i in range(20):
        update = ledger.update(
            [fragment],
            people=_people(0.2 * i, owner),
            others=Detections.empty(),
            labels=LABELS,
        )
        assert update.relearn == ()
    watched = ledger.objects[0]
    assert not watched.is_confirmed and watched.other_votes == 0
    # The owner steps away: the whole bag, in view, looks like an object.
    for i in range(3):
        obj = _step(ledger, 4.0 + 0.2 * i, [_seen()], (7, _person_at(300.0)))
    assert obj is not None and obj.is_confirmed and obj.owner_id == 7
    assert [o.object_id for o in ledger.objects] == [watched.object_id]


def test_ledger_given_object_verdict_among_ghost_verdicts_should_not_drop_it() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [_seen()])
    for i in range(1, 8):
        obj = _step(ledger, 0.2 * i, [_seen(verdict=BlobVerdict.GHOST)])
        assert obj is not None


def test_ledger_given_watched_object_seen_smaller_than_min_area_should_keep_it() -> (
    None
):
    settings = LedgerSettings(min_area_frac=150 / 120_000, clear_s=1.0)
    ledger = ObjectLedger(settings, resolution_wh=RESOLUTION)
    for t in (0.0, 0.2):
        _step(ledger, t, [_seen()])  # 10x15 = 150 px: watched
    small = [202.0, 252.0, 210.0, 263.0]  # 8x11 = 88 px: over half the minimum
    for t in (1.0, 2.0, 3.0):
        obj = _step(ledger, t, [_seen(small)])
        assert obj is not None and obj.is_confirmed, t
    fresh = ObjectLedger(settings, resolution_wh=RESOLUTION)
    assert _step(fresh, 0.0, [_seen(small)]) is None  # too small to start


def test_ledger_given_object_unseen_for_clear_s_should_report_it_gone() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [_seen()])
    update = ledger.update(
        [], people=_people(0.8), others=Detections.empty(), labels=LABELS
    )
    assert update.gone == ()
    update = ledger.update(
        [], people=_people(1.2), others=Detections.empty(), labels=LABELS
    )
    assert [o.object_id for o in update.gone] == [1]


def test_ledger_given_object_hidden_by_a_person_should_keep_it() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [_seen()])
    standing_on_it = [195.0, 190.0, 215.0, 268.0]
    for i in range(1, 20):
        _step(ledger, 0.5 * i, [], (4, standing_on_it))
    assert [o.object_id for o in ledger.objects] == [1]


TABLE = [150.0, 100.0, 260.0, 290.0]  # a big box with the object at its foot


@pytest.mark.parametrize(
    ("detections", "label"),
    [
        ([], None),
        ([(1, OBJECT)], None),  # one vote is not enough
        ([(1, OBJECT), (1, OBJECT)], "bottle"),
        ([(2, [0.0, 0.0, 10.0, 10.0]), (2, [0.0, 0.0, 10.0, 10.0])], None),  # far
        ([(2, TABLE), (2, TABLE), (2, TABLE)], None),  # holds it, is not it
        ([(0, OBJECT), (0, OBJECT), (0, OBJECT)], None),  # not among the names
        ([(1, OBJECT), (1, OBJECT), (2, OBJECT), (2, OBJECT), (2, OBJECT)], "backpack"),
    ],
)
def test_ledger_labels_given_detections_over_frames_should_vote(
    detections: list[tuple[int, list[float]]], label: str | None
) -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [_seen()])
    for i, (class_id, box) in enumerate(detections):
        others = Detections.from_lists([box], confidence=[0.8], class_id=[class_id])
        _step(ledger, 0.2 * (i + 1), [_seen()], others=others)
    obj = ledger.objects[0]
    assert obj.label_among({"bottle", "backpack"}) == label
    if label is not None:
        assert obj.label_confidence(label) == pytest.approx(0.8)
    assert obj.label_confidence("cup") == 0.0


def test_ledger_given_blob_outside_area_bounds_should_ignore_it() -> None:
    ledger = ObjectLedger(SETTINGS, resolution_wh=RESOLUTION)
    _step(ledger, 0.0, [_seen([0.0, 0.0, 300.0, 200.0]), _seen([5.0, 5.0, 6.0, 6.0])])
    assert ledger.objects == []


def test_still_detections_given_carried_bag_should_drop_it() -> None:
    detections = Detections.from_lists(
        [[105.0, 150.0, 115.0, 170.0], [300.0, 250.0, 320.0, 265.0]],
        class_id=[2, 2],
    )
    people = _people(0.0, (1, [100.0, 100.0, 130.0, 200.0]))
    keep = still_detections(detections, wanted=np.array([True, True]), people=people)
    assert keep.tolist() == [False, True]


def test_still_tracks_given_moving_then_still_box_should_time_from_the_stop() -> None:
    still = StillTracks(diag_px=500.0)

    def at(x: float, t: float) -> dict[int, float]:
        box = Detections.from_lists([[x, 0.0, x + 10, 10.0]], tracker_id=[5])
        return still.update(box, T0 + t)

    assert at(0.0, 0.0) == {}
    assert at(50.0, 0.5) == {}  # moved: clock restarts
    assert at(52.0, 1.0) == {}
    assert at(53.0, 1.6) == {5: T0 + 0.5}
    assert still.update(Detections.empty(), T0 + 2.0) == {}
