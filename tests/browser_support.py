"""The one Chromium of the test session (Playwright, Debian's /usr/bin/chromium).

A pytest plugin (see ``pytest_plugins`` in tests/conftest.py) so that browser tests in any
folder share the session's ``browser``: Playwright's sync API allows one running instance
per thread. Without Chromium the tests skip by hand and fail in CI (``QCARE_REQUIRE_ALL=1``).
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from tests.conftest import skip_or_fail

    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # (creating users) are still synchronous, so Django's async-safety check is relaxed.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
