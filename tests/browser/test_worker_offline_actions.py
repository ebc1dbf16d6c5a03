"""Ticket actions made offline on the worker terminal, on a 390×844 phone
against a real stack: kept on the phone (IndexedDB, the photo as a Blob), shown
as waiting to send, sent once in order when the connection returns; a ticket
that changed meanwhile gets a plain refusal and the worker's note stays."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from gridwatch.contract import EventType
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.sample import SamplePublisher
from tests.browser.test_worker_terminal import (
    WORKER,
    card,
    log_in,
    own_ticket,
    phone_page,
    photo_jpeg,
)

OTHER_WORKER = "w00001"


def history_actions(operator: httpx.Client, tid: int) -> list[str]:
    ticket: dict[str, Any] = operator.get(f"/tickets/{tid}").json()
    return [item["action"] for item in ticket["history"]]


def open_ticket(page: Page, tid: int) -> None:
    card(page, tid).locator("a").click()
    expect(page.locator("#detail")).to_have_attribute("data-state", "dispatched")


def act_offline(page: Page, note: str, photo: Path | None = None) -> None:
    """Accept and resolve the open ticket with the connection gone."""
    page.context.set_offline(True)
    page.get_by_role("button", name=re.compile("Accept ticket")).click()
    queued = page.locator("#detail-queued .queued-action")
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("Accept: waiting to send")
    page.get_by_label(re.compile("What did you do")).fill(note)
    if photo is not None:
        page.get_by_label(re.compile("Photo of the result")).set_input_files(photo)
    page.get_by_role("button", name=re.compile("Mark resolved")).click()
    expect(queued).to_have_count(2)
    expect(queued.nth(1)).to_contain_text("Resolve: waiting to send")
    expect(queued.nth(1)).to_contain_text(note)
    expect(page.locator("#resolve-form")).to_have_count(0)


def test_actions_made_offline_are_sent_once_when_back_online(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    operator = api("operator")
    page = phone_page(page_factory)
    log_in(page)
    with own_ticket(
        publisher, operator, type_=EventType.INTRUSION, offset_m=-120
    ) as ticket:
        tid = ticket["id"]
        assert ticket["assignee_id"] == WORKER
        open_ticket(page, tid)
        note = "offline: gate closed again, intruder gone"
        act_offline(page, note, photo_jpeg(tmp_path))
        expect(page.locator(".queued-action img")).to_be_visible()
        # Central has seen nothing yet; the state shown is still central's.
        assert operator.get(f"/tickets/{tid}").json()["state"] == "dispatched"
        expect(page.locator("#detail")).to_have_attribute("data-state", "dispatched")
        screenshot(page, "worker-offline-actions")
        assert_accessible(page)
        page.locator("#back").click()
        expect(card(page, tid).locator(".chip-queued")).to_have_text("Waiting to send")
        expect(page.locator("#action-queue")).to_contain_text("2 actions waiting")

        page.context.set_offline(False)
        expect(page.locator("#action-queue")).to_be_hidden()
        expect(card(page, tid)).to_have_attribute("data-state", "resolved")
        stored = operator.get(f"/tickets/{tid}").json()
        assert stored["state"] == "resolved"
        assert stored["resolution_note"] == note
        assert stored["resolution_photo_url"]
        actions = history_actions(operator, tid)
        assert actions.count("accept") == 1, actions
        assert actions.count("resolve") == 1, actions

        # Starting the app again sends nothing more.
        page.reload()
        expect(page.locator("#tickets")).to_have_attribute("aria-busy", "false")
        expect(page.locator("#action-queue")).to_be_hidden()
        card(page, tid).locator("a").click()
        expect(page.locator("#detail")).to_have_attribute("data-state", "resolved")
        expect(page.locator("#detail-queued .queued-action")).to_have_count(0)
        assert history_actions(operator, tid) == actions


def test_actions_on_a_ticket_given_away_meanwhile_are_refused_plainly(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    page = phone_page(page_factory)
    log_in(page)
    with own_ticket(
        publisher, operator, type_=EventType.INTRUSION, offset_m=-50
    ) as ticket:
        tid = ticket["id"]
        assert ticket["assignee_id"] == WORKER
        open_ticket(page, tid)
        note = "offline: fence repaired before it was reassigned"
        act_offline(page, note)
        moved = operator.post(
            f"/tickets/{tid}/reassign", json={"worker_id": OTHER_WORKER}
        )
        assert moved.status_code == 200, moved.text

        page.context.set_offline(False)
        expect(page.locator("#toasts")).to_contain_text("was refused")
        expect(page.locator("#toasts")).to_contain_text("given to another worker")
        # Its page is gone (no longer hers), saying where her work is kept.
        expect(page.locator("#detail-error")).to_contain_text(
            "no longer assigned to you. What you did to it offline is kept"
        )
        stored = operator.get(f"/tickets/{tid}").json()
        assert stored["assignee_id"] == OTHER_WORKER
        assert stored["state"] == "dispatched"
        assert "accept" not in history_actions(operator, tid)

        # The list keeps the refusals (the ticket is no longer there) until
        # the worker dismisses them.
        page.locator("#back").click()
        box = page.locator("#action-queue")
        refused = box.locator(".queued-action")
        expect(refused).to_have_count(2)
        expect(refused.nth(0)).to_contain_text(f"Accept of ticket #{tid}: not sent")
        expect(refused.nth(0)).to_contain_text("given to another worker")
        expect(refused.nth(1)).to_contain_text(f"Resolve of ticket #{tid}: not sent")
        expect(refused.nth(1)).to_contain_text("the accept before it was refused")
        expect(refused.nth(1)).to_contain_text(note)  # nothing she wrote is lost
        expect(box).not_to_contain_text("null")
        screenshot(page, "worker-offline-refused")
        assert_accessible(page)
        expect(card(page, tid)).to_have_count(0)
        for _ in range(2):
            box.get_by_role("button", name=re.compile("Dismiss")).first.click()
        expect(box).to_be_hidden()
