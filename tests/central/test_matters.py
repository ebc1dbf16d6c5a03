"""The matter list, duty hours and the config: valid input loads, bad input is named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from central.config import CentralConfigError, load_settings
from central.matters import MatterListError, load_matter_list, parse_matter_list
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
            "  - {key: a, event_types: [ufo], category: {code: '0101', class: A,"
            " subclass: B}, department: d, time_limit_min: 5}\n",
            "event_types",
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
