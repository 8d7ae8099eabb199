"""Change control of approved orders (合同变更, SPEC R-OR-8): diff, customer agreement, re-review by
the departments the change touches, approval per authority, application, versions, superseded
reviews, acknowledgements and their reminders.

Orders are entered, reviewed and approved through the real services (tests.orders.test_workflow_support).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.signatures import valid_signatures
from qcare.notifications.models import Notification
from qcare.orders import services
from qcare.orders import services_change as changes
from qcare.orders import services_fulfil as fulfil
from qcare.orders.choices import ChangeStatus, OrderClass, OrderStatus, QuestionStatus, ReviewStatus
from qcare.orders.models import ChangeAcknowledgement, OrderLine, OrderVersion
from tests.orders.test_workflow_support import (
    approved_order,
    attach,
    english_fixture,  # noqa: F401  (fixture: messages in English)
    line,
    make_known,
    make_order,
    sign,
    team_fixture,  # noqa: F401  (fixture: team)
)
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def regular_order(sales_clerk, sales_manager, distributor, device, accessory, team):
    """A regular (not in stock) order of a known customer: reviewed by production, purchasing
    and sales; approved by the sales manager."""
    make_known(distributor, sales_clerk)
    order = make_order(
        sales_clerk, distributor, line(device, qty="10", price="1000"), line(accessory, qty="5", price="20")
    )
    order = approved_order(order, team, sales_manager)
    assert order.order_class == OrderClass.REGULAR_NO_STOCK
    return order


@pytest.fixture
def special_order(sales_clerk, gm, distributor, device, accessory, team):
    """A special order (first order of the customer): production, purchasing, sales, R&D and
    quality reviewed it; the GM approved it."""
    order = make_order(
        sales_clerk, distributor, line(device, qty="10", price="1000"), line(accessory, qty="5", price="20")
    )
    order = approved_order(order, team, gm)
    assert order.order_class == OrderClass.SPECIAL
    return order


def later(order, line_no=1, days=45):
    """The ISO date ``days`` after the line's current requested date."""
    current = order.lines.get(line_no=line_no).requested_date
    return (current + timedelta(days=days)).isoformat()


def draft(actor, order, *, agreed=True, **proposed):
    return changes.create_change_request(
        actor,
        order,
        proposed=proposed,
        reason="客户要求推迟交货",
        customer_agreed=agreed,
        customer_agreement="客户 2025-06-10 邮件确认同意" if agreed else "",
    )


def review_departments(change):
    return sorted(changes.change_reviews(change).values_list("department__code", flat=True))


def sign_change_reviews(change, team):
    for review in changes.change_reviews(change).filter(status=ReviewStatus.PENDING):
        sign(team[review.department.code], review)
    change.refresh_from_db()
    return change


def through_review(actor, order, team, **proposed):
    """Draft, submit and have every asked department sign the change "can meet"."""
    change = changes.submit_change_request(actor, draft(actor, order, **proposed))
    return sign_change_reviews(change, team)


def approve(approver, change):
    return changes.approve_change_request(approver, change, password=PERSONA_PASSWORD, comment="同意变更")


def notified(user, template):
    return Notification.objects.filter(recipient=user, channel="inbox", template=template).count()


# --- the request and its diff ------------------------------------------------------------------
def test_R_OR_8_change_request_numbered_with_field_level_diff(regular_order, sales_clerk, device):
    old_date = regular_order.lines.get(line_no=1).requested_date
    new_date = later(regular_order)
    change = draft(
        sales_clerk,
        regular_order,
        header={"payment_terms": "月结 60 天"},
        lines=[{"line_no": 1, "quantity": "12", "requested_date": new_date}, {"line_no": 2}],
    )
    assert change.number.startswith(f"BG-{timezone.localdate():%Y}-")
    assert change.status == ChangeStatus.DRAFT
    assert change.base_version == regular_order.version
    by_field = {(d["field"], d["line_no"]): d for d in change.diff}
    assert set(by_field) == {
        ("payment_terms", None),
        ("quantity", 1),
        ("amount", 1),
        ("requested_date", 1),
    }
    assert by_field[("quantity", 1)] | {} == {
        "subject": "quantity",
        "field": "quantity",
        "line_no": 1,
        "old": "10.000",
        "new": "12.000",
    }
    assert by_field[("amount", 1)]["new"] == "12000.00"  # quantity × unit price, computed
    assert by_field[("requested_date", 1)]["old"] == old_date.isoformat()
    assert change.subjects == ["quantity", "delivery_date", "price", "payment_terms"]
    rows = {(str(r["field"]), r["line_no"]): r for r in changes.diff_rows(change)}
    assert rows[("requested delivery date", 1)]["new"] == new_date
    assert rows[("payment terms", None)] | {} == {
        "subject": "Payment terms",
        "field": "payment terms",
        "line_no": None,
        "old": "—",
        "new": "月结 60 天",
    }
    # The approved order itself is untouched until the change is approved.
    assert regular_order.lines.get(line_no=1).quantity == Decimal("10")


def test_R_OR_8_proposal_that_changes_nothing_or_is_invalid_is_refused(regular_order, sales_clerk):
    with pytest.raises(ValidationFailed) as same:
        draft(sales_clerk, regular_order, lines=[{"line_no": 1}, {"line_no": 2}])
    assert "proposed" in same.value.errors
    with pytest.raises(ValidationFailed) as bad:
        draft(
            sales_clerk,
            regular_order,
            header={"currency": "RMBX", "colour": "red"},
            lines=[{"line_no": 1, "quantity": "-1", "requested_date": "tomorrow"}],
        )
    assert set(bad.value.errors) >= {
        "header.currency",
        "header.colour",
        "lines.0.quantity",
        "lines.0.requested_date",
    }
    with pytest.raises(ValidationFailed) as too_large:
        draft(
            sales_clerk,
            regular_order,
            lines=[
                {"line_no": 1, "quantity": "100000", "unit_price": "99999999999999.99"},
                {"line_no": 2, "quantity": "1e12"},
                {
                    "product": regular_order.lines.get(line_no=1).product_id,
                    "quantity": "1.0001",
                    "unit_price": "1",
                },
            ],
        )
    assert too_large.value.errors == {
        "lines.0.quantity": ["The amount of this line is too large."],
        "lines.1.quantity": ["This number is too large."],
        "lines.2.quantity": ["Enter at most 3 decimal places."],
    }
    with pytest.raises(ReasonRequired):
        changes.create_change_request(sales_clerk, regular_order, proposed={}, reason=" ")


def test_R_OR_8_only_approved_orders_and_own_scope(
    sales_clerk, sales_clerk_2, reviewer_production, distributor, device, regular_order
):
    draft_order = make_order(sales_clerk, distributor, line(device))
    with pytest.raises(Conflict):
        draft(sales_clerk, draft_order, header={"payment_terms": "月结"})
    with pytest.raises(NotFound):  # another clerk's order is outside her scope
        draft(sales_clerk_2, regular_order, header={"payment_terms": "月结"})
    with pytest.raises(NotPermitted):
        draft(reviewer_production, regular_order, header={"payment_terms": "月结"})


def test_R_OR_8_editing_an_approved_order_outside_change_control_is_refused(regular_order, sales_clerk):
    version = regular_order.version
    with pytest.raises(Conflict) as refused:
        services.update_order(sales_clerk, regular_order, data={"payment_terms": "月结 90 天"})
    assert "change" in str(refused.value.message).lower()
    regular_order.refresh_from_db()
    assert regular_order.payment_terms != "月结 90 天"
    assert regular_order.version == version


def test_R_OR_8_a_second_open_change_is_refused(regular_order, sales_clerk):
    first = draft(sales_clerk, regular_order, header={"payment_terms": "月结 30 天"})
    with pytest.raises(Conflict) as second:
        draft(sales_clerk, regular_order, header={"payment_terms": "月结 60 天"})
    assert first.number in str(second.value.message)
    changes.withdraw_change_request(sales_clerk, first, reason="客户改变主意")
    assert (
        draft(sales_clerk, regular_order, header={"payment_terms": "月结 60 天"}).status == ChangeStatus.DRAFT
    )


# --- customer agreement -------------------------------------------------------------------------
def test_R_OR_8_customer_agreement_required_before_submission(regular_order, sales_clerk):
    change = draft(sales_clerk, regular_order, agreed=False, header={"payment_terms": "月结 60 天"})
    with pytest.raises(ValidationFailed) as missing:
        changes.submit_change_request(sales_clerk, change)
    assert len(missing.value.errors["customer_agreement"]) == 2
    change = changes.update_change_request(sales_clerk, change, customer_agreed=True)
    with pytest.raises(ValidationFailed):  # agreed, but neither its text nor its document
        changes.submit_change_request(sales_clerk, change)
    other = attach(sales_clerk, regular_order, "订单.pdf")
    with pytest.raises(ValidationFailed):  # a document of the order, not of the change
        changes.update_change_request(sales_clerk, change, customer_agreement_attachment=other)
    letter = attach(sales_clerk, change, "客户同意函.pdf")
    change = changes.update_change_request(sales_clerk, change, customer_agreement_attachment=letter)
    change = changes.submit_change_request(sales_clerk, change)
    assert change.status == ChangeStatus.UNDER_REVIEW
    assert change.customer_agreement_attachment == letter
    with pytest.raises(Conflict):  # submitted: no more edits
        changes.update_change_request(sales_clerk, change, reason="再改")


# --- re-review routing -------------------------------------------------------------------------
def test_R_OR_8_special_order_delivery_date_change_rereviewed_by_production_only_and_acknowledged_by_all(
    special_order, sales_clerk, gm, team, reviewer_warehouse, reviewer_production
):
    order = special_order
    first = order.lines.get(line_no=1)
    fulfil.issue_production_notice(
        sales_clerk,
        order,
        lines=[
            {"order_line": first, "quantity": "10", "planned_date": timezone.localdate() + timedelta(days=20)}
        ],
    )
    fulfil.create_shipment(
        reviewer_warehouse,
        order,
        shipped_on=timezone.localdate(),
        lines=[
            {
                "order_line": first,
                "quantity": "2",
                "lot_number": "L2025-01",
                "expiry_date": timezone.localdate() + timedelta(days=700),
            }
        ],
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    old_date, new_date = first.requested_date.isoformat(), later(order)
    change = changes.submit_change_request(
        sales_clerk,
        draft(sales_clerk, order, lines=[{"line_no": 1, "requested_date": new_date}, {"line_no": 2}]),
    )
    assert change.subjects == ["delivery_date"]
    assert review_departments(change) == ["production"]
    assert notified(reviewer_production, "orders/change_review_requested") == 1
    assert notified(team["quality"], "orders/change_review_requested") == 0
    change = sign_change_reviews(change, team)
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    assert notified(gm, "orders/change_awaiting_approval") == 1
    change = approve(gm, change)
    assert change.status == ChangeStatus.APPLIED

    received = ["production", "purchasing", "quality", "rnd", "sales", "warehouse"]
    acks = ChangeAcknowledgement.objects.filter(change_request=change)
    assert sorted(a.department.code for a in acks) == received
    assert all(a.due_at and a.due_at > change.applied_at and a.acknowledged_at is None for a in acks)
    for code in ("purchasing", "quality", "rnd"):
        assert notified(team[code], "orders/change_applied") == 1
    body = Notification.objects.get(
        recipient=team["quality"], channel="inbox", template="orders/change_applied"
    ).body
    # Rendered in the recipient's language (the company's: zh-Hans).
    assert f"第 1 行 · 要求交货日期: {old_date} → {new_date}" in body
    assert notified(reviewer_warehouse, "orders/change_applied") == 1
    acknowledgers = {**team, "warehouse": reviewer_warehouse}
    for ack in acks:
        changes.acknowledge_change(acknowledgers[ack.department.code], ack, comment="已知悉")
    assert not ChangeAcknowledgement.objects.filter(
        change_request=change, acknowledged_at__isnull=True
    ).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED  # shipping progress is untouched


def test_R_OR_8_price_change_rereviewed_by_sales(regular_order, sales_clerk, sales_manager, team):
    change = through_review(
        sales_clerk, regular_order, team, lines=[{"line_no": 1, "unit_price": "950"}, {"line_no": 2}]
    )
    assert change.subjects == ["price"]
    assert review_departments(change) == ["sales"]
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    approve(sales_manager, change)
    regular_order.refresh_from_db()
    assert regular_order.total_amount == Decimal("9600.00")  # 10 × 950 + 5 × 20


def test_R_OR_8_special_order_change_touching_no_reviewing_department_goes_to_sales(
    special_order, regular_order, sales_clerk
):
    change = changes.submit_change_request(
        sales_clerk, draft(sales_clerk, special_order, header={"customer_reference": "HT-2025-补充协议-1"})
    )
    assert change.subjects == []
    assert review_departments(change) == ["sales"]
    assert change.status == ChangeStatus.UNDER_REVIEW
    # A regular order's change that no reviewing department signs goes straight to approval.
    regular = changes.submit_change_request(
        sales_clerk, draft(sales_clerk, regular_order, header={"customer_reference": "HT-2025-补充协议-2"})
    )
    assert review_departments(regular) == []
    assert regular.status == ChangeStatus.AWAITING_APPROVAL


def test_R_OR_8_cannot_meet_returns_the_change_to_sales_and_resubmission_restarts_that_review(
    special_order, sales_clerk, gm, team
):
    change = changes.submit_change_request(
        sales_clerk,
        draft(sales_clerk, special_order, lines=[{"line_no": 1, "quantity": "30"}, {"line_no": 2}]),
    )
    # Quantity (production, purchasing) and, through the amount, price (sales).
    assert review_departments(change) == ["production", "purchasing", "sales"]
    purchasing = changes.change_reviews(change).get(department__code="purchasing")
    sign(team["purchasing"], purchasing)
    production = changes.change_reviews(change).get(department__code="production")
    sign(team["production"], production, "cannot_meet", "产能不足，最多 20 台")
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT
    question = change.questions.get()
    assert question.status == QuestionStatus.OPEN and "20" in question.text
    assert notified(sales_clerk, "orders/change_returned") == 1
    with pytest.raises(ValidationFailed):  # the open point first
        changes.submit_change_request(sales_clerk, change)
    services.answer_question(sales_clerk, question, answer="客户同意改为 20 台")
    change = changes.update_change_request(
        sales_clerk, change, proposed={"lines": [{"line_no": 1, "quantity": "20"}, {"line_no": 2}]}
    )
    change = changes.submit_change_request(sales_clerk, change)
    new_production = changes.change_reviews(change).get(department__code="production")
    assert new_production.status == ReviewStatus.PENDING and new_production.round > production.round
    production.refresh_from_db()
    assert production.status == ReviewStatus.SUPERSEDED and production.superseded_by == new_production
    # Purchasing signed the quantity 30; the proposal now says 20, so it signs again too.
    assert changes.change_reviews(change).get(department__code="purchasing").status == ReviewStatus.PENDING
    change = sign_change_reviews(change, team)
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    approve(gm, change)
    assert special_order.lines.get(line_no=1).quantity == Decimal("20")


# --- approval ----------------------------------------------------------------------------------
def test_R_OR_8_change_approved_per_authority_of_the_order_as_changed(
    regular_order, sales_clerk, sales_manager, deputy_gm, gm, team
):
    # 10 × 25,000 = 250,000 ≥ 200,000: the order becomes special; the sales manager may no longer approve.
    change = through_review(
        sales_clerk, regular_order, team, lines=[{"line_no": 1, "unit_price": "25000"}, {"line_no": 2}]
    )
    assert review_departments(change) == ["sales"]
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    assert notified(deputy_gm, "orders/change_awaiting_approval") == 1
    assert notified(sales_manager, "orders/change_awaiting_approval") == 0
    with pytest.raises(NotPermitted):
        approve(sales_manager, change)
    with pytest.raises(ValidationFailed):  # wrong password: nothing signed, nothing applied
        changes.approve_change_request(deputy_gm, change, password="wrong")
    change.refresh_from_db()
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    change = approve(deputy_gm, change)
    assert change.decided_by == deputy_gm and change.approval_rule.order_class == OrderClass.SPECIAL
    assert [s.meaning for s in valid_signatures(change)] == ["approved"]
    regular_order.refresh_from_db()
    assert regular_order.order_class == OrderClass.SPECIAL
    assert regular_order.total_amount_cny == Decimal("250100.00")
    with pytest.raises(Conflict):  # approving twice
        approve(gm, change)


def test_R_OR_8_rejected_change_leaves_the_order_as_approved(regular_order, sales_clerk, sales_manager, team):
    change = through_review(sales_clerk, regular_order, team, header={"payment_terms": "月结 90 天"})
    with pytest.raises(ReasonRequired):
        changes.reject_change_request(sales_manager, change, password=PERSONA_PASSWORD, reason="")
    change = changes.reject_change_request(
        sales_manager, change, password=PERSONA_PASSWORD, reason="账期超出信用政策"
    )
    assert change.status == ChangeStatus.REJECTED
    assert [s.meaning for s in valid_signatures(change)] == ["rejected"]
    assert notified(sales_clerk, "orders/change_decided") == 1
    regular_order.refresh_from_db()
    assert regular_order.payment_terms != "月结 90 天" and regular_order.change_count == 0
    with pytest.raises(Conflict):
        approve(sales_manager, change)


def test_R_OR_8_applied_content_and_versions_old_and_new(
    regular_order, sales_clerk, sales_manager, team, device, custom_device
):
    order = regular_order
    old_data = OrderVersion.objects.get(order=order, number=1).content["data"]
    change = through_review(
        sales_clerk,
        order,
        team,
        header={"payment_terms": "月结 30 天"},
        lines=[
            {"line_no": 1, "quantity": "8"},
            {"product": device.pk, "quantity": "1", "unit_price": "5000"},
        ],
    )
    assert {d["field"] for d in change.diff if d["line_no"] in (2, 3)} == {"line"}
    approve(sales_manager, change)
    order.refresh_from_db()
    assert order.change_count == 1
    assert order.payment_terms == "月结 30 天"
    assert sorted(order.lines.values_list("line_no", "quantity")) == [(1, Decimal("8")), (3, Decimal("1"))]
    added = order.lines.get(line_no=3)
    assert added.product == device and added.amount == Decimal("5000.00")
    assert order.total_amount == Decimal("13000.00")
    versions = list(OrderVersion.objects.filter(order=order).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].content["data"] == old_data  # the old version stays viewable
    assert [line["line_no"] for line in versions[0].content["data"]["lines"]] == [1, 2]
    assert versions[1].change_request_id == change.pk
    assert versions[1].content["data"]["header"]["payment_terms"] == "月结 30 天"
    assert [line["line_no"] for line in versions[1].content["data"]["lines"]] == [1, 3]
    # A later change numbers its new line after every number the order ever used.
    later_change = draft(
        sales_clerk,
        order,
        lines=[
            {"line_no": 1},
            {"line_no": 3},
            {"product": custom_device.pk, "quantity": "2", "unit_price": "1"},
        ],
    )
    assert [line["line_no"] for line in later_change.proposed["lines"]] == [1, 3, 4]


def test_R_OR_8_version_one_written_when_missing(regular_order, sales_clerk, sales_manager, team):
    OrderVersion.objects.filter(order=regular_order).delete()
    old_terms = regular_order.payment_terms
    change = through_review(sales_clerk, regular_order, team, header={"payment_terms": "月结 45 天"})
    approve(sales_manager, change)
    versions = list(OrderVersion.objects.filter(order=regular_order).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].content["data"]["header"]["payment_terms"] == old_terms


def test_R_OR_8_old_signatures_of_changed_subjects_invalid_and_superseded_others_valid(
    regular_order, sales_clerk, sales_manager, team
):
    order = regular_order
    before = {r.department.code: r for r in services.current_reviews(order)}
    assert sorted(before) == ["production", "purchasing", "sales"]
    change = through_review(
        sales_clerk, order, team, lines=[{"line_no": 1, "requested_date": later(order)}, {"line_no": 2}]
    )
    approve(sales_manager, change)
    production = before["production"]
    production.refresh_from_db()
    assert production.status == ReviewStatus.SUPERSEDED
    replacement = production.superseded_by
    assert replacement.change_request == change and replacement.department.code == "production"
    assert not services.review_signature_valid(production)  # it signed the old delivery date
    assert services.review_signature_valid(replacement)
    for code in ("purchasing", "sales"):
        review = before[code]
        review.refresh_from_db()
        assert review.status == ReviewStatus.SIGNED and services.review_signature_valid(review)
    current = {r.department.code: r.pk for r in services.current_reviews(order)}
    assert current == {
        "production": replacement.pk,
        "purchasing": before["purchasing"].pk,
        "sales": before["sales"].pk,
    }


# --- fulfilment limits ----------------------------------------------------------------------------
def test_R_OR_8_quantity_never_below_shipped_and_shipped_lines_not_removed(
    regular_order, sales_clerk, reviewer_warehouse
):
    first = regular_order.lines.get(line_no=1)
    fulfil.create_shipment(
        reviewer_warehouse,
        regular_order,
        shipped_on=timezone.localdate(),
        lines=[
            {
                "order_line": first,
                "quantity": "6",
                "lot_number": "L1",
                "expiry_date": timezone.localdate() + timedelta(days=400),
            }
        ],
    )
    with pytest.raises(ValidationFailed) as below:
        draft(sales_clerk, regular_order, lines=[{"line_no": 1, "quantity": "5"}, {"line_no": 2}])
    assert "lines.0.quantity" in below.value.errors
    with pytest.raises(ValidationFailed) as removed:
        draft(sales_clerk, regular_order, lines=[{"line_no": 2}])
    assert "lines" in removed.value.errors
    # Down to exactly what was shipped: allowed, and the order line is then fully shipped.
    assert draft(sales_clerk, regular_order, lines=[{"line_no": 1, "quantity": "6"}, {"line_no": 2}]).diff


def test_R_OR_8_shipping_meanwhile_does_not_block_but_shipping_beyond_the_new_quantity_does(
    regular_order, sales_clerk, sales_manager, reviewer_warehouse, team
):
    change = through_review(
        sales_clerk, regular_order, team, lines=[{"line_no": 1, "quantity": "4"}, {"line_no": 2}]
    )
    first = regular_order.lines.get(line_no=1)
    shipment = {
        "order_line": first,
        "lot_number": "L1",
        "expiry_date": timezone.localdate() + timedelta(days=400),
    }
    fulfil.create_shipment(
        reviewer_warehouse,
        regular_order,
        shipped_on=timezone.localdate(),
        lines=[shipment | {"quantity": "6"}],
    )
    with pytest.raises(Conflict):  # 6 shipped meanwhile: the approved change would go below it
        approve(sales_manager, change)
    changes.withdraw_change_request(sales_clerk, change, reason="已发 6 台")
    change = through_review(
        sales_clerk, regular_order, team, lines=[{"line_no": 1, "quantity": "8"}, {"line_no": 2}]
    )
    fulfil.create_shipment(  # the order's version moves (status), its content does not
        reviewer_warehouse,
        regular_order,
        shipped_on=timezone.localdate(),
        lines=[shipment | {"quantity": "1"}],
    )
    approve(sales_manager, change)
    regular_order.refresh_from_db()
    assert regular_order.lines.get(line_no=1).quantity == Decimal("8")
    assert regular_order.status == OrderStatus.PARTIALLY_SHIPPED


def test_R_OR_8_order_content_changed_since_the_draft_is_a_conflict(
    regular_order, sales_clerk, sales_manager, team
):
    change = through_review(sales_clerk, regular_order, team, header={"payment_terms": "月结 30 天"})
    with transaction.atomic(), audit_context(reason="数据修复 (test)"):  # e.g. an administrator's repair
        OrderLine.objects.filter(order=regular_order, line_no=2).update(packaging="木箱")
        regular_order.refresh_from_db()
        regular_order.save()
    with pytest.raises(Conflict) as stale:
        approve(sales_manager, change)
    assert change.number in str(stale.value.message)
    change.refresh_from_db()
    assert change.status == ChangeStatus.AWAITING_APPROVAL


# --- acknowledgements ---------------------------------------------------------------------------
def test_R_OR_8_acknowledged_once_and_only_by_the_own_department(
    regular_order, sales_clerk, sales_manager, reviewer_purchasing, reviewer_production, team
):
    change = approve(
        sales_manager, through_review(sales_clerk, regular_order, team, header={"payment_terms": "月结"})
    )
    ack = ChangeAcknowledgement.objects.get(change_request=change, department__code="production")
    with pytest.raises(NotPermitted):
        changes.acknowledge_change(reviewer_purchasing, ack)
    with pytest.raises(NotPermitted):  # the clerk holds no orders.acknowledge
        changes.acknowledge_change(sales_clerk, ack)
    ack = changes.acknowledge_change(reviewer_production, ack, comment="已调整计划")
    assert ack.acknowledged_by == reviewer_production and ack.comment == "已调整计划"
    with pytest.raises(Conflict):
        changes.acknowledge_change(reviewer_production, ack)
    assert [a.department.code for a in changes.pending_acknowledgements(ack.department)] == []


def test_R_OR_8_reminders_for_missing_acknowledgements(
    regular_order, sales_clerk, sales_manager, reviewer_production, reviewer_purchasing, team
):
    change = approve(
        sales_manager, through_review(sales_clerk, regular_order, team, header={"payment_terms": "月结"})
    )
    acks = {a.department.code: a for a in ChangeAcknowledgement.objects.filter(change_request=change)}
    assert sorted(acks) == ["production", "purchasing", "sales"]
    changes.acknowledge_change(reviewer_production, acks["production"])
    due = acks["purchasing"].due_at
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        assert changes.send_ack_reminders() == 0
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        assert changes.send_ack_reminders() == 2  # purchasing and sales; production acknowledged
        assert changes.send_ack_reminders() == 0  # claimed: never twice
    assert notified(reviewer_purchasing, "orders/change_ack_reminder") == 1
    assert notified(reviewer_production, "orders/change_ack_reminder") == 0
    acks["purchasing"].refresh_from_db()
    assert acks["purchasing"].reminded_at is not None
    next_at = acks["purchasing"].remind_at
    assert next_at > due
    changes.acknowledge_change(reviewer_purchasing, acks["purchasing"])
    with time_machine.travel(next_at + timedelta(minutes=1), tick=False):
        assert changes.send_ack_reminders() == 1  # sales still has not acknowledged
    assert notified(sales_manager, "orders/change_ack_reminder") == 2


# --- withdrawal ------------------------------------------------------------------------------------
def test_R_OR_8_withdrawn_change_closes_its_pending_reviews(regular_order, sales_clerk, reviewer_production):
    change = changes.submit_change_request(
        sales_clerk,
        draft(sales_clerk, regular_order, lines=[{"line_no": 1, "quantity": "12"}, {"line_no": 2}]),
    )
    assert review_departments(change) == ["production", "purchasing", "sales"]
    with pytest.raises(ReasonRequired):
        changes.withdraw_change_request(sales_clerk, change, reason="")
    change = changes.withdraw_change_request(sales_clerk, change, reason="客户取消变更")
    assert change.status == ChangeStatus.WITHDRAWN
    assert not change.reviews.filter(status=ReviewStatus.PENDING).exists()
    assert notified(reviewer_production, "orders/change_withdrawn") == 1
    with pytest.raises(Conflict):
        changes.withdraw_change_request(sales_clerk, change, reason="再次撤回")
    review = change.reviews.filter(department__code="production").first()
    with pytest.raises(Conflict):
        sign(reviewer_production, review)
