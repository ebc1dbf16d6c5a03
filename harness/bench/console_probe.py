"""The console's own cost at city scale, in a real Chromium: the bytes each API
path sends to a page, and how long the new-ticket dialog takes to draw its map
and to name the grid under a click (marks ``gw-new-ticket:open`` and
``gw-new-ticket:ready`` of central/web/static/console/ticket-new.js)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.bench.map_probe import MARK_TIMEOUT_MS, read_marks, wait_for_mark

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

API_PREFIX = "/api/v1/"
_PLACE_NAMED = """() => {
  const text = document.getElementById('new-ticket-place')?.textContent || '';
  return text.startsWith('Point') && !text.includes('finding');
}"""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One finished API request.

    Attributes:
        path: The URL path (``/api/v1/areas``).
        query: The query string, without ``?``.
        body_bytes: The response body as received (encoded).
    """

    path: str
    query: str
    body_bytes: int


class RequestLog:
    """The API requests a page finishes from now on, with their sizes.

    Args:
        page: The page to watch.
    """

    def __init__(self, page: Page) -> None:
        self._requests: list[Request] = []
        page.on("requestfinished", self._record)

    def _record(self, request: Request) -> None:
        self._requests.append(request)

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self._requests.clear()

    def fetched(self) -> list[Fetched]:
        """The API requests recorded, in the order they finished."""
        found = []
        for request in list(self._requests):
            url = urlsplit(request.url)
            if url.path.startswith(API_PREFIX):
                size = request.sizes()["responseBodySize"]
                found.append(Fetched(url.path, url.query, max(0, size)))
        return found

    def bytes_by_path(self) -> dict[str, int]:
        """Response bytes per API path, most first."""
        return bytes_by_path(self.fetched())


def bytes_by_path(fetched: list[Fetched]) -> dict[str, int]:
    """Response bytes summed per API path (any query), most first."""
    totals: Counter[str] = Counter()
    for item in fetched:
        totals[item.path] += item.body_bytes
    return dict(totals.most_common())


@dataclass(frozen=True, slots=True)
class NewTicketTimings:
    """The new-ticket dialog, opened from the ticket list.

    Attributes:
        ready_ms: ``n`` pressed → the dialog's map drawn (interactive).
        grid_at_ms: a click on the map's centre → the point's grid named.
        place_text: What the dialog then says about the point.
        big_city: Whether the dialog drew the big-city (canvas) map.
    """

    ready_ms: float
    grid_at_ms: float
    place_text: str
    big_city: bool


def open_new_ticket(page: Page) -> NewTicketTimings:
    """Open the new-ticket dialog from the ticket list, click the middle of its
    map, time both, and close the dialog again."""
    page.evaluate("() => { location.hash = '#/tickets'; }")
    page.locator("#tickets-table").wait_for(timeout=MARK_TIMEOUT_MS)
    page.evaluate("() => performance.clearMarks('gw-new-ticket:ready')")
    page.keyboard.press("n")
    wait_for_mark(page, "gw-new-ticket:ready")
    opened = read_marks(page, "gw-new-ticket:open")[-1]
    ready = read_marks(page, "gw-new-ticket:ready")[-1]
    form = page.get_by_role("dialog", name="New ticket")
    box = form.locator(".pick-map").bounding_box()
    assert box is not None, "the new-ticket dialog shows no map"
    started = time.perf_counter()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(_PLACE_NAMED, timeout=MARK_TIMEOUT_MS)
    grid_at_ms = (time.perf_counter() - started) * 1000
    text = form.locator("#new-ticket-place").inner_text()
    page.keyboard.press("Escape")
    form.wait_for(state="hidden", timeout=MARK_TIMEOUT_MS)
    return NewTicketTimings(
        ready_ms=ready["at"] - opened["at"],
        grid_at_ms=grid_at_ms,
        place_text=text,
        big_city=bool(ready["detail"]["big"]),
    )


_API_TIMELINE = """() => performance.getEntriesByType('resource')
  .filter((e) => new URL(e.name).pathname.startsWith('/api/v1/'))
  .map((e) => ({ url: e.name, start: e.startTime, end: e.responseEnd }))"""
_FETCH_WHOLE = """async (path) => {
  const started = performance.now();
  const token = localStorage.getItem('gridwatch.console.token');
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const text = await response.text();
  JSON.parse(text);
  return { ms: performance.now() - started, chars: text.length };
}"""


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One API request of this page, from its resource timing.

    Attributes:
        path: URL path and query.
        start_ms: Since the page's navigation started.
        end_ms: The response's last byte, on the same clock.
    """

    path: str
    start_ms: float
    end_ms: float


def api_timeline(page: Page) -> list[ApiCall]:
    """The API requests of the page loaded now, in the order they started."""
    calls = []
    for entry in page.evaluate(_API_TIMELINE):
        url = urlsplit(entry["url"])
        path = f"{url.path}?{url.query}" if url.query else url.path
        calls.append(ApiCall(path, round(entry["start"]), round(entry["end"])))
    return sorted(calls, key=lambda call: call.start_ms)


def fetch_whole(page: Page, path: str) -> dict[str, int]:
    """Fetch and parse one API path in the page now, signed in as the console
    is: how the console loaded its reference data before it asked by need
    (``/api/v1/areas``: every area; ``/api/v1/grids``: every grid polygon).

    Returns:
        ``ms`` (fetch and parse) and ``chars`` (of the JSON text).
    """
    found: dict[str, float] = page.evaluate(_FETCH_WHOLE, path)
    return {key: round(value) for key, value in found.items()}
