"""Fixtures of the UI shell tests: users with permissions and a logged-in client."""

import pytest

SAMPLE_ALL = ("sample.view", "sample.add", "sample.change", "sample.delete", "sample.approve")
PASSWORD = "Correct-horse-9"


@pytest.fixture
def make_user(db):
    """``make_user(perms=("sample.view",), scope="all", department=None)`` → a User with a role."""
    from qcare.accounts.models import Role, RolePermission, User

    counter = {"n": 0}

    def make(username=None, *, perms=(), scope="all", password=PASSWORD, full_name=None, **extra):
        counter["n"] += 1
        username = username or f"ui{counter['n']}"
        user = User.objects.create_user(
            username=username, password=password, full_name=full_name or f"王{username}", **extra
        )
        if perms:
            role = Role.objects.create(code=f"role-{username}", name=username)
            for perm in perms:
                RolePermission.objects.create(role=role, permission=perm, scope=scope)
            user.roles.add(role)
        return user

    return make


@pytest.fixture
def clerk(make_user):
    """Holds every sample permission, scope "all"."""
    return make_user("clerk", perms=SAMPLE_ALL)


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def make_sample(db):
    """A sample record written directly (the screens under test are not the creation path)."""
    from qcare.sample.models import SampleRecord

    counter = {"n": 0}

    def make(owner, **fields):
        counter["n"] += 1
        fields.setdefault("title", f"样品 {counter['n']}")
        fields.setdefault("number", f"S-T{counter['n']:04d}")
        fields.setdefault("department", owner.department)
        return SampleRecord.objects.create(owner=owner, **fields)

    return make
