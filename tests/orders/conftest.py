"""Shared fixtures of the orders tests (tests/orders/…).

Rows are written directly through the ORM (fast, independent of the services under test):

* ``distributor`` — a distributor of the sales clerk with a valid licence covering category 07;
  ``hospital`` — an end user (needs no licence).
* ``device`` (standard, regulated, category 07), ``custom_device`` (not standard),
  ``accessory`` (not regulated).
* ``order_lines(product, qty=…, price=…)`` → a list of line dicts for ``services.create_order``.
* ``requirements_all`` — a requirement checklist with every category captured.
"""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from qcare.catalog.models import Product, ProductCategory
from qcare.core.context import audit_context
from qcare.customers.choices import LicenceKind
from qcare.customers.models import Contact, Licence
from qcare.customers.search import refresh_search_text
from tests.customers.conftest import create_customer_row, ensure_reference_data

_codes = itertools.count(1)


def make_product_row(**fields):
    ensure_reference_data()
    values = {
        "code": f"OP-{next(_codes):04d}",
        "name": "多参数监护仪",
        "model": "PM-7000",
        "category": ProductCategory.objects.get(code="07"),
        "registration_number": "粤械注准20182070101",
        "manufacturer": "深圳康禾医疗科技有限公司",
        "manufacturer_licence": "粤食药监械生产许20160088号",
        "unit": "台",
    } | fields
    with audit_context(actor=None):
        return Product.objects.create(**values)


@pytest.fixture
def make_product(db):
    return make_product_row


@pytest.fixture
def device(db):
    return make_product_row(name="多参数监护仪", model="PM-7000")


@pytest.fixture
def custom_device(db):
    return make_product_row(name="定制监护仪", model="PM-7000-X", is_standard=False)


@pytest.fixture
def accessory(db):
    return make_product_row(
        name="打印纸",
        model="80mm",
        is_regulated=False,
        registration_number="",
        manufacturer="",
        manufacturer_licence="",
        unit="卷",
    )


def make_distributor(owner, *, licence_until=None, categories=("07",), **fields):
    """A distributor of ``owner`` with a trading licence valid until ``licence_until`` (default +1 year)."""
    customer = create_customer_row(
        owner,
        type_code="distributor",
        name=fields.pop("name", "广州康达医疗器械有限公司"),
        address="广州市天河区体育西路 1 号",
        **fields,
    )
    with transaction.atomic(), audit_context(actor=owner, reason="test data"):
        Contact.objects.create(customer=customer, name="陈经理", phone="020-88886666", is_primary=True)
        licence = Licence.objects.create(
            customer=customer,
            kind=LicenceKind.DEVICE_BUSINESS,
            number="粤穗食药监械经营许20190123号",
            authority="广州市市场监督管理局",
            valid_from=date.today() - timedelta(days=365),
            valid_until=licence_until or date.today() + timedelta(days=365),
        )
        licence.categories.set(ProductCategory.objects.filter(code__in=categories))
        refresh_search_text(customer)  # as the customer services do: the search index finds it
    return customer


@pytest.fixture
def distributor(sales_clerk):
    return make_distributor(sales_clerk)


@pytest.fixture
def hospital(sales_clerk):
    customer = create_customer_row(sales_clerk, type_code="hospital", name="广州市第一人民医院")
    with audit_context(actor=sales_clerk):
        refresh_search_text(customer)
    return customer


@pytest.fixture
def order_lines():
    def lines(*products, qty="10", price="1000", days=30, **extra):
        return [
            {
                "product": product,
                "specification": product.model,
                "quantity": Decimal(qty),
                "unit": product.unit,
                "unit_price": Decimal(price),
                "requested_date": date.today() + timedelta(days=days),
                "delivery_mode": "物流",
                "packaging": "标准纸箱",
                "acceptance_criteria": "按出厂检验标准",
            }
            | extra
            for product in products
        ]

    return lines


@pytest.fixture
def requirements_all():
    return {
        "explicit": {"items": ["quality", "delivery", "warranty"], "text": "保修 12 个月"},
        "implied": {"items": ["intended_use"], "text": "医院病房使用"},
        "statutory": {"items": ["registration", "labelling"], "text": ""},
        "company": {"items": ["payment_terms"], "text": "款到发货"},
    }
