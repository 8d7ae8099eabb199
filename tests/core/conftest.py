"""Fixtures of the core-mechanism tests: users, permission grants, and spies on the audit
event log and the notification outbox (which other modules implement)."""

import pytest

from qcare.core import policies


@pytest.fixture(autouse=True)
def _fresh_policy_cache():
    """A test's rolled-back policy change must not leak into the next test's cached values."""
    policies.clear_cache()
    yield
    policies.clear_cache()


def _spy(monkeypatch, module_path, name):
    import importlib

    module = importlib.import_module(module_path)
    real = getattr(module, name)
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        try:
            return real(*args, **kwargs)
        except NotImplementedError:  # the module is not implemented in this checkout yet
            return None

    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.fixture
def audit_events(monkeypatch):
    """Every ``log_event`` call as ``(event_type, kwargs)``; the real log is still written."""
    calls = _spy(monkeypatch, "qcare.audit.services", "log_event")

    class Events:
        def types(self):
            return [args[0] for args, _kw in calls]

        def of(self, event_type):
            return [kw for args, kw in calls if args[0] == event_type]

    return Events()


@pytest.fixture
def notifications_sent(monkeypatch):
    """Every ``notify`` call as ``(recipients, kwargs)``."""
    calls = _spy(monkeypatch, "qcare.notifications.services", "notify")
    return calls


@pytest.fixture
def make_user(db):
    """Create a user holding the given permissions (scope "all") through a role."""
    from qcare.accounts.models import Role, RolePermission, User

    counter = {"n": 0}

    def make(username=None, *, perms=(), role_code=None, password="Correct-horse-9", full_name=None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        user = User.objects.create_user(
            username=username, password=password, full_name=full_name or f"张{username}", **extra
        )
        if perms or role_code:
            role, _created = Role.objects.get_or_create(
                code=role_code or f"role-{username}", defaults={"name": role_code or username}
            )
            for perm in perms:
                RolePermission.objects.get_or_create(role=role, permission=perm)
            user.roles.add(role)
        return user

    return make
