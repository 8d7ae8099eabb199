"""Small builders for the audit tests (users holding exactly the permissions a test needs)."""

import uuid

from qcare.accounts.models import Department, Role, RolePermission, User
from qcare.core.context import audit_context


def department(code="quality", name="品质部"):
    dept, _created = Department.objects.get_or_create(code=code, defaults={"name": name})
    return dept


def user_with(perms=None, *, username=None, full_name="测试用户", dept=None, password="Sicher-Pass-2026"):
    """A user holding ``perms`` ({"sample.view": "own", …}) through a role made for the test."""
    username = username or f"u{uuid.uuid4().hex[:10]}"
    with audit_context(reason="test setup"):
        user = User.objects.create_user(
            username=username, password=password, full_name=full_name, department=dept
        )
        if perms:
            role = Role.objects.create(code=f"r-{username}", name=f"角色 {username}")
            for perm, scope in perms.items():
                RolePermission.objects.create(role=role, permission=perm, scope=scope)
            user.roles.add(role)
    return User.objects.get(pk=user.pk)


def make_sample(owner, *, title="样品记录", amount="10.00", dept=None):
    """A SampleRecord created through the ORM with the owner as actor (no reason needed)."""
    from qcare.sample.models import SampleRecord

    with audit_context(actor=owner):
        return SampleRecord.objects.create(
            number=f"S-{uuid.uuid4().hex[:12]}",
            title=title,
            amount=amount,
            owner=owner,
            department=dept if dept is not None else owner.department,
        )
