"""The console's devices view: the city's sensors, their status and a filter."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PageFactory, Screenshot, assert_accessible
from tests.browser.test_operator_console import DESKTOP, go, log_in


def test_devices_view_lists_sensors_and_filters_by_type(
    page_factory: PageFactory, screenshot: Screenshot
) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "devices")
    rows = page.locator("#devices-table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 20  # the demo city has about a hundred
    expect(page.get_by_role("link", name="Devices")).to_be_visible()
    page.get_by_label("Device type").select_option("smoke_alarm")
    expect(rows.first).to_contain_text("Smoke alarm")
    for n in range(rows.count()):
        expect(rows.nth(n)).to_contain_text("Smoke alarm")
    expect(rows.first.locator(".chip.health")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-devices")


def test_map_draws_devices_when_their_layer_is_on(page_factory: PageFactory) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "map")
    markers = page.locator("path.device-marker")
    toggle = page.get_by_label("IoT devices")
    expect(toggle).not_to_be_checked()  # off by default: the map stays calm
    expect(markers).to_have_count(0)
    toggle.check()
    expect(markers.first).to_be_attached()
    assert markers.count() > 20
