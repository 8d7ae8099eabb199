"""Concurrent shipments (R-OR-9): real threads and transactions on SQLite and PostgreSQL.

Two warehouse clerks posting at once never ship more than the order line holds, and a serial
number posted on two orders at the same moment is shipped only once.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.core.errors import ValidationFailed
from qcare.orders import services_fulfil as fulfil
from qcare.orders.models import Order, OrderLine, SalesRecord, ShipmentLine
from tests.orders.test_fulfil import approved_order
from tests.orders.test_workflow_concurrency import race


def shipping(user, order_pk, **item):
    def run():
        order = Order.objects.get(pk=order_pk)
        item["order_line"] = order.lines.get(line_no=1)
        fulfil.create_shipment(user, order, shipped_on=timezone.localdate(), lines=[item])

    return run


@pytest.mark.django_db(transaction=True)
def test_R_OR_9_two_shipments_at_once_never_exceed_the_order(
    sales_clerk, reviewer_warehouse, distributor, device
):
    order = approved_order(sales_clerk, distributor, [(device, 10)])
    outcomes = race(
        shipping(reviewer_warehouse, order.pk, quantity=6, lot_number="L-A"),
        shipping(reviewer_warehouse, order.pk, quantity=6, lot_number="L-B"),
    )
    assert outcomes.count("ok") == 1, outcomes
    refused = next(o for o in outcomes if o != "ok")
    assert isinstance(refused, ValidationFailed) and "lines.0.quantity" in refused.errors
    assert OrderLine.objects.get(order=order).shipped_quantity == Decimal("6")
    assert ShipmentLine.objects.filter(order=order).count() == 1
    assert SalesRecord.objects.filter(order=order).count() == 1


@pytest.mark.django_db(transaction=True)
def test_R_OR_9_one_serial_on_two_orders_at_once_ships_once(
    sales_clerk, reviewer_warehouse, distributor, device
):
    first = approved_order(sales_clerk, distributor, [(device, 1)])
    second = approved_order(sales_clerk, distributor, [(device, 1)])
    outcomes = race(
        shipping(reviewer_warehouse, first.pk, quantity=1, serial_number="SN-RACE-1"),
        shipping(reviewer_warehouse, second.pk, quantity=1, serial_number="SN-RACE-1"),
    )
    assert outcomes.count("ok") == 1, outcomes
    refused = next(o for o in outcomes if o != "ok")
    assert "lines.0.serial_number" in refused.errors
    assert ShipmentLine.objects.filter(serial_number="SN-RACE-1").count() == 1
