"""The console probe's pure part: response bytes summed per API path."""

from __future__ import annotations

from harness.bench.console_probe import Fetched, bytes_by_path
from harness.bench.map_probe import MapTimings


def test_bytes_by_path_should_sum_every_query_of_a_path_most_first() -> None:
    fetched = [
        Fetched("/api/v1/areas", "level=district", 100),
        Fetched("/api/v1/map/areas", "level=street&zoom=10", 5_000),
        Fetched("/api/v1/areas", "code=440106001001001", 40),
    ]
    assert bytes_by_path(fetched) == {"/api/v1/map/areas": 5_000, "/api/v1/areas": 140}
    assert list(bytes_by_path(fetched)) == ["/api/v1/map/areas", "/api/v1/areas"]


def test_bytes_by_path_given_nothing_fetched_should_be_empty() -> None:
    assert bytes_by_path([]) == {}


def test_map_summary_should_report_the_console_start_up_of_a_fresh_page() -> None:
    timings = MapTimings(page_first_draw_ms=958.4, page_startup_ms=682.2)
    figures = timings.summary()
    assert (figures["page_first_draw_ms"], figures["page_startup_ms"]) == (958, 682)
