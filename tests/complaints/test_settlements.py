"""Allowances (销货折让证明单) and compensations (赔款) for finance (SPEC R-CO-7).

Recorded from an approved allowance / compensation disposition, together never more than the
approved loss; settled by finance with the voucher or credit-note reference; cancelled with a
reason (the amount becomes available again).
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.complaints import services_returns as returns
from qcare.complaints.choices import ComplaintStatus, SettlementStatus
from qcare.complaints.models import Settlement
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def allowance_case(complaint_row, device, deputy_gm):
    """A complaint whose allowance of 8,000 CNY was approved by the deputy GM."""

    def build(disposition="allowance", loss="8000", status=ComplaintStatus.APPROVED):
        return complaint_row(
            product=device,
            status=status,
            disposition=disposition,
            loss_amount=Decimal(loss),
            approved_by=deputy_gm,
            approved_at=timezone.now(),
        )

    return build


def record(actor, complaint, amount, kind="allowance", **kwargs):
    return returns.record_settlement(
        actor, complaint, kind=kind, amount=amount, description="按 5% 货款折让", **kwargs
    )


def test_R_CO_7_allowance_recorded_for_finance(allowance_case, quality_engineer, reviewer_finance):
    complaint = allowance_case()
    settlement = record(quality_engineer, complaint, "5000")
    settlement.refresh_from_db()
    assert (settlement.kind, settlement.amount, settlement.currency) == ("allowance", Decimal("5000"), "CNY")
    assert settlement.status == SettlementStatus.OPEN
    assert (settlement.customer, settlement.created_by) == (complaint.customer, quality_engineer)
    assert Notification.objects.filter(
        recipient=reviewer_finance, template="complaints/settlement_recorded", channel="inbox"
    ).exists()


def test_R_CO_7_allowances_and_compensations_never_exceed_the_approved_loss(allowance_case, quality_engineer):
    complaint = allowance_case(disposition="compensation", loss="8000")
    record(quality_engineer, complaint, "5000", kind="compensation")
    with pytest.raises(ValidationFailed) as refused:
        record(quality_engineer, complaint, "3000.01", kind="allowance")
    message = refused.value.errors["amount"][0]
    assert "8000" in message and "5000" in message and "3000" in message
    assert Settlement.objects.filter(complaint=complaint).count() == 1
    record(quality_engineer, complaint, "3000", kind="allowance")  # exactly the loss


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("amount", {"amount": "0"}),
        ("amount", {"amount": "-5"}),
        ("amount", {"amount": "1.001"}),
        ("amount", {"amount": "x"}),
        ("kind", {"amount": "10", "kind": "gift"}),
        ("currency", {"amount": "10", "currency": "USD"}),
    ],
)
def test_R_CO_7_bad_settlement_input_is_refused(allowance_case, quality_engineer, field, kwargs):
    kind = kwargs.pop("kind", "allowance")
    amount = kwargs.pop("amount")
    with pytest.raises(ValidationFailed) as refused:
        record(quality_engineer, allowance_case(), amount, kind=kind, **kwargs)
    assert field in refused.value.errors
    assert not Settlement.objects.exists()


@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (ComplaintStatus.AWAITING_APPROVAL, "allowance"),
        (ComplaintStatus.APPROVED, "return"),
        (ComplaintStatus.APPROVED, "no_fault"),
    ],
)
def test_R_CO_7_settlements_need_an_approved_allowance_or_compensation(
    allowance_case, quality_engineer, status, disposition
):
    with pytest.raises(Conflict):
        record(quality_engineer, allowance_case(disposition=disposition, status=status), "100")


def test_R_CO_7_finance_settles_with_its_reference(allowance_case, quality_engineer, reviewer_finance):
    settlement = record(quality_engineer, allowance_case(), "5000")
    with pytest.raises(ValidationFailed) as refused:
        returns.settle(reviewer_finance, settlement, finance_reference=" ")
    assert "finance_reference" in refused.value.errors
    returns.settle(reviewer_finance, settlement, finance_reference="记-2026-11-0088")
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.SETTLED
    assert (settlement.finance_reference, settlement.settled_by) == ("记-2026-11-0088", reviewer_finance)
    assert settlement.settled_at is not None
    assert Notification.objects.filter(
        recipient=quality_engineer, template="complaints/settlement_settled", channel="inbox"
    ).exists()
    with pytest.raises(Conflict):
        returns.settle(reviewer_finance, settlement, finance_reference="again")
    with pytest.raises(Conflict):
        returns.cancel_settlement(quality_engineer, settlement, reason="录错")


def test_R_CO_7_a_cancelled_settlement_frees_its_amount(allowance_case, quality_engineer):
    complaint = allowance_case(loss="8000")
    wrong = record(quality_engineer, complaint, "8000")
    with pytest.raises(ReasonRequired):
        returns.cancel_settlement(quality_engineer, wrong, reason="")
    returns.cancel_settlement(quality_engineer, wrong, reason="金额录错，应为 6000")
    wrong.refresh_from_db()
    assert wrong.status == SettlementStatus.CANCELLED
    assert record(quality_engineer, complaint, "6000").amount == Decimal("6000")
    assert returns.settled_amount(complaint) == Decimal("6000")


def test_R_CO_7_only_finance_settles_and_only_issuers_record(
    allowance_case, quality_engineer, sales_manager, sales_clerk, reviewer_finance, reviewer_warehouse
):
    complaint = allowance_case()
    for outsider in (sales_clerk, reviewer_finance, reviewer_warehouse):
        with pytest.raises(NotPermitted):
            record(outsider, complaint, "100")
    settlement = record(sales_manager, complaint, "100")
    for outsider in (quality_engineer, sales_manager, sales_clerk, reviewer_warehouse):
        with pytest.raises(NotPermitted):
            returns.settle(outsider, settlement, finance_reference="x")
    returns.settle(reviewer_finance, settlement, finance_reference="记-1")
