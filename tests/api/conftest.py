"""Fixtures of the API tests: users with sample permissions, records, clients."""

import pytest
from django.test import Client

from qcare.accounts.models import Department, Role, RolePermission, User
from qcare.sample.models import SampleRecord

PASSWORD = "correct-horse-battery-9"


def make_role(code, grants):
    role, _ = Role.objects.get_or_create(code=f"api_test_{code}", defaults={"name": code})
    for perm, scope in grants.items():
        RolePermission.objects.get_or_create(role=role, permission=perm, defaults={"scope": scope})
    return role


def make_user(username, *, department=None, grants=None, full_name=None):
    user = User.objects.create_user(
        username=username, password=PASSWORD, full_name=full_name or username.title(), department=department
    )
    if grants:
        user.roles.add(make_role(username, grants))
    return user


ALL = "all"
OWN = "own"
SAMPLE_ALL = {f"sample.{a}": ALL for a in ("view", "add", "change", "delete", "approve")}


@pytest.fixture
def quality(db):
    return Department.objects.get_or_create(code="api_quality", defaults={"name": "品质部"})[0]


@pytest.fixture
def manager(quality):
    """Sees and changes every sample record."""
    return make_user("manager", department=quality, grants=SAMPLE_ALL, full_name="王经理")


@pytest.fixture
def clerk(quality):
    """Sees and changes only the records they own."""
    grants = {"sample.view": OWN, "sample.add": OWN, "sample.change": OWN, "sample.delete": OWN}
    return make_user("clerk", department=quality, grants=grants, full_name="李文员")


def make_record(owner, n=1, **fields):
    fields.setdefault("title", f"Record {n}")
    return SampleRecord.objects.create(number=f"S-TEST-{owner.pk}-{n:04d}", owner=owner, **fields)


@pytest.fixture
def record(manager):
    return make_record(manager, title="Pump housing", amount="12.50")


def token_for(user):
    from qcare.accounts.tokens import create_token

    return create_token(user, "api tests")[1]


@pytest.fixture
def api_client(manager):
    """A client authenticated as ``manager`` with a bearer token (no CSRF needed)."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}", HTTP_ACCEPT_LANGUAGE="en")
