"""The worker terminal's "My month" (本月积分) on a 390×844 phone against a real
stack: a worker's patrol report shows as a case found, with its points."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.test_worker_patrol import grid_point
from tests.browser.test_worker_terminal import PHONE, TIMEOUT_MS, WORKER, log_in


def test_a_worker_sees_the_cases_she_found_in_her_month(
    page_factory: PageFactory, api: ApiFactory, screenshot: Screenshot
) -> None:
    operator = api("operator")
    worker = api(WORKER)
    lat, lon = grid_point(operator)
    sent = worker.post(
        "/patrol/reports",
        data={
            "client_key": "month-browser-0001",
            "matter_key": "damaged_facility",
            "description": "month-browser broken bench",
            "lat": str(lat - 0.0004),
            "lon": str(lon),
        },
    )
    assert sent.status_code in (200, 201), sent.text
    mine = worker.get("/me/points").json()["rows"][0]
    assert mine["cases_found"] >= 1
    try:
        page = page_factory(viewport=PHONE)
        page.set_default_timeout(TIMEOUT_MS)
        log_in(page, WORKER)
        page.get_by_role("link", name=re.compile("^My month")).click()
        expect(page.locator("#view-month")).to_be_visible()
        found = page.locator('[data-figure="cases_found"] dd')
        expect(found).to_contain_text(str(mine["cases_found"]))
        expect(found).to_contain_text(f"+{mine['cases_found'] * 2} pts")
        expect(page.locator("#month-points")).to_have_text(str(mine["points"]))
        expect(page.locator("#month-label")).to_have_text(re.compile(r"^\d{4}-\d\d$"))
        assert_accessible(page)
        screenshot(page, "worker-my-month")
    finally:
        ticket = sent.json()["ticket"]
        if ticket["state"] not in ("closed", "rejected"):
            operator.post(
                f"/tickets/{ticket['id']}/reject", json={"reason": "test over"}
            )
