"""The console's "Matter list" page (/console/#/matters) in a desktop Chromium
against a real stack: an admin changes a time limit in the YAML, checks it (the
diff names the matter and field), applies it as a new version and sees it in the
history and the table; an operator reads the list but has no editor, and the API
refuses their edit.

The stack is shared with the other browser tests: the list in force is put back
(as a further version with the original text) afterwards.
"""

from __future__ import annotations

import secrets

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.test_operator_console import DESKTOP, go, log_in

MATTER = "presence"


def open_matter_list(page: Page, username: str) -> None:
    log_in(page, username)
    page.keyboard.press("g")
    page.keyboard.press("l")
    expect(page.locator("#page-title")).to_have_text("Matter list")
    expect(page.locator(f'#matters-table tr[data-key="{MATTER}"]')).to_be_visible()


def with_version(text: str, version: str) -> str:
    lines = [
        f'version: "{version}"' if line.startswith("version:") else line
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def restore(admin: httpx.Client, text: str) -> None:
    version = f"restore-{secrets.token_hex(4)}"
    body = {"text": with_version(text, version), "version": version, "note": "test"}
    response = admin.put("/matter-list", json=body)
    assert response.status_code == 200, response.text


def test_admin_changes_a_time_limit_checks_applies_and_sees_it_in_the_history(
    page_factory: PageFactory, api: ApiFactory, screenshot: Screenshot
) -> None:
    admin = api("admin")
    original = admin.get("/matter-list").json()
    limit = next(m for m in original["matters"] if m["key"] == MATTER)["time_limit_min"]
    version = f"browser-{secrets.token_hex(4)}"
    page = page_factory(viewport=DESKTOP)
    try:
        open_matter_list(page, "admin")
        row = page.locator(f'#matters-table tr[data-key="{MATTER}"]')
        expect(row).to_contain_text(f"{limit} min")
        editor = page.get_by_label("Matter list (YAML)")
        text = editor.input_value()
        edited = text.replace(
            f"department: urban_management\n    time_limit_min: {limit}",
            f"department: urban_management\n    time_limit_min: {limit + 60}",
            1,
        )
        assert edited != text
        editor.fill(edited)
        page.get_by_label("New version").fill(version)
        page.get_by_label("Note").fill("slower for presence")
        page.get_by_role("button", name="Check", exact=True).click()
        result = page.locator("#matter-result")
        expect(result).to_contain_text(f"Version {version} can be applied")
        expect(result).to_contain_text(f"Changed: {MATTER} (time limit)")
        assert admin.get("/matter-list").json()["version"] == original["version"]
        assert_accessible(page)
        screenshot(page, "console-matter-list-check")

        page.get_by_role("button", name="Apply", exact=True).click()
        expect(page.locator("#matter-in-force")).to_have_text(f"Version {version}")
        expect(row).to_contain_text(f"{limit + 60} min")
        newest = page.locator("#versions-table tbody tr").first
        expect(newest).to_contain_text(version)
        expect(newest).to_contain_text("slower for presence")
        expect(newest).to_contain_text("admin")
        audit = admin.get("/admin/audit", params={"action": "matter_list_applied"})
        assert audit.json()["data"][0]["target"] == version
    finally:
        restore(admin, original["text"])
    assert admin.get("/matter-list").json()["matters"] == original["matters"]


def test_an_operator_reads_the_matter_list_but_cannot_edit_it(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    page = page_factory(viewport=DESKTOP)
    open_matter_list(page, "operator")
    expect(page.locator("#matter-text")).to_have_count(0)
    expect(page.get_by_role("button", name="Apply", exact=True)).to_have_count(0)
    expect(page.locator("#versions-table tbody tr").first).to_be_visible()
    go(page, "matters")
    assert_accessible(page)

    operator = api("operator")
    current = operator.get("/matter-list").json()
    version = f"operator-{secrets.token_hex(4)}"
    body = {"text": with_version(current["text"], version), "version": version}
    assert operator.put("/matter-list", json=body).status_code == 403
    assert operator.post("/matter-list/check", json=body).status_code == 403
