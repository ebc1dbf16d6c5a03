"""The statistics page counts the city's today wherever the browser is: its
ranges are cut in the city's timezone, not the browser's (a browser in UTC at
night, or in another country, ended every range a day early and showed
"Events detected 0" on a day with tickets)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from playwright.sync_api import Request, expect

from tests.browser.conftest import ApiFactory, PageFactory
from tests.browser.test_operator_console import DESKTOP, go, log_in

CITY = ZoneInfo("Asia/Shanghai")  # the demo city's timezone


def test_statistics_should_end_at_the_citys_tomorrow_from_a_browser_on_another_day(
    page_factory: PageFactory,
) -> None:
    city_now = datetime.now(CITY)
    # A browser whose date differs from the city's right now: 20 h behind
    # before 18:00 in the city, 6 h ahead after.
    browser_zone = "Etc/GMT+12" if city_now.hour < 18 else "Pacific/Kiritimati"
    browser_date = datetime.now(ZoneInfo(browser_zone)).date()
    city_tomorrow = (city_now + timedelta(days=1)).date().isoformat()
    assert browser_date != city_now.date()

    page = page_factory(viewport=DESKTOP, timezone_id=browser_zone)
    daily: list[Request] = []
    page.on(
        "request",
        lambda request: (
            daily.append(request) if "/api/v1/stats/daily" in request.url else None
        ),
    )
    log_in(page)
    go(page, "stats")
    expect(page.locator("canvas#chart-daily")).to_be_visible()
    assert daily, "the statistics page asked for no daily counts"
    ends = {parse_qs(urlparse(r.url).query).get("end", [""])[0] for r in daily}
    assert ends == {city_tomorrow}, (
        f"daily ranges end {ends}, the city's tomorrow is {city_tomorrow}"
    )


def test_statistics_by_month_should_say_when_completed_months_were_computed(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    """Completed months come from the stored evaluation (the scheduler's); the
    page says when they were computed."""
    client = api("operator")
    this_month = datetime.now(CITY).date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    params = {
        "period": "month",
        "by": "grid",
        "start": last_month.isoformat(),
        "end": this_month.isoformat(),
    }
    deadline = time.monotonic() + 60
    while not (as_of := client.get("/stats/evaluation", params=params).json()["as_of"]):
        assert time.monotonic() < deadline, "the scheduler stored no evaluation"
        time.sleep(1)

    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "stats")
    page.locator('button[data-period="month"]').click()

    stored = page.locator("[data-as-of]")
    expect(stored).to_contain_text("completed months computed")
    assert stored.get_attribute("data-as-of") == as_of
