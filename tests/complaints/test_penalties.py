"""Penalty tracking (R-CO-8, optional): off by default, only for the penalty officer role; bonus
deductions capped at 50 % of the monthly bonus per month with the rest carried over."""

from decimal import Decimal

import pytest

from qcare.complaints import services_penalties as penalties
from qcare.complaints.models import Penalty, PenaltyInstalment
from qcare.core.errors import Conflict, NotPermitted, ValidationFailed
from qcare.core.policies import set_policy
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(org):
    return UserFactory(
        username="kaohe", full_name="考核专员", department=org["gm_office"], roles=["penalty_officer"]
    )


@pytest.fixture
def enabled(administrator):
    set_policy(administrator, "complaints.penalties_enabled", "true", reason="启用考核")


def deduct(officer, person, amount, bonus="2000", start="2026-03", **extra):
    return penalties.record_penalty(
        officer,
        person=person,
        kind="bonus_deduction",
        reason="客户投诉 KS-2603-001 责任人",
        amount=Decimal(amount),
        monthly_bonus=Decimal(bonus),
        start_period=start,
        **extra,
    )


def schedule(penalty):
    return [
        (r["period"], r["amount"], r["carried_over"]) for r in penalties.penalty_schedule(penalty)["rows"]
    ]


def test_R_CO_8_penalties_are_off_by_default(officer, reviewer_production):
    with pytest.raises(Conflict):
        deduct(officer, reviewer_production, "500")
    assert not Penalty.objects.exists()


def test_R_CO_8_only_the_penalty_officer_records_penalties(
    enabled, officer, reviewer_production, quality_engineer, management_rep, gm, sales_manager
):
    for user in (quality_engineer, management_rep, gm, sales_manager):
        with pytest.raises(NotPermitted):
            deduct(user, reviewer_production, "500")
    penalty = deduct(officer, reviewer_production, "500")
    assert penalty.recorded_by == officer and penalty.person == reviewer_production
    assert list(penalties.penalties_for(officer)) == [penalty]
    assert list(penalties.penalties_for(gm)) == []  # no penalties.view


def test_R_CO_8_bonus_deduction_capped_at_half_the_bonus_with_carry_over(
    enabled, officer, reviewer_production
):
    penalty = deduct(officer, reviewer_production, "2500", bonus="2000", start="2026-11")
    # cap 50 % of 2000 = 1000 per month: 1000 + 1000 + 500, across the new year
    assert schedule(penalty) == [
        ("2026-11", Decimal("1000.00"), Decimal("1500.00")),
        ("2026-12", Decimal("1000.00"), Decimal("500.00")),
        ("2027-01", Decimal("500.00"), Decimal("0.00")),
    ]
    summary = penalties.penalty_schedule(penalty)
    assert (
        summary["total"] == Decimal("2500.00")
        and summary["months"] == 3
        and summary["last_period"] == "2027-01"
    )


def test_R_CO_8_deduction_within_the_cap_takes_one_month(enabled, officer, reviewer_production):
    penalty = deduct(officer, reviewer_production, "800", bonus="2000")
    assert schedule(penalty) == [("2026-03", Decimal("800.00"), Decimal("0.00"))]


def test_R_CO_8_the_cap_is_per_person_and_month_across_penalties(enabled, officer, reviewer_production):
    deduct(officer, reviewer_production, "800", bonus="2000", start="2026-03")
    second = deduct(officer, reviewer_production, "700", bonus="2000", start="2026-03")
    # March has 200 left under the 1000 cap; the other 500 go to April
    assert schedule(second) == [
        ("2026-03", Decimal("200.00"), Decimal("500.00")),
        ("2026-04", Decimal("500.00"), Decimal("0.00")),
    ]
    march = PenaltyInstalment.objects.filter(penalty__person=reviewer_production, period="2026-03")
    assert sum(i.amount for i in march) == Decimal("1000.00")


def test_R_CO_8_the_cap_follows_the_policy(enabled, administrator, officer, reviewer_production):
    set_policy(administrator, "complaints.penalty_cap", "25", reason="考核制度修订")
    penalty = deduct(officer, reviewer_production, "1000", bonus="2000")
    assert [row[1] for row in schedule(penalty)] == [Decimal("500.00"), Decimal("500.00")]


def test_R_CO_8_warnings_and_demerits_have_no_instalments(enabled, officer, reviewer_production):
    warning = penalties.record_penalty(
        officer,
        person=reviewer_production,
        kind="warning",
        reason="未按时提交调查报告",
        start_period="2026-03",
    )
    assert warning.amount == Decimal("0") and not warning.instalments.exists()
    with pytest.raises(ValidationFailed) as error:
        penalties.record_penalty(
            officer,
            person=reviewer_production,
            kind="demerit",
            reason="x",
            amount=Decimal("100"),
            start_period="2026-03",
        )
    assert "amount" in error.value.errors


def test_R_CO_8_bad_input_is_refused(enabled, officer, reviewer_production):
    with pytest.raises(ValidationFailed) as error:
        penalties.record_penalty(
            officer,
            person=reviewer_production,
            kind="bonus_deduction",
            reason="",
            amount=0,
            start_period="2026/3",
        )
    assert {"reason", "start_period", "amount", "monthly_bonus"} <= set(error.value.errors)
    assert not Penalty.objects.exists()
