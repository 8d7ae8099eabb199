"""Shared fixtures of the complaints tests (tests/complaints/…).

Builds on the orders fixtures (``distributor``, ``hospital``, ``device``, ``accessory`` …, imported
below) and on ``build_shipments`` of the traceability tests:

* ``foreign_customer`` — a foreign distributor (17-day closure deadline);
* ``shipped_lot`` — the ``distributor`` received lot ``L2609-01`` of ``device`` (one shipment line,
  20 units) → the ShipmentLine;
* ``lot_to_customers(n, lot=…)`` — lot shipped to ``n`` new customers → their shipment lines;
* ``complaint_row(**fields)`` — a REGISTERED complaint written directly (no services, no deadlines),
  for tests of screens, selectors and jobs that need rows quickly; ``complaint_fields`` — the keyword
  arguments of ``services.register_complaint`` for a phone complaint on ``shipped_lot``.
"""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.complaints.models import Complaint, period_of
from qcare.core.context import audit_context
from tests.customers.conftest import create_customer_row
from tests.orders import conftest as _orders
from tests.orders.conftest import make_distributor
from tests.orders.test_trace import build_shipments

# The orders fixtures, available to the complaints tests under the same names.
accessory, custom_device, device = _orders.accessory, _orders.custom_device, _orders.device
distributor, hospital, make_product = _orders.distributor, _orders.hospital, _orders.make_product
order_lines, requirements_all = _orders.order_lines, _orders.requirements_all

_numbers = itertools.count(1)
LOT = "L2609-01"


@pytest.fixture
def foreign_customer(sales_clerk):
    return make_distributor(sales_clerk, name="Medline Trading GmbH", is_foreign=True, country="DE")


@pytest.fixture
def shipped_lot(sales_clerk, distributor, device):
    """The distributor received 20 units of lot L2609-01 of ``device``: its ShipmentLine."""
    (line,) = build_shipments(sales_clerk, device, [distributor], [LOT], quantity="20")
    return line


@pytest.fixture
def lot_to_customers(sales_clerk, device):
    def build(n, lot=LOT, quantity="2"):
        customers = [
            create_customer_row(sales_clerk, type_code="hospital", name=f"第{i}人民医院")
            for i in range(1, n + 1)
        ]
        return build_shipments(sales_clerk, device, customers, [lot], quantity=quantity)

    return build


def create_complaint_row(registered_by, customer, **fields):
    """A REGISTERED complaint row written through the ORM (no number counter, no deadlines)."""
    received_at = fields.pop("received_at", None) or timezone.now()
    values = {
        "number": f"KS-T-{next(_numbers):05d}",
        "customer": customer,
        "channel": "phone",
        "received_at": received_at,
        "period": period_of(received_at),
        "description": "监护仪开机后血氧读数不稳定",
        "registered_by": registered_by,
        "department": registered_by.department,
        "is_foreign": customer.is_foreign,
        "demands": ["exchange"],
    } | fields
    with audit_context(actor=registered_by, reason="test data"):
        return Complaint.objects.create(**values)


@pytest.fixture
def complaint_row(sales_clerk, distributor):
    def build(**fields):
        return create_complaint_row(
            fields.pop("registered_by", sales_clerk), fields.pop("customer", distributor), **fields
        )

    return build


@pytest.fixture
def complaint_fields(distributor, shipped_lot):
    """Keyword arguments of services.register_complaint: a phone complaint on the shipped lot."""
    return {
        "customer": distributor,
        "channel": "phone",
        "contact_name": "陈经理",
        "contact_phone": "020-88886666",
        "shipment_line": shipped_lot,
        "defective_quantity": Decimal("3"),
        "description": "3 台监护仪开机后血氧读数不稳定，客户要求换货。",
        "demands": ["exchange"],
    }
