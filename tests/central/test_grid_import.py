"""An uploaded grids file: read as UTF-8 JSON or refused, and each area compared
with the stored one (created, updated with the columns that differ, unchanged)."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from central.grid_import import AreaChange, Change, compare_area, parse_upload
from central.grids.geojson import GridFileError

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[113.32, 23.12], [113.325, 23.12], [113.325, 23.125], [113.32, 23.12]]
    ],
}
GRID = {
    "type": "Feature",
    "geometry": SQUARE,
    "properties": {"code": "440106001001001", "name": "Grid 1"},
}


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps(
        {"type": "FeatureCollection", "features": list(features)}
    ).encode()


@pytest.mark.parametrize(
    ("content", "codes", "raises"),
    [
        (collection(GRID), ["440106001001001"], nullcontext()),
        (b"\xef\xbb\xbf" + collection(GRID), ["440106001001001"], nullcontext()),
        (b"", None, pytest.raises(GridFileError, match="not valid JSON")),
        (b"\xff", None, pytest.raises(GridFileError, match="not UTF-8")),
        (b"[" * 50_000, None, pytest.raises(GridFileError, match="too deeply")),
        (collection(), None, pytest.raises(GridFileError, match="empty")),
    ],
)
def test_parse_upload_given_bytes_should_read_grids_or_refuse(
    content: bytes, codes: list[str] | None, raises: AbstractContextManager[Any]
) -> None:
    with raises:
        grids = parse_upload(content, source="up.geojson")
        assert [g.code for g in grids] == codes


ROW: dict[str, Any] = {
    "code": "440106001001001",
    "level": "grid",
    "name": "Grid 1",
    "parent_code": "440106001001",
    "geometry": {"type": "Polygon", "coordinates": (((113.32, 23.12),),)},
    "centroid_lat": 23.1225,
    "centroid_lon": 113.3225,
}
STORED = {
    **ROW,
    "geometry": {"type": "Polygon", "coordinates": [[[113.32, 23.12]]]},
}


@pytest.mark.parametrize(
    ("stored", "change", "fields"),
    [
        (None, Change.CREATED, ()),
        (STORED, Change.UNCHANGED, ()),  # tuples from shapely equal JSON lists
        ({**STORED, "name": "Old"}, Change.UPDATED, ("name",)),
        (
            {**STORED, "parent_code": None, "centroid_lat": 23.0},
            Change.UPDATED,
            ("parent_code", "centroid_lat"),
        ),
    ],
)
def test_change_of_given_a_stored_row_should_name_what_changes(
    stored: dict[str, Any] | None, change: Change, fields: tuple[str, ...]
) -> None:
    expected = AreaChange("440106001001001", "grid", "Grid 1", change, fields)
    assert compare_area(ROW, stored) == expected
