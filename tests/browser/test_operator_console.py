"""The operator console (/console/) in a desktop Chromium against a real stack.

Each test publishes its own camera events (abandoned objects always wait for
review; each at a spot of its own, so central does not merge them into another
test's ticket), finds their tickets by event id and ends them, since the stack is
shared with other tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from gridwatch.contract import EventType
from harness.demo_stack import DEMO_PASSWORD
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.sample import SamplePublisher, ticket_of_event

DESKTOP = (1440, 900)
SMALL_DESKTOP = (1280, 800)
CONSOLE = "/console/"
FIRST_REJECT_REASON = "False positive: nothing there"
SECOND_REJECT_REASON = "Normal activity, not a case"
HEAT_ZERO = "#1b2740"  # the heat view's colour for a grid without events


# -- helpers ----------------------------------------------------------------------


def flagged_ticket(
    publisher: SamplePublisher,
    operator: httpx.Client,
    *,
    camera: int,
    offset_m: float,
    type_: EventType = EventType.ABANDONED_OBJECT,
) -> dict[str, Any]:
    """Publish an event and return its new ticket."""
    event_id = publisher.publish_event(camera=camera, type_=type_, offset_m=offset_m)
    ticket = ticket_of_event(operator, event_id)
    assert ticket["observations"] == 1, "merged into an older ticket: pick a new spot"
    return ticket


def state_of(client: httpx.Client, ticket_id: int) -> dict[str, Any]:
    response = client.get(f"/tickets/{ticket_id}")
    response.raise_for_status()
    ticket: dict[str, Any] = response.json()
    return ticket


def end_ticket(client: httpx.Client, ticket_id: int) -> None:
    """Reject a ticket a test opened, if it is still open (cleanup)."""
    state = state_of(client, ticket_id)["state"]
    if state in {"pending_review", "dispatched", "accepted", "returned"}:
        client.post(
            f"/tickets/{ticket_id}/reject", json={"reason": "browser test cleanup"}
        ).raise_for_status()


def log_in(page: Page, username: str = "operator") -> None:
    streams: list[str] = []
    page.on(
        "request",
        lambda r: streams.append(r.url) if r.resource_type == "eventsource" else None,
    )
    page.goto(CONSOLE)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#shell")).to_be_visible()
    # The live stream is open: the header's dot says so. It was opened with a
    # stream ticket (page_factory checks that no URL carries the token).
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert streams
    assert all("/api/v1/tickets/stream?ticket=" in url for url in streams)


def go(page: Page, route: str) -> None:
    page.evaluate("route => { location.hash = route; }", f"#/{route}")


def review_item(page: Page, ticket_id: int) -> Any:
    return page.locator(f'li.review-item[data-ticket-id="{ticket_id}"]')


# -- review, then the ticket's closed loop ---------------------------------------


def test_operator_confirms_and_rejects_by_keyboard_then_verifies_and_closes(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    confirmed = flagged_ticket(publisher, operator, camera=0, offset_m=25)
    rejected = flagged_ticket(publisher, operator, camera=0, offset_m=-45)
    try:
        assert confirmed["state"] == rejected["state"] == "pending_review"
        page = page_factory(viewport=DESKTOP)
        log_in(page)
        go(page, "review")

        # Pick the first flagged event; its clip plays inline and the snapshot
        # shows the detection box.
        review_item(page, confirmed["id"]).locator(".review-item-open").click()
        detail = page.locator(
            f'.review-detail-inner[data-ticket-id="{confirmed["id"]}"]'
        )
        expect(detail).to_be_visible()
        video = detail.locator("video")
        for attribute in ("muted", "autoplay", "loop", "playsinline", "controls"):
            expect(video).to_have_attribute(attribute, "")
        # a short-lived signed link, never the bearer token
        expect(video).to_have_attribute(
            "src", re.compile(r"^/api/v1/media/[0-9a-f]{64}\?uid=\d+&exp=\d+&sig=")
        )
        page.wait_for_function(
            "() => document.querySelector('.review-detail video').readyState >= 2"
        )
        box = detail.locator(".bbox")
        expect(box).to_be_visible()
        assert box.evaluate("el => el.style.left") == "32%"
        expect(detail.locator(".facts")).to_contain_text("Abandoned object")
        expect(detail.locator(".facts")).to_contain_text("Matter needs review")
        expect(detail.locator(".facts")).to_contain_text("90%")
        page.mouse.move(0, 0)
        screenshot(page, "console-review")
        assert_accessible(page)

        # `c` confirms: the ticket is dispatched and leaves the queue.
        page.keyboard.press("c")
        expect(review_item(page, confirmed["id"])).to_have_count(0)
        after = state_of(operator, confirmed["id"])
        assert after["state"] == "dispatched"
        assert after["assignee_id"]

        # `r` rejects, `1` picks the first reason.
        review_item(page, rejected["id"]).locator(".review-item-open").click()
        expect(
            page.locator(f'.review-detail-inner[data-ticket-id="{rejected["id"]}"]')
        ).to_be_visible()
        page.keyboard.press("r")
        picker = page.get_by_role("dialog", name="Reject as false positive")
        expect(picker).to_be_visible()
        screenshot(page, "console-review-reject-reason")
        page.keyboard.press("1")
        expect(picker).to_have_count(0)
        expect(review_item(page, rejected["id"])).to_have_count(0)
        gone = state_of(operator, rejected["id"])
        assert gone["state"] == "rejected"
        assert gone["reject_reason"] == FIRST_REJECT_REASON

        # The assigned worker accepts and resolves the confirmed ticket ...
        worker = api(after["assignee_id"])
        worker.post(f"/tickets/{confirmed['id']}/accept").raise_for_status()
        worker.post(
            f"/tickets/{confirmed['id']}/resolve",
            data={"note": "遗留物已移交 object handed to the police"},
        ).raise_for_status()

        # ... and the operator verifies and closes it from the ticket's panel.
        go(page, f"tickets?id={confirmed['id']}")
        drawer = page.locator("#ticket-drawer")
        expect(drawer).to_have_attribute("data-state", "resolved")
        expect(drawer).to_contain_text("object handed to the police")
        expect(drawer.locator(".timeline li")).to_have_count(4)  # create … resolve
        row = page.locator(f'#tickets-table tr[data-ticket-id="{confirmed["id"]}"]')
        expect(row).to_have_attribute("aria-selected", "true")
        screenshot(page, "console-tickets")
        assert_accessible(page)
        drawer.locator("#action-close").click()
        closing = page.get_by_role("dialog", name=f"Verify & close #{confirmed['id']}")
        closing.get_by_label("Verification note").fill("checked on the camera")
        closing.get_by_role("button", name="Close ticket").click()
        expect(closing).to_have_count(0)
        expect(drawer).to_have_attribute("data-state", "closed")
        expect(drawer.locator(".timeline")).to_contain_text("checked on the camera")
        expect(row).to_have_attribute("data-state", "closed")
        expect(row.locator(".chip.state-closed")).to_have_text("Closed")
        closed = state_of(operator, confirmed["id"])
        assert closed["state"] == "closed"
        assert closed["history"][-1]["note"] == "checked on the camera"
    finally:
        end_ticket(operator, confirmed["id"])
        end_ticket(operator, rejected["id"])


def test_return_reassign_and_escalate_from_the_ticket_panel(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    ticket = flagged_ticket(publisher, operator, camera=2, offset_m=-60)
    try:
        dispatched = operator.post(f"/tickets/{ticket['id']}/confirm", json={})
        dispatched.raise_for_status()
        first_worker = dispatched.json()["assignee_id"]
        worker = api(first_worker)
        worker.post(f"/tickets/{ticket['id']}/accept").raise_for_status()
        worker.post(
            f"/tickets/{ticket['id']}/resolve", data={"note": "looked, left it"}
        ).raise_for_status()

        page = page_factory(viewport=DESKTOP)
        log_in(page)
        go(page, f"tickets?id={ticket['id']}")
        drawer = page.locator("#ticket-drawer")
        expect(drawer).to_have_attribute("data-state", "resolved")
        # The buttons are the actions central lists for a resolved ticket.
        assert state_of(operator, ticket["id"])["actions"] == [
            "close",
            "return",
            "escalate",
        ]
        for gone in ("confirm", "reassign", "reject"):
            expect(drawer.locator(f"#action-{gone}")).to_have_count(0)

        # Return for rework: the reason is required and reaches the ticket.
        drawer.locator("#action-return").click()
        returning = page.get_by_role(
            "dialog", name=f"Return #{ticket['id']} for rework"
        )
        returning.get_by_role("button", name="Return to worker").click()
        expect(returning.locator(".form-error")).to_contain_text("still needs doing")
        returning.get_by_label("Reason").fill("物品仍在原处 the object is still there")
        returning.get_by_role("button", name="Return to worker").click()
        expect(returning).to_have_count(0)
        expect(drawer).to_have_attribute("data-state", "returned")
        assert state_of(operator, ticket["id"])["return_reason"].startswith("物品")

        # Reassign to another worker, chosen from the list.
        other = next(
            w["id"]
            for w in operator.get("/workers").json()
            if w["active"] and w["id"] != first_worker
        )
        drawer.locator("#action-reassign").click()
        moving = page.get_by_role("dialog", name=f"Reassign #{ticket['id']}")
        moving.get_by_label("Worker").select_option(other)
        moving.get_by_label("Note").fill("closer to the spot")
        moving.get_by_role("button", name="Reassign").click()
        expect(moving).to_have_count(0)
        expect(drawer).to_have_attribute("data-state", "dispatched")
        assert state_of(operator, ticket["id"])["assignee_id"] == other

        # Escalate to the street.
        drawer.locator("#action-escalate").click()
        raising = page.get_by_role("dialog", name=f"Escalate #{ticket['id']}")
        raising.get_by_label("Escalate to").select_option("2")
        raising.get_by_label("Reason").fill("second return this week")
        raising.get_by_role("button", name="Escalate").click()
        expect(raising).to_have_count(0)
        expect(drawer.locator(".chip.esc")).to_contain_text("L2")
        assert state_of(operator, ticket["id"])["escalation_level"] == 2
        expect(drawer.locator("#action-escalate")).to_be_visible()  # L3 is left
    finally:
        end_ticket(operator, ticket["id"])


def test_bulk_reject_of_selected_events(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    first = flagged_ticket(publisher, operator, camera=1, offset_m=20)
    second = flagged_ticket(publisher, operator, camera=1, offset_m=-40)
    try:
        page = page_factory(viewport=DESKTOP)
        log_in(page)
        go(page, "review")
        for ticket in (first, second):
            review_item(page, ticket["id"]).locator(".review-item-open").click()
            page.keyboard.press("x")
            expect(review_item(page, ticket["id"]).locator(".checkbox")).to_be_checked()
        expect(page.locator(".bulkbar")).to_contain_text("2 selected")
        page.keyboard.press("Shift+R")
        picker = page.get_by_role("dialog", name="Reject 2 events as false positives")
        expect(picker).to_be_visible()
        page.keyboard.press("2")
        expect(picker).to_have_count(0)
        for ticket in (first, second):
            expect(review_item(page, ticket["id"])).to_have_count(0)
            after = state_of(operator, ticket["id"])
            assert after["state"] == "rejected"
            assert after["reject_reason"] == SECOND_REJECT_REASON
    finally:
        end_ticket(operator, first["id"])
        end_ticket(operator, second["id"])


def test_help_overlay_lists_the_shortcuts(page_factory: PageFactory) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "review")
    expect(page.locator(".review-list")).to_be_visible()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Confirm and dispatch")
    expect(help_dialog).to_contain_text("Reject as false positive")
    page.keyboard.press("Escape")
    expect(help_dialog).to_have_count(0)
    # g then t goes to the tickets.
    page.keyboard.press("g")
    page.keyboard.press("t")
    expect(page.locator("#tickets-table")).to_be_visible()
    expect(page.locator('a.nav-item[data-view="tickets"]')).to_have_attribute(
        "aria-current", "page"
    )


def test_event_type_labels_come_from_central(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    ticket = flagged_ticket(publisher, operator, camera=0, offset_m=-150)
    try:
        page = page_factory(viewport=DESKTOP)
        answer = operator.get("/event-types")
        assert answer.status_code == 200, answer.text
        words = answer.json()
        for entry in words["event_types"]:
            if entry["type"] == "abandoned_object":
                entry["label"] = "Left luggage"  # as a city's matter list may say
        page.route("**/api/v1/event-types", lambda route: route.fulfill(json=words))
        log_in(page)
        go(page, "review")
        review_item(page, ticket["id"]).locator(".review-item-open").click()
        detail = page.locator(f'.review-detail-inner[data-ticket-id="{ticket["id"]}"]')
        expect(detail.locator(".facts")).to_contain_text("Left luggage")
    finally:
        end_ticket(operator, ticket["id"])


# -- tickets ----------------------------------------------------------------------


def test_ticket_list_given_an_uncounted_total_should_say_at_least(
    page_factory: PageFactory,
) -> None:
    # Central stops counting a broad search at 10,000 matches (`total_exact`
    # false); the pager must say "10,000+", not a last page it cannot know.
    page = page_factory(viewport=DESKTOP)

    def uncounted(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        body.update(total=10_000, total_exact=False)
        route.fulfill(response=answer, json=body)

    page.route(re.compile(r".*/api/v1/tickets\?.*"), uncounted)
    log_in(page)
    go(page, "tickets")
    pager = page.get_by_role("navigation", name="Pages")
    expect(pager).to_contain_text("of 10,000+ tickets")
    expect(pager).not_to_contain_text("Page 1 of")


def test_manual_ticket_placed_on_the_map(
    page_factory: PageFactory, api: ApiFactory, screenshot: Screenshot
) -> None:
    operator = api("operator")
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "tickets")
    expect(page.locator("#tickets-table")).to_be_visible()
    page.keyboard.press("n")
    form = page.get_by_role("dialog", name="New ticket")
    expect(form).to_be_visible()
    form.get_by_label("Matter").select_option("littering")
    form.get_by_label("Source").select_option("citizen")
    form.get_by_label("Title").fill("市民反映：路边垃圾 rubbish by the road")
    form.get_by_label("Reporter").fill("王先生 138-0000-0000")
    # A click inside a grid's polygon places the ticket there.
    grid = operator.get("/grids").json()["features"][0]["properties"]
    polygon = form.locator(f'.pick-map path[data-grid="{grid["code"]}"]')
    expect(polygon).to_be_visible()
    polygon.click()
    expect(form).to_contain_text(f"{grid['name']} ({grid['code']})")
    screenshot(page, "console-new-ticket")
    form.get_by_role("button", name="Create ticket").click()
    expect(form).to_have_count(0)
    drawer = page.locator("#ticket-drawer")
    expect(drawer).to_contain_text("rubbish by the road")
    ticket_id = int(drawer.get_attribute("data-ticket-id") or 0)
    try:
        created = state_of(operator, ticket_id)
        assert created["source"] == "citizen"
        assert created["matter_key"] == "littering"
        assert created["reporter"] == "王先生 138-0000-0000"
        assert created["lat"] is not None
        assert created["grid_code"] == grid["code"]

        # The state filter narrows the table; the area filter takes a prefix.
        page.locator("#filter-state").select_option(created["state"])
        page.locator("#filter-grid").select_option(created["grid_code"])
        row = page.locator(f'#tickets-table tr[data-ticket-id="{ticket_id}"]')
        expect(row).to_be_visible()
        # Wait for the filtered table: the unfiltered one also shows the row.
        others = page.locator(
            f'#tickets-table tbody tr:not([data-state="{created["state"]}"])'
        )
        expect(others).to_have_count(0)
    finally:
        end_ticket(operator, ticket_id)


# -- map --------------------------------------------------------------------------


def test_map_draws_grids_tickets_events_and_heat(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    grids = operator.get("/grids").json()["features"]
    assert len(grids) >= 12
    ticket = flagged_ticket(publisher, operator, camera=2, offset_m=0)
    try:
        page = page_factory(viewport=DESKTOP)
        log_in(page)
        go(page, "map")
        polygons = page.locator(".leaflet-overlay-pane path[data-grid]")
        expect(polygons).to_have_count(len(grids))
        assert polygons.count() >= 12
        # Community, street and district outlines come from the grids' codes.
        for level in ("community", "street", "district"):
            expect(
                page.locator(f".leaflet-overlay-pane path.outline-{level}")
            ).to_have_count(1)
        # The open ticket and its live event are on the map.
        expect(page.locator("path.ticket-marker").first).to_be_visible()
        expect(page.locator("path.event-marker").first).to_be_attached()
        page.mouse.move(0, 0)
        screenshot(page, "console-map")
        assert_accessible(page)

        # The heat view colours the grids by their event counts.
        grid = page.locator(f'path[data-grid="{ticket["grid_code"]}"]')
        plain = grid.get_attribute("fill")
        page.keyboard.press("h")
        expect(page.locator("#layer-heat")).to_be_checked()
        expect(grid).not_to_have_attribute("fill", plain or "")
        expect(grid).not_to_have_attribute("fill", HEAT_ZERO)
        expect(page.locator(".legend-scale")).to_be_visible()
        screenshot(page, "console-map-heat")

        # Zoom to a street from the level selector.
        page.get_by_role("button", name="Street", exact=True).click()
        street = page.locator(".area-tree button[data-code]").first
        expect(street).to_be_visible()
        street.click()
        expect(street).to_have_attribute("aria-pressed", "true")
    finally:
        end_ticket(operator, ticket["id"])


# -- cameras ----------------------------------------------------------------------


def test_cameras_show_health_and_occupancy(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    screenshot: Screenshot,
) -> None:
    online = publisher.camera(0).camera_id
    stalled = publisher.camera(len(publisher.cameras) - 1).camera_id
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    go(page, "cameras")
    online_row = page.locator(f'#cameras-table tr[data-camera-id="{online}"]')
    stalled_row = page.locator(f'#cameras-table tr[data-camera-id="{stalled}"]')
    expect(online_row).to_have_attribute("data-health", "online")
    expect(online_row.locator(".chip.health")).to_have_text("Online")
    expect(stalled_row).to_have_attribute("data-health", "stalled")
    expect(stalled_row.locator(".chip.health")).to_have_text("Stalled")
    # Colour and text both say it; the colours differ.
    colours = {
        row.locator(".chip.health").evaluate("el => getComputedStyle(el).color")
        for row in (online_row, stalled_row)
    }
    assert len(colours) == 2
    expect(online_row).to_contain_text("25.0")
    expect(online_row).to_contain_text("aisle · person")
    expect(page.locator(".node-card").first).to_be_visible()
    expect(page.locator(".kpis")).to_contain_text("Stalled")
    screenshot(page, "console-cameras")
    assert_accessible(page)


HOSTILE_REASON = '<img src=x onerror="window.__gridwatchXss=1">ingest stuck'


def test_cameras_page_shows_central_ingest_health_as_text(
    page_factory: PageFactory, screenshot: Screenshot
) -> None:
    """The real answer first (this stack's central runs ingest), then a degraded
    one whose reason carries markup, then an API-only replica's."""
    page = page_factory(viewport=DESKTOP)
    answer: dict[str, Any] = {}

    def ingest(route: Any) -> None:
        if answer:
            route.fulfill(json=answer)
        else:
            route.continue_()

    page.route("**/api/v1/system/ingest", ingest)
    log_in(page)
    go(page, "cameras")
    line = page.locator("#ingest-health")
    expect(line).to_have_attribute("data-status", "ok")
    expect(line.locator(".chip.health")).to_have_text("OK")
    expect(line).to_contain_text("dead letters")
    expect(line).to_contain_text("received")
    assert_accessible(page)

    refresh = page.locator("#page-actions").get_by_role("button", name="Refresh")
    answer.update(
        runs_ingest=True,
        status="degraded",
        reasons=[HOSTILE_REASON, "ingest lagging: oldest waiting event 42 s old"],
        lag_s=42.4,
        queued=1500,
        received=9000,
        stored=7000,
        deadlettered=3,
        failed_batches=12,
        storage_retries=11,
    )
    refresh.click()
    expect(line).to_have_attribute("data-status", "degraded")
    expect(line.locator(".chip.health")).to_have_text("Degraded")
    expect(line).to_contain_text("Lag 42 s")
    expect(line).to_contain_text("3 dead letters")
    expect(line).to_contain_text("12 failed batches")
    reasons = line.locator(".ingest-reasons li")
    expect(reasons).to_have_count(2)
    expect(reasons.first).to_have_text(HOSTILE_REASON)  # as text, never as HTML
    assert line.locator("img").count() == 0
    assert page.evaluate("window.__gridwatchXss") is None
    screenshot(page, "console-cameras-ingest-degraded")
    assert_accessible(page)

    answer.clear()
    answer.update(runs_ingest=False, status=None, reasons=[])
    refresh.click()
    expect(line).to_have_attribute("data-status", "elsewhere")
    expect(line).to_contain_text("Ingest not in this process")


# -- statistics --------------------------------------------------------------------

CHART_POINTS = """(id) => {
  const chart = Chart.getChart(id);
  if (!chart) return -1;
  return chart.data.datasets
    .flatMap((d) => d.data)
    .filter((v) => typeof v === "number" && v > 0).length;
}"""


def test_statistics_charts_have_data_and_export_csv(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    # A crowding event is dispatched at once: a ticket, an event and a dispatch time
    # for today's figures.
    ticket = flagged_ticket(
        publisher, operator, camera=3, offset_m=0, type_=EventType.CROWDING
    )
    try:
        page = page_factory(viewport=DESKTOP)
        log_in(page)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        go(page, "stats")
        charts = [
            "chart-daily",
            "chart-category",
            "chart-rates",
            "chart-durations",
            "chart-trend",
            "chart-fp",
        ]
        for chart in charts:
            expect(page.locator(f"canvas#{chart}")).to_be_visible()
        for chart in charts:
            points = page.evaluate(CHART_POINTS, chart)
            assert points > 0, f"{chart} has no data points"
        expect(page.locator(".kpis")).to_contain_text("Tickets opened")
        for rate in ("Response rate", "Resolution rate", "Satisfaction rate"):
            expect(page.locator(".kpis")).to_contain_text(rate)  # 三率
        expect(page.locator("#eval-table thead")).to_contain_text("Satisfaction")
        expect(page.locator("#eval-table tbody tr").first).to_be_visible()
        expect(page.locator("#eval-table-count")).to_contain_text("rows")
        # Central combines the periods into one row per key, the busiest first.
        grouped = [
            u for u in requested if "/stats/evaluation" in u and "by=total" not in u
        ]
        assert any("combine=true" in u and "limit=500" in u for u in grouped), grouped
        screenshot(page, "console-stats")
        assert_accessible(page)

        # The period selector re-cuts the report.
        page.keyboard.press("m")
        month = page.locator('.segmented button[data-period="month"]')
        expect(month).to_have_attribute("aria-pressed", "true")
        expect(page.locator("canvas#chart-trend")).to_be_visible()
        assert page.evaluate(CHART_POINTS, "chart-trend") > 0
        assert "period=month" in page.url

        # CSV export downloads the report as a spreadsheet.
        with page.expect_download() as download:
            page.get_by_role("link", name="Evaluation", exact=True).click()
        saved = download.value.path()
        assert download.value.suggested_filename.endswith(".csv")
        header = Path(saved).read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("period_start,key,name,tickets")
    finally:
        end_ticket(operator, ticket["id"])


# -- login, keyboard, small screens ---------------------------------------------


def test_keyboard_only_login_logout_and_expired_session(
    page_factory: PageFactory,
) -> None:
    page = page_factory(viewport=DESKTOP)
    page.goto(CONSOLE)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#login-user")).to_be_focused()
    assert_accessible(page)
    page.keyboard.type("operator")
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_contain_text("Incorrect username")
    page.locator("#login-pass").fill(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#shell")).to_be_visible()
    expect(page.locator("#user-role")).to_have_text("Operator")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator("main#view")).to_be_visible()
    assert page.evaluate("localStorage.length") == 1

    # Tab reaches the navigation with a visible focus ring.
    expect(page.locator("main#view")).to_have_class(re.compile(r"\bview-"))
    page.locator("#view").focus()
    for _ in range(30):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.dataset.view") == "cameras":
            break
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    assert page.evaluate("document.activeElement.dataset.view") == "cameras", focused
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator("#cameras-table")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-screen")).to_be_visible()
    assert page.evaluate("localStorage.length") == 0

    # A revoked token lands on the login form with a message.
    page.evaluate("localStorage.setItem('gridwatch.console.token', 'revoked')")
    page.reload()
    expect(page.locator("#login-error")).to_contain_text("session has expired")


def test_a_slow_start_keeps_the_keyboard_place(page_factory: PageFactory) -> None:
    """The shell shows before its reference lists arrive; a keyboard user who has
    already moved into the navigation must not be thrown back to the view."""
    page = page_factory(viewport=DESKTOP)
    held: list[Route] = []
    page.route("**/api/v1/event-types", lambda route: held.append(route))
    page.goto(CONSOLE)
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#shell")).to_be_visible()
    cameras = page.locator('#nav-list a[data-view="cameras"]')
    cameras.focus()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the console never asked for the event types"
    held[0].continue_()
    expect(page.locator("main#view")).to_have_class(re.compile(r"\bview-"))
    expect(cameras).to_be_focused()


TOAST_MID_FADE = """(leaving) => {
  const part = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  };
  const body = part("div", "toast-body");
  body.append(part("strong", "", "Dispatched"), part("span", "", "#1 a notice"));
  const toast = part("div", "toast toast-info" + (leaving ? " leaving" : ""));
  const open = part("button", "btn btn-small", "Open");
  toast.append(part("span", "toast-bar"), body, open);
  document.getElementById("toasts").append(toast);
  for (const run of toast.getAnimations()) {
    run.pause();
    run.currentTime = 40;
  }
  return toast.getAnimations().length;
}"""


@pytest.mark.parametrize("leaving", [False, True], ids=["arriving", "leaving"])
def test_a_toast_caught_mid_fade_is_judged_at_rest(
    page_factory: PageFactory, leaving: bool
) -> None:
    """A live notice's toast can fade in or out while axe reads the page (it
    failed CI once): the check judges the page as it settles."""
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    expect(page.locator("main#view")).to_have_class(re.compile(r"\bview-"))
    assert page.evaluate(TOAST_MID_FADE, leaving) == 1  # frozen mid-fade
    assert_accessible(page)
    assert not page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches")


def test_the_check_still_fails_a_toast_nobody_can_read(
    page_factory: PageFactory,
) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page)
    expect(page.locator("main#view")).to_have_class(re.compile(r"\bview-"))
    page.evaluate(TOAST_MID_FADE, False)
    # Nearly the panel's colour (axe leaves an exact 1:1 match undecided).
    page.locator("#toasts .toast-body span").evaluate(
        "(span) => { span.style.color = '#2a3142'; }"
    )
    with pytest.raises(AssertionError, match="color-contrast"):
        assert_accessible(page)


def test_a_worker_cannot_use_the_console(page_factory: PageFactory) -> None:
    page = page_factory(viewport=DESKTOP)
    page.goto(CONSOLE)
    page.get_by_label("Username").fill("w00006")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("/worker/")
    expect(page.locator("#shell")).to_be_hidden()


def test_usable_at_1280_by_800(
    page_factory: PageFactory, screenshot: Screenshot
) -> None:
    page = page_factory(viewport=SMALL_DESKTOP)
    log_in(page, "supervisor")
    for route, ready in [
        ("review", ".review-list"),
        ("tickets", "#tickets-table"),
        ("stats", "canvas#chart-daily"),
    ]:
        go(page, route)
        expect(page.locator(ready)).to_be_visible()
        # Nothing sticks out sideways: the page itself never scrolls horizontally.
        assert page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        ), route
    screenshot(page, "console-stats-1280")


HOSTILE_NAME = '<img src=x onerror="window.__gridwatchXss=1">Grid'


def test_a_grid_name_with_markup_shows_as_text_on_the_map(
    page_factory: PageFactory,
) -> None:
    """Names come from imported GeoJSON: the map's tooltips and labels must
    show them as text, never run them as HTML."""
    page = page_factory(viewport=DESKTOP)

    def rename_grids(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for feature in body["features"]:
            feature["properties"]["name"] = HOSTILE_NAME
        route.fulfill(response=response, json=body)

    page.route("**/api/v1/grids*", rename_grids)
    log_in(page)
    go(page, "map")
    polygon = page.locator(".leaflet-overlay-pane path[data-grid]").first
    expect(polygon).to_be_visible()
    polygon.hover(force=True)
    tooltip = page.locator(".leaflet-tooltip", has_text="<img").first
    expect(tooltip).to_be_attached()
    assert page.locator(".leaflet-pane img[src='x']").count() == 0
    assert page.evaluate("window.__gridwatchXss") is None
