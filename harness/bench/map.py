"""`gridwatch bench map`: the console's map with a whole city, timed in Chromium.

Builds `MapCityStack` (Guangzhou scale: 20,031 grids, a day of 20,000 events
at the city's 4,061 cameras), signs in on the console in Debian's Chromium
(Playwright), opens the map twice (the first visit finds central's map layers
cold: they are built on that first request; the second finds them cached) and
then loads the page afresh on the map, zooms in to the grids, pans and zooms
out. Prints (JSON with --json):

- cold_view_first_draw_ms / view_first_draw_ms: opening the map view → the
  first level painted, central cold / warm (goal: ≤ 2,000)
- page_first_draw_ms: a fresh page load on the map → the first level painted,
  split into page_startup_ms (the console's start-up: sign-in check and its
  reference data, until the map view starts) and the map's own part;
  page_api_bytes: what that load fetched, per API path
- new_ticket_ready_ms: the new-ticket dialog asked for → its map drawn;
  new_ticket_grid_at_ms: a click on that map → the point's grid named
- whole_fetch: what loading every area / every grid polygon costs in the page
  now (ms, chars): what the console and the new-ticket dialog used to load
- markers_ms: opening the view → the day's events placed (clustered)
- redraw_ms_median / redraw_ms_max / grid_redraw_ms_max: a zoom or pan that
  needs other shapes → their fetch and paint (`steps` lists each)
- pan_frame_ms_p50 / p95 / max: animation frames while dragging the map
- grids, events, seed times, machine
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.bench.console_probe import (
    RequestLog,
    api_timeline,
    fetch_whole,
    open_new_ticket,
)
from harness.bench.map_city import MapCitySpec, MapCityStack
from harness.bench.map_probe import (
    MapTimings,
    log_in,
    open_map,
    reload_map,
    zoom_and_pan,
)
from harness.bench.report import rounded, write_figures

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

PASSWORD = "map-bench-password"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grids", type=int, default=20_031, help="grids of the city")
    parser.add_argument(
        "--events", type=int, default=20_000, help="AI events in the last 24 h"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the city")
    parser.add_argument(
        "--screenshot", type=Path, default=None, help="save the grid view as PNG here"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")


def run_cli(args: argparse.Namespace) -> int:
    spec = MapCitySpec(grids=args.grids, events=args.events, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="gw-bench-map-") as workdir:
        figures = measure(Path(workdir), spec, screenshot=args.screenshot)
    write_figures(figures, as_json=args.json)
    return 0


def chromium_path() -> str:
    """Debian's Chromium, or the one $GRIDWATCH_CHROMIUM names."""
    found = os.environ.get("GRIDWATCH_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise SystemExit(
            "Chromium not found: apt install chromium, or set GRIDWATCH_CHROMIUM"
        )
    return found


def measure(
    workdir: Path, spec: MapCitySpec, *, screenshot: Path | None = None
) -> dict[str, Any]:
    """Run the stack and the browser; the figures as `write_figures` prints them."""
    # Imported here: playwright is a development dependency, the CLI is not.
    from playwright.sync_api import sync_playwright

    with (
        MapCityStack(workdir, spec, password=PASSWORD) as stack,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context(base_url=stack.central_url, viewport=VIEWPORT)
            page = context.new_page()
            requests = RequestLog(page)
            log_in(page, "operator", PASSWORD)
            cold = MapTimings()  # central may still be building its layers
            open_map(page, cold)
            stack.wait_until_warm()
            page.evaluate("() => { location.hash = '#/tickets'; }")
            warm = MapTimings()
            open_map(page, warm)
            fresh = MapTimings()
            requests.clear()
            reload_map(page, fresh)
            page_bytes = requests.bytes_by_path()
            page_api = api_timeline(page)
            zoom_and_pan(page, fresh)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
            new_ticket = open_new_ticket(page)
            # What the console fetched before it asked by need, for comparison.
            before = {
                "areas": fetch_whole(page, "/api/v1/areas"),
                "grids": fetch_whole(page, "/api/v1/grids"),
            }
        finally:
            browser.close()
        assert stack.times is not None
        return {
            "grids": spec.grids,
            "events": spec.events,
            "cold_view_first_draw_ms": round(cold.view_first_draw_ms),
            **warm.summary(),
            "page_first_draw_ms": round(fresh.page_first_draw_ms),
            "page_startup_ms": round(fresh.page_startup_ms),
            "page_map_ms": round(fresh.page_first_draw_ms - fresh.page_startup_ms),
            "page_api_bytes": page_bytes,
            "page_api_ms": {c.path: [c.start_ms, c.end_ms] for c in page_api},
            "new_ticket_ready_ms": round(new_ticket.ready_ms),
            "new_ticket_grid_at_ms": round(new_ticket.grid_at_ms),
            "whole_fetch": before,
            **{
                k: v
                for k, v in fresh.summary().items()
                if k.startswith(("redraw", "grid_", "pan_", "steps"))
            },
            "seed_s": dataclasses.asdict(stack.times),
            "layers_build_s": rounded(stack.layers_build_s(), 2),
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        }
