"""P7 least privilege: grants per module and action, scopes own / department / all, 404 outside scope."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from qcare.accounts import services
from qcare.accounts.models import Role, RolePermission
from qcare.accounts.permissions import all_permissions, has_perm, require_perm, scope_for
from qcare.accounts.seed import DEFAULT_GRANTS, DEPARTMENTS, ROLES, seed_org
from qcare.core.errors import NotFound, NotPermitted, ValidationFailed
from qcare.core.models import Scope, get_restricted_or_404
from qcare.sample.models import SampleRecord
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _record(owner, number, department=None):
    return SampleRecord.objects.create(
        number=number, title=number, owner=owner, department=department or owner.department
    )


@pytest.fixture
def records(sales_clerk, sales_clerk_2, sales_clerk_other_dept):
    return {
        "mine": _record(sales_clerk, "S-1"),
        "colleague": _record(sales_clerk_2, "S-2"),
        "other_dept": _record(sales_clerk_other_dept, "S-3"),
    }


def _visible(user, action="view"):
    return set(SampleRecord.objects.restrict(user, action).values_list("number", flat=True))


def test_P7_restrict_scope_own_department_all(records, sales_clerk, sales_manager, gm, auditor, technician):
    assert _visible(sales_clerk) == {"S-1"}
    assert _visible(sales_manager) == {"S-1", "S-2"}
    assert _visible(gm) == {"S-1", "S-2", "S-3"}
    assert _visible(auditor) == {"S-1", "S-2", "S-3"}
    assert _visible(technician) == set()
    # Actions are separate permissions: the manager approves in the department, the clerk cannot.
    assert _visible(sales_manager, "approve") == {"S-1", "S-2"}
    assert _visible(sales_clerk, "approve") == set()


def test_P7_out_of_scope_detail_is_404(records, sales_clerk, client, sales_manager):
    with pytest.raises(NotFound):
        get_restricted_or_404(SampleRecord, sales_clerk, "view", pk=records["colleague"].pk)
    with pytest.raises(NotFound):
        require_perm(sales_clerk, "sample.change", records["colleague"])
    assert require_perm(sales_clerk, "sample.change", records["mine"]) == Scope.OWN
    # The same over HTTP: a user's detail page outside the viewer's scope answers 404, not 403.
    client.force_login(sales_manager)
    assert client.get(f"/accounts/users/{sales_clerk.pk}/").status_code == 404


def test_P7_auditor_is_read_only_and_time_limited(records, auditor, administrator):
    assert has_perm(auditor, "sample.view") and has_perm(auditor, "audit.view")
    for perm in ("sample.add", "sample.change", "sample.delete", "sample.approve", "accounts.change"):
        assert not has_perm(auditor, perm), perm
    role = Role.objects.get(code="auditor")
    with pytest.raises(ValidationFailed) as exc:
        services.set_role_grants(administrator, role, grants={"sample.view": "all", "sample.change": "all"})
    assert "grants" in exc.value.errors
    assert not role.grants.filter(permission="sample.change").exists()

    with time_machine.travel(auditor.access_expires_at + timedelta(seconds=1)):
        auditor.refresh_from_db()
        auditor._qcare_scopes = None
        assert scope_for(auditor, "sample.view") is None
        assert _visible(auditor) == set()


def test_P7_superuser_inactive_and_wildcard(records, sales_clerk, administrator):
    superuser = UserFactory(is_superuser=True)
    assert scope_for(superuser, "anything.at_all") == Scope.ALL
    # administrator holds "sample.*": every sample action, in every scope.
    assert RolePermission.objects.filter(role__code="administrator", permission="sample.*").exists()
    assert scope_for(administrator, "sample.approve") == Scope.ALL
    assert not has_perm(administrator, "penalties.view")  # a module it holds no grant of (R-CO-8)
    sales_clerk.is_active = False
    assert scope_for(sales_clerk, "sample.view") is None
    assert _visible(sales_clerk) == set()


def test_P7_scopes_cached_per_user_object(sales_clerk, django_assert_num_queries):
    user = type(sales_clerk).objects.get(pk=sales_clerk.pk)
    with django_assert_num_queries(1):
        for perm in ("sample.view", "sample.add", "sample.change", "sample.approve", "audit.view"):
            scope_for(user, perm)


def test_P7_registry_lists_sample_and_accounts_permissions():
    modules = {module: [p for p, _label in perms] for module, _l, perms in all_permissions()}
    assert modules["sample"] == [f"sample.{a}" for a in ("view", "add", "change", "delete", "approve")]
    assert "accounts.change" in modules["accounts"]


def test_P7_seed_creates_every_role_and_department_and_is_idempotent(administrator):
    seed_org()
    counts = (Role.objects.count(), RolePermission.objects.count())
    assert {c for c, *_ in ROLES} <= set(Role.objects.values_list("code", flat=True))
    assert len(DEPARTMENTS) == 10
    # An administrator narrows a default grant; seeding again keeps their choice.
    grant = RolePermission.objects.get(role__code="sales_manager", permission="sample.view")
    grant.scope = Scope.OWN
    grant.save()
    seed_org()
    assert (Role.objects.count(), RolePermission.objects.count()) == counts
    grant.refresh_from_db()
    assert grant.scope == Scope.OWN
    # The auditor is read-only: every default grant is a view permission.
    assert DEFAULT_GRANTS["auditor"] and all(p.endswith(".view") for p in DEFAULT_GRANTS["auditor"])


def test_P7_role_change_takes_effect_on_next_request(sales_clerk, administrator):
    role = Role.objects.get(code="sales_clerk")
    services.set_role_grants(administrator, role, grants={"sample.view": "department"})
    fresh = type(sales_clerk).objects.get(pk=sales_clerk.pk)
    assert scope_for(fresh, "sample.view") == Scope.DEPARTMENT
    assert scope_for(fresh, "sample.add") is None


def test_P7_expired_time_limited_user_cannot_act(sales_clerk):
    sales_clerk.access_expires_at = timezone.now() - timedelta(minutes=1)
    with pytest.raises(NotPermitted):
        require_perm(sales_clerk, "sample.view")
