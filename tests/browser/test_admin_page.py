"""The console's admin page (/console/#/admin) in a desktop Chromium against a
real stack: an admin lists users, disables and enables one, resets a password,
revokes a token and reads and exports the audit log; an operator sees no admin
page and the API refuses them.

The stack is shared with the other browser tests: each account changed here is
a worker no other test uses (w00018 … w00020), and is left as it was found.
"""

from __future__ import annotations

import csv
import io

import httpx
from playwright.sync_api import Locator, Page, expect

from harness.demo_stack import DEMO_PASSWORD, DemoStack
from tests.browser.conftest import (
    ApiFactory,
    PageFactory,
    Screenshot,
    assert_accessible,
)
from tests.browser.test_operator_console import DESKTOP, go, log_in

TO_DISABLE = "w00019"
TO_RESET = "w00018"
TOKEN_HOLDER = "w00020"
NEW_PASSWORD = "Reset-by-the-admin-2026"
HOSTILE_USERNAME = '<img src=x onerror="window.__gridwatchXss=1">who'


def user_row(page: Page, username: str) -> Locator:
    return page.locator(f'#users-table tr[data-username="{username}"]')


def can_log_in(stack: DemoStack, username: str, password: str) -> bool:
    response = httpx.post(
        f"{stack.central_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=10,
    )
    return response.status_code == 200


def open_admin(page: Page) -> None:
    log_in(page, "admin")
    page.keyboard.press("g")
    page.keyboard.press("a")
    expect(page.locator("#page-title")).to_have_text("Admin")
    expect(page.locator("#users-table tbody tr").first).to_be_visible()


def test_an_admin_manages_users_and_tokens_from_the_admin_page(
    page_factory: PageFactory,
    api: ApiFactory,
    stack: DemoStack,
    screenshot: Screenshot,
) -> None:
    holder = api(TOKEN_HOLDER)  # a login: a token the admin will revoke
    assert holder.get("/me").status_code == 200
    page = page_factory(viewport=DESKTOP)
    open_admin(page)
    nav = page.locator("#nav-list")
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()
    row = user_row(page, TO_DISABLE)
    expect(row).to_contain_text("Worker")
    expect(row).to_contain_text("Active")
    expect(user_row(page, "operator")).to_contain_text("Operator")
    assert_accessible(page)
    screenshot(page, "console-admin")

    # search by keyboard: "/" focuses the user filter
    page.locator("#view").focus()
    page.keyboard.press("/")
    page.keyboard.type(TO_DISABLE)
    expect(page.locator("#users-table tbody tr")).to_have_count(1)

    # disable: confirmed in a dialog; the login is refused at once
    row.get_by_role("button", name=f"Disable: {TO_DISABLE}").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("every token they hold is revoked")
    dialog.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("Disabled")
    assert not can_log_in(stack, TO_DISABLE, DEMO_PASSWORD)
    row.get_by_role("button", name=f"Enable: {TO_DISABLE}").click()
    expect(row).to_contain_text("Active")
    assert can_log_in(stack, TO_DISABLE, DEMO_PASSWORD)

    # reset a password: the old one stops working, the new one works
    page.get_by_label("Search users by username, name or role").fill(TO_RESET)
    reset_row = user_row(page, TO_RESET)
    reset_row.get_by_role("button", name=f"Reset password: {TO_RESET}").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("New password").fill(NEW_PASSWORD)
    assert_accessible(page)
    dialog.get_by_role("button", name="Reset password").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert not can_log_in(stack, TO_RESET, DEMO_PASSWORD)
    assert can_log_in(stack, TO_RESET, NEW_PASSWORD)
    restored = api("admin").post(
        f"/admin/users/{TO_RESET}/password", json={"new_password": DEMO_PASSWORD}
    )
    assert restored.status_code == 204, restored.text

    # list a user's tokens and revoke one: that client is signed out
    page.get_by_label("Search users by username, name or role").fill(TOKEN_HOLDER)
    user_row(page, TOKEN_HOLDER).get_by_role(
        "button", name=f"Tokens: {TOKEN_HOLDER}"
    ).click()
    tokens = page.locator("#tokens-table tbody tr")
    expect(tokens.first).to_be_visible()
    expect(page.locator("#tokens-table")).not_to_contain_text("gw_")  # no secrets
    count = tokens.count()
    for index in range(count):
        tokens.nth(0).get_by_role("button", name="Revoke").click()
        if index < count - 1:
            expect(tokens).to_have_count(count - index - 1)
    expect(page.locator("dialog[open]")).to_contain_text("No tokens")
    page.locator("dialog[open]").get_by_role("button", name="Done").click()
    assert holder.get("/me").status_code == 401


def test_an_admin_filters_and_exports_the_audit_log(
    page_factory: PageFactory, stack: DemoStack
) -> None:
    # a failed login whose username is markup: audited, shown as text
    assert not can_log_in(stack, HOSTILE_USERNAME, "wrong password")
    page = page_factory(viewport=DESKTOP)
    open_admin(page)
    audit = page.locator("#audit-table tbody tr")
    expect(audit.first).to_be_visible()

    page.locator("#view").focus()
    page.keyboard.press("l")
    expect(page.locator("#audit-action")).to_be_focused()
    page.keyboard.type("login_failed")
    page.get_by_label("Actor").fill("anonymous")
    page.get_by_role("button", name="Filter").click()
    expect(audit.first).to_contain_text("login_failed")
    for index in range(audit.count()):
        expect(audit.nth(index)).to_have_attribute("data-action", "login_failed")
    expect(page.locator("#audit-table")).to_contain_text(HOSTILE_USERNAME)
    assert page.locator("#audit-table img").count() == 0
    assert page.evaluate("window.__gridwatchXss === undefined")
    assert "action=login_failed" in page.url  # the filter is in the address
    assert_accessible(page)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == "audit.csv"
    path = download.path()
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows and {r["action"] for r in rows} == {"login_failed"}
    assert HOSTILE_USERNAME in {r["target"] for r in rows}


def test_an_operator_sees_no_admin_page_and_the_api_refuses(
    page_factory: PageFactory, api: ApiFactory
) -> None:
    page = page_factory(viewport=DESKTOP)
    log_in(page, "operator")
    nav = page.locator("#nav-list")
    expect(nav.get_by_role("link", name="Review")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    page.keyboard.press("g")
    page.keyboard.press("a")
    go(page, "admin")  # typed into the address bar: the console shows Review
    expect(page.locator("#page-title")).to_have_text("Review")
    expect(page.locator("#users-table")).to_have_count(0)
    page.keyboard.press("?")
    expect(page.locator("dialog[open]")).not_to_contain_text("Go to Admin")

    operator = api("operator")
    for path in ("/admin/users", "/admin/audit", f"/admin/users/{TO_DISABLE}/tokens"):
        assert operator.get(path).status_code == 403, path
    refused = operator.post(f"/admin/users/{TO_DISABLE}/disable")
    assert refused.status_code == 403
    assert can_log_in_as_worker(api)


def can_log_in_as_worker(api: ApiFactory) -> bool:
    """The refused disable changed nothing: the worker still signs in."""
    return api(TO_DISABLE).get("/me").status_code == 200
