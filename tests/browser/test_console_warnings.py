"""Hotspot early warnings in the operator console: an amber outline on the map,
a toast from the live stream, acknowledged from that toast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from central.context import CentralContext
from central.db.models import HotspotWarning
from central.warnings.notice import WarningNotice
from harness.demo_stack import DemoStack
from tests.browser.conftest import ApiFactory, PageFactory, Screenshot
from tests.browser.test_operator_console import DESKTOP, go, log_in

AMBER = "#ffb020"


@pytest.fixture
def central_context(stack: DemoStack) -> Iterator[CentralContext]:
    assert stack.central is not None
    context = stack.central.context
    yield context
    with context.sessions.begin() as session:  # no warning outlives its test
        session.execute(
            update(HotspotWarning)
            .where(HotspotWarning.category_name == "browser test")
            .values(state="resolved")
        )


def add_warning(context: CentralContext, grid_code: str) -> HotspotWarning:
    now = context.clock.now()
    with context.sessions.begin() as session:
        row = HotspotWarning(
            grid_code=grid_code,
            category_code="0102",
            category_name="browser test",
            state="open",
            window_days=3,
            observed=5,
            expected=0.4,
            p_value=2e-5,
            opened_at=now,
            updated_at=now,
        )
        session.add(row)
    return row


def test_a_warning_is_outlined_on_the_map_and_acknowledged_from_its_toast(
    page_factory: PageFactory,
    api: ApiFactory,
    central_context: CentralContext,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    grid_code = operator.get("/grids").json()["features"][0]["properties"]["code"]
    warning = add_warning(central_context, grid_code)
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "map")
    grid = page.locator(f'path[data-grid="{grid_code}"]')
    expect(grid).to_have_attribute("stroke", AMBER)
    screenshot(page, "console-map-warning")

    central_context.stream.warning_changed(WarningNotice.from_row(warning))
    toast = page.locator(".toast", has_text="browser test")
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Acknowledge").click()
    listed = operator.get("/warnings", params={"area": grid_code}).json()
    expect(page.locator(".toast", has_text="Not acknowledged")).to_have_count(0)
    assert any(w["id"] == warning.id for w in listed["data"])
    for _ in range(50):
        state = operator.get("/warnings", params={"area": grid_code}).json()["data"]
        if next(w for w in state if w["id"] == warning.id)["state"] == "acknowledged":
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the warning was not acknowledged from its toast")
