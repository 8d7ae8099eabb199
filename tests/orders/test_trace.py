"""Traceability both ways (R-OR-11): lot/serial → shipments, orders, contracts, customers;
customer → every lot/serial received. Restricted like every list, and fast: one query for a
lot shipped to 5,000 customers, through the index ``shipline_lot`` on SQLite and PostgreSQL.

Rows are written in bulk through the ORM (the shipping service is tested in test_fulfil).
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from qcare.core.context import audit_context
from qcare.customers.models import Classification, Customer
from qcare.orders import selectors
from qcare.orders.choices import OrderStatus
from qcare.orders.models import Order, OrderLine, Shipment, ShipmentLine
from tests.customers.conftest import create_customer_row

_seq = itertools.count(1)


def build_shipments(owner, product, customers, lots, *, shipped_on=None, quantity="2", serials=None):
    """For each customer an approved order and one shipment per lot (bulk: no audit, no services).

    ``serials``: optional serial numbers, one per customer (each then ships one unit).
    Returns the shipment lines.
    """
    shipped_on = shipped_on or timezone.localdate()
    qty = Decimal(quantity)
    batch = next(_seq)
    orders = Order.objects.bulk_create(
        Order(
            number=f"SO-B{batch}-{i:05d}",
            source="contract",
            customer=customer,
            customer_reference=f"HT-{batch}-{i:05d}",
            owner=owner,
            department=owner.department,
            status=OrderStatus.SHIPPED,
            order_class="regular_in_stock",
        )
        for i, customer in enumerate(customers)
    )
    order_lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            line_no=1,
            product=product,
            quantity=qty * len(lots),
            unit_price=Decimal("100"),
            amount=qty * len(lots) * 100,
            shipped_quantity=qty * len(lots),
        )
        for order in orders
    )
    shipments = Shipment.objects.bulk_create(
        Shipment(
            number=f"CH-B{batch}-{i:05d}-{n}",
            order=order,
            customer=order.customer,
            shipped_on=shipped_on,
            delivery_note_number=f"DN-{batch}-{i:05d}-{n}",
            shipped_by=owner,
        )
        for i, order in enumerate(orders)
        for n in range(len(lots))
    )
    lines = []
    for i, (order, order_line) in enumerate(zip(orders, order_lines, strict=True)):
        for n, lot in enumerate(lots):
            lines.append(
                ShipmentLine(
                    shipment=shipments[i * len(lots) + n],
                    order=order,
                    order_line=order_line,
                    product=product,
                    customer=order.customer,
                    shipped_on=shipped_on,
                    quantity=Decimal("1") if serials else qty,
                    lot_number=lot,
                    serial_number=serials[i] if serials else "",
                    expiry_date=shipped_on + timedelta(days=730),
                )
            )
    return ShipmentLine.objects.bulk_create(lines, batch_size=1000)


def bulk_customers(owner, count, prefix="客户"):
    batch = next(_seq)
    kind = Classification.objects.get(kind="type", code="hospital")
    return Customer.objects.bulk_create(
        Customer(
            code=f"T{batch:02d}{i:05d}",
            name=f"{prefix}{batch}-{i}",
            customer_type=kind,
            owner=owner,
            department=owner.department,
        )
        for i in range(count)
    )


@pytest.fixture
def two_customers(sales_clerk, sales_clerk_2, distributor):
    return {
        "distributor": distributor,
        "other": create_customer_row(sales_clerk_2, name="另一位业务员的医院"),
    }


def test_R_OR_11_lot_to_every_shipment_order_contract_and_customer(
    sales_clerk, auditor, device, make_product, two_customers
):
    distributor, other = two_customers["distributor"], two_customers["other"]
    build_shipments(sales_clerk, device, [distributor], ["L2501", "L2502"])
    build_shipments(other.owner, device, [other], ["L2501"])
    pump = make_product(name="输液泵", model="IP-300")
    build_shipments(sales_clerk, pump, [distributor], ["L2501"])  # same lot text, another product

    rows = list(selectors.trace_lot(auditor, "L2501", product=device))
    assert [(r["customer_name"], r["product_id"]) for r in rows] == [
        (distributor.name, device.pk),
        (other.name, device.pk),
    ]
    row = rows[0]
    order = Order.objects.get(pk=row["order_id"])
    shipment = Shipment.objects.get(pk=row["shipment_id"])
    assert row["order_number"] == order.number
    assert row["contract_reference"] == order.customer_reference  # the customer's contract
    assert row["shipment_number"] == shipment.number
    assert row["delivery_note_number"] == shipment.delivery_note_number
    assert row["manufacturer"] == device.manufacturer  # the supplier at the end of the path
    assert row["quantity"] == Decimal("2.000") and row["expiry_date"] is not None
    assert selectors.trace_lot(auditor, "L2501").count() == 3  # every product with that lot
    assert selectors.trace_lot(auditor, " L2502 ").count() == 1


def test_R_OR_11_trace_is_restricted_to_the_users_scope(
    sales_clerk, sales_clerk_2, sales_manager, reviewer_quality, device, two_customers
):
    build_shipments(sales_clerk, device, [two_customers["distributor"]], ["L9"])
    assert selectors.trace_lot(sales_clerk, "L9").count() == 1
    assert selectors.trace_lot(sales_clerk_2, "L9").count() == 0  # another clerk's order
    assert selectors.trace_lot(sales_manager, "L9").count() == 1  # the sales department's order
    assert selectors.trace_lot(reviewer_quality, "L9").count() == 0  # quality did not review it


def test_R_OR_11_serial_to_customer(sales_clerk, auditor, device, two_customers):
    distributor = two_customers["distributor"]
    build_shipments(sales_clerk, device, [distributor], ["L1"], serials=["SN-000123"])
    rows = list(selectors.trace_serial(auditor, "SN-000123"))
    assert len(rows) == 1
    assert rows[0]["customer_id"] == distributor.pk and rows[0]["lot_number"] == "L1"
    assert rows[0]["quantity"] == 1
    assert list(selectors.trace_serial(auditor, "SN-999")) == []


def test_R_OR_11_customer_to_every_lot_and_serial(sales_clerk, auditor, device, make_product, two_customers):
    distributor, other = two_customers["distributor"], two_customers["other"]
    today = timezone.localdate()
    build_shipments(sales_clerk, device, [distributor], ["L1"], shipped_on=today - timedelta(days=20))
    build_shipments(sales_clerk, device, [distributor], ["L1", "L2"], shipped_on=today - timedelta(days=5))
    pump = make_product(code="AAA-PUMP", name="输液泵", model="IP-300")
    build_shipments(sales_clerk, pump, [distributor], [""], serials=["SN-7"])
    build_shipments(other.owner, device, [other], ["L3"])  # another customer

    rows = list(selectors.customer_lots(auditor, distributor))
    summary = [
        (r["product_code"], r["lot_number"], r["serial_number"], r["total_quantity"], r["shipments"])
        for r in rows
    ]
    assert summary == [
        ("AAA-PUMP", "", "SN-7", Decimal("1.000"), 1),
        (device.code, "L1", "", Decimal("4.000"), 2),
        (device.code, "L2", "", Decimal("2.000"), 1),
    ]
    lot1 = rows[1]
    assert lot1["first_shipped_on"] == today - timedelta(days=20)
    assert lot1["last_shipped_on"] == today - timedelta(days=5)
    assert lot1["latest_expiry_date"] == today - timedelta(days=5) + timedelta(days=730)
    assert lot1["product_name"] == device.name


# --- speed: a lot shipped to 5,000 customers ------------------------------------------------------
WIDE = 5000


@pytest.fixture
def wide_lot(sales_clerk, device):
    """Lot "WIDE-1" shipped to 5,000 customers and lot "NARROW-1" to 3; plus 20,000 lines of other
    lots, 2,000 of them serial-numbered, so that the planner sees the selectivity of a real table."""
    with audit_context(actor=sales_clerk):
        customers = bulk_customers(sales_clerk, WIDE)
        wide = build_shipments(sales_clerk, device, customers, ["WIDE-1"])
        build_shipments(sales_clerk, device, customers[:3], ["NARROW-1"])
    filler = [
        ShipmentLine(
            shipment_id=base.shipment_id,
            order_id=base.order_id,
            order_line_id=base.order_line_id,
            product_id=base.product_id,
            customer_id=base.customer_id,
            shipped_on=base.shipped_on,
            quantity=Decimal("1"),
            lot_number=f"OTHER-{n % 4000}",
            serial_number=f"SN-F{n:06d}" if n % 10 == 0 else "",
        )
        for n in range(20000)
        for base in [wide[n % WIDE]]
    ]
    ShipmentLine.objects.bulk_create(filler, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return customers


def test_R_OR_11_wide_lot_is_one_query(wide_lot, auditor, sales_manager, django_assert_max_num_queries):
    selectors.trace_lot(auditor, "warm-up").count()  # permission scopes are cached per user
    selectors.trace_lot(sales_manager, "warm-up").count()
    for user in (auditor, sales_manager):  # scope "all" and scope "department" (with a subquery)
        with django_assert_max_num_queries(1):
            narrow = list(selectors.trace_lot(user, "NARROW-1"))
        with django_assert_max_num_queries(1):
            wide = list(selectors.trace_lot(user, "WIDE-1"))
        assert len(narrow) == 3 and len(wide) == WIDE
        assert len({row["customer_id"] for row in wide}) == WIDE


def _plan(queryset):
    return queryset.explain()


def _searches_shipment_lines_by_index(plan, *indexes):
    """The plan reads orders_shipmentline through one of ``indexes``, never by a full scan."""
    full_scan = "Seq Scan on orders_shipmentline" in plan or "SCAN orders_shipmentline" in plan
    return not full_scan and any(name in plan for name in indexes)


def test_R_OR_11_trace_queries_use_the_indexes(wide_lot, auditor, sales_manager, device):
    for user in (auditor, sales_manager):  # without and with the department-scope subquery
        for plan in (
            _plan(selectors.trace_lot(user, "WIDE-1")),
            _plan(selectors.trace_lot(user, "NARROW-1", product=device)),
        ):
            assert _searches_shipment_lines_by_index(plan, "shipline_lot"), plan
        plan = _plan(selectors.trace_serial(user, "SN-F000010"))
        assert _searches_shipment_lines_by_index(plan, "shipline_serial"), plan
        # PostgreSQL may prefer the foreign-key index on customer_id: the same leading column.
        plan = _plan(selectors.customer_lots(user, wide_lot[0]))
        assert _searches_shipment_lines_by_index(
            plan, "shipline_customer", "orders_shipmentline_customer_id"
        ), plan
