"""One ticket per problem in the operator console: a citizen's report of what a
camera already flagged joins the camera's ticket; the operator sees it among
the ticket's merged reports and splits it off into a ticket of its own."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from gridwatch.contract import EventType
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.sample import SamplePublisher
from tests.browser.test_operator_console import (
    DESKTOP,
    end_ticket,
    flagged_ticket,
    go,
    log_in,
    state_of,
)

M_PER_DEG_LAT = 110_574.0


def test_operator_sees_a_merged_citizen_report_and_splits_it_off(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    camera = flagged_ticket(
        publisher, operator, camera=3, offset_m=130, type_=EventType.ABANDONED_OBJECT
    )
    assert camera["grid_code"], "the camera's spot must lie in a grid"
    split_id: int | None = None
    try:
        sent = httpx.post(
            f"{publisher.stack.central_url}/api/v1/citizen/reports",
            data={
                "matter_key": "abandoned_object",
                "description": "a suitcase left by the bench 长椅旁的行李箱",
                "lat": str(camera["lat"] + 6 / M_PER_DEG_LAT),
                "lon": str(camera["lon"]),
            },
            timeout=15,
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["reference"] == camera["id"]  # merged, not a new one

        page = page_factory(viewport=DESKTOP)
        log_in(page)
        go(page, f"tickets?id={camera['id']}")
        drawer = page.locator("#ticket-drawer")
        merged = drawer.locator("#merged-reports")
        expect(merged.locator("h3")).to_have_text("Merged reports (1)")
        report = merged.locator("li.merged-report")
        expect(report).to_have_attribute("data-source", "citizen")
        expect(report).to_contain_text("a suitcase left by the bench")
        expect(report).to_contain_text("6 m away")
        assert_accessible(page)
        screenshot(page, "console-merged-reports")

        # A wrong merge: the reason is required, then it is a ticket of its own.
        report.get_by_role("button", name="Split off").click()
        dialog = page.get_by_role("dialog", name=re.compile("^Split report"))
        dialog.get_by_role("button", name="Split off").click()
        expect(dialog.locator(".form-error")).to_contain_text("merge is wrong")
        dialog.get_by_label("Reason").fill("a different suitcase, across the path")
        dialog.get_by_role("button", name="Split off").click()
        expect(dialog).to_have_count(0)
        expect(page.locator("#toasts")).to_contain_text("Split off into a new ticket")
        outcome = merged.locator("[data-split-into]")
        expect(outcome).to_contain_text("Split off into #")
        split_id = int(outcome.get_attribute("data-split-into") or "0")
        assert split_id != camera["id"]

        own = state_of(operator, split_id)
        assert (own["source"], own["matter_key"]) == ("citizen", "abandoned_object")
        assert [h["action"] for h in state_of(operator, camera["id"])["history"]][
            -1
        ] == "split"
        audit = api("admin").get("/admin/audit", params={"action": "ticket_split"})
        audit.raise_for_status()
        assert any(
            row["target"] == f"ticket:{camera['id']}" for row in audit.json()["data"]
        )
    finally:
        end_ticket(operator, camera["id"])
        if split_id:
            end_ticket(operator, split_id)
