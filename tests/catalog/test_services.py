"""Product and category services: validation, permission, reason (P3), locking (rule 7)."""

import pytest

from qcare.audit.models import AuditEntry
from qcare.catalog import selectors, services
from qcare.catalog.models import Product
from qcare.core.errors import NotPermitted, ReasonRequired, StaleVersion, ValidationFailed

pytestmark = pytest.mark.django_db


def _valid(categories, **extra):
    return {
        "code": "JX-2201",
        "name": "全自动生化分析仪",
        "model": "BS-480",
        "category": categories["22"],
        "registration_number": "粤械注准20172220401",
        "manufacturer": "深圳康禾医疗科技有限公司",
        "manufacturer_licence": "粤食药监械生产许20160088号",
    } | extra


def test_R_CAT_create_product_defaults_from_category(reviewer_rnd, categories):
    product = services.create_product(reviewer_rnd, **_valid(categories))
    assert product.is_regulated is True  # category 22 is regulated
    assert product.warranty_months == 12 and product.unit == "台" and product.is_active


def test_R_CAT_regulated_product_requires_registration_data(reviewer_rnd, categories):
    data = _valid(categories, registration_number="", manufacturer_licence=" ")
    with pytest.raises(ValidationFailed) as exc:
        services.create_product(reviewer_rnd, **data)
    assert set(exc.value.errors) == {"registration_number", "manufacturer_licence"}
    assert not Product.objects.exists()


def test_R_CAT_non_regulated_product_needs_no_registration(reviewer_rnd, categories):
    data = _valid(categories, is_regulated=False, registration_number="", manufacturer_licence="")
    assert services.create_product(reviewer_rnd, **data).is_regulated is False


def test_R_CAT_code_is_unique_case_insensitively(reviewer_rnd, categories, make_product):
    make_product(code="JX-2201")
    with pytest.raises(ValidationFailed) as exc:
        services.create_product(reviewer_rnd, **_valid(categories, code="jx-2201"))
    assert "code" in exc.value.errors


@pytest.mark.parametrize("months", [-1, 601])
def test_R_CAT_warranty_bounds(reviewer_rnd, categories, months):
    with pytest.raises(ValidationFailed) as exc:
        services.create_product(reviewer_rnd, **_valid(categories, warranty_months=months))
    assert "warranty_months" in exc.value.errors


def test_P7_technician_cannot_change(technician, categories):
    with pytest.raises(NotPermitted):
        services.create_product(technician, **_valid(categories))


def test_P3_update_requires_reason_and_is_audited(quality_engineer, make_product):
    product = make_product()
    with pytest.raises(ReasonRequired):
        services.update_product(quality_engineer, product, data={"name": "新名称"}, reason="")
    services.update_product(
        quality_engineer, product, data={"name": "新名称"}, reason="名称按注册证更正", expected_version=1
    )
    product.refresh_from_db()
    assert product.name == "新名称" and product.version == 2
    event = AuditEntry.objects.filter(object_pk=str(product.pk), action="update").order_by("-seq").first()
    assert event.reason == "名称按注册证更正"


def test_rule7_update_with_stale_version_is_refused(quality_engineer, make_product):
    product = make_product()
    with pytest.raises(StaleVersion):
        services.update_product(quality_engineer, product, data={"name": "x"}, reason="r", expected_version=9)


def test_R_CAT_update_cannot_clear_registration_of_device(quality_engineer, make_product):
    product = make_product()
    with pytest.raises(ValidationFailed) as exc:
        services.update_product(quality_engineer, product, data={"registration_number": ""}, reason="r")
    assert "registration_number" in exc.value.errors


def test_P3_deactivate_requires_reason(quality_engineer, make_product):
    product = make_product()
    with pytest.raises(ReasonRequired):
        services.deactivate_product(quality_engineer, product, reason=" ")
    services.deactivate_product(quality_engineer, product, reason="停产")
    product.refresh_from_db()
    assert product.is_active is False


def test_R_CAT_products_for_order_lists_active_matches_only(sales_clerk, make_product):
    active = make_product(code="JX-1401", name="输液泵")
    make_product(code="JX-1402", name="输液泵", is_active=False)
    make_product(code="JX-0601", name="超声诊断系统")
    assert selectors.products_for_order(sales_clerk, "输液") == [active]
    assert len(selectors.products_for_order(sales_clerk)) == 2


def test_R_CAT_products_for_order_empty_without_permission(stranger, make_product):
    make_product()
    assert selectors.products_for_order(stranger) == []


def test_P3_category_services(administrator, categories):
    category = services.create_category(administrator, code="C01", name="配件", is_regulated=False)
    with pytest.raises(ValidationFailed):
        services.create_category(administrator, code="c01", name="重复")
    with pytest.raises(ReasonRequired):
        services.update_category(administrator, category, data={"name": "附件"}, reason="")
    services.update_category(
        administrator, category, data={"name": "附件"}, reason="改名", expected_version=1
    )
    category.refresh_from_db()
    assert category.name == "附件"
