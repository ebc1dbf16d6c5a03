"""Matching raised events to expected ones, and the metrics, on synthetic events."""

from __future__ import annotations

import pytest

from gridwatch.contract import EventType
from harness.accuracy.match import (
    EventMatching,
    OccupancySample,
    TypeTally,
    check_counts,
    count_bias,
    count_bias_by_label,
    count_mae,
    count_mae_by_label,
    match_events,
    merge_tallies,
    region_overlaps,
    tally,
    total,
    zone_count,
)
from harness.accuracy.scenario import BoxNorm, ExpectedEvent
from tests.harness.accuracy.factories import count, expected, raised, sample

REGION: BoxNorm = (0.2, 0.3, 0.8, 1.0)


@pytest.mark.parametrize(
    ("box", "is_overlapping"),
    [
        ((0.3, 0.4, 0.5, 0.6), True),  # inside
        ((0.0, 0.0, 0.25, 0.35), True),  # corner overlap
        ((0.0, 0.0, 0.2, 0.3), False),  # touches the corner only
        ((0.0, 0.0, 0.1, 0.1), False),  # apart
        ((0.5, 0.5, 0.5, 0.5), True),  # degenerate box, centre inside
        ((0.9, 0.5, 0.9, 0.5), False),  # degenerate box, centre outside
        ((0.0, 0.0, 1.0, 1.0), True),  # contains the region
    ],
)
def test_region_overlaps_given_box_should_need_area_or_centre_inside(
    box: BoxNorm, is_overlapping: bool
) -> None:
    assert region_overlaps(box, REGION) is is_overlapping


def test_match_events_given_nothing_should_return_empty() -> None:
    assert match_events([], []) == EventMatching()


def test_match_events_given_event_in_window_should_match_with_latency() -> None:
    result = match_events([expected("fall", 0.4, 4.3)], [raised("fall", 1.9)])

    assert [m.event.t_s for m in result.matches] == [1.9]
    assert result.matches[0].latency_s == pytest.approx(1.5)
    assert result.misses == ()
    assert result.false_alarms == ()


@pytest.mark.parametrize("t_s", [0.4, 4.3])
def test_match_events_given_event_on_window_edge_should_match(t_s: float) -> None:
    result = match_events([expected("fall", 0.4, 4.3)], [raised("fall", t_s)])

    assert len(result.matches) == 1


@pytest.mark.parametrize(
    ("event_t", "reason"),
    [
        (0.1, "nearest fall event at 0.1 s, 0.3 s before the window"),
        (5.0, "nearest fall event at 5.0 s, 0.7 s after the window"),
    ],
)
def test_match_events_given_event_outside_window_should_miss_and_alarm(
    event_t: float, reason: str
) -> None:
    result = match_events([expected("fall", 0.4, 4.3)], [raised("fall", event_t)])

    assert result.matches == ()
    assert [m.reason for m in result.misses] == [reason]
    assert result.misses[0].nearest == raised("fall", event_t)
    assert [e.t_s for e in result.false_alarms] == [event_t]


def test_match_events_given_other_type_should_not_match() -> None:
    result = match_events([expected("fall", 0.0, 5.0)], [raised("intrusion", 1.0)])

    assert result.misses[0].reason == "no fall event raised"
    assert result.misses[0].nearest is None
    assert [e.type for e in result.false_alarms] == ["intrusion"]


@pytest.mark.parametrize(
    ("box", "is_matched"),
    [
        ((0.3, 0.4, 0.6, 0.9), True),
        ((0.0, 0.0, 0.1, 0.2), False),
        (None, False),  # a region needs a box
    ],
)
def test_match_events_given_region_should_need_overlapping_box(
    box: BoxNorm | None, is_matched: bool
) -> None:
    result = match_events(
        [expected("fall", 0.0, 5.0, region=REGION)], [raised("fall", 1.0, box=box)]
    )

    assert len(result.matches) == int(is_matched)
    if not is_matched:
        assert "box outside the region" in result.misses[0].reason


def test_match_events_given_no_region_should_match_any_box() -> None:
    result = match_events([expected("fall", 0.0, 5.0)], [raised("fall", 1.0)])

    assert len(result.matches) == 1


def test_match_events_given_one_event_for_two_expected_should_match_once() -> None:
    truth = [expected("crowding", 0.0, 10.0), expected("crowding", 5.0, 15.0)]

    result = match_events(truth, [raised("crowding", 7.0)])

    assert len(result.matches) == 1
    assert len(result.misses) == 1
    assert "matched another expected event" in result.misses[0].reason
    assert result.false_alarms == ()


def test_match_events_given_two_events_for_one_expected_should_alarm_the_later() -> (
    None
):
    result = match_events(
        [expected("crowding", 0.0, 10.0)],
        [raised("crowding", 8.0), raised("crowding", 3.0)],
    )

    assert [m.event.t_s for m in result.matches] == [3.0]
    assert [e.t_s for e in result.false_alarms] == [8.0]


def test_match_events_given_greedy_trap_should_find_the_maximum_matching() -> None:
    # The event at 4 s fits both windows; only it fits the second. Greedy
    # earliest-first would give it to the first and miss the second.
    truth = [expected("intrusion", 0.0, 10.0), expected("intrusion", 3.0, 5.0)]

    result = match_events(truth, [raised("intrusion", 4.0), raised("intrusion", 9.0)])

    pairs = {m.expected_index: m.event.t_s for m in result.matches}
    assert pairs == {0: 9.0, 1: 4.0}
    assert result.misses == ()
    assert result.false_alarms == ()


def test_match_events_given_many_types_should_match_each_type_apart() -> None:
    truth = [
        expected("fall", 1.0, 3.0),
        expected("intrusion", 1.0, 3.0),
        expected("crowding", 20.0, 30.0),
    ]
    events = [
        raised("intrusion", 2.0),
        raised("fall", 2.5),
        raised("fall", 12.0),
        raised("littering", 13.0),
    ]

    result = match_events(truth, events)

    assert {m.event.type for m in result.matches} == {"fall", "intrusion"}
    assert [m.expected.type for m in result.misses] == ["crowding"]
    assert [(e.type, e.t_s) for e in result.false_alarms] == [
        ("fall", 12.0),
        ("littering", 13.0),
    ]


def test_tally_given_matching_should_count_per_type() -> None:
    truth = [expected("fall", 0.0, 2.0), expected("fall", 10.0, 12.0)]
    events = [raised("fall", 1.5), raised("fall", 5.0), raised("intrusion", 1.0)]

    tallies = tally(match_events(truth, events))

    assert tallies == {
        "fall": TypeTally(tp=1, fp=1, fn=1, latencies_s=(1.5,)),
        "intrusion": TypeTally(fp=1),
    }


@pytest.mark.parametrize(
    ("item", "precision", "recall", "f1"),
    [
        (TypeTally(), None, None, None),
        (TypeTally(tp=3), 1.0, 1.0, 1.0),
        (TypeTally(fp=2), 0.0, None, 0.0),
        (TypeTally(fn=2), None, 0.0, 0.0),
        (TypeTally(tp=2, fp=1, fn=1), 2 / 3, 2 / 3, 2 / 3),
        (TypeTally(tp=1, fp=3), 0.25, 1.0, 0.4),
    ],
)
def test_type_tally_given_counts_should_give_rates(
    item: TypeTally, precision: float | None, recall: float | None, f1: float | None
) -> None:
    assert item.precision == pytest.approx(precision)
    assert item.recall == pytest.approx(recall)
    assert item.f1 == pytest.approx(f1)


def test_type_tally_to_dict_given_latencies_should_give_mean_p50_max() -> None:
    item = TypeTally(tp=4, fp=1, latencies_s=(1.0, 2.0, 4.0, 9.0))

    assert item.to_dict() == {
        "tp": 4,
        "fp": 1,
        "fn": 0,
        "precision": 0.8,
        "recall": 1.0,
        "f1": 0.889,
        "latency_s_mean": 4.0,
        "latency_s_p50": 3.0,
        "latency_s_max": 9.0,
    }


def test_type_tally_to_dict_given_no_match_should_give_no_latency() -> None:
    stats = TypeTally(fn=1).to_dict()

    assert stats["latency_s_mean"] is None
    assert stats["latency_s_p50"] is None
    assert stats["precision"] is None


def test_merge_tallies_given_scenarios_should_sum_per_type_and_total() -> None:
    merged = merge_tallies(
        [
            {"fall": TypeTally(tp=1, latencies_s=(1.0,))},
            {"fall": TypeTally(fn=1), "intrusion": TypeTally(fp=2)},
            {},
        ]
    )

    assert merged == {
        "fall": TypeTally(tp=1, fn=1, latencies_s=(1.0,)),
        "intrusion": TypeTally(fp=2),
    }
    assert total(merged) == TypeTally(tp=1, fp=2, fn=1, latencies_s=(1.0,))
    assert total({}) == TypeTally()


@pytest.mark.parametrize(
    ("zone", "label", "value"),
    [
        ("all", "person", 5),
        ("floor", "person", 3),
        ("door", "person", 2),
        ("door", "car", 1),
        ("floor", "car", 0),
        ("nowhere", "person", 0),
        ("all", "bicycle", 0),
    ],
)
def test_zone_count_given_zone_should_read_it_or_sum_all(
    zone: str, label: str, value: int
) -> None:
    message = sample(1.0, floor={"person": 3}, door={"person": 2, "car": 1})

    assert zone_count(message, zone=zone, label=label) == value


def test_check_counts_given_samples_should_use_the_nearest() -> None:
    samples = [
        sample(0.2, room={"person": 0}),
        sample(14.8, room={"person": 7}),
        sample(15.3, room={"person": 9}),
    ]

    checks = check_counts(
        [count(15.0, 8, tolerance=1), count(0.0, 0)], samples, max_gap_s=1.0
    )

    assert [(c.observed, c.at_s, c.abs_error) for c in checks] == [
        (7, 14.8, 1),
        (0, 0.2, 0),
    ]
    assert [c.is_within_tolerance for c in checks] == [True, True]
    assert count_mae(checks) == pytest.approx(0.5)


def test_check_counts_given_error_above_tolerance_should_not_be_ok() -> None:
    checks = check_counts(
        [count(1.0, 8, tolerance=1)], [sample(1.0, room={"person": 5})], max_gap_s=1.0
    )

    assert checks[0].abs_error == 3
    assert not checks[0].is_within_tolerance
    assert checks[0].to_dict()["ok"] is False


@pytest.mark.parametrize("samples", [[], [sample(5.0, room={"person": 1})]])
def test_check_counts_given_no_sample_near_should_leave_it_unmeasured(
    samples: list[OccupancySample],
) -> None:
    checks = check_counts([count(1.0, 1)], samples, max_gap_s=1.0)

    assert checks[0].observed is None
    assert checks[0].abs_error is None
    assert not checks[0].is_within_tolerance
    assert count_mae(checks) is None


def test_count_mae_given_no_checks_should_be_none() -> None:
    assert count_mae([]) is None


def test_expected_event_type_is_the_contract_enum() -> None:
    item: ExpectedEvent = expected("fall", 0.0, 1.0)

    assert item.type is EventType.FALL


def test_count_mae_by_label_should_keep_labels_apart() -> None:
    samples = [sample(1.0, room={"person": 5, "car": 2})]

    checks = check_counts(
        [
            count(1.0, 5, label="person"),
            count(1.0, 3, label="person"),
            count(1.0, 0, label="car"),
            count(9.0, 1, label="bottle"),
        ],
        samples,
        max_gap_s=1.0,
    )

    assert count_mae_by_label(checks) == {"bottle": None, "car": 2.0, "person": 1.0}


def test_count_bias_given_errors_both_ways_should_keep_their_sign() -> None:
    samples = [sample(1.0, room={"person": 5, "car": 2})]

    checks = check_counts(
        [
            count(1.0, 4, label="person"),  # +1
            count(1.0, 4, label="person"),  # +1
            count(1.0, 7, label="person"),  # -2
            count(1.0, 0, label="car"),  # +2
            count(9.0, 1, label="bottle"),  # unmeasured
        ],
        samples,
        max_gap_s=1.0,
    )

    assert [c.error for c in checks] == [1, 1, -2, 2, None]
    assert count_mae(checks) == pytest.approx(1.5)
    assert count_bias(checks) == pytest.approx(0.5)
    assert count_bias_by_label(checks) == {"bottle": None, "car": 2.0, "person": 0.0}
    assert checks[2].to_dict()["error"] == -2
    assert count_bias([]) is None
