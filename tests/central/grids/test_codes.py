"""Grid codes: parsing, levels and ancestors."""

from __future__ import annotations

import pytest

from central.grids.codes import (
    GridCodeError,
    Level,
    ancestors,
    level_of,
    parse_grid_code,
)

GRID = "440106001002003"


def test_parse_gives_the_level_prefixes() -> None:
    code = parse_grid_code(GRID)

    assert code.code == GRID
    assert str(code) == GRID
    assert code.city == "440100"
    assert code.district == "440106"
    assert code.street == "440106001"
    assert code.community == "440106001002"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "44010600100200",  # 14 digits
        "4401060010020030",  # 16 digits
        "44010600100200a",
        " 44010600100200",
        "４４０１０６００１００２００３",  # full-width digits
        440106001002003,
        None,
    ],
)
def test_parse_rejects_anything_but_15_ascii_digits(bad: object) -> None:
    with pytest.raises(GridCodeError, match="15 digits"):
        parse_grid_code(bad)  # type: ignore[arg-type]


def test_grid_code_error_is_a_value_error() -> None:
    assert issubclass(GridCodeError, ValueError)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("440100", Level.CITY),
        ("440106", Level.DISTRICT),
        ("440106001", Level.STREET),
        ("440106001002", Level.COMMUNITY),
        (GRID, Level.GRID),
    ],
)
def test_level_of(code: str, level: Level) -> None:
    assert level_of(code) is level
    assert str(level) == level.value


@pytest.mark.parametrize("bad", ["4401", "4401060", "4401060010", "x40106", ""])
def test_level_of_rejects_other_lengths_and_non_digits(bad: str) -> None:
    with pytest.raises(GridCodeError, match="6, 9, 12 or 15 digits"):
        level_of(bad)


def test_ancestors_nearest_first_up_to_the_city() -> None:
    assert ancestors(GRID) == ["440106001002", "440106001", "440106", "440100"]
    assert ancestors("440106001002") == ["440106001", "440106", "440100"]
    assert ancestors("440106001") == ["440106", "440100"]
    assert ancestors("440106") == ["440100"]
    assert ancestors("440100") == []


def test_ancestors_of_a_city_without_districts_lists_the_city_once() -> None:
    # Dongguan (441900) has towns directly under the city.
    assert ancestors("441900003001") == ["441900003", "441900"]


def test_ancestors_rejects_a_bad_code() -> None:
    with pytest.raises(GridCodeError):
        ancestors("44010600")
