"""The console's "Grid & workers" page (/console/#/grid) in a desktop Chromium
against a real stack: an admin edits a worker's duty roster (an overnight window
and a weekend one) and previews, then applies, a grid import; an operator sees no
such page and the API refuses them.

The stack is shared with the other browser tests: the roster of w00019 and the
name of the first grid are put back as they were found.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from harness.demo_stack import DemoStack
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.test_operator_console import DESKTOP, go, log_in

WORKER = "w00019"
NEW_NAME = "Renamed from the console 控制台改名"


def open_grid_admin(page: Page) -> None:
    log_in(page, "admin")
    page.keyboard.press("g")
    page.keyboard.press("w")
    expect(page.locator("#page-title")).to_have_text("Grid & workers")
    expect(page.locator("#workers-table tbody tr").first).to_be_visible()


def grid_upload(path: Path, feature: dict[str, Any]) -> bytes:
    content = json.dumps(
        {"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False
    ).encode()
    path.write_bytes(content)
    return content


def import_grid(admin: httpx.Client, content: bytes) -> None:
    response = admin.post(
        "/admin/grids/import",
        files={"file": ("restore.geojson", content, "application/geo+json")},
    )
    assert response.status_code == 200, response.text


def grid_names(client: httpx.Client) -> dict[str, str]:
    features = client.get("/grids").json()["features"]
    return {f["id"]: f["properties"]["name"] for f in features}


def edit_roster(page: Page) -> None:
    """Window 1 becomes Mon–Fri 22:00–06:00, window 2 Sat and Sun 09:00–12:00."""
    page.locator("#view").focus()
    page.keyboard.press("/")
    page.keyboard.type(WORKER)
    page.keyboard.press("Enter")
    rows = page.locator("#workers-table tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Roster:").click()
    dialog = page.locator("dialog[open]")
    windows = dialog.locator("fieldset")
    expect(windows).to_have_count(2)
    dialog.get_by_role("button", name="Remove window 2").click()
    expect(windows).to_have_count(1)
    expect(dialog.get_by_role("button", name="Add window")).to_be_focused()
    dialog.get_by_label("Start of window 1").fill("22:00")
    dialog.get_by_label("End of window 1").fill("06:00")
    dialog.get_by_role("button", name="Add window").click()
    second = windows.nth(1)
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        second.get_by_label(day).uncheck()
    for day in ("Saturday", "Sunday"):
        second.get_by_label(day).check()
    dialog.get_by_label("Start of window 2").fill("09:00")
    dialog.get_by_label("End of window 2").fill("12:00")
    assert_accessible(page)
    dialog.get_by_role("button", name="Save roster").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    duty = page.locator(f'#workers-table tr[data-worker="{WORKER}"] .grid-admin-duty')
    expect(duty).to_contain_text("Mon–Fri 22:00–06:00 (overnight)")
    expect(duty).to_contain_text("Sat, Sun 09:00–12:00")


def refuse_a_second_full_time_worker(page: Page, grid_code: str) -> None:
    """1+1+N from the form: the API's 409 shows in the dialog, which stays open."""
    page.locator("#view").focus()
    page.keyboard.press("n")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Worker id")).to_be_focused()
    page.keyboard.type("w-second")
    dialog.get_by_label("Name").fill("A second full-time worker")
    dialog.get_by_label("Role").select_option("full_time")
    dialog.get_by_label("Grids and areas").fill(grid_code)
    assert_accessible(page)
    dialog.get_by_role("button", name="Create worker").click()
    expect(dialog.locator(".form-error")).to_contain_text("already has a full-time")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def test_an_admin_edits_a_roster_and_previews_then_applies_a_grid_import(
    page_factory: PageFactory,
    api: ApiFactory,
    stack: DemoStack,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    admin = api("admin")
    roster = admin.get(f"/admin/workers/{WORKER}").json()["duty"]
    grids = json.loads(
        (stack.workdir / "city" / "grids.geojson").read_text(encoding="utf-8")
    )
    original = grids["features"][0]
    code = original["properties"]["code"]
    renamed = {**original, "properties": {**original["properties"], "name": NEW_NAME}}
    upload = tmp_path / "renamed.geojson"
    content = grid_upload(upload, renamed)
    page = page_factory(viewport=DESKTOP)
    try:
        open_grid_admin(page)
        assert_accessible(page)
        screenshot(page, "console-grid-admin")
        edit_roster(page)
        stored = admin.get(f"/admin/workers/{WORKER}").json()["duty"]
        assert stored == [
            {"days": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"},
            {"days": [6, 7], "start": "09:00", "end": "12:00"},
        ]
        audit = admin.get("/admin/audit", params={"action": "worker_duty_set"})
        assert audit.json()["data"][0]["target"] == WORKER
        refuse_a_second_full_time_worker(page, code)

        broken = tmp_path / "broken.geojson"
        grid_upload(broken, {**original, "properties": {"code": "12", "name": "x"}})
        page.get_by_label("GeoJSON file").set_input_files(broken)
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#import-refused")).to_contain_text("features[0]")
        expect(page.get_by_role("button", name="Apply import")).to_be_disabled()

        page.get_by_label("GeoJSON file").set_input_files(upload)
        page.get_by_role("button", name="Preview").click()
        counts = page.locator('#import-counts tr[data-level="grid"]')
        for column, expected in enumerate(("0", "1", "0")):  # new, changed, same
            expect(counts.locator("td").nth(column)).to_have_text(expected)
        change = page.locator(f'#import-changes tr[data-code="{code}"]')
        expect(change).to_contain_text("Changed")
        expect(change).to_contain_text("name")
        assert grid_names(admin)[code] != NEW_NAME  # a preview writes nothing
        assert_accessible(page)
        screenshot(page, "console-grid-import-preview")

        page.get_by_role("button", name="Apply import").click()
        expect(page.locator(".grid-admin-result h3")).to_have_text("Imported")
        assert grid_names(admin)[code] == NEW_NAME
        imported = admin.get("/admin/audit", params={"action": "grids_imported"})
        newest = imported.json()["data"][0]
        assert newest["detail"]["sha256"] == hashlib.sha256(content).hexdigest()
        assert newest["actor"] == "admin"
    finally:
        admin.put(f"/admin/workers/{WORKER}/duty", json={"windows": roster})
        import_grid(
            admin,
            json.dumps({"type": "FeatureCollection", "features": [original]}).encode(),
        )
    assert grid_names(admin)[code] == original["properties"]["name"]


def test_an_operator_sees_no_grid_admin_page_and_the_api_refuses(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page, "operator")
    nav = page.locator("#nav-list")
    expect(nav.get_by_role("link", name="Review")).to_be_visible()
    expect(nav.get_by_role("link", name="Grid & workers")).to_have_count(0)
    go(page, "grid")  # typed into the address bar: the console shows Review
    expect(page.locator("#page-title")).to_have_text("Review")
    expect(page.locator("#workers-table")).to_have_count(0)

    operator = api("operator")
    assert operator.get("/admin/workers").status_code == 403
    refused = operator.put(f"/admin/workers/{WORKER}/duty", json={"windows": []})
    assert refused.status_code == 403
