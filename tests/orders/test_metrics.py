"""Contract-review metrics (R-OR-12): review cycle time in working hours by class and by
department, order cycle by class, share changed after approval, on-time delivery; the xlsx
export of the report.

The rows are written through the ORM with known times in 2025 (working hours per the
standard calendar: Mon–Fri 08:30–12:00 and 13:00–17:30, 8 hours a day).
"""

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone, translation
from openpyxl import load_workbook

from qcare.accounts.models import Department
from qcare.audit.models import AuditEntry
from qcare.core.context import audit_context
from qcare.core.errors import NotPermitted
from qcare.orders import exports, selectors
from qcare.orders.choices import OrderClass, OrderStatus, ReviewStatus
from qcare.orders.models import Order, OrderLine, OrderReview, Shipment, ShipmentLine

YEAR = 2025


def at(month, day, hour, minute=0, year=YEAR):
    return timezone.make_aware(datetime(year, month, day, hour, minute))


class Builder:
    """Orders with reviews, lines and shipments written directly (no services, no numbering)."""

    def __init__(self, owner):
        self.owner = owner
        self.count = 0

    def order(
        self, order_class, *, submitted, approved, change_count=0, status=OrderStatus.APPROVED, customer
    ):
        self.count += 1
        return Order.objects.create(
            number=f"SO-M-{self.count:04d}",
            source="contract",
            customer=customer,
            owner=self.owner,
            department=self.owner.department,
            status=status,
            order_class=order_class,
            submitted_at=submitted,
            approved_at=approved,
            change_count=change_count,
        )

    def review(self, order, department, started, signed):
        return OrderReview.objects.create(
            order=order,
            department=Department.objects.get(code=department),
            status=ReviewStatus.SIGNED if signed else ReviewStatus.PENDING,
            started_at=started,
            signed_at=signed,
        )

    def line(self, order, product, quantity, requested, shipments=()):
        """An order line and its shipments ``[(date, quantity), …]``."""
        line_no = order.lines.count() + 1
        line = OrderLine.objects.create(
            order=order,
            line_no=line_no,
            product=product,
            quantity=Decimal(quantity),
            unit_price=Decimal("10"),
            amount=Decimal(quantity) * 10,
            requested_date=requested,
            shipped_quantity=sum((Decimal(q) for _d, q in shipments), Decimal("0")),
        )
        for n, (shipped_on, qty) in enumerate(shipments):
            shipment = Shipment.objects.create(
                number=f"CH-M-{order.pk}-{line_no}-{n}",
                order=order,
                customer=order.customer,
                shipped_on=shipped_on,
                shipped_by=self.owner,
            )
            ShipmentLine.objects.create(
                shipment=shipment,
                order=order,
                order_line=line,
                product=product,
                customer=order.customer,
                shipped_on=shipped_on,
                quantity=Decimal(qty),
                lot_number="L1",
            )
        return line


@pytest.fixture
def year_data(sales_clerk, distributor, device, accessory):
    b = Builder(sales_clerk)
    with transaction.atomic(), audit_context(actor=sales_clerk, reason="test data"):
        # A: special, submitted Tue 09:00, approved Wed 09:00 (8 h), changed once after approval.
        a = b.order(
            OrderClass.SPECIAL,
            submitted=at(3, 4, 9),
            approved=at(3, 5, 9),
            change_count=1,
            customer=distributor,
        )
        b.review(a, "production", at(3, 4, 9), at(3, 4, 11))  # 2 h
        b.review(a, "rnd", at(3, 4, 9), at(3, 5, 9))  # 8 h
        b.line(
            a, device, "10", date(YEAR, 4, 1), [(date(YEAR, 3, 20), "6"), (date(YEAR, 3, 31), "4")]
        )  # on time
        b.line(a, accessory, "5", date(YEAR, 4, 1), [(date(YEAR, 4, 2), "5")])  # one day late
        # B: special, Fri 16:30 → Mon 09:30 = 2 working hours over the weekend.
        bb = b.order(
            OrderClass.SPECIAL, submitted=at(3, 7, 16, 30), approved=at(3, 10, 9, 30), customer=distributor
        )
        b.review(bb, "production", at(3, 7, 16, 30), at(3, 10, 9, 30))  # 2 h
        b.line(bb, device, "2", date(YEAR, 5, 1), [(date(YEAR, 4, 20), "1")])  # only half by the date
        # C: regular in stock, Tue 3 June 2025 (after the Dragon Boat holiday).
        c = b.order(
            OrderClass.REGULAR_IN_STOCK, submitted=at(6, 3, 9), approved=at(6, 3, 10), customer=distributor
        )
        b.review(c, "sales", at(6, 3, 9), at(6, 3, 9, 30))  # 0.5 h
        b.review(c, "warehouse", at(6, 3, 9), at(6, 3, 10, 30))  # 1.5 h
        b.line(c, device, "1", date(YEAR, 6, 10), [(date(YEAR, 6, 10), "1")])  # on the day: on time
        b.line(c, device, "1", date(YEAR + 1, 1, 10))  # due next year: not counted
        # Not counted: approved in 2024; a pending review; a cancelled order's line.
        old = b.order(
            OrderClass.SPECIAL,
            submitted=at(12, 1, 9, year=2024),
            approved=at(12, 2, 9, year=2024),
            customer=distributor,
        )
        b.review(old, "production", at(12, 1, 9, year=2024), at(12, 2, 9, year=2024))
        pending = b.order(
            OrderClass.SPECIAL,
            submitted=at(9, 1, 9),
            approved=None,
            status=OrderStatus.UNDER_REVIEW,
            customer=distributor,
        )
        b.review(pending, "production", at(9, 1, 9), None)
        cancelled = b.order(
            OrderClass.SPECIAL,
            submitted=None,
            approved=None,
            status=OrderStatus.CANCELLED,
            customer=distributor,
        )
        b.line(cancelled, device, "3", date(YEAR, 5, 1))
    return {"a": a, "b": bb, "c": c}


def by_key(rows):
    return {row["key"]: {k: row[k] for k in ("count", "mean", "median", "max")} for row in rows}


def test_R_OR_12_review_cycle_in_working_hours_by_class_and_department(year_data, auditor):
    report = selectors.review_cycle_report(auditor, YEAR)
    cycle = report["review_cycle"]
    assert cycle["overall"] == {"count": 5, "mean": 2.8, "median": 2.0, "max": 8.0}
    assert by_key(cycle["by_class"]) == {
        "special": {"count": 3, "mean": 4.0, "median": 2.0, "max": 8.0},
        "regular_in_stock": {"count": 2, "mean": 1.0, "median": 1.0, "max": 1.5},
        "regular_no_stock": {"count": 0, "mean": None, "median": None, "max": None},
    }
    assert by_key(cycle["by_department"]) == {
        "production": {"count": 2, "mean": 2.0, "median": 2.0, "max": 2.0},
        "rnd": {"count": 1, "mean": 8.0, "median": 8.0, "max": 8.0},
        "sales": {"count": 1, "mean": 0.5, "median": 0.5, "max": 0.5},
        "warehouse": {"count": 1, "mean": 1.5, "median": 1.5, "max": 1.5},
    }
    labels = {row["key"]: row["label"] for row in cycle["by_department"]}
    assert labels["rnd"] == Department.objects.get(code="rnd").name


def test_R_OR_12_order_cycle_and_changes_after_approval(year_data, auditor):
    report = selectors.review_cycle_report(auditor, YEAR)
    assert by_key(report["order_cycle"]["by_class"])["special"] == {
        "count": 2,
        "mean": 5.0,
        "median": 5.0,
        "max": 8.0,
    }
    assert by_key(report["order_cycle"]["by_class"])["regular_in_stock"]["max"] == 1.0
    changed = report["changed_after_approval"]
    assert (changed["approved"], changed["changed"], changed["share"]) == (3, 1, 0.3333)
    special = next(row for row in changed["by_class"] if row["key"] == "special")
    assert (special["approved"], special["changed"], special["share"]) == (2, 1, 0.5)


def test_R_OR_12_on_time_delivery(year_data, auditor):
    delivery = selectors.review_cycle_report(auditor, YEAR)["on_time_delivery"]
    assert delivery == {"due": 4, "on_time": 2, "share": 0.5}


def test_R_OR_12_report_is_restricted_and_takes_few_queries(
    year_data, auditor, sales_clerk, sales_clerk_2, django_assert_max_num_queries
):
    selectors.review_cycle_report(sales_clerk, YEAR - 1)  # warm the permission cache
    with django_assert_max_num_queries(3):
        own = selectors.review_cycle_report(sales_clerk, YEAR)
    assert own["review_cycle"]["overall"]["count"] == 5
    other = selectors.review_cycle_report(sales_clerk_2, YEAR)  # another clerk's orders
    assert other["review_cycle"]["overall"]["count"] == 0
    assert other["on_time_delivery"] == {"due": 0, "on_time": 0, "share": None}
    assert other["changed_after_approval"]["share"] is None


def values_of(sheet):
    """The sheet's rows without the empty cells at their ends."""
    rows = []
    for row in sheet.iter_rows(values_only=True):
        row = list(row)
        while row and row[-1] is None:
            row.pop()
        rows.append(row)
    return rows


def test_R_OR_12_metrics_export_xlsx_is_audited(year_data, gm, reviewer_production):
    with translation.override("en"):
        content = exports.export_metrics(gm, YEAR)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["Review cycle", "Order cycle", "Changes and delivery"]
    rows = values_of(book["Review cycle"])
    assert rows[0] == ["Review cycle time by order class"]
    assert ["Special", 3, 4.0, 2.0, 8.0] in rows
    assert [
        "Department",
        "Count",
        "Mean (working hours)",
        "Median (working hours)",
        "Maximum (working hours)",
    ] in rows
    delivery = values_of(book["Changes and delivery"])
    assert [4, 2, 0.5] in delivery
    entry = AuditEntry.objects.filter(action="export").latest("pk")
    assert entry.actor_id == gm.pk and entry.data["model"] == "orders.metrics"
    with pytest.raises(NotPermitted):  # reviewers do not export
        exports.export_metrics(reviewer_production, YEAR)
