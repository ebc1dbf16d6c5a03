"""The web pages: the operator console (/console/) and the worker terminal (/worker/).

Plain HTML, CSS and ES modules served as static files; no build step and no
internet: the map (Leaflet) and chart (Chart.js) libraries are vendored under
`static/vendor/` and the map draws the grid GeoJSON itself, without tiles.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# path prefix → folder under STATIC_DIR
_PAGES = {"/console": "console", "/worker": "worker", "/citizen": "citizen"}
_SHARED = {"/vendor": "vendor", "/common": "common"}


class _PageFiles(StaticFiles):
    """Static files that browsers re-check on every load, so a new release of a
    page is never mixed with a cached older script."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_web(app: FastAPI) -> None:
    """Serve the pages and their shared assets on `app`; `/` opens the console."""
    for prefix, folder in {**_PAGES, **_SHARED}.items():
        app.mount(
            prefix,
            _PageFiles(directory=STATIC_DIR / folder, html=True, check_dir=False),
            name=f"web-{folder}",
        )

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/")
