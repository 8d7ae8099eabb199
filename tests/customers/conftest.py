"""Shared fixtures of the customer-file tests (tests/customers/…).

* ``customer_type`` / ``category``: look-ups of the seeded classification lists and the
  device categories (both seeded by migrations).
* ``make_customer(owner, **fields)``: a saved customer (plus optional contacts) written
  directly through the ORM — fast, and independent of the services under test.
* ``make_portal_user(customer)``: a user with role portal_customer linked to ``customer``.
"""

import itertools

import pytest
from django.db import transaction

from qcare.catalog.models import ProductCategory
from qcare.core.context import audit_context
from qcare.core.numbering import next_number
from qcare.customers.choices import ClassificationKind
from qcare.customers.models import Classification, Contact, Customer, CustomerPortalUser
from tests.factories import UserFactory

_tax_ids = itertools.count(1)


def ensure_reference_data():
    """Re-seed the lists the migrations seed: a transactional test's flush deletes them."""
    from qcare.catalog.seed import seed_categories
    from qcare.customers.seed import seed_classifications

    if not Classification.objects.exists():
        seed_classifications(Classification)
    if not ProductCategory.objects.exists():
        seed_categories(ProductCategory)


@pytest.fixture
def customer_type(db):
    """``customer_type("distributor")`` → the seeded Classification of that type."""
    ensure_reference_data()

    def get(code):
        return Classification.objects.get(kind=ClassificationKind.TYPE, code=code)

    return get


@pytest.fixture
def category(db):
    """``category("06")`` → the seeded ProductCategory with that code."""
    ensure_reference_data()

    def get(code):
        return ProductCategory.objects.get(code=code)

    return get


def create_customer_row(owner, *, contacts=(), **fields):
    """Create a customer (and contacts) without the services; the first contact is primary."""
    ensure_reference_data()
    type_code = fields.pop("type_code", "hospital")
    fields.setdefault(
        "customer_type", Classification.objects.get(kind=ClassificationKind.TYPE, code=type_code)
    )
    fields.setdefault("name", f"测试客户{next(_tax_ids)}")
    fields.setdefault("department", owner.department)
    with transaction.atomic(), audit_context(actor=owner):
        customer = Customer.objects.create(code=next_number("customer"), owner=owner, **fields)
        for index, contact in enumerate(contacts):
            Contact.objects.create(customer=customer, is_primary=index == 0, **contact)
    return customer


@pytest.fixture
def make_customer(db):
    return create_customer_row


@pytest.fixture
def make_portal_user(db):
    """``make_portal_user(customer)`` → a portal_customer user linked to ``customer``."""

    def make(customer, **fields):
        user = UserFactory(roles=["portal_customer"], department=None, **fields)
        with audit_context(actor=user):
            CustomerPortalUser.objects.create(user=user, customer=customer)
        return user

    return make
