"""Return notes from an approved disposition (退货, SPEC R-CO-7).

Issued from an approved return / replace / rework disposition and never over its quantity;
received and signed by the warehouse; inspected by quality (品质异常处理报告); posted by accounting
when the quantity matches within the customer's over-delivery tolerance (else the policy
default), otherwise escalated and resolved. The complaint's approved disposition is written
directly with ``complaint_row`` (the workflow services are tested in test_workflow*.py).
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.complaints import services_returns as returns
from qcare.complaints.choices import ComplaintStatus, ReturnStatus
from qcare.complaints.models import ReturnNote
from qcare.core import policies, signatures
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.signatures import SignatureRefused
from qcare.customers.models import Customer
from qcare.notifications.models import Notification
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(complaint_row, device, shipped_lot, gm):
    """A complaint whose return disposition of 10 units (loss 2,000 CNY) was approved."""

    def build(disposition="return", quantity="10", status=ComplaintStatus.APPROVED, **fields):
        values = {
            "product": device,
            "lot_number": shipped_lot.lot_number,
            "shipment_line": shipped_lot,
            "quantity": Decimal("20"),
            "defective_quantity": Decimal("10"),
            "status": status,
            "disposition": disposition,
            "disposition_quantity": None if quantity is None else Decimal(quantity),
            "loss_amount": Decimal("2000"),
            "approved_by": gm,
            "approved_at": timezone.now(),
        }
        return complaint_row(**(values | fields))

    return build


def set_tolerance(customer, value):
    Customer.objects.filter(pk=customer.pk).update(over_delivery_tolerance=value)


def issue(actor, complaint, quantity="10", **kwargs):
    values = {"reason": "血氧探头批量不良，退回返工", "disposition": "rework", "basis": "投诉处理方案已批准"}
    return returns.issue_return(actor, complaint, approved_quantity=quantity, **(values | kwargs))


def through_inspection(note, warehouse, inspector, received):
    returns.receive_return(warehouse, note, received_quantity=received, password=PERSONA_PASSWORD)
    returns.inspect_return(inspector, note, report="探头接口虚焊，属生产工艺问题。")
    return note


# --- issuing ----------------------------------------------------------------------------------
def test_R_CO_7_return_note_from_an_approved_disposition(approved, quality_engineer, reviewer_warehouse):
    complaint = approved()
    note = issue(quality_engineer, complaint)
    note.refresh_from_db()
    assert note.number.startswith("TH-")
    assert note.status == ReturnStatus.APPROVED
    assert note.approved_quantity == Decimal("10")
    assert (note.customer, note.product, note.lot_number) == (
        complaint.customer,
        complaint.product,
        complaint.lot_number,
    )
    assert (note.reason, note.disposition, note.basis) == (
        "血氧探头批量不良，退回返工",
        "rework",
        "投诉处理方案已批准",
    )
    # the warehouse is told to expect the goods
    assert Notification.objects.filter(
        recipient=reviewer_warehouse, template="complaints/return_issued", channel="inbox"
    ).exists()


def test_R_CO_7_returns_over_the_approved_quantity_are_refused(approved, quality_engineer):
    complaint = approved(quantity="10")
    issue(quality_engineer, complaint, quantity="6")
    with pytest.raises(ValidationFailed) as refused:
        issue(quality_engineer, complaint, quantity="5")
    message = refused.value.errors["approved_quantity"][0]
    assert "10" in message and "6" in message and "4" in message
    assert ReturnNote.objects.filter(complaint=complaint).count() == 1
    # the rest is still allowed, and a cancelled note frees its quantity
    second = issue(quality_engineer, complaint, quantity="4")
    returns.cancel_return(quality_engineer, second, reason="客户决定保留")
    assert issue(quality_engineer, complaint, quantity="4").approved_quantity == Decimal("4")


def test_R_CO_7_without_a_disposition_quantity_the_defective_quantity_is_the_limit(
    approved, quality_engineer
):
    complaint = approved(quantity=None)  # defective quantity 10
    with pytest.raises(ValidationFailed):
        issue(quality_engineer, complaint, quantity="11")
    assert issue(quality_engineer, complaint, quantity="10").approved_quantity == Decimal("10")


@pytest.mark.parametrize(
    ("status", "disposition"),
    [
        (ComplaintStatus.AWAITING_APPROVAL, "return"),
        (ComplaintStatus.RESPONSIBILITY, "return"),
        (ComplaintStatus.APPROVED, "allowance"),
        (ComplaintStatus.APPROVED, "no_fault"),
    ],
)
def test_R_CO_7_no_return_without_an_approved_return_disposition(
    approved, quality_engineer, status, disposition
):
    complaint = approved(status=status, disposition=disposition)
    with pytest.raises(Conflict):
        issue(quality_engineer, complaint)
    assert not ReturnNote.objects.exists()


def test_R_CO_7_replied_and_closed_complaints_still_take_returns(approved, quality_engineer):
    for status, disposition in ((ComplaintStatus.REPLIED, "replace"), (ComplaintStatus.CLOSED, "rework")):
        assert issue(quality_engineer, approved(status=status, disposition=disposition)).pk


@pytest.mark.parametrize(
    ("field", "value"),
    [("approved_quantity", "0"), ("approved_quantity", "-1"), ("approved_quantity", "abc"), ("reason", " ")],
)
def test_R_CO_7_bad_return_input_is_refused_with_field_errors(approved, quality_engineer, field, value):
    kwargs = {"quantity": value} if field == "approved_quantity" else {field: value}
    with pytest.raises(ValidationFailed) as refused:
        issue(quality_engineer, approved(), **kwargs)
    assert field in refused.value.errors
    assert not ReturnNote.objects.exists()


def test_R_CO_7_unknown_goods_disposition_is_refused(approved, quality_engineer):
    with pytest.raises(ValidationFailed) as refused:
        issue(quality_engineer, approved(), disposition="sell_again")
    assert "disposition" in refused.value.errors


# --- receive, inspect, post ---------------------------------------------------------------------
def test_R_CO_7_warehouse_receives_and_signs_the_quantity(
    approved, quality_engineer, reviewer_warehouse, reviewer_quality
):
    note = issue(quality_engineer, approved())
    returns.receive_return(reviewer_warehouse, note, received_quantity="10", password=PERSONA_PASSWORD)
    note.refresh_from_db()
    assert note.status == ReturnStatus.RECEIVED
    assert (note.received_quantity, note.received_by) == (Decimal("10"), reviewer_warehouse)
    signature = note.receipt_signature
    assert signature.meaning == "acknowledged" and signature.signer == reviewer_warehouse
    assert signatures.valid_signatures(note, "acknowledged") == [signature]
    assert Notification.objects.filter(
        recipient=reviewer_quality, template="complaints/return_received", channel="inbox"
    ).exists()


def test_R_CO_7_wrong_password_receives_nothing(approved, quality_engineer, reviewer_warehouse):
    note = issue(quality_engineer, approved())
    with pytest.raises(SignatureRefused):
        returns.receive_return(reviewer_warehouse, note, received_quantity="10", password="wrong")
    note.refresh_from_db()
    assert note.status == ReturnStatus.APPROVED and note.received_quantity is None


def test_R_CO_7_quality_inspects_with_the_abnormality_report(
    approved, quality_engineer, reviewer_warehouse, reviewer_quality, reviewer_finance
):
    note = issue(quality_engineer, approved())
    returns.receive_return(reviewer_warehouse, note, received_quantity="10", password=PERSONA_PASSWORD)
    with pytest.raises(ValidationFailed) as refused:
        returns.inspect_return(reviewer_quality, note, report="  ")
    assert "report" in refused.value.errors
    returns.inspect_return(reviewer_quality, note, report="探头接口虚焊")
    note.refresh_from_db()
    assert note.status == ReturnStatus.INSPECTED
    assert (note.inspection_report, note.inspected_by) == ("探头接口虚焊", reviewer_quality)
    assert Notification.objects.filter(
        recipient=reviewer_finance, template="complaints/return_inspected", channel="inbox"
    ).exists()


def test_R_CO_7_exact_quantity_is_posted(
    approved, quality_engineer, reviewer_warehouse, reviewer_quality, reviewer_finance
):
    note = through_inspection(issue(quality_engineer, approved()), reviewer_warehouse, reviewer_quality, "10")
    returns.post_return(reviewer_finance, note, comment="已入账")
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED
    assert (note.posted_by, note.post_comment) == (reviewer_finance, "已入账")
    assert note.posted_at is not None and note.tolerance_percent == Decimal("0")
    assert Notification.objects.filter(
        recipient=quality_engineer, template="complaints/return_posted"
    ).exists()


def test_R_CO_7_two_percent_short_within_the_customers_five_percent_is_posted(
    approved, distributor, quality_engineer, reviewer_warehouse, reviewer_quality, reviewer_finance
):
    set_tolerance(distributor, Decimal("5"))
    complaint = approved(quantity="100", defective_quantity=Decimal("100"))
    note = issue(quality_engineer, complaint, quantity="100")
    through_inspection(note, reviewer_warehouse, reviewer_quality, "98")
    assert returns.tolerance_for(note) == Decimal("5")
    returns.post_return(reviewer_finance, note)
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED and note.tolerance_percent == Decimal("5")


def test_R_CO_7_beyond_the_tolerance_is_escalated_and_resolved(
    approved,
    distributor,
    quality_engineer,
    reviewer_warehouse,
    reviewer_quality,
    reviewer_finance,
    management_rep,
    sales_manager,
):
    set_tolerance(distributor, Decimal("5"))
    note = issue(
        quality_engineer, approved(quantity="100", defective_quantity=Decimal("100")), quantity="100"
    )
    through_inspection(note, reviewer_warehouse, reviewer_quality, "94")
    returns.post_return(reviewer_finance, note)
    note.refresh_from_db()
    assert note.status == ReturnStatus.ESCALATED
    assert note.posted_at is None
    assert "94" in note.escalation_reason and "6" in note.escalation_reason and "5" in note.escalation_reason
    for user in (management_rep, sales_manager):
        assert Notification.objects.filter(
            recipient=user, template="complaints/return_escalated", channel="inbox"
        ).exists()
    with pytest.raises(ReasonRequired):
        returns.resolve_escalated_return(reviewer_finance, note, post=True, reason=" ")
    returns.resolve_escalated_return(
        reviewer_finance, note, post=True, reason="客户确认少退 6 台，按实收入账"
    )
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED and note.post_comment == "客户确认少退 6 台，按实收入账"
    assert note.posted_by == reviewer_finance


def test_R_CO_7_an_escalated_return_can_be_cancelled(
    approved, quality_engineer, reviewer_warehouse, reviewer_quality, reviewer_finance
):
    note = through_inspection(issue(quality_engineer, approved()), reviewer_warehouse, reviewer_quality, "12")
    returns.post_return(reviewer_finance, note)  # default tolerance 0 %: over-delivery escalates too
    returns.resolve_escalated_return(
        reviewer_finance, note, post=False, reason="多退货物退还客户，重开退货单"
    )
    note.refresh_from_db()
    assert note.status == ReturnStatus.CANCELLED


def test_R_CO_7_default_policy_tolerance_when_the_customer_has_none(
    approved,
    distributor,
    administrator,
    quality_engineer,
    reviewer_warehouse,
    reviewer_quality,
    reviewer_finance,
):
    assert distributor.over_delivery_tolerance is None
    policies.set_policy(administrator, "returns.quantity_tolerance", "3", reason="管理评审决定")
    first = issue(
        quality_engineer, approved(quantity="100", defective_quantity=Decimal("100")), quantity="100"
    )
    through_inspection(first, reviewer_warehouse, reviewer_quality, "97")
    assert returns.tolerance_for(first) == Decimal("3")
    returns.post_return(reviewer_finance, first)
    second = issue(
        quality_engineer, approved(quantity="100", defective_quantity=Decimal("100")), quantity="100"
    )
    through_inspection(second, reviewer_warehouse, reviewer_quality, "96")
    returns.post_return(reviewer_finance, second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ReturnStatus.POSTED, ReturnStatus.ESCALATED)
    assert first.tolerance_percent == Decimal("3")


def test_R_CO_7_customer_tolerance_of_zero_overrides_the_policy(
    approved,
    distributor,
    administrator,
    quality_engineer,
    reviewer_warehouse,
    reviewer_quality,
    reviewer_finance,
):
    policies.set_policy(administrator, "returns.quantity_tolerance", "10", reason="管理评审决定")
    set_tolerance(distributor, Decimal("0"))
    note = through_inspection(issue(quality_engineer, approved()), reviewer_warehouse, reviewer_quality, "9")
    returns.post_return(reviewer_finance, note)
    note.refresh_from_db()
    assert note.status == ReturnStatus.ESCALATED


def test_R_CO_7_steps_out_of_order_are_refused(
    approved, quality_engineer, reviewer_warehouse, reviewer_quality, reviewer_finance
):
    note = issue(quality_engineer, approved())
    with pytest.raises(Conflict):
        returns.inspect_return(reviewer_quality, note, report="x")
    with pytest.raises(Conflict):
        returns.post_return(reviewer_finance, note)
    through_inspection(note, reviewer_warehouse, reviewer_quality, "10")
    with pytest.raises(Conflict):
        returns.receive_return(reviewer_warehouse, note, received_quantity="10", password=PERSONA_PASSWORD)
    returns.post_return(reviewer_finance, note)
    with pytest.raises(Conflict):
        returns.post_return(reviewer_finance, note)
    with pytest.raises(Conflict):
        returns.resolve_escalated_return(reviewer_finance, note, post=True, reason="x")


# --- permissions -----------------------------------------------------------------------------------
def test_R_CO_7_warehouse_receives_quality_inspects_finance_posts_nobody_else(
    approved,
    quality_engineer,
    sales_clerk,
    reviewer_warehouse,
    reviewer_quality,
    reviewer_finance,
    reviewer_production,
    management_rep,
):
    complaint = approved()
    for outsider in (sales_clerk, reviewer_warehouse, reviewer_finance, reviewer_production):
        with pytest.raises(NotPermitted):
            issue(outsider, complaint)
    note = issue(quality_engineer, complaint)
    for outsider in (quality_engineer, reviewer_quality, reviewer_finance, sales_clerk, management_rep):
        with pytest.raises(NotPermitted):
            returns.receive_return(outsider, note, received_quantity="10", password=PERSONA_PASSWORD)
    returns.receive_return(reviewer_warehouse, note, received_quantity="10", password=PERSONA_PASSWORD)
    for outsider in (reviewer_warehouse, reviewer_finance, sales_clerk, management_rep):
        with pytest.raises(NotPermitted):
            returns.inspect_return(outsider, note, report="x")
    returns.inspect_return(reviewer_quality, note, report="探头接口虚焊")
    for outsider in (reviewer_warehouse, reviewer_quality, quality_engineer, sales_clerk, management_rep):
        with pytest.raises(NotPermitted):
            returns.post_return(outsider, note)
    returns.post_return(reviewer_finance, note)
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED


def test_R_CO_7_sales_manager_issues_returns_for_the_department(approved, sales_manager):
    assert issue(sales_manager, approved()).created_by == sales_manager
