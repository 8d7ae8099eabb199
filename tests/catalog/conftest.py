"""Fixtures of the catalogue tests: seeded categories and a product factory."""

import itertools

import pytest

from qcare.catalog.models import Product, ProductCategory
from qcare.catalog.seed import seed_categories
from qcare.core.context import audit_context
from tests.factories import UserFactory

_codes = itertools.count(1)


@pytest.fixture
def categories(db):
    """The device categories by code (re-seeded: a transactional test's flush deletes them)."""
    if not ProductCategory.objects.exists():
        seed_categories(ProductCategory)
    return {c.code: c for c in ProductCategory.objects.all()}


@pytest.fixture
def make_product(categories):
    """``make_product(**fields)``: a saved regulated product written through the ORM."""

    def make(**fields):
        values = {
            "code": f"T-{next(_codes):04d}",
            "name": "多参数监护仪",
            "model": "PM-7000",
            "category": categories["07"],
            "registration_number": "粤械注准20182070101",
            "manufacturer": "深圳康禾医疗科技有限公司",
            "manufacturer_licence": "粤食药监械生产许20160088号",
        } | fields
        with audit_context(actor=None):
            return Product.objects.create(**values)

    return make


@pytest.fixture
def stranger(db):
    """An active user without any role: no catalogue permission at all."""
    return UserFactory(username="stranger", roles=[])
