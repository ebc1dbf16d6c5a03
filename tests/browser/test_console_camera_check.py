"""The console's ticket page shows a camera check: the verdict ("verified by
camera"), the node's reason and the before and after pictures side by side.

The check itself is made end to end in tests/integration/test_camera_checks.py
(broker, central, an edge node on composited video); here the page draws the
answer of `GET /tickets/{id}/camera-checks` for a real ticket of the stack.
"""

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


def check_of(ticket: dict[str, Any], state: str, outcome: str) -> dict[str, Any]:
    snapshot = ticket["snapshot_url"]
    return {
        "request_id": "ab" * 16,
        "node_id": ticket["node_id"],
        "camera_id": ticket["camera_id"],
        "zone_id": "floor",
        "event_type": ticket["event_type"],
        "state": state,
        "reason": "the littering episode ended at 10:02:11 UTC",
        "outcome": outcome,
        "requested_at": "2026-11-25T02:00:00Z",
        "deadline_at": "2026-11-25T02:02:10Z",
        "answered_at": "2026-11-25T02:00:12Z",
        "before_url": snapshot,
        "after_url": snapshot,
    }


def test_ticket_page_shows_the_camera_verdict_with_before_and_after(
    page_factory: PageFactory, publisher: SamplePublisher, api: ApiFactory
) -> None:
    operator = api("operator")
    ticket = flagged_ticket(publisher, operator, camera=2, offset_m=-140)
    assert ticket["snapshot_url"], "the sample event carries a snapshot"
    checks = {"data": [check_of(ticket, "gone", "closed")], "count": 1}
    asked: list[str] = []

    def answer(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, json=checks)

    try:
        page = page_factory(viewport=DESKTOP)
        page.route("**/api/v1/tickets/*/camera-checks", answer)
        log_in(page)
        go(page, f"tickets?id={ticket['id']}")
        section = page.locator("#ticket-drawer section.camera-check")
        expect(section.locator("[data-role=verdict]")).to_have_text(
            "Verified by camera"
        )
        expect(section).to_contain_text("episode ended")
        expect(section).to_contain_text("Closed: the camera saw the problem gone.")
        pictures = section.locator(".before-after img")
        expect(pictures).to_have_count(2)
        expect(pictures.first).to_have_attribute("alt", "Before: the event's snapshot")
        assert asked and asked[0].endswith(f"/tickets/{ticket['id']}/camera-checks")
        assert_accessible(page)
    finally:
        end_ticket(operator, ticket["id"])
