"""Sign-in security: lockout, idle timeout, logout everywhere, deactivation, expiry, password rules."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qcare.accounts import services
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PROFILE = "/accounts/me/"


def _login(client, user, password=PERSONA_PASSWORD):
    return client.post(LOGIN, {"username": user.username, "password": password})


def _signed_in(client):
    response = client.get(PROFILE)
    return response.status_code == 200


def test_login_page_is_chinese_by_default_with_language_switch(client):
    response = client.get(LOGIN)
    html = response.content.decode()
    assert response.status_code == 200
    assert "登录" in html
    assert 'data-testid="language-switch"' in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(LOGIN)
    assert "Sign in to QCare" in english.content.decode()


def test_login_succeeds_and_applies_language_preference(client, sales_clerk):
    sales_clerk.language = "en"
    sales_clerk.save()
    response = _login(client, sales_clerk)
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert _signed_in(client)


def test_login_lockout_after_5_failures(client, sales_clerk):
    for _attempt in range(5):
        response = _login(client, sales_clerk, "wrong-password")
    # Locked now: even the right password is refused, with the translated lockout page.
    response = _login(client, sales_clerk)
    assert response.status_code == 429
    html = response.content.decode()
    assert 'data-testid="locked-out"' in html
    assert "登录已暂时锁定" in html
    assert not _signed_in(client)
    # Another account from the same computer is not locked (lockout is per user name + IP).
    assert settings.AXES_FAILURE_LIMIT == 5


def test_locked_out_user_can_retry_after_cooloff(client, sales_clerk):
    for _attempt in range(5):
        _login(client, sales_clerk, "wrong-password")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _login(client, sales_clerk).status_code == 302


def test_idle_timeout_logs_out(client, sales_clerk):
    _login(client, sales_clerk)
    idle = settings.SESSION_IDLE_TIMEOUT
    with time_machine.travel(timezone.now() + timedelta(seconds=idle - 60)):
        assert _signed_in(client)  # activity resets the clock
    with time_machine.travel(timezone.now() + timedelta(seconds=2 * idle - 90)):
        assert _signed_in(client)
    with time_machine.travel(timezone.now() + timedelta(seconds=3 * idle)):
        response = client.get(PROFILE)
        assert response.status_code == 302 and response.url.startswith(LOGIN)
        page = client.get(LOGIN).content.decode()
    assert f"{idle // 60} 分钟" in page  # "you were signed out after N minutes of inactivity"


def test_password_change_logs_out_other_sessions(sales_clerk):
    browser_a, browser_b = Client(), Client()
    _login(browser_a, sales_clerk)
    _login(browser_b, sales_clerk)
    response = browser_a.post(
        reverse("accounts:password_change"),
        {
            "old_password": PERSONA_PASSWORD,
            "new_password1": "Fresh-pass-2026!",
            "new_password2": "Fresh-pass-2026!",
        },
    )
    assert response.status_code == 302
    assert _signed_in(browser_a)
    assert not _signed_in(browser_b)
    sales_clerk.refresh_from_db()
    assert sales_clerk.check_password("Fresh-pass-2026!")


def test_password_rules_are_enforced_and_translated(client, sales_clerk):
    _login(client, sales_clerk)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PERSONA_PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "密码" in html and "太短" in html  # Django's own validators, in Chinese
    sales_clerk.refresh_from_db()
    assert sales_clerk.check_password(PERSONA_PASSWORD)


def test_deactivation_ends_sessions(client, sales_clerk, administrator):
    _login(client, sales_clerk)
    services.deactivate_user(administrator, sales_clerk, reason="left the company")
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert _login(Client(), sales_clerk).status_code == 200  # the login form again: refused
    assert "qcare_signed_out_reason" in client.session


def test_admin_sign_out_all_sessions(client, sales_clerk, administrator):
    _login(client, sales_clerk)
    services.sign_out_everywhere(administrator, sales_clerk)
    assert not _signed_in(client)
    assert _login(client, sales_clerk).status_code == 302  # the user may sign in again


def test_expired_account_is_signed_out_and_cannot_sign_in(client, auditor):
    _login(client, auditor)
    assert _signed_in(client)
    with time_machine.travel(auditor.access_expires_at + timedelta(minutes=1)):
        assert not _signed_in(client)
        response = _login(Client(), auditor)
        assert response.status_code == 200
        assert "过期" in response.content.decode()


def test_admin_password_reset_forces_change(client, sales_clerk, administrator):
    _login(client, sales_clerk)
    services.reset_password(administrator, sales_clerk, password="Temporary-2026-x")
    assert not _signed_in(client)
    _login(client, sales_clerk, "Temporary-2026-x")
    response = client.get(PROFILE)
    assert response.status_code == 302 and response.url == reverse("accounts:password_change")
    client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "Temporary-2026-x",
            "new_password1": "Mine-now-2026!",
            "new_password2": "Mine-now-2026!",
        },
    )
    assert _signed_in(client)


def test_logout_requires_post(client, sales_clerk):
    _login(client, sales_clerk)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert not _signed_in(client)


QCARE_BACKENDS = ["axes.backends.AxesStandaloneBackend", "qcare.accounts.backends.QCareModelBackend"]


def test_expiry_backend_refuses_session_and_sign_in(client, auditor, settings):
    """With QCareModelBackend (settings change requested from the lead) expiry is an authentication rule."""
    settings.AUTHENTICATION_BACKENDS = QCARE_BACKENDS
    # Expiry within the session's 12-hour lifetime, so it is the expiry that ends the session.
    auditor.access_expires_at = timezone.now() + timedelta(hours=1)
    auditor.save()
    assert _login(client, auditor).status_code == 302
    with time_machine.travel(auditor.access_expires_at + timedelta(minutes=1)):
        response = client.get(PROFILE)
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session
        page = client.get(LOGIN).content.decode()
        assert "您的账户已停用或已过期" in page
        assert _login(Client(), auditor).status_code == 200
