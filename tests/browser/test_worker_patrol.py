"""Patrol reports on the worker terminal (网格员巡查上报), on a 390×844 phone
against a real stack: a worker reports a case with photos and a faked GPS
position and handles it herself (一格解决); a report made offline is queued
on the phone and arrives once when the connection returns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.test_worker_terminal import (
    PHONE,
    TIMEOUT_MS,
    WORKER,
    log_in,
    photo_jpeg,
)

WORKER_GRID = "440106001001001"  # w00006's grid in the demo city
OTHER_WORKER = "w00001"


def grid_point(operator: httpx.Client, code: str = WORKER_GRID) -> tuple[float, float]:
    grids = operator.get("/grids", params={"prefix": code}).json()["features"]
    ring = grids[0]["geometry"]["coordinates"][0][:-1]
    return (
        sum(p[1] for p in ring) / len(ring),
        sum(p[0] for p in ring) / len(ring),
    )


def patrol_page(page_factory: PageFactory, point: tuple[float, float]) -> Page:
    page = page_factory(
        viewport=PHONE,
        geolocation={"latitude": point[0], "longitude": point[1]},
        permissions=["geolocation"],
    )
    page.set_default_timeout(TIMEOUT_MS)
    return page


def open_report_form(page: Page) -> None:
    page.get_by_role("link", name=re.compile(r"Report a case I found")).click()
    expect(page.locator("#report-title")).to_be_visible()
    expect(page.locator("#report-category option").first).to_be_attached()
    expect(page.locator("#report-lat")).not_to_have_value("")  # the faked GPS


def choose_littering(page: Page) -> None:
    page.get_by_label("Search the categories").fill("litter")
    page.get_by_label(re.compile("^Category")).select_option("littering")


def patrol_tickets(operator: httpx.Client, text: str) -> list[dict[str, Any]]:
    page = operator.get("/tickets", params={"source": "patrol", "q": text}).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def end(operator: httpx.Client, ticket: dict[str, Any]) -> None:
    if ticket["state"] == "resolved":
        operator.post(f"/tickets/{ticket['id']}/close", json={"note": "test over"})
    elif ticket["state"] not in ("closed", "rejected"):
        operator.post(f"/tickets/{ticket['id']}/reject", json={"reason": "test over"})


def test_a_worker_reports_a_case_and_handles_it_herself(
    page_factory: PageFactory,
    api: ApiFactory,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    operator = api("operator")
    page = patrol_page(page_factory, grid_point(operator))
    log_in(page, WORKER)
    screenshot(page, "worker-list-report-button")
    open_report_form(page)
    choose_littering(page)
    page.get_by_label(re.compile("^Photo of what you found")).set_input_files(
        photo_jpeg(tmp_path)
    )
    expect(page.locator("#report-photo-preview")).to_be_visible()
    note = "patrol-browser bags by the kiosk"
    page.get_by_label(re.compile("^What did you find")).fill(note)
    page.get_by_label(re.compile("I handle it myself")).check()
    page.get_by_label(re.compile("^How did you handle it")).fill("picked them up")
    page.get_by_label(re.compile("^Photo after handling it")).set_input_files(
        photo_jpeg(tmp_path)
    )
    expect(page.locator("#report-after-preview")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "worker-patrol-report")
    page.get_by_role("button", name=re.compile("Send report")).click()

    sent = page.locator("#report-sent")
    expect(sent).to_contain_text("you handled it")
    found = patrol_tickets(operator, note)
    assert len(found) == 1, found
    ticket = operator.get(f"/tickets/{found[0]['id']}").json()
    try:
        assert ticket["state"] == "resolved"
        assert ticket["assignee_id"] == WORKER
        assert ticket["grid_code"] == WORKER_GRID
        assert ticket["snapshot_url"] and ticket["resolution_photo_url"]
        assert [h["action"] for h in ticket["history"]] == [
            "create",
            "dispatch",
            "accept",
            "resolve",
        ]
        sent.get_by_role("link", name="Open it").click()
        expect(page.locator("#detail")).to_have_attribute("data-state", "resolved")
        expect(page.locator("#detail-status")).to_contain_text("picked them up")
    finally:
        end(operator, ticket)


def test_an_offline_report_is_queued_and_arrives_once(
    page_factory: PageFactory, api: ApiFactory, tmp_path: Path
) -> None:
    operator = api("operator")
    page = patrol_page(page_factory, grid_point(operator))
    log_in(page, WORKER)
    open_report_form(page)
    choose_littering(page)
    note = "patrol-browser offline rubbish heap"
    page.get_by_label(re.compile("^What did you find")).fill(note)
    page.context.set_offline(True)
    page.get_by_role("button", name=re.compile("Send report")).click()
    expect(page.locator("#report-queue")).to_contain_text("1 report waiting")
    assert patrol_tickets(operator, note) == []

    page.context.set_offline(False)
    expect(page.locator("#report-queue")).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Queued report sent")
    found = patrol_tickets(operator, note)
    try:
        assert len(found) == 1, found
        assert found[0]["state"] in ("dispatched", "pending_review")
        # opening the form again sends nothing more
        page.goto("/worker/#/")
        open_report_form(page)
        expect(page.locator("#report-queue")).to_be_hidden()
        assert len(patrol_tickets(operator, note)) == 1
    finally:
        for ticket in found:
            end(operator, ticket)


def test_a_queued_report_is_sent_only_as_the_worker_who_made_it(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    operator = api("operator")
    page = patrol_page(page_factory, grid_point(operator))
    log_in(page, WORKER)
    open_report_form(page)
    choose_littering(page)
    note = "patrol-browser queued by one worker only"
    page.get_by_label(re.compile("^What did you find")).fill(note)
    page.context.set_offline(True)
    page.get_by_role("button", name=re.compile("Send report")).click()
    expect(page.locator("#report-queue")).to_contain_text("1 report waiting")
    page.get_by_role("button", name="Log out").click()
    page.context.set_offline(False)

    log_in(page, OTHER_WORKER)  # the same phone, another worker: not theirs
    open_report_form(page)
    expect(page.locator("#report-queue")).to_be_hidden()
    expect(page.locator("#report-note")).to_have_value("")
    assert patrol_tickets(operator, note) == []
    page.get_by_role("button", name="Log out").click()

    log_in(page, WORKER)
    expect(page.locator("#toasts")).to_contain_text("Queued report sent")
    found = patrol_tickets(operator, note)
    try:
        assert len(found) == 1, found
        assert found[0]["reporter"] == WORKER
    finally:
        for ticket in found:
            end(operator, ticket)
