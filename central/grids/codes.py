"""Grid codes: the 15-digit code of a management grid and its level prefixes.

A grid code is 6 digits of administrative division (GB/T 2260, the district)
+ 3 digits of street/town + 3 digits of community/village + 3 digits of grid.
Prefixes of 6, 9 and 12 digits name the district, street and community; the
city is the district's first 4 digits + ``"00"`` (``440106`` → ``440100``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GRID_CODE_LENGTH = 15
CITY_SUFFIX = "00"


class Level(StrEnum):
    """The five levels of the grid hierarchy, widest first."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


# Code length → level; a 6-digit code is a city or a district (see `level_of`).
_LEVEL_BY_LENGTH = {9: Level.STREET, 12: Level.COMMUNITY, 15: Level.GRID}


class GridCodeError(ValueError):
    """A code is not a valid grid (or level) code; the message says why."""


def _is_digits(code: object) -> bool:
    return isinstance(code, str) and code.isascii() and code.isdigit()


@dataclass(frozen=True, slots=True)
class GridCode:
    """A parsed 15-digit grid code; build it with `parse_grid_code`.

    Attributes:
        code: The 15 digits.
    """

    code: str

    @property
    def city(self) -> str:
        """The 6-digit city code: district's first 4 digits + ``"00"``."""
        return self.code[:4] + CITY_SUFFIX

    @property
    def district(self) -> str:
        """The 6-digit administrative (district) code."""
        return self.code[:6]

    @property
    def street(self) -> str:
        """The 9-digit street/town code."""
        return self.code[:9]

    @property
    def community(self) -> str:
        """The 12-digit community/village code."""
        return self.code[:12]

    def __str__(self) -> str:
        return self.code


def parse_grid_code(code: str) -> GridCode:
    """Parse a 15-digit grid code.

    Args:
        code: The code, a string of 15 ASCII digits.

    Returns:
        The parsed code.

    Raises:
        GridCodeError: `code` is not a string of exactly 15 digits.
    """
    if not _is_digits(code) or len(code) != GRID_CODE_LENGTH:
        raise GridCodeError(
            f"grid code must be {GRID_CODE_LENGTH} digits, got {code!r}"
        )
    return GridCode(code)


def level_of(code: str) -> Level:
    """Return the level a 6-, 9-, 12- or 15-digit code names.

    A 6-digit code ending in ``"00"`` is a city (``440100``), any other
    6-digit code a district (``440106``).

    Raises:
        GridCodeError: `code` is not 6, 9, 12 or 15 digits.
    """
    if _is_digits(code):
        if len(code) == 6:
            return Level.CITY if code.endswith(CITY_SUFFIX) else Level.DISTRICT
        level = _LEVEL_BY_LENGTH.get(len(code))
        if level is not None:
            return level
    raise GridCodeError(f"level code must be 6, 9, 12 or 15 digits, got {code!r}")


def ancestors(code: str) -> list[str]:
    """Return the codes of the levels above `code`, nearest first.

    ``ancestors("440106001002003")`` is ``["440106001002", "440106001",
    "440106", "440100"]``. A city has none. Where the 6-digit part is itself
    a city (cities without districts, e.g. ``441900`` Dongguan), the city is
    listed once.

    Raises:
        GridCodeError: `code` is not 6, 9, 12 or 15 digits.
    """
    level_of(code)
    prefixes = [code[:n] for n in (12, 9, 6) if n < len(code)]
    city = code[:4] + CITY_SUFFIX
    if code != city and (not prefixes or prefixes[-1] != city):
        prefixes.append(city)
    return prefixes
