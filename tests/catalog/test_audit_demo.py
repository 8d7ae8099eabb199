"""The product honours the audit contract (P3); the demo products are realistic and idempotent."""

import pytest

from qcare.catalog.demo import create_demo_products
from qcare.catalog.models import Product, ProductCategory
from qcare.catalog.seed import seed_categories
from qcare.core.context import audit_context
from tests.audit.generic import AuditedModelContract


class TestProductAudit(AuditedModelContract):
    """Product is controlled: changes and deletions without a reason are refused."""

    def make_object(self):
        if not ProductCategory.objects.exists():
            seed_categories(ProductCategory)
        with audit_context(actor=None):
            return Product.objects.create(
                code="A-1", name="监护仪", category=ProductCategory.objects.get(code="07"),
                registration_number="粤械注准1", manufacturer="康禾", manufacturer_licence="粤许1",
            )  # fmt: skip

    def edit_object(self, obj):
        obj.name = "多参数监护仪"
        return "name"


@pytest.mark.django_db
def test_R_CAT_demo_products_are_valid_and_idempotent(categories):
    from qcare.catalog.services import product_errors

    assert create_demo_products() == 15
    assert create_demo_products() == 0
    products = list(Product.objects.select_related("category"))
    assert {p.category.code for p in products} == {"06", "07", "14", "22"}
    assert sum(not p.is_regulated for p in products) == 2
    assert sum(not p.is_standard for p in products) == 2
    for product in products:
        values = {f.name: getattr(product, f.name) for f in Product._meta.fields}
        assert product_errors(values, exclude_pk=product.pk) == {}, product.code
