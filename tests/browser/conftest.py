"""Browser-test fixtures: one real stack (Mosquitto + central on SQLite with the
demo city) and Debian's Chromium driven by Playwright.

Screenshots land in `$GRIDWATCH_ARTIFACTS/screenshots/` (default
`build/artifacts/`), kept as CI artefacts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    sync_playwright,
)

from harness.demo_stack import DEMO_PASSWORD, DemoStack
from tests.browser.sample import SamplePublisher, login, make_sample_media

PageFactory = Callable[..., Page]
Screenshot = Callable[[Page, str], Path]
ApiFactory = Callable[[str], httpx.Client]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def assert_accessible(page: Page) -> None:
    """No WCAG 2.1 A/AA violation that axe-core finds (labels, contrast, names,
    nesting, lang, ...) in the page as it is now, at rest.

    The check runs with reduced motion, which the pages honour by dropping their
    animations: a toast that a live notice brings in while axe reads the page
    would otherwise be judged mid-fade, its text at a fraction of its opacity."""
    # Evaluated through the DevTools protocol, not added as a <script>: the
    # pages' Content-Security-Policy (rightly) refuses inline scripts.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    page.emulate_media(reduced_motion="reduce")
    try:
        violations = _axe_violations(page)
    finally:
        page.emulate_media(reduced_motion="no-preference")
    assert not violations, "\n".join(violations)


def _axe_violations(page: Page) -> list[str]:
    violations: list[str] = page.evaluate(
        """async (tags) => {
          const only = { runOnly: { type: "tag", values: tags } };
          const result = await axe.run(document, only);
          return result.violations.map((v) => {
            const where = v.nodes.map((n) => n.target.join(" ")).join(", ");
            return `${v.id}: ${v.help} (${where})`;
          });
        }""",
        WCAG_TAGS,
    )
    return violations


def chromium_path() -> str:
    found = os.environ.get("GRIDWATCH_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "Chromium not found: run ./scripts/setup.sh (apt package chromium) "
            "or set GRIDWATCH_CHROMIUM"
        )
    return found


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    root = Path(os.environ.get("GRIDWATCH_ARTIFACTS", "build/artifacts"))
    folder = root / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    workdir = tmp_path_factory.mktemp("stack")
    with DemoStack(workdir, None, cameras=0, http_port=None) as running:
        yield running


@pytest.fixture(scope="session")
def publisher(
    stack: DemoStack, videos_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SamplePublisher]:
    media = make_sample_media(videos_dir, tmp_path_factory.mktemp("media"))
    sample = SamplePublisher(stack, media)
    sample.publish_camera_status()
    yield sample
    sample.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_FLAGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page_factory(browser: Browser, stack: DemoStack) -> Iterator[PageFactory]:
    """Pages in fresh browser contexts on the stack's base URL; an uncaught
    JavaScript error or a Content-Security-Policy violation in any of them fails
    the test, and so does a request URL
    carrying a bearer token (`access_token=`, or any token a page sent in its
    `Authorization` header): media and streams use signed links and tickets."""
    contexts = []
    errors: list[str] = []
    urls: list[str] = []
    tokens: set[str] = set()  # every bearer token the pages sent in a header

    def on_request(request: Request) -> None:
        urls.append(request.url)
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer "):
            tokens.add(bearer.removeprefix("Bearer "))

    def make(viewport: tuple[int, int] = (1440, 900), **options: object) -> Page:
        context = browser.new_context(
            base_url=stack.central_url,
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="zh-CN",
            **{"timezone_id": "Asia/Shanghai", **options},  # type: ignore[arg-type]
        )
        contexts.append(context)
        context.on("request", on_request)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        page.on("console", lambda message: _note_csp_violation(message, errors))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, "JavaScript errors:\n" + "\n".join(errors)
    leaks = [
        url
        for url in urls
        if "access_token" in url or any(token in url for token in tokens)
    ]
    assert not leaks, "bearer token in a request URL:\n" + "\n".join(leaks)


def _note_csp_violation(message: ConsoleMessage, errors: list[str]) -> None:
    if "Content Security Policy" in message.text:
        errors.append(f"CSP violation: {message.text}")


@pytest.fixture
def screenshot(artifacts_dir: Path) -> Screenshot:
    def take(page: Page, name: str) -> Path:
        path = artifacts_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


@pytest.fixture
def api(stack: DemoStack) -> Iterator[ApiFactory]:
    """`api("operator")`: an HTTP client logged in as that demo user."""
    clients: list[httpx.Client] = []

    def client(username: str) -> httpx.Client:
        token = login(stack.central_url, username, DEMO_PASSWORD)
        made = httpx.Client(
            base_url=f"{stack.central_url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()
