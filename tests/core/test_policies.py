"""Policies (P1): typed registry, overrides with reason, audited history, validation."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from qcare.core import policies
from qcare.core.errors import NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.models_mech import PolicyValue
from qcare.core.policies import Money
from qcare.workcalendar.durations import Duration

SPEC_DEFAULTS = {
    "orders.special_amount_threshold": Money(Decimal("200000.00")),
    "orders.tender_department_limit": Money(Decimal("3000000.00")),
    "feedback.first_answer": Duration(8, "working_hours"),
    "service.onsite_arrival_quality": Duration(8, "working_hours"),
    "complaints.first_written_answer": Duration(7, "calendar_days"),
    "complaints.investigation_report": Duration(3, "working_days"),
    "complaints.close.domestic": Duration(13, "calendar_days"),
    "complaints.close.foreign": Duration(17, "calendar_days"),
    "complaints.responsibility_report_day": 10,
    "service.arrival.urban": Duration(6, "working_hours"),
    "service.arrival.suburban": Duration(7, "working_hours"),
    "service.contract_expiry_notice": Duration(30, "calendar_days"),
    "customers.licence_expiry_warning": Duration(60, "calendar_days"),
    "surveys.response_rate_target": Decimal("80"),
    "surveys.improvement_threshold": Decimal("80"),
    "surveys.card_share": Decimal("100"),
    "records.retention.product": 5,
    "records.retention.other": 4,
    "complaints.penalty_cap": Decimal("50"),
    "signatures.max_failures": 5,
}


@pytest.fixture
def admin(make_user):
    return make_user("policy_admin", perms=["policies.view", "policies.change"])


@pytest.mark.django_db
def test_P1_spec_default_policies_registered():
    for key, expected in SPEC_DEFAULTS.items():
        assert policies.get(key) == expected, key


@pytest.mark.django_db
def test_P1_policy_default_and_override_typed(admin):
    assert policies.get("complaints.close.domestic") == Duration(13, "calendar_days")
    policies.set_policy(
        admin, "complaints.close.domestic", {"amount": "10", "unit": "working_days"}, "新程序 B/1"
    )
    assert policies.get("complaints.close.domestic") == Duration(10, "working_days")

    policies.set_policy(admin, "orders.special_amount_threshold", "150,000", "管理评审决议")
    value = policies.get("orders.special_amount_threshold")
    assert isinstance(value, Money) and value.amount == Decimal("150000.00") and value.currency == "CNY"

    policies.set_policy(admin, "signatures.max_failures", "3", "安全要求")
    assert policies.get("signatures.max_failures") == 3

    policies.set_policy(admin, "surveys.response_rate_target", "85.5", "年度目标")
    assert policies.get("surveys.response_rate_target") == Decimal("85.5")
    # The other policies keep their defaults.
    assert policies.get("complaints.close.foreign") == Duration(17, "calendar_days")


@pytest.mark.django_db
def test_P1_new_value_seen_after_change_without_stale_cache(admin):
    assert policies.get("records.retention.other") == 4  # now cached in this process
    policies.set_policy(admin, "records.retention.other", 6, "法规更新")
    assert policies.get("records.retention.other") == 6
    policies.set_policy(admin, "records.retention.other", 7, "再次更新")
    assert policies.get("records.retention.other") == 7


@pytest.mark.django_db
def test_P1_other_process_change_seen_through_stamp(admin, settings):
    """A change written by another process (no local invalidation) is picked up by the stamp."""
    settings.QCARE_POLICY_CACHE_SECONDS = 0
    assert policies.get("records.retention.product") == 5
    PolicyValue.objects.create(key="records.retention.product", value=8)  # as another process would
    assert policies.get("records.retention.product") == 8


@pytest.mark.django_db
def test_P1_policy_change_requires_reason_and_is_audited(admin):
    from qcare.audit.models import AuditEntry

    with pytest.raises(ReasonRequired):
        policies.set_policy(admin, "complaints.penalty_cap", "40", "   ")
    assert not PolicyValue.objects.exists()

    policies.set_policy(admin, "complaints.penalty_cap", "40", "总经理批准")
    policies.set_policy(admin, "complaints.penalty_cap", "30", "管理评审")
    row = PolicyValue.objects.get(key="complaints.penalty_cap")
    entries = list(
        AuditEntry.objects.filter(object_pk=str(row.pk), content_type__model="policyvalue").order_by("seq")
    )
    assert [e.action for e in entries] == ["create", "update"]
    assert [e.reason for e in entries] == ["总经理批准", "管理评审"]
    assert all(e.actor_id == admin.pk for e in entries)
    assert "value" in entries[1].changes
    assert "40" in str(entries[1].changes["value"]) and "30" in str(entries[1].changes["value"])


@pytest.mark.django_db
def test_P1_policy_change_needs_permission(make_user):
    clerk = make_user(perms=["policies.view"])
    with pytest.raises(NotPermitted):
        policies.set_policy(clerk, "complaints.penalty_cap", "40", "试图修改")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("signatures.max_failures", "abc"),
        ("signatures.max_failures", "0"),  # below min 1
        ("signatures.max_failures", "2.5"),
        ("surveys.response_rate_target", "120"),  # above max 100
        ("orders.special_amount_threshold", "-5"),
        ("orders.special_amount_threshold", {"amount": "5", "currency": "USD"}),
        ("complaints.close.domestic", {"amount": "3", "unit": "fortnights"}),
        ("complaints.close.domestic", "soon"),
    ],
)
def test_P1_bad_policy_value_refused_translated(admin, key, raw):
    before = policies.get(key)
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as info:
        policies.set_policy(admin, key, raw, "试验")
    message = info.value.errors["value"][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message  # translated to Chinese
    assert not PolicyValue.objects.filter(key=key).exists()
    assert policies.get(key) == before


def test_P1_register_validates_kind_and_namespace():
    with pytest.raises(ValueError):
        policies.register("nonamespace", "int", 1, "x")
    with pytest.raises(ValueError):
        policies.register("app.x", "colour", 1, "x")
    with pytest.raises(ValidationFailed):
        policies.register("app.x", "int", "not a number", "x")


@pytest.mark.django_db
def test_P1_policy_screen_lists_groups_and_edits_with_reason(client, admin):
    client.force_login(admin)
    page = client.get(reverse("core:policies"))
    assert page.status_code == 200
    assert "complaints.close.domestic" in page.content.decode()

    url = reverse("core:policy_edit", kwargs={"key": "complaints.close.domestic"})
    refused = client.post(url, {"amount": "15", "unit": "calendar_days", "reason": ""})
    assert refused.status_code == 200 and not PolicyValue.objects.exists()

    done = client.post(url, {"amount": "15", "unit": "calendar_days", "reason": "程序修订"})
    assert done.status_code == 302
    assert policies.get("complaints.close.domestic") == Duration(15, "calendar_days")
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_P1_policy_screen_needs_view_permission(client, make_user):
    client.force_login(make_user())
    assert client.get(reverse("core:policies")).status_code == 403
    viewer = make_user(perms=["policies.view"])
    client.force_login(viewer)
    url = reverse("core:policy_edit", kwargs={"key": "signatures.max_failures"})
    assert client.get(url).status_code == 200
    assert client.post(url, {"value": "3", "reason": "x"}).status_code == 403
