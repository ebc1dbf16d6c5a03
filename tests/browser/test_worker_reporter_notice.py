"""One ticket per problem on the worker terminal (390×844 phone, real stack): a
worker whose patrol report joined another worker's ticket hears, live, when
that ticket is closed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ApiFactory, PageFactory
from tests.browser.test_worker_patrol import OTHER_WORKER, grid_point
from tests.browser.test_worker_terminal import (
    PHONE,
    TIMEOUT_MS,
    WORKER,
    log_in,
    wait_live,
)


def test_a_reporter_hears_that_the_ticket_her_report_joined_was_closed(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    operator = api("operator")
    lat, lon = grid_point(operator)
    lat -= 0.0008  # a spot of its own in the worker's grid
    opened = operator.post(
        "/tickets",
        json={
            "matter_key": "illegal_vending",
            "title": "reporter-notice stall on the pavement",
            "lat": lat,
            "lon": lon,
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    try:
        moved = operator.post(
            f"/tickets/{ticket_id}/reassign", json={"worker_id": OTHER_WORKER}
        )
        assert moved.status_code == 200, moved.text
        joined = api(WORKER).post(
            "/patrol/reports",
            data={
                "client_key": "reporter-notice-0001",
                "matter_key": "illegal_vending",
                "description": "a stall blocking the pavement",
                "lat": str(lat + 0.00003),
                "lon": str(lon),
            },
        )
        assert joined.status_code == 201, joined.text
        assert joined.json()["merged"] is True
        assert joined.json()["ticket"]["id"] == ticket_id

        page = page_factory(viewport=PHONE)
        page.set_default_timeout(TIMEOUT_MS)
        log_in(page, WORKER)
        wait_live(page)

        handler = api(OTHER_WORKER)
        assert handler.post(f"/tickets/{ticket_id}/accept").status_code == 200
        resolved = handler.post(
            f"/tickets/{ticket_id}/resolve", data={"note": "stall moved on"}
        )
        assert resolved.status_code == 200, resolved.text
        closed = operator.post(f"/tickets/{ticket_id}/close", json={"note": "checked"})
        assert closed.status_code == 200, closed.text
        expect(page.locator("#toasts")).to_contain_text(
            re.compile(rf"Case #{ticket_id} you reported was closed: checked")
        )
    finally:
        state = operator.get(f"/tickets/{ticket_id}").json()["state"]
        if state not in ("closed", "rejected"):
            operator.post(f"/tickets/{ticket_id}/reject", json={"reason": "test over"})
