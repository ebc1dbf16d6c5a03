"""The statistics page counts the city's today wherever the browser is: its
ranges are cut in the city's timezone, not the browser's (a browser in UTC at
night, or in another country, ended every range a day early and showed
"Events detected 0" on a day with tickets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from playwright.sync_api import Request, expect

from tests.browser.conftest import PageFactory
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
