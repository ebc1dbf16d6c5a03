"""The pages and their vendored libraries are served by central, offline."""

from __future__ import annotations

import httpx

from harness.demo_stack import DemoStack
from tests.browser.conftest import PageFactory


def test_root_opens_the_console(stack: DemoStack) -> None:
    response = httpx.get(f"{stack.central_url}/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"


def test_vendored_libraries_are_served_with_their_licences(stack: DemoStack) -> None:
    for path, needle in [
        ("/vendor/leaflet/leaflet.js", "Leaflet"),
        ("/vendor/leaflet/leaflet.css", ".leaflet-pane"),
        ("/vendor/leaflet/LICENSE", "BSD"),
        ("/vendor/chartjs/chart.umd.min.js", "Chart.js"),
        ("/vendor/chartjs/LICENSE.md", "MIT"),
        ("/vendor/supercluster/supercluster.min.js", "Supercluster"),
        ("/vendor/supercluster/LICENSE", "ISC License"),
    ]:
        response = httpx.get(f"{stack.central_url}{path}")
        assert response.status_code == 200, path
        assert needle in response.text, path
        assert response.headers["cache-control"] == "no-cache"


def test_unknown_page_file_is_404(stack: DemoStack) -> None:
    response = httpx.get(f"{stack.central_url}/vendor/nothing-here.js")
    assert response.status_code == 404


def test_browser_loads_vendored_leaflet_without_internet(
    page_factory: PageFactory,
) -> None:
    page = page_factory()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/vendor/leaflet/leaflet.css")
    page.add_script_tag(url="/vendor/leaflet/leaflet.js")
    assert page.evaluate("typeof L.geoJSON") == "function"
    assert all(url.startswith(page.url.split("/vendor")[0]) for url in requested)
