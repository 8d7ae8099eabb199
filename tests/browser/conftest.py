"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Screenshots go to ``test-output/screenshots/`` (git-ignored). Without Chromium the tests
skip by hand and fail in CI (``QCARE_REQUIRE_ALL=1``).
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see tests/browser_support.py

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "Correct-horse-9"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) in Chinese, with CSP violations collected."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.csp_violations = []
    pg.on("console", lambda msg: "Content Security Policy" in msg.text and pg.csp_violations.append(msg.text))
    pg.base_url = live_server.url
    yield pg
    context.close()


def shot(page, name):
    """Save a full-page screenshot as test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page, user, password=PASSWORD):
    """Sign in through the real login form (accounts:login)."""
    from django.urls import NoReverseMatch, reverse

    try:
        login_url = reverse("accounts:login")
    except NoReverseMatch:
        skip_or_fail("accounts:login does not exist yet")
    page.goto(page.base_url + login_url)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def login_by_session(page, client, user):
    """Sign in without the form: copy a test client's session cookie into the browser."""
    from django.conf import settings

    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": page.base_url}]
    )


@pytest.fixture
def make_user(transactional_db):
    from qcare.accounts.models import Role, RolePermission, User

    def make(username, *, perms=(), full_name="Li Lei"):
        user = User.objects.create_user(username=username, password=PASSWORD, full_name=full_name)
        if perms:
            role = Role.objects.create(code=f"role-{username}", name=username)
            for perm in perms:
                RolePermission.objects.create(role=role, permission=perm, scope="all")
            user.roles.add(role)
        return user

    return make
