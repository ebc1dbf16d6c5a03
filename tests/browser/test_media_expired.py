"""Media that retention deleted: the console's ticket page says "Media expired"
where the snapshot was, instead of a broken image (central answers 410 for it;
`tests/central/test_retention.py` checks that answer against real retention)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ApiFactory, PageFactory, assert_accessible
from tests.browser.sample import SamplePublisher
from tests.browser.test_operator_console import (
    DESKTOP,
    end_ticket,
    flagged_ticket,
    go,
    log_in,
)

EXPIRED = {"detail": "media expired on 2026-01-01 (retention)"}


def test_an_expired_snapshot_shows_as_expired_on_the_ticket_page(
    page_factory: PageFactory, publisher: SamplePublisher, api: ApiFactory
) -> None:
    operator = api("operator")
    ticket = flagged_ticket(publisher, operator, camera=3, offset_m=-90)
    links: list[str] = []

    def expired(route: Any) -> None:
        links.append(route.request.url)
        route.fulfill(status=410, json=EXPIRED)

    try:
        page = page_factory(viewport=DESKTOP)
        page.route("**/api/v1/media/*/link", expired)
        log_in(page)
        go(page, f"tickets?id={ticket['id']}")
        drawer = page.locator("#ticket-drawer")
        note = drawer.locator(".media-expired").first
        expect(note).to_have_text("Media expired")
        expect(drawer.locator("img[alt^='Snapshot of event']")).to_have_count(0)
        assert links, "the page never asked for a media link"
        assert_accessible(page)
    finally:
        end_ticket(operator, ticket["id"])
