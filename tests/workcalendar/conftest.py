"""Fixtures of the business-calendar tests."""

import pytest

from qcare.workcalendar.rules import clear_cache


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    """Site rules are cached per process; a rolled-back test must not leak its overrides."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def make_user(db):
    from qcare.accounts.models import Role, RolePermission, User

    def make(username, *perms):
        user = User.objects.create_user(username=username, password="x-Pass-123456", full_name=username)
        if perms:
            role = Role.objects.create(code=f"role_{username}", name=f"role {username}")
            for perm in perms:
                RolePermission.objects.create(role=role, permission=perm, scope="all")
            user.roles.add(role)
        return user

    return make


@pytest.fixture
def calendar_admin(make_user):
    return make_user("cal_admin", "calendar.change")


@pytest.fixture
def hq(db):
    from qcare.workcalendar.models import Site

    return Site.objects.get(code="HQ")
