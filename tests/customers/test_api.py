"""R-IF-2 for the customer file (R-CU-1…7): /api/customers/ and its nested resources.

Every request goes through the real stack (token auth, error format, services). Customers
are created through the API or the services where the search index matters, otherwise
directly (``make_customer`` in tests/customers/conftest.py).
"""

import datetime
import json
import re

import pytest
from django.test import Client

from qcare.core.signatures import signatures_for
from qcare.customers import services
from qcare.customers.choices import ClassificationKind, LicenceKind
from qcare.customers.models import Classification, Contact, Customer, CustomerAnonymisation, Licence
from tests.api.conftest import token_for
from tests.personas import PERSONA_PASSWORD

JSON = "application/json"
TODAY = datetime.date.today()


def body(response):
    return json.loads(response.content)


def client_for(user, language="en"):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}", HTTP_ACCEPT_LANGUAGE=language)


def post(client, url, data, **extra):
    return client.post(url, json.dumps(data), content_type=JSON, **extra)


def patch(client, url, data, **extra):
    return client.patch(url, json.dumps(data), content_type=JSON, **extra)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    data = body(response)
    assert set(data) >= {"detail", "code", "errors"}
    if code:
        assert data["code"] == code, data
    return data


def ctype(code):
    return Classification.objects.get(kind=ClassificationKind.TYPE, code=code)


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in body(response)["results"]}


def distributor_data(**fields):
    data = {
        "name": "杭州康达医疗器械有限公司",
        "short_name": "康达医疗",
        "customer_type": ctype("distributor").pk,
        "region": "浙江省杭州市",
        "tax_id": "91330100MA2KABCD1X",
    }
    data.update(fields)
    return data


@pytest.fixture
def clerk_customer(make_customer, sales_clerk):
    return make_customer(
        sales_clerk,
        name="广州市第一人民医院",
        region="广东省广州市",
        contacts=[
            {"name": "陈红", "phone": "020-81048888", "mobile": "13800001234", "email": "chen@gzyy.cn"},
            {"name": "赵强", "phone": "020-81048899", "id_number": "440101198001011234"},
        ],
    )


# --- schema --------------------------------------------------------------------------------
def test_R_IF_2_customer_operations_in_schema(db):
    schema = body(Client().get("/api/schema/"))
    paths = schema["paths"]
    expected = {
        ("/api/customers/", "get"): "customers_list",
        ("/api/customers/", "post"): "customers_create",
        ("/api/customers/{pk}/", "get"): "customers_retrieve",
        ("/api/customers/{pk}/", "patch"): "customers_update",
        ("/api/customers/{pk}/reassign/", "post"): "customers_reassign",
        ("/api/customers/{pk}/deactivate/", "post"): "customers_deactivate",
        ("/api/customers/{pk}/anonymise/", "post"): "customers_anonymise",
        ("/api/customers/{pk}/can-sell/", "get"): "customers_can_sell",
        ("/api/customers/{pk}/contacts/", "post"): "customers_contacts_create",
        ("/api/customers/{pk}/contacts/{cid}/", "delete"): "customers_contacts_deactivate",
        ("/api/customers/{pk}/licences/{lid}/", "patch"): "customers_licences_update",
        ("/api/customers/{pk}/communications/", "post"): "customers_communications_create",
        ("/api/customers/{pk}/actions/{aid}/complete/", "post"): "customers_actions_complete",
        ("/api/customers/{pk}/property/{pid}/incidents/", "post"): "customers_property_report_incident",
    }
    for (path, method), operation_id in expected.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert "customers" in operation["tags"]
        assert operation.get("description") or operation.get("summary")
    params = {p["name"] for p in paths["/api/customers/"]["get"]["parameters"]}
    assert {"search", "type", "is_foreign", "region", "relationship", "value_class", "owner"} <= params
    assert {"licence_status", "ordering", "page", "page_size"} <= params
    create = schema["components"]["schemas"]["CustomerCreate"]
    assert create.get("additionalProperties") is False
    assert not {"id", "code", "owner", "department", "version", "search_text", "anonymised_at"} & set(
        create["properties"]
    )


# --- create and validation -----------------------------------------------------------------
def test_R_CU_1_api_create_numbered_with_contacts(sales_clerk):
    client = client_for(sales_clerk)
    data = distributor_data(contacts=[{"name": "王敏", "phone": "0571-88886666", "mobile": "13800005678"}])
    response = post(client, "/api/customers/", data)
    assert response.status_code == 201, response.content
    created = body(response)
    assert re.fullmatch(r"C\d{5}", created["code"])
    assert created["owner"] == sales_clerk.pk and created["department"] == sales_clerk.department_id
    assert created["customer_type_code"] == "distributor"
    assert created["licence_status"] == "missing" and created["licence_required"] is True
    assert [c["name"] for c in created["contacts"]] == ["王敏"] and created["contacts"][0]["is_primary"]
    assert response["Location"].endswith(f"/api/customers/{created['id']}/")
    assert response["ETag"] == f'W/"{created["version"]}"'


def test_R_CU_1_api_create_validation_errors_are_400(sales_clerk):
    client = client_for(sales_clerk)
    assert post(client, "/api/customers/", distributor_data()).status_code == 201
    duplicate = assert_error(post(client, "/api/customers/", distributor_data(name="另一家")), 400)
    assert "tax_id" in duplicate["errors"]
    missing = assert_error(post(client, "/api/customers/", {"customer_type": ctype("hospital").pk}), 400)
    assert "name" in missing["errors"]
    by_type = assert_error(post(client, "/api/customers/", distributor_data(tax_id=None, region="")), 400)
    assert {"tax_id", "region"} <= set(by_type["errors"])
    wrong_list = Classification.objects.get(kind=ClassificationKind.VALUE, code="general").pk
    bad_type = assert_error(post(client, "/api/customers/", distributor_data(customer_type=wrong_list)), 400)
    assert "customer_type" in bad_type["errors"]
    bad_contact = distributor_data(tax_id="X1", contacts=[{"name": "李", "email": "not-an-address"}])
    errors = assert_error(post(client, "/api/customers/", bad_contact), 400)["errors"]
    assert any(key.startswith("contacts") for key in errors), errors
    assert Customer.objects.count() == 1


def test_R_IF_2_customer_server_owned_fields_rejected(sales_clerk, sales_clerk_2, clerk_customer):
    client = client_for(sales_clerk)
    for field, value in (("code", "C99999"), ("owner", sales_clerk_2.pk), ("version", 3), ("id", 9)):
        errors = assert_error(post(client, "/api/customers/", distributor_data(**{field: value})), 400)[
            "errors"
        ]
        assert field in errors
    url = f"/api/customers/{clerk_customer.pk}/"
    for field, value in (
        ("owner", sales_clerk_2.pk),
        ("code", "C00000"),
        ("anonymised_at", "2026-01-01T00:00:00Z"),
    ):
        response = patch(client, url, {field: value, "version": 1, "reason": "x"})
        assert field in assert_error(response, 400)["errors"]
    clerk_customer.refresh_from_db()
    assert Customer.objects.count() == 1 and clerk_customer.owner == sales_clerk


# --- list: search, filters, ordering -------------------------------------------------------
@pytest.fixture
def listed(sales_clerk, category):
    """Four customers of the clerk, created by the services (so the search index is filled)."""

    def create(**data):
        contacts = data.pop("contacts", ())
        return services.create_customer(sales_clerk, data=data, contacts=contacts)

    hospital = create(name="北京协和医院", customer_type=ctype("hospital"), region="北京市")
    distributor = create(
        **distributor_data(relationship=Classification.objects.get(kind="relationship", code="purchased")),
        contacts=[{"name": "孙丽", "phone": "0571-88881234"}],
    )
    expired = create(
        name="宁波海曙器械贸易", customer_type=ctype("trading"), region="浙江省宁波市", tax_id="T2"
    )
    services.add_licence(
        sales_clerk,
        expired,
        data={
            "kind": LicenceKind.DEVICE_BUSINESS,
            "number": "浙甬食药监械经营许20150001号",
            "valid_from": TODAY - datetime.timedelta(days=800),
            "valid_until": TODAY - datetime.timedelta(days=1),
        },
        categories=[category("07")],
    )
    foreign = create(
        name="Medizintechnik Berlin GmbH",
        customer_type=ctype("distributor"),
        is_foreign=True,
        country="DE",
        region="Berlin",
        tax_id="DE123",
    )
    return {"hospital": hospital, "distributor": distributor, "expired": expired, "foreign": foreign}


def test_R_CU_1_api_list_search_filters_and_ordering(sales_clerk, listed):
    client = client_for(sales_clerk)
    get = lambda **q: client.get("/api/customers/", q)  # noqa: E731
    assert ids(get()) == {c.pk for c in listed.values()}
    assert ids(get(search="协和")) == {listed["hospital"].pk}
    assert ids(get(search="孙丽")) == {listed["distributor"].pk}  # a contact's name
    assert ids(get(search="berlin")) == {listed["foreign"].pk}
    assert ids(get(type="distributor")) == {listed["distributor"].pk, listed["foreign"].pk}
    assert ids(get(type="distributor", is_foreign="true")) == {listed["foreign"].pk}
    assert ids(get(region="浙江")) == {listed["distributor"].pk, listed["expired"].pk}
    assert ids(get(relationship="purchased")) == {listed["distributor"].pk}
    assert ids(get(owner=sales_clerk.pk)) == {c.pk for c in listed.values()}
    assert ids(get(licence_status="expired")) == {listed["expired"].pk}
    assert ids(get(licence_status="missing", type="trading")) == set()
    names = [row["name"] for row in body(get(ordering="-name"))["results"]]
    assert names == sorted(names, reverse=True)
    page = body(get(page_size=2, ordering="code"))
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    row = page["results"][0]
    assert {"code", "customer_type_code", "licence_status", "owner", "tax_id", "version"} <= set(row)
    assert "unknown" in str(assert_error(get(type="nosuchtype"), 400)["errors"]["type"]).lower()
    chinese = client_for(sales_clerk, language="zh-hans").get("/api/customers/", {"type": "nosuchtype"})
    assert assert_error(chinese, 400)["detail"] == "请更正以下错误。"
    assert "ordering" in assert_error(get(ordering="search_text"), 400)["errors"]
    assert "licence_status" in assert_error(get(licence_status="bogus"), 400)["errors"]
    assert "page" in assert_error(get(page="abc"), 400)["errors"]


# --- scope per persona ----------------------------------------------------------------------
def test_R_CU_1_api_scope_per_persona(
    make_customer, sales_clerk, sales_clerk_2, sales_clerk_other_dept, sales_manager, clerk_customer
):
    other = make_customer(sales_clerk_2, name="深圳市人民医院")
    far = make_customer(sales_clerk_other_dept, name="成都华西医疗")
    clerk = client_for(sales_clerk)
    assert ids(clerk.get("/api/customers/")) == {clerk_customer.pk}
    assert_error(clerk.get(f"/api/customers/{other.pk}/"), 404, "not_found")
    assert_error(clerk.get(f"/api/customers/{far.pk}/contacts/"), 404, "not_found")
    assert_error(patch(clerk, f"/api/customers/{other.pk}/", {"name": "x", "version": 1, "reason": "r"}), 404)
    assert_error(clerk.get("/api/customers/999999/"), 404)
    manager = client_for(sales_manager)
    assert ids(manager.get("/api/customers/")) == {clerk_customer.pk, other.pk}
    assert_error(manager.get(f"/api/customers/{far.pk}/"), 404)
    assert client_for(sales_clerk_other_dept).get(f"/api/customers/{clerk_customer.pk}/").status_code == 404


def test_R_CU_1_api_technician_gets_service_fields_only(technician, clerk_customer):
    client = client_for(technician)
    listing = body(client.get("/api/customers/"))
    assert listing["count"] >= 1
    row = next(r for r in listing["results"] if r["id"] == clerk_customer.pk)
    assert set(row) == {
        "id",
        "code",
        "name",
        "short_name",
        "region",
        "address",
        "country",
        "preferred_language",
    }
    detail = client.get(f"/api/customers/{clerk_customer.pk}/")
    assert detail.status_code == 200
    data = body(detail)
    assert "tax_id" not in data and "owner" not in data and "licences" not in data
    assert {c["name"] for c in data["contacts"]} == {"陈红", "赵强"}
    for contact in data["contacts"]:
        assert set(contact) == {
            "id",
            "name",
            "title",
            "department_name",
            "phone",
            "preferred_language",
            "is_primary",
        }
    contacts = body(client.get(f"/api/customers/{clerk_customer.pk}/contacts/"))["results"]
    assert all("mobile" not in c and "id_number" not in c for c in contacts)
    assert_error(client.get(f"/api/customers/{clerk_customer.pk}/licences/"), 403, "permission_denied")
    assert_error(client.get(f"/api/customers/{clerk_customer.pk}/communications/"), 403)
    assert_error(post(client, f"/api/customers/{clerk_customer.pk}/contacts/", {"name": "x"}), 403)
    assert_error(client.get(f"/api/customers/{clerk_customer.pk}/history/"), 403, "permission_denied")
    assert_error(client.get(f"/api/customers/{clerk_customer.pk}/can-sell/", {"categories": "07"}), 403)
    update = {"name": "x", "version": clerk_customer.version, "reason": "r"}
    assert_error(patch(client, f"/api/customers/{clerk_customer.pk}/", update), 403)


def test_R_CU_1_api_portal_user_sees_only_their_customer(make_customer, make_portal_user, sales_clerk):
    mine = make_customer(sales_clerk, name="客户甲")
    theirs = make_customer(sales_clerk, name="客户乙")
    client = client_for(make_portal_user(mine))
    assert ids(client.get("/api/customers/")) == {mine.pk}
    assert client.get(f"/api/customers/{mine.pk}/").status_code == 200
    assert_error(client.get(f"/api/customers/{theirs.pk}/"), 404, "not_found")
    assert_error(client.get(f"/api/customers/{theirs.pk}/can-sell/", {"categories": "07"}), 404)


def test_R_IF_2_customers_403_without_any_customer_permission(db, clerk_customer):
    from tests.factories import UserFactory

    nobody = UserFactory(roles=[], department=None)
    assert_error(client_for(nobody).get("/api/customers/"), 403, "permission_denied")
    assert_error(client_for(nobody).get(f"/api/customers/{clerk_customer.pk}/"), 403)
    assert_error(Client().get("/api/customers/"), 401, "not_authenticated")


# --- confidentiality (R-CU-6) ---------------------------------------------------------------
def test_R_CU_6_api_personal_data_masked_without_permission(quality_engineer, sales_clerk, clerk_customer):
    def contacts(user, path=""):
        data = body(client_for(user).get(f"/api/customers/{clerk_customer.pk}/{path}"))
        return {c["name"]: c for c in (data["results"] if path else data["contacts"])}

    for path in ("", "contacts/"):
        seen = contacts(sales_clerk, path)
        assert seen["陈红"]["mobile"] == "13800001234" and not seen["陈红"]["personal_data_masked"]
        assert seen["赵强"]["id_number"] == "440101198001011234"
        masked = contacts(quality_engineer, path)
        assert masked["陈红"]["personal_data_masked"]
        assert masked["陈红"]["mobile"] != "13800001234" and "*" in masked["陈红"]["mobile"]
        assert masked["赵强"]["id_number"] != "440101198001011234" and "*" in masked["赵强"]["id_number"]
        assert masked["陈红"]["phone"] == "020-81048888"  # office phone is not personal data


def test_R_CU_6_api_anonymise_signed_wrong_password_400(administrator, clerk_customer):
    client = client_for(administrator)
    url = f"/api/customers/{clerk_customer.pk}/anonymise/"
    request = {
        "request_reference": "GDPR-2026-01",
        "reason": "客户要求删除个人信息",
        "username": administrator.username,
    }
    refused = assert_error(post(client, url, {**request, "password": "wrong-password"}), 400)
    assert "wrong-password" not in json.dumps(refused)
    clerk_customer.refresh_from_db()
    assert clerk_customer.anonymised_at is None and clerk_customer.name == "广州市第一人民医院"
    assert not CustomerAnonymisation.objects.exists()
    response = post(client, url, {**request, "password": PERSONA_PASSWORD})
    assert response.status_code == 200, response.content
    record = CustomerAnonymisation.objects.get(customer=clerk_customer)
    assert record.request_reference == "GDPR-2026-01" and record.performed_by == administrator
    assert [s.signer_id for s in signatures_for(record)] == [administrator.pk]
    data = body(response)
    assert data["anonymised_at"] and data["code"] == clerk_customer.code and "广州" not in data["name"]
    assert all(c["mobile"] == "" and c["name"] != "陈红" for c in data["contacts"])


def test_R_CU_6_api_anonymise_needs_permission(sales_clerk, clerk_customer):
    response = post(
        client_for(sales_clerk),
        f"/api/customers/{clerk_customer.pk}/anonymise/",
        {"password": PERSONA_PASSWORD, "request_reference": "R1", "reason": "r"},
    )
    assert_error(response, 403, "permission_denied")


# --- update: reason and version -------------------------------------------------------------
def test_R_IF_2_customer_patch_needs_reason_and_version(sales_clerk, clerk_customer):
    client = client_for(sales_clerk)
    url = f"/api/customers/{clerk_customer.pk}/"
    version = clerk_customer.version
    assert_error(patch(client, url, {"short_name": "一院", "reason": "更正"}), 400, "version_required")
    assert_error(patch(client, url, {"short_name": "一院", "version": version}), 400, "reason_required")
    assert_error(
        patch(client, url, {"short_name": "一院", "version": version + 5, "reason": "r"}),
        409,
        "stale_version",
    )
    response = patch(client, url, {"short_name": "一院", "reason": "r"}, HTTP_IF_MATCH='W/"77"')
    assert_error(response, 412, "precondition_failed")
    assert_error(patch(client, url, {"name": None, "version": version, "reason": "r"}), 400)
    response = patch(client, url, {"short_name": "一院", "version": version, "reason": "简称更正"})
    assert response.status_code == 200, response.content
    assert body(response)["short_name"] == "一院" and body(response)["version"] == version + 1
    assert response["ETag"] == f'W/"{version + 1}"'
    history = body(client.get(f"{url}history/"))["results"]
    assert any(entry["reason"] == "简称更正" for entry in history)


def test_R_CU_1_api_reassign_and_deactivate(
    sales_clerk, sales_clerk_2, sales_manager, administrator, clerk_customer
):
    url = f"/api/customers/{clerk_customer.pk}/"
    payload = {"owner": sales_clerk_2.pk, "reason": "区域调整"}
    assert_error(post(client_for(sales_clerk), f"{url}reassign/", payload), 403)
    assert_error(post(client_for(sales_manager), f"{url}reassign/", {"owner": sales_clerk_2.pk}), 400)
    assert (
        "owner"
        in assert_error(post(client_for(sales_manager), f"{url}reassign/", {**payload, "owner": 99999}), 400)[
            "errors"
        ]
    )
    response = post(client_for(sales_manager), f"{url}reassign/", payload)
    assert response.status_code == 200, response.content
    assert body(response)["owner"] == sales_clerk_2.pk
    assert client_for(sales_clerk).get(url).status_code == 404  # no longer theirs
    assert_error(post(client_for(administrator), f"{url}deactivate/", {}), 400)
    response = post(client_for(administrator), f"{url}deactivate/", {"reason": "停止合作"})
    assert response.status_code == 200 and body(response)["is_active"] is False


# --- contacts (R-CU-2) ----------------------------------------------------------------------
def test_R_CU_2_api_contacts_primary_update_and_deactivate(sales_clerk, make_customer, clerk_customer):
    client = client_for(sales_clerk)
    base = f"/api/customers/{clerk_customer.pk}/contacts/"
    response = post(client, base, {"name": "刘洋", "email": "liu@gzyy.cn", "is_primary": True})
    assert response.status_code == 201, response.content
    new = body(response)
    assert new["is_primary"] and response["Location"].endswith(f"{base}{new['id']}/")
    listing = body(client.get(base))["results"]
    assert [c["name"] for c in listing if c["is_primary"]] == ["刘洋"]
    assert "email" in assert_error(post(client, base, {"name": "坏", "email": "nope"}), 400)["errors"]
    assert "name" in assert_error(post(client, base, {"email": "a@b.cn"}), 400)["errors"]
    url = f"{base}{new['id']}/"
    assert_error(patch(client, url, {"title": "科长", "reason": "r"}), 400, "version_required")
    assert_error(patch(client, url, {"title": "科长", "version": new["version"]}), 400, "reason_required")
    response = patch(client, url, {"title": "科长", "version": new["version"], "reason": "职务变更"})
    assert response.status_code == 200 and body(response)["title"] == "科长"
    other = make_customer(sales_clerk, name="别家")
    assert_error(patch(client, f"/api/customers/{other.pk}/contacts/{new['id']}/", {"title": "x"}), 404)
    assert_error(client.delete(url), 400, "reason_required")
    assert client.delete(f"{url}?reason=离职").status_code == 204
    assert not Contact.objects.get(pk=new["id"]).is_active
    assert new["id"] not in {c["id"] for c in body(client.get(base))["results"]}
    assert new["id"] in {c["id"] for c in body(client.get(base, {"include_inactive": "true"}))["results"]}


# --- licences and the sales gate (R-CU-3) ---------------------------------------------------
def test_R_CU_3_api_licences_and_can_sell(sales_clerk, make_customer):
    customer = make_customer(sales_clerk, type_code="distributor", region="浙江", tax_id="LIC1")
    client = client_for(sales_clerk)
    base = f"/api/customers/{customer.pk}/"
    blocked = body(client.get(f"{base}can-sell/", {"categories": "07"}))
    assert blocked["allowed"] is False and blocked["reasons"]
    licence = {
        "kind": "device_business",
        "number": "浙杭食药监械经营许20180001号",
        "categories": ["07", "06"],
        "authority": "杭州市市场监督管理局",
        "valid_from": str(TODAY - datetime.timedelta(days=365)),
        "valid_until": str(TODAY + datetime.timedelta(days=30)),
    }
    response = post(client, f"{base}licences/", licence)
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["categories"] == ["06", "07"] and created["status"] == "expiring"
    assert (
        "categories"
        in assert_error(post(client, f"{base}licences/", {**licence, "categories": ["99x"]}), 400)["errors"]
    )
    assert (
        "kind" in assert_error(post(client, f"{base}licences/", {**licence, "kind": "bogus"}), 400)["errors"]
    )
    assert body(client.get(f"{base}licences/"))["results"][0]["number"] == licence["number"]
    assert body(client.get(f"{base}can-sell/", {"categories": "07,06"})) == {
        "allowed": True,
        "reasons": [],
        "licence": created["id"],
    }
    out_of_scope = body(client.get(f"{base}can-sell/", {"categories": "07,22"}))
    assert out_of_scope["allowed"] is False and any("22" in r for r in out_of_scope["reasons"])
    later = str(TODAY + datetime.timedelta(days=60))
    expired = body(client.get(f"{base}can-sell/", {"categories": "07", "date": later}))
    assert expired["allowed"] is False and licence["valid_until"] in expired["reasons"][0]
    assert (
        "categories" in assert_error(client.get(f"{base}can-sell/", {"categories": "07,zz"}), 400)["errors"]
    )
    assert (
        "date"
        in assert_error(client.get(f"{base}can-sell/", {"categories": "07", "date": "31/12"}), 400)["errors"]
    )
    url = f"{base}licences/{created['id']}/"
    assert_error(
        patch(client, url, {"categories": ["22"], "version": created["version"]}), 400, "reason_required"
    )
    response = patch(
        client, url, {"categories": ["22", "07"], "version": created["version"], "reason": "增加范围"}
    )
    assert response.status_code == 200 and body(response)["categories"] == ["07", "22"]
    assert body(client.get(f"{base}can-sell/", {"categories": "22"}))["allowed"] is True
    assert Licence.objects.get(pk=created["id"]).categories.count() == 2


# --- communication log and follow-up actions (R-CU-4) ---------------------------------------
def test_R_CU_4_api_plant_visit_with_notice_and_follow_ups(sales_clerk, sales_clerk_2, clerk_customer, org):
    client = client_for(sales_clerk)
    base = f"/api/customers/{clerk_customer.pk}/"
    contact = clerk_customer.contacts.get(name="陈红")
    post(
        client,
        f"{base}communications/",
        {"kind": "call", "occurred_at": "2026-01-05T09:00:00+08:00", "subject": "询价"},
    )
    visit = {
        "kind": "plant_visit",
        "occurred_at": "2026-02-10T10:00:00+08:00",
        "contact": contact.pk,
        "subject": "参观生产线",
        "attendees": "陈红、赵强",
        "customer_opinions": "希望缩短交期",
        "notified_departments": ["quality", "production"],
        "follow_ups": [{"description": "提供交期方案", "owner": sales_clerk_2.pk, "due_date": "2026-02-20"}],
    }
    response = post(client, f"{base}communications/", visit)
    assert response.status_code == 201, response.content
    entry = body(response)
    assert entry["notified_departments"] == ["production", "quality"]
    assert [a["description"] for a in entry["follow_ups"]] == ["提供交期方案"]
    log = body(client.get(f"{base}communications/"))["results"]
    assert [e["subject"] for e in log] == ["参观生产线", "询价"]  # newest first
    assert [
        e["subject"] for e in body(client.get(f"{base}communications/", {"kind": "call"}))["results"]
    ] == ["询价"]
    bad = assert_error(
        post(client, f"{base}communications/", {**visit, "notified_departments": ["nope"]}), 400
    )
    assert "notified_departments" in bad["errors"]
    assert (
        "subject"
        in assert_error(post(client, f"{base}communications/", {**visit, "subject": ""}), 400)["errors"]
    )
    assert (
        "occurred_at"
        in assert_error(post(client, f"{base}communications/", {**visit, "occurred_at": "yesterday"}), 400)[
            "errors"
        ]
    )

    actions = body(client.get(f"{base}actions/"))["results"]
    assert len(actions) == 1 and actions[0]["status"] == "open" and actions[0]["communication"] == entry["id"]
    action_url = f"{base}actions/{actions[0]['id']}/"
    response = post(client, f"{action_url}complete/", {"result": "已发送方案"})
    assert response.status_code == 200 and body(response)["status"] == "done"
    assert_error(post(client, f"{action_url}cancel/", {"reason": "x"}), 409, "conflict")
    response = post(
        client, f"{base}actions/", {"description": "回访", "owner": sales_clerk.pk, "due_date": "2026-03-01"}
    )
    assert response.status_code == 201, response.content
    second = body(response)
    assert_error(post(client, f"{base}actions/{second['id']}/cancel/", {}), 400)
    assert post(client, f"{base}actions/{second['id']}/cancel/", {"reason": "客户取消"}).status_code == 200
    assert [a["status"] for a in body(client.get(f"{base}actions/", {"status": "cancelled"}))["results"]] == [
        "cancelled"
    ]


# --- customer property (R-CU-5) -------------------------------------------------------------
def test_R_CU_5_api_property_and_incident(sales_clerk, clerk_customer):
    client = client_for(sales_clerk)
    base = f"/api/customers/{clerk_customer.pk}/property/"
    response = post(
        client,
        base,
        {
            "kind": "tooling",
            "name": "注塑模具 A-12",
            "identification": "M-0012",
            "quantity": "2",
            "location": "模具库 3 号架",
        },
    )
    assert response.status_code == 201, response.content
    item = body(response)
    assert item["status"] == "in_custody" and item["quantity"] in ("2.00", "2")
    assert "kind" in assert_error(post(client, base, {"kind": "car", "name": "x"}), 400)["errors"]
    url = f"{base}{item['id']}/"
    assert_error(patch(client, url, {"location": "B", "version": item["version"]}), 400, "reason_required")
    assert_error(patch(client, url, {"status": "lost", "version": item["version"], "reason": "r"}), 400)
    response = patch(client, url, {"location": "模具库 5 号架", "version": item["version"], "reason": "移库"})
    assert response.status_code == 200 and body(response)["location"] == "模具库 5 号架"
    contact = clerk_customer.contacts.get(name="陈红")
    incident = {
        "kind": "damage",
        "occurred_on": "2026-03-01",
        "description": "型腔崩角",
        "notify_contact": contact.pk,
    }
    response = post(client, f"{url}incidents/", incident)
    assert response.status_code == 201, response.content
    data = body(response)
    assert data["status"] == "damaged" and len(data["incidents"]) == 1
    assert (
        data["incidents"][0]["notified_contact"] == contact.pk
        and data["incidents"][0]["customer_notified_at"]
    )
    assert (
        "notify_contact"
        in assert_error(post(client, f"{url}incidents/", {**incident, "notify_contact": 999999}), 400)[
            "errors"
        ]
    )
    assert body(client.get(base, {"status": "damaged"}))["count"] == 1


def test_R_IF_2_customer_text_with_nul_is_400_not_500(sales_clerk, clerk_customer):
    """PostgreSQL cannot store NUL characters: they must be a field error on both engines."""
    client = client_for(sales_clerk)
    assert (
        "name"
        in assert_error(post(client, "/api/customers/", distributor_data(name="康\x00达")), 400)["errors"]
    )
    assert "search" in assert_error(client.get("/api/customers/", {"search": "协\x00和"}), 400)["errors"]
    assert "region" in assert_error(client.get("/api/customers/", {"region": "\x00"}), 400)["errors"]
    url = f"/api/customers/{clerk_customer.pk}/"
    can_sell = client.get(f"{url}can-sell/", {"categories": "07\x00"})
    assert "categories" in assert_error(can_sell, 400)["errors"]
    licence = {"kind": "other", "number": "X1", "categories": ["0\x007"]}
    assert "categories" in assert_error(post(client, f"{url}licences/", licence), 400)["errors"]
    contact = clerk_customer.contacts.first()
    assert_error(client.delete(f"{url}contacts/{contact.pk}/", {"reason": "a\x00"}, content_type=JSON), 400)
    assert Customer.objects.count() == 1


def test_R_IF_2_customer_list_and_detail_queries_do_not_grow_with_rows(sales_clerk, make_customer, category):
    """The list is count + one page query (no per-row queries); the detail is bounded too."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from qcare.core.context import audit_context

    client = client_for(sales_clerk)
    client.get("/api/customers/")  # warm caches (permissions, policies) outside the measurement

    def queries(url, **params):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, params).status_code == 200
        # Only the customer file's queries: caches of tokens, permissions and policies refresh on
        # their own schedule and are not what this test is about.
        return len([q for q in captured if '"customers_' in q["sql"]])

    def add(n, contacts=1, licences=1):
        customer = None
        with audit_context(actor=sales_clerk, reason="test data"):
            for i in range(n):
                people = [{"name": f"联系人{i}-{j}", "mobile": "13800000000"} for j in range(contacts)]
                customer = make_customer(sales_clerk, type_code="distributor", contacts=people)
                for j in range(licences):
                    licence = Licence.objects.create(
                        customer=customer, kind=LicenceKind.DEVICE_BUSINESS, number=f"L{i}-{j}"
                    )
                    licence.categories.set([category("07"), category("06")])
        return customer

    last = add(2)
    few_list, few_detail = queries("/api/customers/"), queries(f"/api/customers/{last.pk}/")
    add(40)
    last = add(1, contacts=20, licences=20)
    assert queries("/api/customers/") == few_list
    assert queries("/api/customers/", licence_status="valid", type="distributor") <= few_list + 1
    assert queries(f"/api/customers/{last.pk}/") == few_detail


def test_R_CU_3_hospital_without_licence_has_no_licence_status(administrator):
    """End users need no trading licence: their status is null, not "missing" (same rule as the list)."""
    from django.test import Client

    from qcare.accounts.tokens import create_token
    from qcare.customers import services
    from qcare.customers.models import Classification

    hospital = Classification.objects.get(kind="type", code="hospital")
    customer = services.create_customer(
        administrator, data={"name": "测试市人民医院", "customer_type": hospital, "region": "广东省广州市"}
    )
    _token, raw = create_token(administrator, "t")
    client = Client(headers={"authorization": f"Bearer {raw}"})
    row = client.get(f"/api/customers/{customer.pk}/").json()
    assert row["licence_required"] is False and row["licence_status"] is None
    assert services.customer_licence_status(customer) is None
