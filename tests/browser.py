"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

Playwright is told the browser's path, so nothing is downloaded. CI installs
the package (.ci/run); elsewhere, without it, the browser tests are skipped
with the reason, and under CI a missing browser is a failure.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Screenshots the tests take for people to look at; not committed (var/ is ignored).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; .ci/run installs Debian's chromium")
    pytest.skip("needs Debian's chromium (apt-get install chromium)")


# The one browser of the test session: each module that imports the `chromium` fixture gets a
# session fixture of its own, and Playwright's synchronous API cannot run twice at once.
_SESSION_BROWSER: list[Any] = []


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if _SESSION_BROWSER:
        yield _SESSION_BROWSER[0]
        return
    path = chromium_or_skip()
    # Playwright's synchronous API keeps an event loop running in this thread; the tests also use the
    # ORM from it (to check what the clicks wrote), which Django otherwise refuses beside a running loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        _SESSION_BROWSER.append(browser)
        try:
            yield browser
        finally:
            _SESSION_BROWSER.clear()
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target
