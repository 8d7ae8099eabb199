"""After approval (R-OR-9): production notices, shipments with lots/serials, partial shipments,
order status from shipments, closing; and the frozen medical-device sales record (R-OR-10).

Approved orders are written directly through the ORM (``approved_order``) so these tests do
not depend on the review workflow; the status changes go through ``services.set_status``.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from qcare.accounts.models import Department
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, ValidationFailed
from qcare.customers.choices import LicenceKind
from qcare.customers.models import Licence
from qcare.notifications.models import Notification
from qcare.orders import services_fulfil as fulfil
from qcare.orders.choices import ChangeStatus, NoticeStatus, OrderClass, OrderStatus, ReviewStatus
from qcare.orders.models import (
    ChangeRequest,
    Order,
    OrderLine,
    OrderReview,
    OrderTransition,
    SalesRecord,
    ShipmentLine,
)

_numbers = itertools.count(1)


def approved_order(
    owner, customer, items, *, departments=("sales", "production"), status=OrderStatus.APPROVED
):
    """An approved order of ``customer`` owned by ``owner`` with one line per ``(product, qty)``
    (optionally ``(product, qty, price, requested_date)``) and signed reviews of ``departments``
    (a reviewing department's users see the order)."""
    today = timezone.localdate()
    now = timezone.now()
    with transaction.atomic(), audit_context(actor=owner, reason="test data"):
        order = Order.objects.create(
            number=f"SO-T-{next(_numbers):05d}",
            source="contract",
            customer=customer,
            customer_reference=f"HT-2025-{next(_numbers):03d}",
            owner=owner,
            department=owner.department,
            status=status,
            order_class=OrderClass.REGULAR_NO_STOCK,
            submitted_at=now - timedelta(days=3),
            approved_at=now - timedelta(days=1),
            approved_by=owner,
            delivery_address="广州市黄埔区科学城 8 号",
        )
        total = Decimal("0")
        for line_no, item in enumerate(items, start=1):
            product, qty, price, requested = (*item, None, None)[:4]
            quantity, unit_price = Decimal(str(qty)), Decimal(str(price or "1000"))
            OrderLine.objects.create(
                order=order,
                line_no=line_no,
                product=product,
                specification=product.model,
                quantity=quantity,
                unit=product.unit,
                unit_price=unit_price,
                amount=quantity * unit_price,
                requested_date=requested or today + timedelta(days=30),
            )
            total += quantity * unit_price
        order.total_amount = order.total_amount_cny = total
        order.save(update_fields=["total_amount", "total_amount_cny"])
        for code in departments:
            OrderReview.objects.create(
                order=order,
                department=Department.objects.get(code=code),
                status=ReviewStatus.SIGNED,
                opinion="can_meet",
                started_at=now - timedelta(days=3),
                signed_at=now - timedelta(days=2),
            )
    return order


def line(order, line_no=1):
    return order.lines.get(line_no=line_no)


def ship(actor, order, *items, shipped_on=None, **header):
    """Ship ``items``: dicts with order_line (line_no or OrderLine) and the line fields."""
    lines = []
    for item in items:
        item = dict(item)
        if isinstance(item["order_line"], int):
            item["order_line"] = line(order, item["order_line"])
        lines.append(item)
    return fulfil.create_shipment(
        actor, order, shipped_on=shipped_on or timezone.localdate(), lines=lines, **header
    )


def errors_of(excinfo):
    return excinfo.value.errors


@pytest.fixture
def order(sales_clerk, distributor, device, accessory):
    return approved_order(sales_clerk, distributor, [(device, 10, "2500"), (accessory, 5, "20")])


# --- production notice ---------------------------------------------------------------------------
def test_R_OR_9_production_notice_sets_delivery_plan_and_notifies_production(
    order, sales_clerk, reviewer_production
):
    planned = timezone.localdate() + timedelta(days=14)
    notice = fulfil.issue_production_notice(
        sales_clerk,
        order,
        lines=[{"order_line": line(order).pk, "quantity": "10", "planned_date": planned.isoformat()}],
        notes="按标准工艺生产",
    )
    assert notice.number.startswith("SC-")
    assert notice.status == NoticeStatus.ISSUED
    assert [(nl.order_line.line_no, nl.quantity, nl.planned_date) for nl in notice.lines.all()] == [
        (1, Decimal("10.000"), planned)
    ]
    assert line(order).planned_date == planned  # the delivery plan (交货计划)
    assert line(order, 2).planned_date is None
    inbox = Notification.objects.filter(recipient=reviewer_production, template="orders/notice_issued")
    assert inbox.filter(channel="inbox").count() == 1
    assert notice.number in inbox.first().subject


def test_R_OR_9_production_acknowledges_notice(
    sales_clerk, reviewer_production, reviewer_quality, distributor, device
):
    order = approved_order(sales_clerk, distributor, [(device, 4)], departments=("production", "quality"))
    notice = fulfil.issue_production_notice(
        sales_clerk,
        order,
        lines=[{"order_line": line(order), "quantity": 4, "planned_date": timezone.localdate()}],
    )
    with pytest.raises(NotPermitted):  # quality has orders.acknowledge, but is not production
        fulfil.acknowledge_production_notice(reviewer_quality, notice)
    notice = fulfil.acknowledge_production_notice(reviewer_production, notice, comment="已排产")
    assert notice.status == NoticeStatus.ACKNOWLEDGED
    assert notice.acknowledged_by == reviewer_production and notice.acknowledged_at is not None
    assert Notification.objects.filter(recipient=sales_clerk, template="orders/notice_acknowledged").exists()
    with pytest.raises(Conflict):
        fulfil.acknowledge_production_notice(reviewer_production, notice)


def test_R_OR_9_production_notice_validation(order, sales_clerk):
    yesterday = timezone.localdate() - timedelta(days=1)
    with pytest.raises(ValidationFailed) as excinfo:
        fulfil.issue_production_notice(
            sales_clerk,
            order,
            lines=[
                {"order_line": line(order), "quantity": "11", "planned_date": yesterday},
                {"order_line": line(order), "quantity": "0", "planned_date": ""},
                {"order_line": 999999, "quantity": "x", "planned_date": "2025-02-30"},
            ],
        )
    errors = errors_of(excinfo)
    assert "10" in errors["lines.0.quantity"][0]  # at most the open quantity
    assert errors["lines.0.planned_date"]
    assert errors["lines.1.order_line"] and errors["lines.1.quantity"] and errors["lines.1.planned_date"]
    assert errors["lines.2.order_line"] and errors["lines.2.quantity"] and errors["lines.2.planned_date"]
    with pytest.raises(ValidationFailed) as excinfo:
        fulfil.issue_production_notice(sales_clerk, order, lines=[])
    assert errors_of(excinfo)["lines"]
    assert not order.production_notices.exists()


def test_R_OR_9_notice_needs_an_approved_order_and_the_permission(
    sales_clerk, sales_clerk_2, reviewer_warehouse, distributor, device
):
    draft = approved_order(sales_clerk, distributor, [(device, 1)], status=OrderStatus.UNDER_REVIEW)
    lines = [{"order_line": line(draft), "quantity": 1, "planned_date": timezone.localdate()}]
    with pytest.raises(Conflict):
        fulfil.issue_production_notice(sales_clerk, draft, lines=lines)
    with pytest.raises(NotFound):  # another clerk's order is outside the own scope
        fulfil.issue_production_notice(sales_clerk_2, draft, lines=lines)
    with pytest.raises(NotPermitted):  # the warehouse ships, it does not issue notices
        fulfil.issue_production_notice(reviewer_warehouse, draft, lines=lines)


# --- shipments -----------------------------------------------------------------------------------
def test_R_OR_9_partial_then_full_shipment_sets_order_status(order, reviewer_warehouse, sales_clerk):
    expiry = timezone.localdate() + timedelta(days=720)
    first = ship(
        reviewer_warehouse,
        order,
        {"order_line": 1, "quantity": 6, "lot_number": "L2501", "expiry_date": expiry},
        delivery_note_number="DN-001",
        carrier="顺丰",
        waybill_number="SF123",
    )
    assert first.number.startswith("CH-")
    assert first.customer == order.customer and first.shipped_by == reviewer_warehouse
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert line(order).shipped_quantity == 6 and line(order).open_quantity == 4
    assert Notification.objects.filter(recipient=sales_clerk, template="orders/shipment_recorded").exists()

    ship(
        reviewer_warehouse,
        order,
        {"order_line": 1, "quantity": 4, "lot_number": "L2502", "expiry_date": expiry},
        {"order_line": 2, "quantity": 5},  # not a medical device: no lot needed
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    transitions = list(OrderTransition.objects.filter(order=order).values_list("from_status", "to_status"))
    assert transitions[-2:] == [
        (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED),
        (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED),
    ]
    shipped = ShipmentLine.objects.filter(order=order).order_by("id")
    assert [(s.lot_number, s.quantity, s.customer_id) for s in shipped] == [
        ("L2501", Decimal("6.000"), order.customer_id),
        ("L2502", Decimal("4.000"), order.customer_id),
        ("", Decimal("5.000"), order.customer_id),
    ]
    with pytest.raises(Conflict):  # nothing left to ship
        ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 1, "lot_number": "L2503"})


def test_R_OR_9_shipment_line_errors_are_per_line(order, reviewer_warehouse, device):
    today = timezone.localdate()
    with pytest.raises(ValidationFailed) as excinfo:
        ship(
            reviewer_warehouse,
            order,
            {"order_line": 1, "quantity": 11, "lot_number": "L1"},  # more than open
            {"order_line": 1, "quantity": 1},  # medical device without lot or serial
            {"order_line": 1, "quantity": 2, "serial_number": "SN-1"},  # serial → one unit
            {"order_line": 2, "quantity": 1, "expiry_date": today - timedelta(days=1)},  # expired
            {
                "order_line": 1,
                "quantity": 1,
                "lot_number": "L1",
                "production_date": today + timedelta(days=3),
            },
        )
    errors = errors_of(excinfo)
    assert "10" in errors["lines.0.quantity"][0]
    assert errors["lines.1.lot_number"]
    assert errors["lines.2.quantity"]
    assert errors["lines.3.expiry_date"]
    assert errors["lines.4.production_date"]
    assert not order.shipments.exists() and line(order).shipped_quantity == 0


def test_R_OR_9_split_lines_may_not_exceed_open_quantity_together(order, reviewer_warehouse):
    with pytest.raises(ValidationFailed) as excinfo:
        ship(
            reviewer_warehouse,
            order,
            {"order_line": 1, "quantity": 6, "lot_number": "A"},
            {"order_line": 1, "quantity": 5, "lot_number": "B"},
        )
    assert set(errors_of(excinfo)) == {"lines.0.quantity", "lines.1.quantity"}


def test_R_OR_9_serial_shipped_once_per_product(
    sales_clerk, reviewer_warehouse, distributor, device, make_product
):
    other_product = make_product(name="输液泵", model="IP-300")
    first = approved_order(sales_clerk, distributor, [(device, 3), (other_product, 1)])
    second = approved_order(sales_clerk, distributor, [(device, 2)])
    ship(
        reviewer_warehouse,
        first,
        {"order_line": 1, "quantity": 1, "serial_number": "SN-0001"},
        {"order_line": 2, "quantity": 1, "serial_number": "SN-0002"},
    )
    with pytest.raises(ValidationFailed) as excinfo:  # twice in one shipment
        ship(
            reviewer_warehouse,
            first,
            {"order_line": 1, "quantity": 1, "serial_number": "SN-0003"},
            {"order_line": 1, "quantity": 1, "serial_number": "SN-0003"},
        )
    assert list(errors_of(excinfo)) == ["lines.1.serial_number"]
    with pytest.raises(ValidationFailed) as excinfo:  # already shipped, on another order
        ship(reviewer_warehouse, second, {"order_line": 1, "quantity": 1, "serial_number": "SN-0001"})
    assert "SN-0001" in errors_of(excinfo)["lines.0.serial_number"][0]
    # The same serial of another product is another unit.
    ship(reviewer_warehouse, second, {"order_line": 1, "quantity": 1, "serial_number": "SN-0002"})


def test_R_OR_9_shipping_date_rules(order, reviewer_warehouse):
    today = timezone.localdate()
    item = {"order_line": 1, "quantity": 1, "lot_number": "L1"}
    with pytest.raises(ValidationFailed) as excinfo:
        ship(reviewer_warehouse, order, item, shipped_on=today + timedelta(days=1))
    assert errors_of(excinfo)["shipped_on"]
    with pytest.raises(ValidationFailed) as excinfo:
        ship(reviewer_warehouse, order, item, shipped_on="2025-13-01")
    assert errors_of(excinfo)["shipped_on"]
    with pytest.raises(ValidationFailed) as excinfo:  # before the approval
        ship(reviewer_warehouse, order, item, shipped_on=today - timedelta(days=10))
    assert errors_of(excinfo)["shipped_on"]


def test_R_OR_9_only_approved_orders_ship(
    sales_clerk, reviewer_warehouse, sales_clerk_2, distributor, device
):
    item = {"order_line": 1, "quantity": 1, "lot_number": "L1"}
    for status in (OrderStatus.AWAITING_APPROVAL, OrderStatus.CANCELLED, OrderStatus.CLOSED):
        pending = approved_order(sales_clerk, distributor, [(device, 2)], status=status)
        with pytest.raises(Conflict):
            ship(reviewer_warehouse, pending, item)
    order = approved_order(sales_clerk, distributor, [(device, 2)])
    with pytest.raises(NotPermitted):  # sales do not post shipments
        ship(sales_clerk, order, item)
    assert not order.shipments.exists()


def test_R_OR_9_open_change_request_does_not_block_shipping(order, sales_clerk, reviewer_warehouse):
    with audit_context(actor=sales_clerk):
        ChangeRequest.objects.create(
            number="BG-T-0001",
            order=order,
            status=ChangeStatus.AWAITING_APPROVAL,
            reason="客户要求提前交货",
            proposed={},
            base_version=order.version,
            requested_by=sales_clerk,
        )
    assert fulfil.open_change_request(order) is not None
    ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 2, "lot_number": "L1"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED


def test_R_OR_9_expired_licence_blocks_shipping_devices(sales_clerk, reviewer_warehouse, device, accessory):
    from tests.orders.conftest import make_distributor

    lapsed = make_distributor(
        sales_clerk, name="过期经销商", licence_until=timezone.localdate() - timedelta(days=1)
    )
    order = approved_order(sales_clerk, lapsed, [(device, 2), (accessory, 2)])
    with pytest.raises(Conflict) as excinfo:
        ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 1, "lot_number": "L1"})
    assert "粤穗食药监械经营许20190123号" in str(excinfo.value.message)
    # Accessories are no medical devices: they may still go.
    ship(reviewer_warehouse, order, {"order_line": 2, "quantity": 2})


def test_R_OR_9_close_order(order, reviewer_warehouse, sales_clerk, sales_clerk_2):
    ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 4, "lot_number": "L1"})
    with pytest.raises(NotFound):
        fulfil.close_order(sales_clerk_2, order, reason="x")
    with pytest.raises(ReasonRequired):  # closing short needs a reason
        fulfil.close_order(sales_clerk, order)
    closed = fulfil.close_order(sales_clerk, order, reason="客户取消剩余数量")
    assert closed.status == OrderStatus.CLOSED and closed.closed_at is not None
    last = OrderTransition.objects.filter(order=order).last()
    assert (last.to_status, last.reason) == (OrderStatus.CLOSED, "客户取消剩余数量")
    with pytest.raises(Conflict):
        fulfil.close_order(sales_clerk, closed, reason="again")


def test_R_OR_9_close_needs_shipped_order(order, sales_manager):
    with pytest.raises(Conflict):
        fulfil.close_order(sales_manager, order, reason="未发货")


# --- sales record (R-OR-10) -----------------------------------------------------------------------
def test_R_OR_10_sales_record_frozen_with_every_field(order, reviewer_warehouse, device):
    today = timezone.localdate()
    expiry = today + timedelta(days=700)
    shipment = ship(
        reviewer_warehouse,
        order,
        {
            "order_line": 1,
            "quantity": 3,
            "lot_number": "L2501",
            "production_date": today,
            "expiry_date": expiry,
        },
        {"order_line": 2, "quantity": 5},  # accessory: no sales record
    )
    records = list(SalesRecord.objects.filter(order=order))
    assert len(records) == 1
    record = records[0]
    assert record.shipment == shipment and record.customer == order.customer and record.product == device
    assert {
        "sale_date": record.sale_date,
        "device_name": record.device_name,
        "specification": record.specification,
        "registration_number": record.registration_number,
        "quantity": record.quantity,
        "unit": record.unit,
        "unit_price": record.unit_price,
        "amount": record.amount,
        "lot_number": record.lot_number,
        "serial_number": record.serial_number,
        "expiry_date": record.expiry_date,
        "manufacturer": record.manufacturer,
        "manufacturer_licence": record.manufacturer_licence,
        "buyer_name": record.buyer_name,
        "buyer_licence": record.buyer_licence,
        "contact_name": record.contact_name,
        "contact_phone": record.contact_phone,
        "address": record.address,
    } == {
        "sale_date": today,
        "device_name": "多参数监护仪",
        "specification": "PM-7000",
        "registration_number": "粤械注准20182070101",
        "quantity": Decimal("3.000"),
        "unit": "台",
        "unit_price": Decimal("2500.00"),
        "amount": Decimal("7500.00"),
        "lot_number": "L2501",
        "serial_number": "",
        "expiry_date": expiry,
        "manufacturer": "深圳康禾医疗科技有限公司",
        "manufacturer_licence": "粤食药监械生产许20160088号",
        "buyer_name": "广州康达医疗器械有限公司",
        "buyer_licence": "粤穗食药监械经营许20190123号",
        "contact_name": "陈经理",
        "contact_phone": "020-88886666",
        "address": "广州市天河区体育西路 1 号",
    }
    # Frozen: later edits of the product or customer do not rewrite history.
    with audit_context(actor=reviewer_warehouse, reason="更名"):
        device.name = "监护仪（新名称）"
        device.save()
    record.refresh_from_db()
    assert record.device_name == "多参数监护仪"


def test_R_OR_10_hospital_buyer_licence_is_its_own_licence(sales_clerk, reviewer_warehouse, hospital, device):
    today = timezone.localdate()
    with audit_context(actor=sales_clerk, reason="test data"):
        Licence.objects.create(
            customer=hospital,
            kind=LicenceKind.OTHER,
            number="PDY00001-444010011A1001",
            valid_from=today - timedelta(days=100),
        )
    order = approved_order(sales_clerk, hospital, [(device, 1)])
    ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 1, "serial_number": "SN-H1"})
    record = SalesRecord.objects.get(order=order)
    assert record.buyer_licence == "PDY00001-444010011A1001"
    assert record.serial_number == "SN-H1" and record.buyer_name == "广州市第一人民医院"


def test_R_OR_10_sales_records_selector_filters_and_scope(
    order, reviewer_warehouse, sales_clerk, sales_clerk_2, auditor, device
):
    from qcare.orders.selectors import sales_records

    ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 2, "lot_number": "LA"})
    ship(reviewer_warehouse, order, {"order_line": 1, "quantity": 1, "serial_number": "SN-9"})
    today = timezone.localdate()
    assert sales_records(sales_clerk).count() == 2
    assert sales_records(auditor).count() == 2
    assert sales_records(sales_clerk_2).count() == 0  # another clerk's order
    assert [r.lot_number for r in sales_records(sales_clerk, lot="LA")] == ["LA"]
    assert [r.serial_number for r in sales_records(sales_clerk, serial="SN-9")] == ["SN-9"]
    assert sales_records(sales_clerk, customer=order.customer, product=device.pk).count() == 2
    assert sales_records(sales_clerk, date_from=today + timedelta(days=1)).count() == 0
    assert sales_records(sales_clerk, date_to=today).count() == 2
