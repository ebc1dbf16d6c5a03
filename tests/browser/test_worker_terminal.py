"""The worker terminal (/worker/) in a phone-sized Chromium against a real stack.

Each test publishes its own camera event (a place of its own in the grid, so that
central does not merge it into another test's ticket), finds the ticket by the
event id and ends it afterwards, since the stack is shared with other tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from playwright.sync_api import Page, Route, expect

from gridwatch.contract import EventType
from harness.demo_stack import DEMO_PASSWORD, DemoStack
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.sample import SamplePublisher, ticket_of_event

PHONE = (390, 844)
WORKER = "w00006"  # covers the grid of camera 0 (cam-001)
TIMEOUT_MS = 15_000

# Counts the cue: oscillators started (the beep) and vibrations asked for.
CUE_PROBE = """
window.__cues = { beeps: 0, vibrations: 0 };
const Ctx = window.AudioContext || window.webkitAudioContext;
if (Ctx) {
  const create = Ctx.prototype.createOscillator;
  Ctx.prototype.createOscillator = function () {
    window.__cues.beeps += 1;
    return create.call(this);
  };
}
Object.defineProperty(Navigator.prototype, "vibrate", {
  configurable: true,
  value: function () {
    window.__cues.vibrations += 1;
    return true;
  },
});
"""


@contextmanager
def own_ticket(
    publisher: SamplePublisher,
    operator: httpx.Client,
    *,
    camera: int = 0,
    type_: EventType = EventType.CROWDING,
    offset_m: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """Publish an event, yield its (new) ticket, and end the ticket afterwards so
    that it is neither in anyone's list nor a merge target for later events."""
    event_id = publisher.publish_event(camera=camera, type_=type_, offset_m=offset_m)
    ticket = ticket_of_event(operator, event_id)
    assert ticket["observations"] == 1, "merged into an older ticket: pick a new spot"
    try:
        yield ticket
    finally:
        state = operator.get(f"/tickets/{ticket['id']}").json()["state"]
        if state == "resolved":
            operator.post(f"/tickets/{ticket['id']}/close", json={"note": "test over"})
        elif state not in ("closed", "rejected"):
            operator.post(
                f"/tickets/{ticket['id']}/reject", json={"reason": "test over"}
            )


def phone_page(page_factory: PageFactory) -> Page:
    page = page_factory(viewport=PHONE)
    page.add_init_script(CUE_PROBE)
    page.set_default_timeout(TIMEOUT_MS)
    return page


def log_in(page: Page, username: str = WORKER) -> None:
    page.goto("/worker/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name=re.compile("Log in")).click()
    expect(page.locator("#list-title")).to_be_visible()
    expect(page.locator("#tickets")).to_have_attribute("aria-busy", "false")


def wait_live(page: Page) -> None:
    """The notice stream is open: a ticket dispatched from now on is heard."""
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def card(page: Page, ticket_id: int) -> Any:
    return page.locator(f'li.card[data-ticket-id="{ticket_id}"]')


def photo_jpeg(folder: Path) -> Path:
    """A phone-photo stand-in: a 1280×960 JPEG drawn with OpenCV."""
    image = np.full((960, 1280, 3), (70, 130, 60), dtype=np.uint8)
    cv2.rectangle(image, (300, 240), (980, 720), (230, 230, 230), -1)
    cv2.putText(
        image, "cleaned", (420, 520), cv2.FONT_HERSHEY_SIMPLEX, 3, (40, 40, 40), 8
    )
    path = folder / "result.jpg"
    assert cv2.imwrite(str(path), image)
    return path


def test_ticket_arrives_live_then_is_accepted_and_resolved(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    page = phone_page(page_factory)
    streams: list[str] = []
    page.on(
        "request",
        lambda r: streams.append(r.url) if r.resource_type == "eventsource" else None,
    )
    page.goto("/worker/")
    expect(page.get_by_label("Username")).to_be_focused()
    screenshot(page, "worker-login")
    assert_accessible(page)
    log_in(page)
    wait_live(page)
    # EventSource opened with a single-use stream ticket (no token in any URL:
    # the page_factory fixture checks every request)
    assert streams
    assert all("/api/v1/me/tickets/stream?ticket=" in url for url in streams)
    page.evaluate("window.__samePage = true")

    operator = api("operator")
    with own_ticket(publisher, operator, offset_m=-110) as ticket:
        tid = ticket["id"]
        assert ticket["assignee_id"] == WORKER
        assert ticket["state"] == "dispatched"

        # It arrives without a reload, with the visual and the audible cue.
        new_card = card(page, tid)
        expect(new_card).to_be_visible()
        expect(new_card).to_have_class(re.compile(r"\bis-new\b"))
        expect(new_card.locator(".badge-new")).to_have_text("New")
        expect(new_card).to_contain_text(ticket["title"])
        expect(new_card).to_contain_text("社会治安/人员聚集")
        expect(new_card.locator(".countdown")).to_have_text(re.compile(r"left$"))
        expect(page.locator("#toasts")).to_contain_text(f"New ticket #{tid}")
        page.wait_for_function(
            "window.__cues.beeps > 0 && window.__cues.vibrations > 0"
        )
        assert page.evaluate("window.__samePage") is True
        screenshot(page, "worker-list")
        assert_accessible(page)

        # Open it: the snapshot with the detection box, the clip plays, the map.
        new_card.locator("a").click()
        expect(page.locator("#detail-title")).to_have_text(ticket["title"])
        expect(page.locator("#detail-title")).to_be_focused()
        expect(page.locator(".snapshot .bbox")).to_be_visible()
        page.wait_for_function(
            "() => { const img = document.querySelector('.snapshot img');"
            " return img && img.complete && img.naturalWidth > 0; }"
        )
        page.wait_for_function(
            "() => { const v = document.querySelector('video#clip');"
            " return v && v.readyState >= 3 && !v.paused && v.currentTime > 0; }"
        )
        expect(page.locator("video#clip")).to_have_attribute(
            "src", re.compile(r"^/api/v1/media/[0-9a-f]{64}\?uid=\d+&exp=\d+&sig=")
        )
        expect(page.locator("#map path")).not_to_have_count(0)
        expect(page.locator("#detail")).to_contain_text(ticket["grid_code"])
        expect(page.locator("#history")).to_contain_text("Dispatched")
        page.wait_for_timeout(300)  # the clip shows a frame past the first
        screenshot(page, "worker-detail")
        assert_accessible(page)

        # Accept it.
        page.get_by_role("button", name=re.compile("Accept ticket")).click()
        expect(page.locator("#detail")).to_have_attribute("data-state", "accepted")
        expect(page.locator("#detail-head .state")).to_contain_text("In progress")

        # Resolve it with a note and a photo from the phone.
        page.get_by_label(re.compile("What did you do")).fill(
            "Crowd dispersed, walkway clear. 人群已疏散"
        )
        page.get_by_label(re.compile("Photo of the result")).set_input_files(
            photo_jpeg(tmp_path)
        )
        expect(page.locator("#photo-preview img")).to_be_visible()
        screenshot(page, "worker-resolve-form")
        page.get_by_role("button", name=re.compile("Mark resolved")).click()
        expect(page.locator("#detail")).to_have_attribute("data-state", "resolved")
        expect(page.locator("#detail-head .state")).to_contain_text("Resolved")
        expect(page.locator(".status-resolved")).to_contain_text("人群已疏散")
        page.wait_for_function(
            "() => { const img = document.querySelector('.result-photo');"
            " return img && img.complete && img.naturalWidth > 0; }"
        )
        expect(page.locator("#history")).to_contain_text("Resolved")
        page.locator("#detail-head").scroll_into_view_if_needed()
        screenshot(page, "worker-resolved")
        assert_accessible(page)

        stored = operator.get(f"/tickets/{tid}").json()
        assert stored["state"] == "resolved"
        assert stored["resolution_note"] == "Crowd dispersed, walkway clear. 人群已疏散"
        assert stored["resolution_photo_url"]

        # Back in the list it waits for the operator's check, no longer "New".
        page.locator("#back").click()
        expect(card(page, tid)).to_have_attribute("data-state", "resolved")
        expect(card(page, tid)).not_to_have_class(re.compile(r"\bis-new\b"))
        assert page.evaluate("window.__samePage") is True


def test_the_event_type_reads_as_central_names_it(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    page = phone_page(page_factory)
    log_in(page)
    wait_live(page)
    with own_ticket(publisher, operator, type_=EventType.FALL, offset_m=150) as ticket:
        assert ticket["assignee_id"] == WORKER
        card(page, ticket["id"]).locator("a").click()
        expect(page.locator("#detail-title")).to_have_text(ticket["title"])
        # central's matter list says "Person fallen"; the name alone reads "Fall"
        expect(page.locator(".facts")).to_contain_text("Person fallen")


def test_returned_ticket_shows_the_reason(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    worker = api(WORKER)
    reason = "Bin area still dirty — please clean around it too. 垃圾桶周边未清理"
    with own_ticket(
        publisher, operator, type_=EventType.LITTERING, offset_m=-70
    ) as ticket:
        tid = ticket["id"]
        assert ticket["assignee_id"] == WORKER
        worker.post(f"/tickets/{tid}/accept").raise_for_status()
        worker.post(
            f"/tickets/{tid}/resolve", data={"note": "swept"}
        ).raise_for_status()

        page = phone_page(page_factory)
        log_in(page)
        wait_live(page)
        expect(card(page, tid)).to_have_attribute("data-state", "resolved")

        returned = operator.post(f"/tickets/{tid}/return", json={"reason": reason})
        returned.raise_for_status()
        assert returned.json()["state"] == "returned"

        # Live: the card turns "returned" with the reason, with the cue.
        expect(card(page, tid)).to_have_attribute("data-state", "returned")
        expect(card(page, tid).locator(".card-return")).to_contain_text(reason)
        expect(page.locator("#toasts")).to_contain_text("returned for rework")
        page.wait_for_function("window.__cues.beeps > 0")

        card(page, tid).locator("a").click()
        status = page.locator(".status-returned")
        expect(status).to_contain_text("Returned for rework")
        expect(status).to_contain_text(reason)
        expect(
            page.get_by_role("button", name=re.compile("Accept again"))
        ).to_be_visible()
        screenshot(page, "worker-returned")
        assert_accessible(page)

        # Accepting again reopens the work.
        page.get_by_role("button", name=re.compile("Accept again")).click()
        expect(page.locator("#detail")).to_have_attribute("data-state", "accepted")
        expect(page.get_by_label(re.compile("What did you do"))).to_be_visible()
        expect(page.locator("#accept")).to_have_count(0)  # central offers resolve


def test_resolved_camera_ticket_shows_what_the_camera_said(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    # The camera's own look after a resolution (central/verify) comes from
    # GET /tickets/{id}/camera-checks; its answer is set here, so the test does
    # not hang on the demo node's timing.
    operator = api("operator")
    worker = api(WORKER)
    with own_ticket(
        publisher, operator, type_=EventType.LITTERING, offset_m=-135
    ) as ticket:
        tid = ticket["id"]
        worker.post(f"/tickets/{tid}/accept").raise_for_status()
        resolved = worker.post(f"/tickets/{tid}/resolve", data={"note": "swept"})
        resolved.raise_for_status()
        answer = {
            "data": [
                {
                    "request_id": "chk-test-1",
                    "node_id": "edge-01",
                    "camera_id": "cam-001",
                    "zone_id": "z",
                    "event_type": "littering",
                    "state": "gone",
                    "reason": None,
                    "outcome": "closed",
                    "requested_at": "2026-12-07T10:00:00Z",
                    "deadline_at": "2026-12-07T10:03:00Z",
                    "answered_at": "2026-12-07T10:01:00Z",
                    "before_url": None,
                    "after_url": None,
                }
            ],
            "count": 1,
        }
        asked: list[str] = []

        def camera_said(route: Route) -> None:
            asked.append(route.request.url)
            route.fulfill(json=answer)

        page = phone_page(page_factory)
        page.route(re.compile(rf".*/api/v1/tickets/{tid}/camera-checks.*"), camera_said)
        log_in(page)
        card(page, tid).locator("a").click()
        check = page.locator(".camera-check")
        expect(check).to_have_attribute("data-check-state", "gone")
        expect(check).to_contain_text("Verified by camera")
        expect(check).to_contain_text("closed on its word")
        assert asked, "the terminal never asked for the camera check"
        assert_accessible(page)


def test_other_workers_ticket_is_not_visible(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    with own_ticket(publisher, operator, camera=1, offset_m=-80) as ticket:
        tid = ticket["id"]
        assert ticket["assignee_id"] not in (None, WORKER)
        assert api(WORKER).get(f"/tickets/{tid}").status_code == 404

        page = phone_page(page_factory)
        log_in(page)
        page.get_by_role("button", name=re.compile("^All")).click()
        expect(page.locator("#filter-all")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#tickets")).to_have_attribute("aria-busy", "false")
        expect(card(page, tid)).to_have_count(0)

        # Even by its address, the terminal says in plain words it is not ours.
        page.goto(f"/worker/#/ticket/{tid}")
        expect(page.locator("#detail-error")).to_contain_text(
            "no longer assigned to you"
        )
        expect(page.locator("#detail")).to_be_hidden()


def test_keyboard_only_login_and_logout(
    page_factory: PageFactory, screenshot: Screenshot
) -> None:
    page = phone_page(page_factory)
    page.goto("/worker/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#username")).to_be_focused()

    # A wrong password is said in plain words, and focus stays in the form.
    page.keyboard.type(WORKER)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    expect(page.locator("#login-message")).to_contain_text("Wrong username or password")
    expect(page.locator("#password")).to_be_focused()

    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#list-title")).to_be_focused()
    expect(page.locator("#who")).to_contain_text(WORKER)

    # The log-out button is a Shift+Tab away, with a visible focus ring.
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "logout":
            break
    logout = page.locator("#logout")
    expect(logout).to_be_focused()
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator("#login-message")).to_contain_text("logged out")
    expect(page.locator("#username")).to_be_focused()
    assert page.evaluate("localStorage.length") == 0


def test_ended_session_returns_to_login_with_a_message(
    page_factory: PageFactory,
) -> None:
    page = phone_page(page_factory)
    page.goto("/worker/")
    page.evaluate(
        "localStorage.setItem('gridwatch.worker.session',"
        " JSON.stringify({token: 'revoked-or-unknown', username: 'w00006'}))"
    )
    page.reload()
    expect(page.locator("#login-message")).to_contain_text("session has ended")
    expect(page.locator("#view-login")).to_be_visible()


def test_installable_app_shell(page_factory: PageFactory, stack: DemoStack) -> None:
    manifest = httpx.get(f"{stack.central_url}/worker/manifest.webmanifest").json()
    assert manifest["start_url"] == "/worker/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["theme_color"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        response = httpx.get(f"{stack.central_url}{icon['src']}")
        assert response.status_code == 200, icon["src"]
        assert response.headers["content-type"] == icon["type"]

    page = phone_page(page_factory)
    log_in(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{stack.central_url}/worker/"
    cached: list[str] = page.evaluate(
        """async () => {
          const urls = [];
          for (const key of await caches.keys()) {
            const cache = await caches.open(key);
            for (const request of await cache.keys()) urls.push(request.url);
          }
          return urls;
        }"""
    )
    assert any(url.endswith("/worker/app.js") for url in cached)
    assert any(url.endswith("/common/api-fetch.js") for url in cached)
    assert not [url for url in cached if "/api/" in url]
    # What Chromium itself says about installing it (an incognito context aside).
    cdp = page.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    assert cdp.send("Page.getAppManifest")["errors"] == []


def test_list_is_sorted_by_urgency(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    operator = api("operator")
    page = phone_page(page_factory)
    log_in(page)
    wait_live(page)
    with (
        own_ticket(
            publisher, operator, type_=EventType.LITTERING, offset_m=100
        ) as normal,
        own_ticket(publisher, operator, type_=EventType.FALL, offset_m=60) as urgent,
    ):
        assert (normal["priority"], urgent["priority"]) == ("normal", "urgent")
        expect(card(page, normal["id"])).to_be_visible()
        expect(card(page, urgent["id"])).to_be_visible()
        expect(card(page, urgent["id"]).locator(".prio")).to_contain_text("Urgent")
        ids = [
            int(value)
            for value in page.locator("li.card").evaluate_all(
                "cards => cards.map(c => c.dataset.ticketId)"
            )
        ]
        assert ids.index(urgent["id"]) < ids.index(normal["id"])

        # 16 minutes on, the 15-minute fall is overdue: the countdown turns red.
        page.clock.install()
        page.clock.fast_forward("16:00")
        late = card(page, urgent["id"]).locator(".countdown")
        expect(late).to_have_text(re.compile(r"^Overdue "))
        expect(late).to_have_class(re.compile(r"\bis-overdue\b"))
        assert late.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
        expect(card(page, normal["id"]).locator(".countdown")).to_have_text(
            re.compile(r"left$")
        )


def test_offline_banner(page_factory: PageFactory) -> None:
    page = phone_page(page_factory)
    log_in(page)
    wait_live(page)
    banner = page.locator("#offline-banner")
    expect(banner).to_be_hidden()
    page.context.set_offline(True)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("offline")
    expect(page.locator("#live")).to_have_attribute("data-state", "offline")
    page.context.set_offline(False)
    expect(banner).to_be_hidden()
    wait_live(page)


def test_an_action_the_ticket_no_longer_allows_is_explained(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
    screenshot: Screenshot,
) -> None:
    operator = api("operator")
    with own_ticket(
        publisher, operator, type_=EventType.INTRUSION, offset_m=20
    ) as ticket:
        tid = ticket["id"]
        page = phone_page(page_factory)
        log_in(page)
        card(page, tid).locator("a").click()
        accept = page.get_by_role("button", name=re.compile("Accept ticket"))
        expect(accept).to_be_visible()

        # Meanwhile the same worker accepts it on another phone.
        api(WORKER).post(f"/tickets/{tid}/accept").raise_for_status()
        accept.click()
        error = page.locator("#action-error")
        expect(error).to_contain_text("Could not accept the ticket")
        expect(error).to_contain_text("changed meanwhile: it is accepted")
        screenshot(page, "worker-conflict")
        # ...and the terminal shows the ticket as it is now.
        expect(page.locator("#detail")).to_have_attribute("data-state", "accepted")
        expect(page.get_by_label(re.compile("What did you do"))).to_be_visible()
        expect(page.locator("#accept")).to_have_count(0)  # central offers resolve

        # An empty note is refused before anything is sent.
        page.get_by_role("button", name=re.compile("Mark resolved")).click()
        expect(page.locator("#resolve-error")).to_contain_text("Write what you did")
        expect(page.get_by_label(re.compile("What did you do"))).to_be_focused()


def test_a_media_link_refused_once_is_asked_again(
    page_factory: PageFactory,
    publisher: SamplePublisher,
    api: ApiFactory,
) -> None:
    """A signed link that stopped working (expired while a lazy image waited, a
    paused clip seeked later) gets one fresh link before the page gives up."""
    page = phone_page(page_factory)
    refused: list[str] = []
    asked: list[str] = []

    def refuse_first_snapshot(route: Route) -> None:
        if not refused and route.request.resource_type == "image":
            refused.append(route.request.url)
            route.fulfill(status=403, body="media link expired")
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/media/[0-9a-f]{64}\?"), refuse_first_snapshot)
    page.on(
        "request",
        lambda r: asked.append(r.url) if r.url.endswith("/link") else None,
    )
    log_in(page)
    wait_live(page)
    with own_ticket(publisher, api("operator"), offset_m=-90) as ticket:
        assert ticket["assignee_id"] == WORKER
        card(page, ticket["id"]).locator("a").click()
        page.wait_for_function(
            "() => { const img = document.querySelector('.snapshot img');"
            " return img && img.complete && img.naturalWidth > 0; }"
        )
        assert len(refused) == 1
        sha = refused[0].split("/api/v1/media/")[1].split("?")[0]
        assert sum(f"/media/{sha}/link" in url for url in asked) == 2, asked
        expect(page.locator(".snapshot")).not_to_contain_text("could not be loaded")
