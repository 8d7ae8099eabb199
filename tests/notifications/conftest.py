"""Fixtures for the notification tests: people, a loopback SMTP server, a worker."""

import pytest
from django.test.utils import override_settings

from qcare.notifications.smtp import RecordingSMTPServer


@pytest.fixture
def make_user(db):
    from qcare.accounts.models import User

    def make(username, *, email=None, language="zh-hans", department=None, roles=(), **extra):
        user = User.objects.create_user(
            username=username,
            password="not-used-1234",
            email=f"{username}@example.com" if email is None else email,
            full_name=extra.pop("full_name", username.title()),
            language=language,
            department=department,
            **extra,
        )
        if roles:
            user.roles.add(*roles)
        return user

    return make


@pytest.fixture
def smtp_server():
    """A running loopback SMTP server; Django's SMTP backend points at it."""
    server = RecordingSMTPServer().start()
    with override_settings(**server.settings()):
        yield server
    server.stop()


@pytest.fixture
def smtp_down():
    """Django's SMTP backend points at a loopback port where nothing listens (yet)."""
    server = RecordingSMTPServer()
    with override_settings(**server.settings()):
        yield server
    server.stop()
