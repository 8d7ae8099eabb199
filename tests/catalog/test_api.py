"""R-IF-2 for the catalogue: /api/products/ and /api/product-categories/ through the real stack."""

import json

import pytest
from django.test import Client

from qcare.catalog.models import Product
from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db
JSON = "application/json"


def client_for(user):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}", HTTP_ACCEPT_LANGUAGE="en")


def body(response):
    return json.loads(response.content)


def _payload(categories, **extra):
    return {
        "code": "JX-1401",
        "name": "输液泵",
        "model": "IP-300",
        "category": categories["14"].pk,
        "registration_number": "国械注准20193140201",
        "manufacturer": "深圳康禾医疗科技有限公司",
        "manufacturer_licence": "粤食药监械生产许20160088号",
    } | extra


def test_R_IF_2_create_retrieve_update_deactivate(reviewer_rnd, categories):
    api = client_for(reviewer_rnd)
    created = api.post("/api/products/", json.dumps(_payload(categories)), content_type=JSON)
    assert created.status_code == 201, created.content
    pk = body(created)["id"]
    assert body(created)["is_regulated"] is True and body(created)["warranty_months"] == 12
    assert body(api.get(f"/api/products/{pk}/"))["code"] == "JX-1401"
    no_reason = api.patch(f"/api/products/{pk}/", json.dumps({"name": "x", "version": 1}), content_type=JSON)
    assert no_reason.status_code == 400
    changed = api.patch(
        f"/api/products/{pk}/",
        json.dumps({"name": "输液泵（双通道）", "version": 1, "reason": "型号更新"}),
        content_type=JSON,
    )
    assert changed.status_code == 200 and body(changed)["version"] == 2
    stale = api.patch(
        f"/api/products/{pk}/", json.dumps({"name": "y", "version": 1, "reason": "r"}), content_type=JSON
    )
    assert stale.status_code == 409
    off = api.post(f"/api/products/{pk}/deactivate/", json.dumps({"reason": "停产"}), content_type=JSON)
    assert off.status_code == 200 and body(off)["is_active"] is False
    again = api.post(f"/api/products/{pk}/deactivate/", json.dumps({"reason": "停产"}), content_type=JSON)
    assert again.status_code == 409


def test_R_IF_2_create_errors_are_400_with_fields(reviewer_rnd, categories, make_product):
    make_product(code="JX-1401")
    api = client_for(reviewer_rnd)
    response = api.post(
        "/api/products/", json.dumps(_payload(categories, registration_number="")), content_type=JSON
    )
    assert response.status_code == 400
    assert {"code", "registration_number"} <= set(body(response)["errors"])


def test_R_IF_2_list_search_and_filters(sales_clerk, make_product, categories):
    make_product(code="JX-1401", name="输液泵", category=categories["14"])
    make_product(code="JX-0601", name="超声诊断系统", category=categories["06"])
    make_product(code="PJ-0001", name="推车", is_regulated=False, is_standard=False)
    api = client_for(sales_clerk)
    codes = lambda r: [row["code"] for row in body(r)["results"]]  # noqa: E731
    assert codes(api.get("/api/products/", {"search": "超声"})) == ["JX-0601"]
    assert codes(api.get("/api/products/", {"category": categories["14"].pk})) == ["JX-1401"]
    assert codes(api.get("/api/products/", {"is_regulated": "false"})) == ["PJ-0001"]
    assert codes(api.get("/api/products/", {"ordering": "-code"})) == ["PJ-0001", "JX-1401", "JX-0601"]
    cats = api.get("/api/product-categories/", {"page_size": 100})
    assert cats.status_code == 200 and len(body(cats)["results"]) == 22


def test_P7_technician_reads_but_cannot_write(technician, make_product, categories):
    product = make_product()
    api = client_for(technician)
    assert api.get(f"/api/products/{product.pk}/").status_code == 200
    assert api.post("/api/products/", json.dumps(_payload(categories)), content_type=JSON).status_code == 403
    patch = api.patch(
        f"/api/products/{product.pk}/",
        json.dumps({"name": "x", "version": 1, "reason": "r"}),
        content_type=JSON,
    )
    assert patch.status_code in (403, 404)
    off = api.post(f"/api/products/{product.pk}/deactivate/", json.dumps({"reason": "r"}), content_type=JSON)
    assert off.status_code in (403, 404)
    product.refresh_from_db()
    assert product.is_active and product.version == 1


def test_P7_stranger_gets_403_on_list_and_404_on_record(stranger, make_product):
    product = make_product()
    api = client_for(stranger)
    assert api.get("/api/products/").status_code == 403
    assert api.get("/api/product-categories/").status_code == 403
    assert api.get(f"/api/products/{product.pk}/").status_code == 404


def test_P7_all_viewers_see_every_product(sales_clerk, sales_clerk_other_dept, auditor, make_product):
    make_product()
    make_product()
    for user in (sales_clerk, sales_clerk_other_dept, auditor):
        assert body(client_for(user).get("/api/products/"))["count"] == Product.objects.count() == 2


def test_R_IF_2_schema_lists_catalogue_endpoints():
    paths = set(body(Client().get("/api/schema/"))["paths"])
    assert {
        "/api/products/",
        "/api/products/{pk}/",
        "/api/products/{pk}/deactivate/",
        "/api/products/{pk}/history/",
        "/api/products/import/",
        "/api/product-categories/",
    } <= paths
