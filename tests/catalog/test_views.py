"""Catalogue screens: list search/filter, create/edit/deactivate with reason, categories, import."""

import io

import pytest
from django.test import Client
from openpyxl import Workbook

from qcare.catalog import importexport
from qcare.catalog.models import Product, ProductCategory

pytestmark = pytest.mark.django_db


def login(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_R_CAT_list_search_and_filters(sales_clerk, make_product, categories):
    make_product(code="JX-1401", name="输液泵", category=categories["14"])
    make_product(code="JX-0601", name="超声诊断系统", category=categories["06"])
    make_product(code="PJ-0001", name="推车", is_regulated=False)
    client = login(sales_clerk)
    page = client.get("/catalog/products/", {"q": "超声"}).content.decode()
    assert "JX-0601" in page and "JX-1401" not in page
    page = client.get("/catalog/products/", {"category": categories["14"].pk}).content.decode()
    assert "JX-1401" in page and "JX-0601" not in page
    page = client.get("/catalog/products/", {"is_regulated": "0"}).content.decode()
    assert "PJ-0001" in page and "JX-1401" not in page
    assert 'data-testid="new-product"' not in page  # a clerk may not change the catalogue


def test_P7_stranger_gets_403(stranger, make_product):
    client = login(stranger)
    assert client.get("/catalog/products/").status_code == 403
    assert client.get("/catalog/categories/").status_code == 403


def test_P7_technician_views_but_cannot_edit(technician, make_product):
    product = make_product()
    client = login(technician)
    assert client.get(f"/catalog/products/{product.pk}/").status_code == 200
    assert client.get(f"/catalog/products/{product.pk}/?tab=history").status_code == 200
    assert client.get("/catalog/products/new/").status_code == 403
    assert client.post(f"/catalog/products/{product.pk}/edit/", {"reason": "r"}).status_code in (403, 404)


def test_P3_create_edit_deactivate_through_screens(reviewer_rnd, categories):
    client = login(reviewer_rnd)
    form = {
        "code": "JX-2201",
        "name": "全自动生化分析仪",
        "category": categories["22"].pk,
        "is_regulated": "on",
        "is_standard": "on",
        "registration_number": "",
        "manufacturer": "康禾",
        "manufacturer_licence": "粤许1",
        "warranty_months": 12,
        "unit": "台",
    }
    refused = client.post("/catalog/products/new/", form)
    assert refused.status_code == 200 and not Product.objects.exists()  # inline field error
    created = client.post("/catalog/products/new/", form | {"registration_number": "粤械注准1"})
    product = Product.objects.get()
    assert created.status_code == 302
    edit = form | {"registration_number": "粤械注准1", "name": "生化分析仪", "is_active": "on", "version": 1}
    assert client.post(f"/catalog/products/{product.pk}/edit/", edit).status_code == 200  # no reason
    assert client.post(f"/catalog/products/{product.pk}/edit/", edit | {"reason": "更名"}).status_code == 302
    off = client.post(f"/catalog/products/{product.pk}/deactivate/", {"reason": "停产", "version": 2})
    assert off.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.is_active, product.version) == ("生化分析仪", False, 3)


def test_P3_category_add_and_edit_with_reason(administrator, categories):
    client = login(administrator)
    assert "07" in client.get("/catalog/categories/").content.decode()
    data = {"code": "C01", "name": "配件", "is_active": "on"}
    assert client.post("/catalog/categories/new/", data).status_code == 302
    category = ProductCategory.objects.get(code="C01")
    assert category.is_regulated is False
    url = f"/catalog/categories/{category.pk}/edit/"
    assert client.post(url, data | {"name": "附件", "version": 1}).status_code == 200
    assert client.post(url, data | {"name": "附件", "version": 1, "reason": "改名"}).status_code == 302
    category.refresh_from_db()
    assert category.name == "附件"


def test_R_IF_4_import_upload_report_confirm(quality_engineer, make_product):
    make_product(code="JX-0001")
    workbook = Workbook()
    good = ["JX-1401", "输液泵", "", "14", "是", "是", "国械注准1", "康禾", "粤许1", "12", "台", ""]
    for row in [importexport.template_headers(), good, ["JX-0001", *good[1:]]]:
        workbook.active.append(row)
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    data.name = "p.xlsx"
    client = login(quality_engineer)
    assert client.get("/catalog/products/import/template.xlsx").status_code == 200
    report = client.post("/catalog/products/import/", {"file": data})
    assert report.status_code == 200 and 'data-testid="import-errors"' in report.content.decode()
    assert Product.objects.count() == 1
    done = client.post("/catalog/products/import/commit/", {"mode": "commit_valid"})
    assert done.status_code == 302
    assert set(Product.objects.values_list("code", flat=True)) == {"JX-0001", "JX-1401"}


def test_R_I18N_catalogue_speaks_chinese_by_default(sales_clerk, make_product):
    make_product(is_standard=False)
    client = Client()
    client.force_login(sales_clerk)
    page = client.get("/catalog/products/").content.decode()
    assert "产品目录" in page and "新产品/改型" in page and "型号规格" in page
