"""The public citizen page (/citizen/) on a phone against a real stack: report
without an account (category, photo, GPS position, description, contact),
follow the private link, rate the closed case and reopen it."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import httpx
import numpy as np
from playwright.sync_api import Page, expect

from harness.demo_stack import DEMO_PASSWORD, DemoStack
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.sample import login

PHONE = (390, 844)
TIMEOUT_MS = 15_000
CONTACT = "13900001111"


def street_photo(folder: Path) -> Path:
    """A phone-photo stand-in, larger than the page sends (it scales it down)."""
    image = np.full((1800, 2400, 3), (90, 120, 140), dtype=np.uint8)
    cv2.rectangle(image, (600, 500), (1800, 1300), (20, 60, 200), -1)
    path = folder / "street.jpg"
    assert cv2.imwrite(str(path), image)
    return path


def a_grid_centre(operator: httpx.Client) -> tuple[float, float]:
    grids = operator.get("/grids").json()["features"]
    ring = grids[len(grids) // 2]["geometry"]["coordinates"][0][:-1]
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    return lat, lon


def as_worker(stack: DemoStack, worker_id: str) -> httpx.Client:
    token = login(stack.central_url, worker_id, DEMO_PASSWORD)
    return httpx.Client(
        base_url=f"{stack.central_url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )


def handle_and_close(stack: DemoStack, operator: httpx.Client, tid: int) -> None:
    """An operator confirms, the grid worker accepts and resolves, the operator
    closes: what the citizen then sees on the tracking page."""
    confirmed = operator.post(f"/tickets/{tid}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    worker_id = confirmed.json()["assignee_id"]
    with as_worker(stack, worker_id) as worker:
        assert worker.post(f"/tickets/{tid}/accept").status_code == 200
        resolved = worker.post(f"/tickets/{tid}/resolve", data={"note": "cleared"})
        assert resolved.status_code == 200, resolved.text
    closed = operator.post(f"/tickets/{tid}/close", json={"note": "checked"})
    assert closed.status_code == 200, closed.text


def citizen_page(page_factory: PageFactory, point: tuple[float, float]) -> Page:
    page = page_factory(
        viewport=PHONE,
        geolocation={"latitude": point[0], "longitude": point[1]},
        permissions=["geolocation"],
    )
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_a_citizen_reports_with_a_photo_follows_rates_and_reopens(
    page_factory: PageFactory,
    stack: DemoStack,
    api: ApiFactory,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    operator = api("operator")
    point = a_grid_centre(operator)
    page = citizen_page(page_factory, point)
    page.goto("/citizen/")
    expect(page.locator("#category option")).not_to_have_count(0)
    expect(page.locator("#map path")).not_to_have_count(0)
    assert_accessible(page)

    # The category list is searchable.
    page.get_by_label("Search the categories").fill("litter")
    expect(page.locator("#category option")).to_have_count(1)
    page.get_by_label(re.compile("^Category")).select_option("littering")
    page.get_by_label("Take or choose a photo").set_input_files(street_photo(tmp_path))
    expect(page.locator("#photo-preview")).to_be_visible()
    page.get_by_role("button", name="Use my location").click()
    expect(page.locator("#position")).to_contain_text("your location")
    page.get_by_label(re.compile("Describe the problem")).fill(
        "Bags of rubbish by the bus stop 垃圾袋堆放"
    )
    page.get_by_label(re.compile("Your phone or e-mail")).fill(CONTACT)
    screenshot(page, "citizen-report")
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#sent")).to_be_visible()
    expect(page.locator("#sent")).to_be_focused()
    tid = int(page.locator("#sent-reference").inner_text())
    link = page.locator("#sent-link").inner_text()
    assert re.fullmatch(r"http://[^/]+/citizen/#track=[A-Za-z0-9_-]{40,}", link)
    assert_accessible(page)
    screenshot(page, "citizen-sent")

    # The photo left the phone scaled down (the page sends at most 1600 px) and
    # central stored it re-encoded as the ticket's picture.
    ticket = operator.get(f"/tickets/{tid}").json()
    assert (ticket["source"], ticket["state"]) == ("citizen", "pending_review")
    assert ticket["review_reason"] == "citizen_report"
    photo = operator.get(stack.central_url + ticket["snapshot_url"])
    assert photo.status_code == 200
    image = cv2.imdecode(np.frombuffer(photo.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and max(image.shape[:2]) == 1600
    assert operator.get(f"/citizen/reports/{tid}").json()["contact"] == CONTACT

    # Follow it: plain words, nothing private.
    page.locator("#follow-link").click()
    expect(page.locator("#view-track")).to_be_visible()
    expect(page.locator("#track-status")).to_contain_text("Received")
    expect(page.locator("#track-steps")).to_contain_text("Report received")
    assert CONTACT not in page.content()
    assert_accessible(page)
    screenshot(page, "citizen-track-received")

    handle_and_close(stack, operator, tid)
    page.reload()
    expect(page.locator("#track-status")).to_have_text("Handled and closed")
    expect(page.locator("#track-steps")).to_contain_text("Checked and closed")
    assert ticket["assignee_id"] is None
    worker_id = operator.get(f"/tickets/{tid}").json()["assignee_id"]
    assert worker_id not in page.locator("#track-body").inner_text()

    # Rate it once.
    page.get_by_label("Basically satisfied").check()
    page.get_by_label("Comment (optional)").fill("slow but done")
    assert_accessible(page)
    screenshot(page, "citizen-track-closed")
    page.get_by_role("button", name="Send rating").click()
    expect(page.locator("#track-rating")).to_contain_text("Basically satisfied")
    expect(page.locator("#rate-form")).to_be_hidden()

    # Reopen it: back to the worker for rework.
    page.get_by_label(re.compile("What is still wrong")).fill("the bags are back")
    page.get_by_role("button", name="Reopen the case").click()
    expect(page.locator("#track-status")).to_have_text("Being worked on again")
    expect(page.locator("#track-steps")).to_contain_text("Reopened by you")
    expect(page.locator("#reopen-form")).to_be_hidden()
    stored = operator.get(f"/tickets/{tid}").json()
    assert (stored["state"], stored["rework_count"]) == ("returned", 1)
    assert stored["assignee_id"] == worker_id
    # Leave the shared stack tidy.
    assert operator.post(
        f"/tickets/{tid}/reject", json={"reason": "test over"}
    ).is_success


def test_a_report_outside_the_city_is_explained(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    page = citizen_page(page_factory, (0.5, 0.5))
    page.goto("/citizen/")
    expect(page.locator("#category option")).not_to_have_count(0)
    page.get_by_label(re.compile("^Category")).select_option("littering")
    page.get_by_role("button", name="Use my location").click()
    expect(page.locator("#position")).to_contain_text("your location")
    page.get_by_label(re.compile("Describe the problem")).fill("far away")
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#report-error")).to_contain_text("outside the city")
    expect(page.locator("#sent")).to_be_hidden()


def test_a_wrong_tracking_link_says_so(page_factory: PageFactory) -> None:
    page = page_factory(viewport=PHONE)
    page.goto("/citizen/#track=" + "A" * 43)
    expect(page.locator("#track-error")).to_contain_text("does not match any report")


def test_the_operator_reviews_a_citizen_report_in_the_console(
    page_factory: PageFactory,
    stack: DemoStack,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    """A report from the page waits in the review queue with the reporter's
    contact (staff only); `c` confirms it and it is dispatched."""
    operator = api("operator")
    lat, lon = a_grid_centre(operator)
    sent = httpx.post(
        f"{stack.central_url}/api/v1/citizen/reports",
        data={
            "matter_key": "illegal_parking",
            "description": "A van blocks the fire lane",
            "lat": str(lat + 0.0001),
            "lon": str(lon),
            "contact": CONTACT,
        },
        timeout=15,
    )
    assert sent.status_code == 201, sent.text
    tid = sent.json()["reference"]
    try:
        page = page_factory(viewport=(1440, 900))
        page.set_default_timeout(TIMEOUT_MS)
        log_in_console(page)
        page.evaluate("() => { location.hash = '#/review'; }")
        item = page.locator(f'li.review-item[data-ticket-id="{tid}"]')
        item.locator(".review-item-open").click()
        detail = page.locator(f'.review-detail-inner[data-ticket-id="{tid}"]')
        expect(detail.locator(".facts")).to_contain_text("Citizen report: check first")
        expect(detail.locator("#review-reporter")).to_have_text(CONTACT)
        assert_accessible(page)
        screenshot(page, "console-review-citizen")
        page.mouse.move(0, 0)
        page.keyboard.press("c")
        expect(item).to_have_count(0)
        after = operator.get(f"/tickets/{tid}").json()
        assert after["state"] == "dispatched" and after["assignee_id"]
    finally:
        operator.post(f"/tickets/{tid}/reject", json={"reason": "test over"})


def log_in_console(page: Page) -> None:
    page.goto("/console/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#shell")).to_be_visible()
