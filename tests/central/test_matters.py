"""The matter list, duty hours and the config: valid input loads, bad input is named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from central.config import CentralConfigError, load_settings
from central.matters import (
    MatterListError,
    load_matter_list,
    parse_matter_list,
    readable_event_type,
)
from central.tickets.duty import DutyWindow, on_duty, parse_duty


def test_shipped_matter_list_maps_every_event_type() -> None:
    matters = load_matter_list()
    littering = matters.for_event_type("littering")
    assert littering is not None
    assert (littering.category.code, littering.category.name) == (
        "0102",
        "市容环境/暴露垃圾",
    )
    for event_type in (
        "crowding",
        "intrusion",
        "abandoned_object",
        "fall",
        "illegal_parking",
        "presence",
    ):
        assert matters.for_event_type(event_type) is not None, event_type
    assert matters.escalation_steps(matters.by_key("fall")) == [0, 10, 20]
    assert matters.merge_policy(littering).distance_m == 30


def test_shipped_matter_list_words_every_event_type_as_before() -> None:
    matters = load_matter_list()
    words = {
        event_type: (matters.label_of(event_type), matters.title_of(event_type))
        for event_type in matters.by_event_type()
    }
    assert words == {
        "crowding": ("Crowding", "Crowd gathering"),
        "intrusion": ("Intrusion", "Intrusion into a restricted zone"),
        "littering": ("Littering", "Littering / exposed rubbish"),
        "abandoned_object": ("Abandoned object", "Abandoned object"),
        "fall": ("Person fallen", "Person fallen"),
        "presence": ("Presence", "Watched object present"),
        "illegal_parking": ("Illegal parking", "Vehicle parked illegally"),
        # IoT sensor events (docs/iot.md)
        "fire_alarm": ("Fire alarm", "Smoke / fire alarm"),
        "waterlogging": ("Waterlogging", "Water level high (waterlogging)"),
        "manhole_displaced": (
            "Manhole cover displaced",
            "Manhole cover tilted or missing",
        ),
        "bin_full": ("Bin full", "Rubbish bin full"),
        "noise": ("Noise", "Noise above the limit"),
        "air_quality": ("Air quality", "PM2.5 above the limit"),
        "door_open": ("Door open", "Door or gate left open"),
        "sensor_offline": ("Sensor offline", "Sensor silent (maintenance)"),
        "sensor_fault": ("Sensor stuck", "Sensor value stuck (maintenance)"),
    }


def test_any_plug_in_event_type_may_be_listed_with_or_without_words() -> None:
    matters = parse_matter_list(
        "version: '1'\nmatters:\n"
        "  - {key: a, event_types: [toy_rule, other_2], category: {code: '0101',"
        " class: A, subclass: B}, department: d, time_limit_min: 5}\n"
        "  - {key: b, event_types: {blocked_exit: {label: Exit blocked}},"
        " category: {code: '0102', class: A, subclass: C}, department: d,"
        " time_limit_min: 5}\n",
        source="test.yaml",
    )
    assert list(matters.by_event_type()) == ["toy_rule", "other_2", "blocked_exit"]
    toy = matters.for_event_type("toy_rule")
    assert toy is not None and toy.key == "a"
    assert (matters.label_of("toy_rule"), matters.title_of("toy_rule")) == (
        "Toy rule",
        "Toy rule",
    )
    assert matters.title_of("blocked_exit") == "Exit blocked"  # title: the label
    assert matters.for_event_type("unlisted") is None
    assert matters.label_of("unlisted_type") == "Unlisted type"


@pytest.mark.parametrize(
    ("event_type", "readable"),
    [("fall", "Fall"), ("some_type", "Some type"), ("a_b_c", "A b c"), ("", "")],
)
def test_readable_event_type_is_the_fallback_wording(
    event_type: str, readable: str
) -> None:
    assert readable_event_type(event_type) == readable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nmatters: [", "not valid YAML"),
        ("version: '1'\nmatters: []", "matters"),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, category: {code: '0101', class: A, subclass: B},"
            " department: d, time_limit_min: 5}\n"
            "  - {key: a, category: {code: '0102', class: A, subclass: C},"
            " department: d, time_limit_min: 5}\n",
            "matter key 'a' appears twice",
        ),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, event_types: [UFO-1], category: {code: '0101', class: A,"
            " subclass: B}, department: d, time_limit_min: 5}\n",
            "event_types",
        ),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, event_types: [ufo, ufo], category: {code: '0101',"
            " class: A, subclass: B}, department: d, time_limit_min: 5}\n",
            "'ufo' appears twice",
        ),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, event_types: [ufo], category: {code: '0101', class: A,"
            " subclass: B}, department: d, time_limit_min: 5}\n"
            "  - {key: b, event_types: {ufo: {label: UFO}}, category: {code: '0102',"
            " class: A, subclass: C}, department: d, time_limit_min: 5}\n",
            "'ufo' is mapped by both 'a' and 'b'",
        ),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, event_types: {ufo: {label: ''}}, category: {code: '0101',"
            " class: A, subclass: B}, department: d, time_limit_min: 5}\n",
            "event_types.ufo.label",
        ),
        (
            "version: '1'\nmatters:\n"
            "  - {key: a, category: {code: '1', class: A, subclass: B},"
            " department: d, time_limit_min: 0}\n",
            "time_limit_min",
        ),
    ],
)
def test_bad_matter_lists_are_refused_with_the_reason(text: str, expected: str) -> None:
    with pytest.raises(MatterListError, match=expected):
        parse_matter_list(text, source="test.yaml")


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "central.yaml"
    config.write_text("mqtt: {port: 99999}\nsurprise: 1\n")
    with pytest.raises(CentralConfigError) as caught:
        load_settings(config)
    assert "mqtt.port" in str(caught.value) and "surprise" in str(caught.value)


def test_duty_windows_including_overnight() -> None:
    day = DutyWindow.parse({"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"})
    night = DutyWindow.parse({"days": [5], "start": "22:00", "end": "06:00"})
    wednesday_noon = datetime(2026, 11, 25, 12, 0)
    saturday_3am = datetime(2026, 11, 28, 3, 0)  # the Friday night shift
    sunday_3am = datetime(2026, 11, 29, 3, 0)
    assert day.covers(wednesday_noon) and not day.covers(saturday_3am)
    assert night.covers(saturday_3am) and not night.covers(sunday_3am)
    assert on_duty((), sunday_3am)  # no windows: always
    assert on_duty(parse_duty([{"start": "00:00", "end": "23:59"}]), sunday_3am)
    with pytest.raises(ValueError, match="ISO weekdays"):
        DutyWindow.parse({"days": [0], "start": "08:00", "end": "09:00"})
