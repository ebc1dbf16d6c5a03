"""Timings of the console's map in a real Chromium, read from the page's own
performance marks (central/web/static/console/map-city.js).

The page marks ``gw-map:mount`` when the map view starts, ``gw-map:first-draw``
once the first level is painted, ``gw-map:drawn`` after every redraw (detail:
level, zoom, features, fetch_ms, draw_ms, total_ms) and ``gw-map:markers`` once
the day's events are placed (detail: events, clustered). The probe opens the
map, zooms in step by step to the grids, pans, zooms out, and records each
redraw and the animation frames during each pan.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gridwatch.stats import percentile
from harness.bench.report import rounded

if TYPE_CHECKING:
    from playwright.sync_api import Page

CONSOLE = "/console/"
MARK_TIMEOUT_MS = 60_000
ZOOM_STEPS = 4  # the city view (~zoom 10) to the grids (~14)
PAN_STEPS = 4
PAN_PX = 360
SETTLE_MS = 600

_START_FRAMES = """() => {
  window.__gwFrames = [];
  window.__gwRecording = true;
  let last = performance.now();
  const tick = (t) => {
    window.__gwFrames.push(t - last);
    last = t;
    if (window.__gwRecording) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
_STOP_FRAMES = """() => {
  window.__gwRecording = false;
  return window.__gwFrames.slice(1);
}"""
_MARKS = """(name) => performance.getEntriesByName(name).map(
  (m) => ({ at: m.startTime, detail: m.detail }))"""


@dataclass(frozen=True, slots=True)
class Redraw:
    """One `gw-map:drawn` mark."""

    action: str
    level: str
    zoom: int
    features: int
    fetch_ms: int
    draw_ms: int
    total_ms: int


@dataclass(slots=True)
class MapTimings:
    """What one visit of the map measured, in milliseconds unless named."""

    view_first_draw_ms: float = 0.0  # map view opened → first level painted
    page_first_draw_ms: float = 0.0  # page navigation → first level painted
    page_startup_ms: float = 0.0  # page navigation → the map view starts (console)
    first_level: str = ""
    first_features: int = 0
    markers_ms: float = 0.0  # map view opened → the day's events placed
    events: int = 0
    events_clustered: bool = False
    redraws: list[Redraw] = field(default_factory=list)
    pan_frames_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Figures for a report: the above plus worst and median redraws and
        frame-time percentiles during the pans."""
        frames = sorted(self.pan_frames_ms)
        totals = [r.total_ms for r in self.redraws]
        grid = [r.total_ms for r in self.redraws if r.level == "grid"]
        return {
            "view_first_draw_ms": round(self.view_first_draw_ms),
            "page_first_draw_ms": round(self.page_first_draw_ms),
            "page_startup_ms": round(self.page_startup_ms),
            "first_level": self.first_level,
            "first_features": self.first_features,
            "markers_ms": round(self.markers_ms),
            "events_placed": self.events,
            "events_clustered": self.events_clustered,
            "redraws": len(self.redraws),
            "redraw_ms_median": round(statistics.median(totals)) if totals else None,
            "redraw_ms_max": max(totals) if totals else None,
            "grid_redraw_ms_max": max(grid) if grid else None,
            "grid_features_max": max(
                (r.features for r in self.redraws if r.level == "grid"), default=0
            ),
            "pan_frames": len(frames),
            "pan_frame_ms_p50": _percentile(frames, 0.5),
            "pan_frame_ms_p95": _percentile(frames, 0.95),
            "pan_frame_ms_max": round(frames[-1], 1) if frames else None,
            "steps": [asdict(r) for r in self.redraws],
        }


def _percentile(values: list[float], q: float) -> float | None:
    return rounded(percentile(values, q))


def log_in(page: Page, username: str, password: str) -> None:
    """Sign in on the console's form; the shell shows."""
    page.goto(CONSOLE)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#shell").wait_for(state="visible")
    # The shell routes to its first view once the reference data is loaded.
    page.wait_for_function(
        "() => /view-/.test(document.querySelector('#view')?.className || '')",
        timeout=MARK_TIMEOUT_MS,
    )


def open_map(page: Page, timings: MapTimings) -> None:
    """Open the map view (from another view) and wait for its first draw."""
    page.evaluate("() => { performance.clearMarks(); location.hash = '#/map'; }")
    wait_for_mark(page, "gw-map:first-draw")
    mount = read_marks(page, "gw-map:mount")[-1]
    first = read_marks(page, "gw-map:first-draw")[-1]
    timings.view_first_draw_ms = first["at"] - mount["at"]
    timings.page_first_draw_ms = first["at"]
    timings.page_startup_ms = mount["at"]
    timings.first_level = first["detail"]["level"]
    timings.first_features = first["detail"]["features"]
    wait_for_mark(page, "gw-map:markers")
    markers = read_marks(page, "gw-map:markers")[-1]
    timings.markers_ms = markers["at"] - mount["at"]
    timings.events = markers["detail"]["events"]
    timings.events_clustered = markers["detail"]["clustered"]


def reload_map(page: Page, timings: MapTimings) -> None:
    """Load the page afresh on the map (signed in): navigation → first draw."""
    page.goto("about:blank")  # else only the hash would change: no new page
    page.goto(f"{CONSOLE}#/map")
    wait_for_mark(page, "gw-map:first-draw")
    first = read_marks(page, "gw-map:first-draw")[-1]
    timings.page_first_draw_ms = first["at"]
    # Before the view mounts the console signs in and loads its reference data.
    timings.page_startup_ms = read_marks(page, "gw-map:mount")[-1]["at"]


def zoom_and_pan(page: Page, timings: MapTimings) -> None:
    """Zoom in to the grids, pan around, zoom back out; record every redraw."""
    box = page.locator("#map").bounding_box()
    assert box is not None, "the map is not on the page"
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("#map").focus()
    for _ in range(ZOOM_STEPS):
        _after_redraw(page, timings, "zoom in", lambda: page.keyboard.press("Equal"))
    for step in range(PAN_STEPS):
        dx, dy = ((PAN_PX, 0), (0, PAN_PX), (-PAN_PX, 0), (0, -PAN_PX))[step % 4]

        def drag(dx: int = dx, dy: int = dy) -> None:
            page.mouse.move(*centre)
            page.mouse.down()
            page.mouse.move(centre[0] + dx, centre[1] + dy, steps=24)
            page.mouse.up()

        page.evaluate(_START_FRAMES)
        _after_redraw(page, timings, "pan", drag)
        timings.pan_frames_ms.extend(page.evaluate(_STOP_FRAMES))
    for _ in range(ZOOM_STEPS):
        _after_redraw(page, timings, "zoom out", lambda: page.keyboard.press("Minus"))


def _after_redraw(page: Page, timings: MapTimings, action: str, act: Any) -> None:
    """Do `act`, wait until the map has fetched and painted what it needs (a
    move within what is loaded needs nothing), and record each redraw."""
    before = len(read_marks(page, "gw-map:drawn"))
    act()
    page.wait_for_timeout(SETTLE_MS)  # the zoom animation, then moveend
    page.wait_for_function(
        "() => (document.querySelector('#map')?.dataset.pending || '0') === '0'",
        timeout=MARK_TIMEOUT_MS,
    )
    page.wait_for_timeout(100)  # the paint after the last fetch, and its mark
    for mark in read_marks(page, "gw-map:drawn")[before:]:
        d = mark["detail"]
        timings.redraws.append(
            Redraw(
                action=action,
                level=d["level"],
                zoom=d["zoom"],
                features=d["features"],
                fetch_ms=d["fetch_ms"],
                draw_ms=d["draw_ms"],
                total_ms=d["total_ms"],
            )
        )


def zoom_in(page: Page, steps: int) -> None:
    """Zoom in `steps` times by keyboard, each time until the map has settled."""
    page.locator("#map").focus()
    ignored = MapTimings()
    for _ in range(steps):
        _after_redraw(page, ignored, "zoom in", lambda: page.keyboard.press("Equal"))


def wait_for_mark(page: Page, name: str) -> None:
    page.wait_for_function(
        "(name) => performance.getEntriesByName(name).length > 0",
        arg=name,
        timeout=MARK_TIMEOUT_MS,
    )


def read_marks(page: Page, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(_MARKS, name)
    return found
