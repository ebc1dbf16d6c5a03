"""The statistics page's worker points card (网格员积分) in a desktop Chromium
against a real stack: this month's table, most points first, and its CSV."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import ApiFactory, PageFactory, assert_accessible
from tests.browser.test_operator_console import DESKTOP, go, log_in


def test_the_statistics_page_shows_the_points_table_and_its_csv(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    table = api("operator").get("/stats/points")
    table.raise_for_status()
    top = table.json()["rows"][0]

    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "stats")
    card = page.locator("#points-card")
    expect(card.locator("#points-table thead")).to_contain_text("Cases found (+2)")
    first = card.locator("#points-table tbody tr").first
    expect(first).to_have_attribute("data-worker-id", top["worker_id"])
    expect(first.locator("td").last).to_have_text(str(top["points"]))
    assert_accessible(page)

    with page.expect_download() as download:
        card.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.startswith("points-")
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("worker_id,name,role,month,cases_found")


def test_the_statistics_page_shows_scores_and_grades_best_first(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    report = api("operator").get(
        "/stats/scores", params={"by": "grid", "period": "week"}
    )
    report.raise_for_status()
    rows = report.json()["rows"]

    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "stats")
    card = page.locator("#scores-card")
    expect(card).to_contain_text("A ≥ 90")
    if rows:
        first = card.locator("#scores-table tbody tr").first
        expect(first).to_have_attribute("data-key", rows[0]["key"] or "")
        expect(first.locator("td").last).to_have_text(rows[0]["grade"] or "–")
    else:
        expect(card).to_contain_text("No tickets in this period yet.")
    assert_accessible(page)

    with page.expect_download() as download:
        card.get_by_role("link", name="CSV").click()
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("period_start,key,name,tickets,response_rate")
