"""API tokens (hashed at rest, revocable, expiring) and the ``qcare demo`` / ``qcare token`` commands."""

import hashlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from qcare.accounts import services
from qcare.accounts.demo import DEMO_USERS
from qcare.accounts.models import ApiToken, Role, User
from qcare.accounts.seed import ROLES
from qcare.accounts.tokens import create_token, user_for_token
from qcare.core.errors import NotFound, NotPermitted

pytestmark = pytest.mark.django_db


def test_api_token_hashed_at_rest_and_revocable(sales_clerk):
    token, raw = create_token(sales_clerk, "ERP")
    stored = ApiToken.objects.get(pk=token.pk)
    # Only the SHA-256 of the token is stored; the secret appears in no column.
    secret = raw.split("_", 2)[2]
    row = ApiToken.objects.filter(pk=token.pk).values()[0]
    assert all(secret not in str(value) for value in row.values())
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert user_for_token(raw) == sales_clerk
    assert user_for_token(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert user_for_token("garbage") is None and user_for_token(None) is None

    services.revoke_api_token(sales_clerk, stored)
    assert user_for_token(raw) is None


def test_api_token_expiry_inactive_user_and_last_used(sales_clerk):
    token, raw = create_token(sales_clerk, "MES", expires_at=timezone.now() + timedelta(days=1))
    assert user_for_token(raw) == sales_clerk
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    user_for_token(raw)
    token.refresh_from_db()
    assert token.last_used_at == first_use  # written at most once a minute
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert user_for_token(raw) is None
    sales_clerk.is_active = False
    sales_clerk.save()
    assert user_for_token(raw) is None


def test_only_owner_or_administrator_revokes_tokens(sales_clerk, sales_clerk_2, administrator):
    token, _raw = create_token(sales_clerk, "ERP")
    with pytest.raises((NotPermitted, NotFound)):
        services.revoke_api_token(sales_clerk_2, token)
    services.revoke_api_token(administrator, token)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_my_tokens_screen_shows_token_once(client, sales_clerk):
    client.force_login(sales_clerk)
    response = client.post("/accounts/me/tokens/", {"name": "ERP"})
    html = response.content.decode()
    token = ApiToken.objects.get(user=sales_clerk)
    assert 'data-testid="new-token"' in html and f"qc_{token.prefix}_" in html
    again = client.get("/accounts/me/tokens/").content.decode()
    assert f"qc_{token.prefix}_" not in again and token.prefix in again
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_token_command_prints_a_working_token(sales_clerk):
    out = io.StringIO()
    call_command("token", "create", sales_clerk.username, "--name", "ERP", stdout=out)
    raw = out.getvalue().strip()
    assert user_for_token(raw) == sales_clerk
    assert ApiToken.objects.get(user=sales_clerk).name == "ERP"


def test_demo_is_idempotent_and_prints_table(monkeypatch):
    monkeypatch.delenv("QCARE_DEMO_PASSWORD", raising=False)
    first = io.StringIO()
    call_command("demo", stdout=first)
    text = first.getvalue()
    usernames = [u for u, *_ in DEMO_USERS]
    assert set(User.objects.values_list("username", flat=True)) == set(usernames)
    for username in usernames:
        assert username in text
    assert "销售部/业务部" in text and "业务员" in text  # username → role → department
    password = text.strip().splitlines()[-1].strip()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.roles.filter(code="administrator").exists()
    assert admin.check_password(password)
    # Every role but the portal's has at least one demo user.
    for code, *_ in ROLES:
        if code != "portal_customer":
            assert Role.objects.get(code=code).users.exists(), code
    assert User.objects.get(username="auditor").access_expires_at is not None

    counts = (User.objects.count(), Role.objects.count())
    second = io.StringIO()
    call_command("demo", stdout=second)
    assert (User.objects.count(), Role.objects.count()) == counts
    assert password not in second.getvalue()
    assert admin.check_password(password)  # re-running never changes a password


def test_demo_uses_QCARE_DEMO_PASSWORD(monkeypatch):
    monkeypatch.setenv("QCARE_DEMO_PASSWORD", "demo-pass-2026")
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "demo-pass-2026" not in out.getvalue()
    assert User.objects.get(username="zhangwei").check_password("demo-pass-2026")
