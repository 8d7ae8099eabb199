"""Repeated complaints (SPEC R-CO-6, the seed's "same problem complained about again and
again"): complaints on the same product with the same cause category within the policy window
(90 days) are flagged from the third on (threshold), on the complaint and on the dashboard,
with a one-click CAPA for the whole group."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from qcare.complaints import services, services_capa
from qcare.complaints.choices import CapaSource, CauseCategory, ComplaintStatus
from qcare.complaints.models import Complaint
from qcare.core import policies
from qcare.core.errors import Conflict, NotFound, NotPermitted
from qcare.notifications.models import Notification
from qcare.workcalendar.durations import Duration

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _english():
    """Messages in English in these tests (the company default is zh-Hans)."""
    with translation.override("en"):
        yield


def days_ago(days):
    return NOW - timedelta(days=days)


@pytest.fixture
def make(complaint_row, device, quality_engineer):
    """``make(days_ago, cause="production", product=device)`` → a complaint with product and cause."""

    def build(days, cause="production", product=None, **fields):
        return complaint_row(
            product=product or device,
            cause_category=cause,
            received_at=days_ago(days),
            owner=quality_engineer,
            **fields,
        )

    return build


def flags(*complaints):
    return [Complaint.objects.get(pk=c.pk).is_repeat for c in complaints]


def flagged_messages():
    return Notification.objects.filter(template="complaints/capa_repeat_flagged", channel="inbox")


# --- detection --------------------------------------------------------------------------------
def test_R_CO_6_third_complaint_within_90_days_flags_the_group(make, quality_engineer, management_rep):
    first, second = make(80), make(30)
    assert services_capa.flag_repeats(first) == 0
    assert services_capa.flag_repeats(second) == 0
    assert flags(first, second) == [False, False]
    third = make(0)
    assert list(services_capa.repeat_group(third)) == [first, second, third]
    assert services_capa.flag_repeats(third) == 3
    assert flags(first, second, third) == [True, True, True]
    assert third.is_repeat  # the caller's copy too
    # Quality (who may open CAPAs) is told once.
    assert set(flagged_messages().values_list("recipient", flat=True)) == {
        quality_engineer.pk,
        management_rep.pk,
    }
    services_capa.flag_repeats(third)
    assert flagged_messages().count() == 2


def test_R_CO_6_window_boundary_is_included(make):
    group = [make(90), make(45), make(0)]
    assert services_capa.flag_repeats(group[-1]) == 3
    assert flags(*group) == [True, True, True]


def test_R_CO_6_outside_the_window_or_another_cause_or_product_is_not_flagged(make, make_product):
    one, two, three = (make_product(name=f"监护仪{i}") for i in range(3))
    cases = [
        [make(91, product=one), make(30, product=one), make(0, product=one)],  # the first is too old
        [make(20, "material", two), make(10, product=two), make(0, "packaging", two)],  # other causes
        [make(20, "design", one), make(10, "design", three), make(0, "design", three)],  # other product
    ]
    for group in cases:
        assert services_capa.flag_repeats(group[-1]) == 0
        assert flags(*group) == [False, False, False]
    assert not flagged_messages().exists()


def test_R_CO_6_no_product_or_no_cause_is_never_a_repeat(complaint_row, make):
    make(20), make(10)
    without_cause = complaint_row(product=make(5).product)
    without_product = complaint_row(cause_category="production")
    for complaint in (without_cause, without_product):
        assert not services_capa.repeat_group(complaint).exists()
        assert services_capa.flag_repeats(complaint) == 0


def test_R_CO_6_a_later_complaint_does_not_count_for_an_earlier_one(make):
    early, middle, late = make(60), make(30), make(0)
    assert services_capa.flag_repeats(early) == 0  # looks back only
    assert services_capa.flag_repeats(late) == 3
    assert flags(early, middle, late) == [True, True, True]


def test_R_CO_6_threshold_and_window_come_from_the_policies(make, administrator):
    policies.set_policy(administrator, "complaints.repeat_threshold", 2, reason="管理评审：从严")
    policies.set_policy(
        administrator, "complaints.repeat_window", Duration(30, "calendar_days"), reason="管理评审：从严"
    )
    old, recent, today = make(31), make(29), make(0)
    assert services_capa.flag_repeats(today) == 2
    assert flags(old, recent, today) == [False, True, True]


def test_R_CO_6_flagged_when_the_workflow_records_the_cause(make, quality_engineer, org, device):
    """set_responsibility (the workflow) flags the group when it records the cause category."""
    make(40), make(20)
    complaint = make(
        0,
        cause="",
        status=ComplaintStatus.INVESTIGATION,
        investigation_report="焊点虚焊，属生产工艺问题。",
    )
    services.set_responsibility(
        quality_engineer,
        complaint,
        root_cause="回流焊温度曲线设置错误",
        cause_category="production",
        parties=[{"kind": "department", "department": org["production"], "share": "100"}],
    )
    complaint.refresh_from_db()
    assert complaint.is_repeat
    assert Complaint.objects.filter(product=device, is_repeat=True).count() == 3


# --- one-click CAPA ------------------------------------------------------------------------------
@pytest.fixture
def group(make):
    complaints = [make(70), make(35), make(0)]
    services_capa.flag_repeats(complaints[-1])
    return complaints


def test_R_CO_6_one_click_capa_links_the_whole_group(group, quality_engineer, device):
    capa = services_capa.open_capa_for_repeats(quality_engineer, group[1])
    assert capa.source == CapaSource.REPEATED_COMPLAINTS
    assert set(capa.complaints.all()) == set(group)
    assert (capa.product, capa.cause_category) == (device, "production")
    assert capa.owner == quality_engineer
    assert device.name in capa.title
    for complaint in group:
        assert complaint.number in capa.problem
    with pytest.raises(Conflict):  # the group has its CAPA now
        services_capa.open_capa_for_repeats(quality_engineer, group[0])


def test_R_CO_6_one_click_by_the_management_rep_gives_it_to_the_case_owner(
    group, management_rep, quality_engineer
):
    capa = services_capa.open_capa_for_repeats(management_rep, group[-1])
    assert capa.owner == quality_engineer and capa.opened_by == management_rep


def test_R_CO_6_one_click_refusals(make, group, quality_engineer, sales_clerk_other_dept):
    single = make(0, cause="design")
    with pytest.raises(Conflict):
        services_capa.open_capa_for_repeats(quality_engineer, single)
    with pytest.raises(NotPermitted):  # no capa.add
        services_capa.open_capa_for_repeats(sales_clerk_other_dept, group[-1])
    assert not Complaint.objects.filter(capa__isnull=False).exists()


def test_R_CO_6_one_click_needs_the_complaint_in_view(group, quality_engineer, management_rep):
    from qcare.accounts.models import RolePermission

    RolePermission.objects.filter(role__code="management_rep", permission="complaints.view").delete()
    management_rep.__dict__.pop("_qcare_scopes", None)
    with pytest.raises(NotFound):
        services_capa.open_capa_for_repeats(management_rep, group[-1])


# --- dashboard ------------------------------------------------------------------------------------
def test_R_CO_6_dashboard_lists_flagged_groups_without_capa(
    group, make, accessory, quality_engineer, sales_clerk, sales_clerk_other_dept
):
    other = [make(20, cause="packaging", product=accessory), make(1, cause="packaging", product=accessory)]
    make(2, cause="packaging", product=accessory)
    services_capa.flag_repeats(Complaint.objects.filter(product=accessory).order_by("-received_at").first())
    rows = services_capa.repeat_groups(quality_engineer)
    assert [(r["product"], r["cause_category"], r["count"]) for r in rows] == [
        (group[-1].product, "production", 3),
        (accessory, "packaging", 3),
    ]
    assert rows[0]["latest"] == group[-1]
    assert rows[1]["latest"] == other[1]
    assert rows[1]["cause_label"] == str(CauseCategory.PACKAGING.label)
    assert len(services_capa.repeat_groups(quality_engineer, limit=1)) == 1
    # Only complaints the user may see: the registering clerk sees them, another department not.
    assert len(services_capa.repeat_groups(sales_clerk)) == 2
    assert services_capa.repeat_groups(sales_clerk_other_dept) == []


def test_R_CO_6_dashboard_hides_groups_that_have_a_capa(group, make, quality_engineer):
    capa = services_capa.open_capa_for_repeats(quality_engineer, group[-1])
    assert services_capa.repeat_groups(quality_engineer) == []
    # A further complaint while the CAPA is at work belongs to it: the group stays hidden.
    later = make(0)
    services_capa.flag_repeats(later)
    assert Complaint.objects.get(pk=later.pk).is_repeat
    assert services_capa.repeat_groups(quality_engineer) == []
    # Cancelled: the complaints are free again and the group is back.
    services_capa.cancel_capa(quality_engineer, capa, reason="误开")
    (row,) = services_capa.repeat_groups(quality_engineer)
    assert row["count"] == 4 and row["latest"] == later
