"""R-IF-2 for orders and contract review (R-OR-1…11): the REST API end to end.

Every request goes through the real stack — bearer token of a persona, error format, the
services — so these tests check what an integration sees: the whole workflow from an oral
order to traceability, scope (404) and permission (403) per persona, bad input (400 with field
errors, nothing changed), stale versions (409/412) and the OpenAPI document.
"""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone

from qcare.attachments.services import upload_attachment
from qcare.core.context import audit_context
from qcare.core.numbering import next_number
from qcare.orders.choices import OrderSource, OrderStatus
from qcare.orders.models import ChangeRequest, Order, OrderReview, Shipment
from tests.api.conftest import token_for
from tests.personas import PERSONA_PASSWORD

JSON = "application/json"
TODAY = datetime.date.today()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- helpers -----------------------------------------------------------------------------------
def body(response):
    return json.loads(response.content)


def client_for(user, language="en"):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}", HTTP_ACCEPT_LANGUAGE=language)


def post(client, url, data=None, **extra):
    return client.post(url, json.dumps(data if data is not None else {}), content_type=JSON, **extra)


def patch(client, url, data, **extra):
    return client.patch(url, json.dumps(data), content_type=JSON, **extra)


def put(client, url, data, **extra):
    return client.put(url, json.dumps(data), content_type=JSON, **extra)


def ok(response, status=200):
    assert response.status_code == status, response.content.decode()
    return body(response)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content.decode()
    data = body(response)
    assert set(data) >= {"detail", "code", "errors"}
    if code:
        assert data["code"] == code, data
    return data


def days(n):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def line_data(product, qty="10", price="1000", **extra):
    return {
        "product": product.pk,
        "quantity": qty,
        "unit_price": price,
        "requested_date": days(30),
        "delivery_mode": "物流",
        "packaging": "标准纸箱",
        "acceptance_criteria": "按出厂检验标准",
    } | extra


def order_data(customer, *lines, source="contract", **extra):
    return {"customer": customer.pk, "source": source, "lines": list(lines)} | extra


def make_known(customer, owner):
    """An earlier approved order: the customer is no longer new (R-OR-3, R-OR-4)."""
    with transaction.atomic(), audit_context(actor=owner, reason="test data"):
        Order.objects.create(
            number=next_number("order"),
            source=OrderSource.CONTRACT,
            customer=customer,
            owner=owner,
            department=owner.department,
            status=OrderStatus.CLOSED,
            approved_at=timezone.now() - datetime.timedelta(days=400),
            order_date=TODAY - datetime.timedelta(days=400),
        )


def attach(actor, order, name="确认邮件.pdf"):
    return upload_attachment(actor, order, SimpleUploadedFile(name, PDF, content_type="application/pdf"))


def reviews_by_department(client, order_id, **params):
    rows = ok(client.get(f"/api/orders/{order_id}/reviews/", {"current": "true", **params}))["results"]
    return {row["department_code"]: row for row in rows}


def sign(client, order_id, review_id, opinion="can_meet", comments="", **extra):
    data = {"opinion": opinion, "comments": comments, "password": PERSONA_PASSWORD} | extra
    return post(client, f"/api/orders/{order_id}/reviews/{review_id}/sign/", data)


@pytest.fixture
def clerk(sales_clerk):
    return client_for(sales_clerk)


@pytest.fixture
def draft(clerk, hospital, device, requirements_all):
    """A draft order of the sales clerk (hospital, formal contract, requirements captured)."""
    data = order_data(hospital, line_data(device), requirements=requirements_all)
    return ok(post(clerk, "/api/orders/", data), 201)


# --- the OpenAPI document ----------------------------------------------------------------------
ORDER_OPERATIONS = {
    ("/api/orders/", "get"),
    ("/api/orders/", "post"),
    ("/api/orders/{pk}/", "get"),
    ("/api/orders/{pk}/", "patch"),
    ("/api/orders/{pk}/requirements/", "put"),
    ("/api/orders/{pk}/confirmation/", "post"),
    ("/api/orders/{pk}/classification/", "get"),
    ("/api/orders/{pk}/submit/", "post"),
    ("/api/orders/{pk}/classify/", "post"),
    ("/api/orders/{pk}/reviews/", "get"),
    ("/api/orders/{pk}/reviews/{rid}/sign/", "post"),
    ("/api/orders/{pk}/reviews/{rid}/questions/", "post"),
    ("/api/orders/{pk}/questions/", "get"),
    ("/api/orders/{pk}/questions/{qid}/answer/", "post"),
    ("/api/orders/{pk}/resubmit/", "post"),
    ("/api/orders/{pk}/approve/", "post"),
    ("/api/orders/{pk}/reject/", "post"),
    ("/api/orders/{pk}/cancel/", "post"),
    ("/api/orders/{pk}/versions/", "get"),
    ("/api/order-changes/", "get"),
    ("/api/order-changes/", "post"),
    ("/api/order-changes/{pk}/", "get"),
    ("/api/order-changes/{pk}/", "patch"),
    ("/api/order-changes/{pk}/submit/", "post"),
    ("/api/order-changes/{pk}/approve/", "post"),
    ("/api/order-changes/{pk}/reject/", "post"),
    ("/api/order-changes/{pk}/withdraw/", "post"),
    ("/api/order-changes/{pk}/acknowledgements/", "get"),
    ("/api/order-changes/{pk}/acknowledgements/{aid}/acknowledge/", "post"),
    ("/api/production-notices/", "get"),
    ("/api/production-notices/", "post"),
    ("/api/production-notices/{pk}/", "get"),
    ("/api/production-notices/{pk}/acknowledge/", "post"),
    ("/api/shipments/", "get"),
    ("/api/shipments/", "post"),
    ("/api/shipments/{pk}/", "get"),
    ("/api/sales-records/", "get"),
    ("/api/trace/lots/{lot}/", "get"),
    ("/api/trace/serials/{serial}/", "get"),
    ("/api/customers/{pk}/lots/", "get"),
    ("/api/review-routes/", "get"),
    ("/api/review-routes/{pk}/", "get"),
    ("/api/approval-rules/", "get"),
    ("/api/approval-rules/{pk}/", "get"),
}


def test_R_IF_2_every_order_operation_is_in_the_schema(db):
    schema = body(Client().get("/api/schema/"))
    paths = schema["paths"]
    for path, method in sorted(ORDER_OPERATIONS):
        assert path in paths and method in paths[path], (path, method)
        operation = paths[path][method]
        assert "orders" in operation["tags"], (path, method)
        assert operation.get("summary") and operation.get("description"), (path, method)
        responses = operation["responses"]
        assert {"401", "403", "404"} <= set(responses), (path, method)
        if method != "get":
            assert {"400", "409"} <= set(responses), (path, method)
    # read-only configuration: no writes through the API
    assert set(paths["/api/review-routes/"]) == {"get"}
    assert set(paths["/api/approval-rules/{pk}/"]) == {"get"}
    params = {p["name"] for p in paths["/api/orders/"]["get"]["parameters"]}
    assert {
        "q",
        "status",
        "order_class",
        "customer",
        "owner",
        "date_from",
        "date_to",
        "page",
        "page_size",
    } <= params
    sign_body = schema["components"]["schemas"]["ReviewSignIn"]
    assert sign_body["properties"]["password"]["format"] == "password"
    assert {"opinion", "password"} <= set(sign_body["required"])
    create = schema["components"]["schemas"]["OrderCreate"]
    assert create.get("additionalProperties") is False
    assert not {"id", "number", "owner", "status", "order_class", "version", "total_amount"} & set(
        create["properties"]
    )
    detail = schema["components"]["schemas"]["OrderDetail"]["properties"]
    assert {"lines", "reviews", "signatures", "class_reasons", "requirements"} <= set(detail)


def test_R_IF_2_order_schemas_are_not_shadowed_by_other_apps(db):
    """ninja names components by class name: another app's schema of the same name would silently
    replace ours in the document (clients and schemathesis would then validate the wrong shape)."""
    from ninja import Schema

    from qcare.orders import api

    components = body(Client().get("/api/schema/"))["components"]["schemas"]
    ours = [
        value
        for value in vars(api).values()
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == api.__name__
    ]
    assert len(ours) > 40
    for schema in ours:
        if schema.__name__ in components:
            expected = set(schema.model_json_schema()["properties"])
            assert set(components[schema.__name__].get("properties", {})) == expected, schema.__name__


# --- intake, requirements, classification ------------------------------------------------------
def test_R_OR_1_api_create_order_with_nested_lines(sales_clerk, clerk, hospital, device, accessory):
    data = order_data(
        hospital,
        line_data(device, qty="2", price="12500.50"),
        line_data(accessory, qty="100", price="3.20", in_stock=True),
        customer_reference="HT-2025-001",
        payment_terms="款到发货",
    )
    response = post(clerk, "/api/orders/", data)
    order = ok(response, 201)
    assert response["Location"].endswith(f"/api/orders/{order['id']}/")
    assert response["ETag"] == f'W/"{order["version"]}"'
    assert order["number"].startswith(f"SO-{TODAY:%Y%m}-")
    assert order["status"] == "draft" and order["is_editable"] is True
    assert order["owner"] == sales_clerk.pk and order["customer_name"] == hospital.name
    assert [(line["line_no"], line["amount"]) for line in order["lines"]] == [(1, "25001.00"), (2, "320.00")]
    assert order["lines"][0]["specification"] == device.model  # defaulted from the product
    assert order["total_amount"] == "25321.00"
    assert order["signatures"] == [] and order["reviews"] == []
    assert any("Requirements not captured" in p for p in order["requirement_problems"])
    listed = ok(clerk.get("/api/orders/", {"q": order["number"]}))
    assert [row["id"] for row in listed["results"]] == [order["id"]]
    assert listed["results"][0]["customer_name"] == hospital.name


def test_R_OR_1_api_bad_input_is_400_and_nothing_is_created(clerk, hospital, device, distributor):
    before = Order.objects.count()
    cases = [
        (order_data(hospital), "lines"),  # no lines at all
        (order_data(hospital, line_data(device) | {"product": 999999}), "lines.0.product"),
        (order_data(hospital, line_data(device, qty="0")), "lines.0.quantity"),
        (order_data(hospital, line_data(device, qty="abc")), "lines.0.quantity"),
        (order_data(hospital, line_data(device)) | {"number": "SO-1"}, "number"),
        (order_data(hospital, line_data(device)) | {"status": "approved"}, "status"),
        (order_data(hospital, line_data(device), source="carrier pigeon"), "source"),
        (order_data(hospital, line_data(device)) | {"customer": 999999}, "customer"),
        (order_data(hospital, line_data(device)) | {"currency": "yuan"}, "currency"),
        # each number within its bounds, their product not storable (was a 500)
        (
            order_data(hospital, line_data(device, qty="26614121156.672", price="4616078090788049.51")),
            "lines.0.quantity",
        ),
        (
            order_data(hospital, line_data(device), requirements={"explicit": {"items": ["telepathy"]}}),
            "requirements.explicit",
        ),
    ]
    for data, field in cases:
        error = assert_error(post(clerk, "/api/orders/", data), 400)
        assert field in error["errors"], (field, error)
    assert Order.objects.count() == before


def test_R_OR_1_api_customer_outside_scope_is_a_field_error(sales_clerk_2, device, distributor):
    """A clerk may not enter an order for another clerk's customer (it is not in their scope)."""
    error = assert_error(
        post(client_for(sales_clerk_2), "/api/orders/", order_data(distributor, line_data(device))), 400
    )
    assert "customer" in error["errors"]


def test_R_OR_2_api_requirements_replace_the_checklist(clerk, draft, requirements_all):
    url = f"/api/orders/{draft['id']}/requirements/"
    bad = assert_error(put(clerk, url, {"requirements": {"implied": {"items": ["none", "storage"]}}}), 400)
    assert "requirements.implied" in bad["errors"]
    bad = assert_error(put(clerk, url, {"requirements": {"astrology": {"items": []}}}), 400)
    assert any(field.startswith("requirements.astrology") for field in bad["errors"])
    assert ok(clerk.get(f"/api/orders/{draft['id']}/"))["version"] == draft["version"]
    special = [{"text": "每台附中文说明书", "confirmed": False}]
    order = ok(put(clerk, url, {"requirements": requirements_all, "special_requirements": special}))
    assert order["requirements"]["explicit"]["items"] == ["quality", "delivery", "warranty"]
    assert order["requirement_problems"] == ["Special requirement not confirmed: 每台附中文说明书"]
    special[0]["confirmed"] = True
    order = ok(put(clerk, url, {"requirements": requirements_all, "special_requirements": special}))
    assert order["requirement_problems"] == []


def test_R_OR_4_api_classification_preview_with_reasons(clerk, hospital, custom_device, requirements_all):
    data = order_data(
        hospital, line_data(custom_device, qty="30", price="10000"), requirements=requirements_all
    )
    order = ok(post(clerk, "/api/orders/", data), 201)
    preview = ok(clerk.get(f"/api/orders/{order['id']}/classification/"))
    assert preview["order_class"] == "special" and preview["current_class"] == ""
    texts = [r["text"] for r in preview["reasons"]]
    assert "Amount 300,000.00 ≥ 200,000.00" in texts
    assert any("is not standard" in t for t in texts)
    assert {"amount", "not_standard", "first_order"} <= {r["code"] for r in preview["reasons"]}
    assert preview["submission_problems"] == []


def test_R_CU_3_api_submit_refused_without_a_valid_licence(sales_clerk, clerk, device, requirements_all):
    from tests.orders.conftest import make_distributor

    lapsed = make_distributor(
        sales_clerk, name="过期经销商", licence_until=TODAY - datetime.timedelta(days=1)
    )
    order = ok(
        post(clerk, "/api/orders/", order_data(lapsed, line_data(device), requirements=requirements_all)), 201
    )
    preview = ok(clerk.get(f"/api/orders/{order['id']}/classification/"))
    assert any("Regulated devices cannot be sold" in p for p in preview["submission_problems"])
    error = assert_error(post(clerk, f"/api/orders/{order['id']}/submit/"), 400)
    assert "Regulated devices cannot be sold" in error["detail"]
    assert Order.objects.get(pk=order["id"]).status == OrderStatus.DRAFT


# --- versions and editing ------------------------------------------------------------------------
def test_R_IF_2_order_patch_needs_a_current_version(clerk, draft):
    url = f"/api/orders/{draft['id']}/"
    assert_error(patch(clerk, url, {"notes": "无版本"}), 400, "version_required")
    changed = ok(patch(clerk, url, {"notes": "第一次修改", "version": draft["version"]}))
    assert changed["notes"] == "第一次修改" and changed["version"] == draft["version"] + 1
    assert_error(patch(clerk, url, {"notes": "过期", "version": draft["version"]}), 409, "stale_version")
    response = patch(clerk, url, {"notes": "过期"}, HTTP_IF_MATCH=f'W/"{draft["version"]}"')
    assert_error(response, 412, "precondition_failed")
    assert ok(clerk.get(url))["notes"] == "第一次修改"
    # lines are replaced by line_no; amounts and totals recomputed
    product = Order.objects.get(pk=draft["id"]).lines.get().product
    lines = [line_data(product, qty="3") | {"line_no": 1}]
    changed = ok(patch(clerk, url, {"lines": lines}, HTTP_IF_MATCH=f'W/"{changed["version"]}"'))
    assert changed["total_amount"] == "3000.00" and changed["lines"][0]["quantity"] == "3.000"


def test_R_IF_2_action_with_stale_if_match_is_412_and_nothing_happens(clerk, draft):
    response = post(
        clerk, f"/api/orders/{draft['id']}/cancel/", {"reason": "客户取消"}, HTTP_IF_MATCH='W/"99"'
    )
    assert_error(response, 412, "precondition_failed")
    assert_error(
        post(clerk, f"/api/orders/{draft['id']}/cancel/", {"reason": "客户取消", "version": 99}), 409
    )
    assert Order.objects.get(pk=draft["id"]).status == OrderStatus.DRAFT
    cancelled = ok(
        post(clerk, f"/api/orders/{draft['id']}/cancel/", {"reason": "客户取消", "version": draft["version"]})
    )
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_reason"] == "客户取消"
    assert_error(post(clerk, f"/api/orders/{draft['id']}/cancel/", {"reason": "再取消"}), 409)


# --- scope and permissions ---------------------------------------------------------------------------
def test_R_IF_2_orders_scope_per_persona(
    clerk, draft, sales_clerk_2, sales_manager, reviewer_quality, gm, auditor, technician
):
    url = f"/api/orders/{draft['id']}/"
    other = client_for(sales_clerk_2)
    assert_error(other.get(url), 404, "not_found")
    assert ok(other.get("/api/orders/"))["count"] == 0
    assert_error(patch(other, url, {"notes": "x", "version": 1}), 404)
    assert_error(post(other, f"{url}submit/"), 404)
    assert_error(other.get(f"{url}reviews/"), 404)
    # the manager sees the department's orders, GM and auditor all; a department that does not
    # review the order does not see it
    for user in (sales_manager, gm, auditor):
        assert ok(client_for(user).get(url))["id"] == draft["id"]
    assert_error(client_for(reviewer_quality).get(url), 404)
    # no orders permission at all: 403 on lists rather than a misleading empty page
    assert_error(client_for(technician).get("/api/orders/"), 403, "permission_denied")
    assert_error(client_for(technician).get("/api/sales-records/"), 403)
    # the auditor reads but cannot write
    assert_error(patch(client_for(auditor), url, {"notes": "x", "version": 1}), 403, "permission_denied")
    assert_error(Client().get(url), 401, "not_authenticated")


def test_R_OR_4_api_class_override_needs_permission_and_reason(clerk, draft, sales_manager):
    url = f"/api/orders/{draft['id']}/classify/"
    assert_error(post(clerk, url, {"order_class": "special", "reason": "客户要求"}), 403)
    assert_error(post(client_for(sales_manager), url, {"order_class": "special"}), 400)
    order = ok(post(client_for(sales_manager), url, {"order_class": "special", "reason": "首次出口样品"}))
    assert order["order_class"] == "special" and order["class_override_reason"] == "首次出口样品"
    assert any("首次出口样品" in r["text"] for r in order["class_reasons"])


# --- the whole workflow ---------------------------------------------------------------------------------
@pytest.fixture
def team(sales_manager, reviewer_production, reviewer_purchasing, reviewer_quality, reviewer_rnd):
    users = {
        "sales": sales_manager,
        "production": reviewer_production,
        "purchasing": reviewer_purchasing,
        "quality": reviewer_quality,
        "rnd": reviewer_rnd,
    }
    return {code: client_for(user) for code, user in users.items()}


def test_R_OR_whole_workflow_through_the_api(
    sales_clerk, clerk, distributor, device, requirements_all, team, gm, reviewer_warehouse
):
    """Oral phone order of a distributor → confirmation → special (amount) → parallel review with
    a question from R&D → approval by the GM → change of a delivery date re-reviewed by production
    and acknowledged by everyone → production notice → partial shipment with serials → sales
    record and traceability."""
    make_known(distributor, sales_clerk)
    data = order_data(
        distributor,
        line_data(device, qty="30", price="10000"),
        source="oral",
        customer_reference="电话 2025-03-01 陈经理",
        requirements=requirements_all,
    )
    order = ok(post(clerk, "/api/orders/", data), 201)
    oid, url = order["id"], f"/api/orders/{order['id']}/"

    # R-OR-3: the e-mailed confirmation is attached and recorded
    document = attach(sales_clerk, Order.objects.get(pk=oid))
    bad = post(
        clerk, f"{url}confirmation/", {"kind": "email", "received_on": days(1), "attachment": document.pk}
    )
    assert "received_on" in assert_error(bad, 400)["errors"]
    order = ok(
        post(
            clerk, f"{url}confirmation/", {"kind": "email", "received_on": days(0), "attachment": document.pk}
        )
    )
    assert order["confirmation_kind"] == "email" and order["confirmation_attachment"] == document.pk

    # R-OR-4/5: submitted, special by amount, routed to five departments in parallel
    order = ok(post(clerk, f"{url}submit/", {"version": order["version"]}))
    assert order["status"] == "under_review" and order["order_class"] == "special"
    assert order["review_number"].startswith(f"HP-{TODAY:%Y}-")
    assert any(r["code"] == "amount" for r in order["class_reasons"])
    reviews = reviews_by_department(clerk, oid)
    assert set(reviews) == {"sales", "production", "purchasing", "quality", "rnd"}
    assert all(r["status"] == "pending" and r["signature"] is None for r in reviews.values())

    # a reviewer signs only for their own department; a wrong password signs nothing
    response = sign(team["quality"], oid, reviews["production"]["id"])
    assert_error(response, 403, "permission_denied")
    response = sign(team["production"], oid, reviews["production"]["id"], password="wrong")
    assert "password" in assert_error(response, 400, "signature_refused")["errors"]
    assert OrderReview.objects.get(pk=reviews["production"]["id"]).status == "pending"
    # conditions need comments
    response = sign(team["purchasing"], oid, reviews["purchasing"]["id"], opinion="conditional")
    assert "comments" in assert_error(response, 400)["errors"]

    signed = ok(sign(team["production"], oid, reviews["production"]["id"], proposed_date=days(40)))
    assert signed["status"] == "signed" and signed["opinion"] == "can_meet"
    assert signed["signature"]["signer_name"] == "刘洋" and signed["signature"]["meaning"] == "reviewed"
    assert signed["signature"]["is_valid"] is True and signed["proposed_date"] == days(40)
    assert signed["signature"]["signed_at"].endswith("+08:00")
    ok(
        sign(
            team["purchasing"],
            oid,
            reviews["purchasing"]["id"],
            opinion="conditional",
            comments="芯片交期 4 周",
        )
    )
    ok(sign(team["quality"], oid, reviews["quality"]["id"]))

    # R&D asks a question: the order goes back to sales
    question = ok(
        post(team["rnd"], f"{url}reviews/{reviews['rnd']['id']}/questions/", {"text": "是否需要定制接口？"}),
        201,
    )
    assert question["status"] == "open" and question["department_code"] == "rnd"
    assert ok(clerk.get(url))["status"] == "clarification"
    ok(sign(team["sales"], oid, reviews["sales"]["id"]))  # reviewers may sign during clarification
    assert_error(post(clerk, f"{url}resubmit/"), 400)  # the point is still open
    questions = ok(clerk.get(f"{url}questions/", {"status": "open"}))["results"]
    assert [q["id"] for q in questions] == [question["id"]]
    assert_error(post(team["rnd"], f"{url}questions/{question['id']}/answer/", {"answer": "x"}), 403)
    answered = ok(
        post(clerk, f"{url}questions/{question['id']}/answer/", {"answer": "客户邮件：标准接口即可"})
    )
    assert answered["status"] == "answered" and answered["answered_by"] == sales_clerk.pk
    order = ok(post(clerk, f"{url}resubmit/"))
    assert order["status"] == "under_review"
    reviews = reviews_by_department(clerk, oid)
    assert reviews["production"]["status"] == "signed"  # nothing changed: the others stand
    ok(sign(team["rnd"], oid, reviews["rnd"]["id"]))

    # R-OR-6: the GM approves (special order); a wrong password or a clerk changes nothing
    order = ok(clerk.get(url))
    assert order["status"] == "awaiting_approval"
    assert all(r["signature"]["is_valid"] for r in order["reviews"])
    gm_client = client_for(gm)
    approve = f"{url}approve/"
    assert_error(post(clerk, approve, {"password": PERSONA_PASSWORD}), 403)
    assert_error(post(gm_client, approve, {"password": "wrong"}), 400, "signature_refused")
    assert Order.objects.get(pk=oid).status == OrderStatus.AWAITING_APPROVAL
    order = ok(post(gm_client, approve, {"password": PERSONA_PASSWORD, "comment": "同意"}))
    assert order["status"] == "approved" and order["approved_by"] == gm.pk
    assert [(s["signer_name"], s["meaning"], s["is_valid"]) for s in order["signatures"]] == [
        ("徐明", "approved", True)
    ]
    assert_error(post(gm_client, approve, {"password": PERSONA_PASSWORD}), 409)  # approving twice
    assert_error(patch(clerk, url, {"notes": "改", "version": order["version"]}), 409)  # change control only
    versions = ok(clerk.get(f"{url}versions/"))["results"]
    assert [v["number"] for v in versions] == [1]

    # R-OR-8: a change of the delivery date, re-reviewed by production only
    line_no = order["lines"][0]["line_no"]
    proposal = {"lines": [{"line_no": line_no, "requested_date": days(45)}]}
    change = ok(
        post(
            clerk,
            "/api/order-changes/",
            {
                "order": oid,
                "proposed": proposal,
                "reason": "客户推迟交货",
                "customer_agreed": True,
                "customer_agreement": "客户 3 月 5 日邮件同意",
            },
        ),
        201,
    )
    assert change["number"].startswith("BG-") and change["status"] == "draft"
    assert change["subjects"] == ["delivery_date"]
    assert [(d["field"], d["new"]) for d in change["diff"]] == [("requested_date", days(45))]
    change = ok(post(clerk, f"/api/order-changes/{change['id']}/submit/"))
    assert change["status"] == "under_review"
    assert [r["department_code"] for r in change["reviews"]] == ["production"]
    ok(sign(team["production"], oid, change["reviews"][0]["id"]))
    change = ok(clerk.get(f"/api/order-changes/{change['id']}/"))
    assert change["status"] == "awaiting_approval"
    assert_error(post(gm_client, f"/api/order-changes/{change['id']}/approve/", {"password": "wrong"}), 400)
    change = ok(
        post(gm_client, f"/api/order-changes/{change['id']}/approve/", {"password": PERSONA_PASSWORD})
    )
    assert change["status"] == "applied"
    assert [s["meaning"] for s in change["signatures"]] == ["approved"]
    order = ok(clerk.get(url))
    assert order["lines"][0]["requested_date"] == days(45) and order["change_count"] == 1
    # the content changed: the original approval no longer matches it; the change's approval does
    assert [(s["meaning"], s["is_valid"]) for s in order["signatures"]] == [("approved", False)]
    current = {r["department_code"]: r for r in order["reviews"]}
    assert current["production"]["change_request"] == change["id"]
    assert all(r["signature"]["is_valid"] for r in order["reviews"])
    assert [v["number"] for v in ok(clerk.get(f"{url}versions/"))["results"]] == [1, 2]
    acks = ok(clerk.get(f"/api/order-changes/{change['id']}/acknowledgements/"))["results"]
    assert {a["department_code"] for a in acks} == {"sales", "production", "purchasing", "quality", "rnd"}
    by_department = {a["department_code"]: a for a in acks}
    wrong = post(
        team["quality"],
        f"/api/order-changes/{change['id']}/acknowledgements/{by_department['rnd']['id']}/acknowledge/",
    )
    assert_error(wrong, 403)
    for code, ack in by_department.items():
        done = ok(
            post(
                team[code],
                f"/api/order-changes/{change['id']}/acknowledgements/{ack['id']}/acknowledge/",
                {"comment": "已知悉"},
            )
        )
        assert done["acknowledged_at"] is not None
    assert all(
        a["acknowledged_by"] for a in ok(clerk.get(f"/api/order-changes/{change['id']}/"))["acknowledgements"]
    )

    # R-OR-9: production notice, then a partial shipment with serial numbers
    line_id = order["lines"][0]["id"]
    notice = ok(
        post(
            clerk,
            "/api/production-notices/",
            {"order": oid, "lines": [{"order_line": line_id, "quantity": "30", "planned_date": days(40)}]},
        ),
        201,
    )
    assert notice["number"].startswith("SC-") and notice["lines"][0]["quantity"] == "30.000"
    assert_error(post(clerk, f"/api/production-notices/{notice['id']}/acknowledge/"), 403)
    notice = ok(
        post(
            team["production"], f"/api/production-notices/{notice['id']}/acknowledge/", {"comment": "已排产"}
        )
    )
    assert notice["status"] == "acknowledged"

    warehouse = client_for(reviewer_warehouse)
    shipment_lines = [
        {
            "order_line": line_id,
            "quantity": "1",
            "lot_number": "L2503",
            "serial_number": f"SN-250300{n}",
            "production_date": days(-10),
            "expiry_date": days(720),
        }
        for n in (1, 2)
    ]
    bad = post(
        warehouse,
        "/api/shipments/",
        {"order": oid, "shipped_on": days(0), "lines": [shipment_lines[0] | {"quantity": "2"}]},
    )
    assert "lines.0.quantity" in assert_error(bad, 400)["errors"]  # a serial number is one unit
    assert not Shipment.objects.filter(order_id=oid).exists()
    shipment = ok(
        post(
            warehouse,
            "/api/shipments/",
            {"order": oid, "shipped_on": days(0), "lines": shipment_lines, "delivery_note_number": "DN-001"},
        ),
        201,
    )
    assert shipment["number"].startswith("CH-") and len(shipment["lines"]) == 2
    assert ok(clerk.get(url))["status"] == "partially_shipped"
    shipped = ok(warehouse.get("/api/shipments/", {"order": oid}))["results"]
    assert [s["id"] for s in shipped] == [shipment["id"]]

    # R-OR-10/11: sales record and traceability
    records = ok(clerk.get("/api/sales-records/", {"customer": distributor.pk}))["results"]
    assert sorted(r["serial_number"] for r in records) == ["SN-2503001", "SN-2503002"]
    record = records[0]
    assert (
        record["buyer_name"] == distributor.name and record["buyer_licence"] == "粤穗食药监械经营许20190123号"
    )
    assert record["registration_number"] == device.registration_number and record["lot_number"] == "L2503"
    assert record["contact_name"] == "陈经理"
    lot = ok(clerk.get("/api/trace/lots/L2503/"))
    assert lot["count"] == 2 and {r["customer_name"] for r in lot["results"]} == {distributor.name}
    assert lot["results"][0]["order_number"] == order["number"]
    assert lot["results"][0]["contract_reference"] == "电话 2025-03-01 陈经理"
    assert lot["results"][0]["delivery_note_number"] == "DN-001"
    serial = ok(clerk.get("/api/trace/serials/SN-2503002/"))["results"]
    assert [(r["shipment_number"], r["serial_number"]) for r in serial] == [
        (shipment["number"], "SN-2503002")
    ]
    lots = ok(clerk.get(f"/api/customers/{distributor.pk}/lots/"))["results"]
    assert {(r["lot_number"], r["serial_number"]) for r in lots} == {
        ("L2503", "SN-2503001"),
        ("L2503", "SN-2503002"),
    }


def test_R_OR_6_api_reject_with_reason(
    sales_clerk, clerk, hospital, device, requirements_all, team, sales_manager
):
    make_known(hospital, sales_clerk)
    order = ok(
        post(clerk, "/api/orders/", order_data(hospital, line_data(device), requirements=requirements_all)),
        201,
    )
    url = f"/api/orders/{order['id']}/"
    order = ok(post(clerk, f"{url}submit/"))
    assert order["order_class"] == "regular_no_stock"
    for code, review in reviews_by_department(clerk, order["id"]).items():
        ok(sign(team[code], order["id"], review["id"]))
    manager = client_for(sales_manager)
    assert_error(post(manager, f"{url}reject/", {"password": PERSONA_PASSWORD}), 400)  # reason required
    order = ok(post(manager, f"{url}reject/", {"password": PERSONA_PASSWORD, "reason": "价格过低"}))
    assert order["status"] == "rejected" and order["decision_comment"] == "价格过低"
    assert order["signatures"][0]["meaning"] == "rejected"


def test_R_OR_8_api_change_request_bad_input_and_withdraw(
    sales_clerk, clerk, hospital, device, requirements_all, team, sales_manager
):
    make_known(hospital, sales_clerk)
    order = ok(
        post(clerk, "/api/orders/", order_data(hospital, line_data(device), requirements=requirements_all)),
        201,
    )
    url = f"/api/orders/{order['id']}/"
    ok(post(clerk, f"{url}submit/"))
    for code, review in reviews_by_department(clerk, order["id"]).items():
        ok(sign(team[code], order["id"], review["id"]))
    order = ok(post(client_for(sales_manager), f"{url}approve/", {"password": PERSONA_PASSWORD}))
    before = ChangeRequest.objects.count()
    base = {"order": order["id"], "reason": "客户要求"}
    same = post(
        clerk,
        "/api/order-changes/",
        base | {"proposed": {"header": {"payment_terms": order["payment_terms"]}}},
    )
    assert "proposed" in assert_error(same, 400)["errors"]  # nothing would change
    bad = post(
        clerk, "/api/order-changes/", base | {"proposed": {"lines": [{"line_no": 1, "quantity": "-1"}]}}
    )
    assert assert_error(bad, 400)["errors"]
    unknown = post(clerk, "/api/order-changes/", base | {"order": 999999, "proposed": {}})
    assert "order" in assert_error(unknown, 400)["errors"]
    assert ChangeRequest.objects.count() == before
    change = ok(
        post(
            clerk, "/api/order-changes/", base | {"proposed": {"lines": [{"line_no": 1, "quantity": "12"}]}}
        ),
        201,
    )
    assert change["subjects"] == ["quantity", "price"]
    assert_error(post(clerk, f"/api/order-changes/{change['id']}/submit/"), 400)  # no customer agreement
    assert_error(
        patch(clerk, f"/api/order-changes/{change['id']}/", {"customer_agreed": True}),
        400,
        "version_required",
    )
    change = ok(
        patch(
            clerk,
            f"/api/order-changes/{change['id']}/",
            {"customer_agreed": True, "customer_agreement": "电话确认", "version": change["version"]},
        )
    )
    assert change["customer_agreed"] is True
    assert_error(patch(clerk, f"/api/order-changes/{change['id']}/", {"reason": "x", "version": 1}), 409)
    assert_error(
        post(
            clerk, "/api/order-changes/", base | {"proposed": {"lines": [{"line_no": 1, "quantity": "15"}]}}
        ),
        409,
    )
    change = ok(post(clerk, f"/api/order-changes/{change['id']}/withdraw/", {"reason": "客户撤回"}))
    assert change["status"] == "withdrawn"
    listed = ok(clerk.get("/api/order-changes/", {"order": order["id"]}))["results"]
    assert [(c["id"], c["order_number"]) for c in listed] == [(change["id"], order["number"])]


def test_R_OR_5_api_configuration_is_readable(sales_clerk, org):
    client = client_for(sales_clerk)
    routes = ok(client.get("/api/review-routes/", {"order_class": "special", "page_size": 50}))["results"]
    assert {org[code].pk for code in ("production", "rnd", "quality")} <= {r["department"] for r in routes}
    rules = ok(client.get("/api/approval-rules/"))["results"]
    assert any(rule["approver_roles"] == ["gm"] and rule["is_export"] is True for rule in rules)
    first = ok(client.get(f"/api/approval-rules/{rules[0]['id']}/"))
    assert first["approver_roles"] == rules[0]["approver_roles"]
    assert client.post("/api/review-routes/", "{}", content_type=JSON).status_code == 405


def test_R_OR_11_api_trace_input_and_scope(sales_clerk, sales_clerk_2, distributor):
    client = client_for(sales_clerk)
    assert ok(client.get("/api/trace/lots/NO-SUCH-LOT/"))["count"] == 0
    assert "product" in assert_error(client.get("/api/trace/lots/L1/", {"product": 999999}), 400)["errors"]
    assert_error(client.get("/api/customers/999999/lots/"), 404)
    # another clerk's customer with nothing shipped to them: not visible
    assert_error(client_for(sales_clerk_2).get(f"/api/customers/{distributor.pk}/lots/"), 404)
    assert ok(client.get(f"/api/customers/{distributor.pk}/lots/"))["count"] == 0


def test_R_IF_2_orders_list_filters(clerk, sales_clerk, hospital, distributor, device, accessory):
    from qcare.customers.search import refresh_search_text

    refresh_search_text(distributor)  # the fixture writes the row directly
    first = ok(post(clerk, "/api/orders/", order_data(hospital, line_data(accessory, in_stock=True))), 201)
    second = ok(
        post(clerk, "/api/orders/", order_data(distributor, line_data(device), order_date=days(-10))), 201
    )

    def ids(**params):
        return [row["id"] for row in ok(clerk.get("/api/orders/", params))["results"]]

    assert ids(customer=hospital.pk) == [first["id"]]
    assert ids(q="康达") == [second["id"]]  # customer name
    assert ids(date_to=days(-1)) == [second["id"]]
    assert ids(date_from=days(-1), status="draft") == [first["id"]]
    assert ids(owner=sales_clerk.pk, ordering="order_date") == [second["id"], first["id"]]
    assert ids(status="approved") == []
    assert "status" in assert_error(clerk.get("/api/orders/", {"status": "bogus"}), 400)["errors"]
    assert "page_size" in assert_error(clerk.get("/api/orders/", {"page_size": 1000}), 400)["errors"]
    assert Decimal(ok(clerk.get(f"/api/orders/{first['id']}/"))["lines"][0]["open_quantity"]) == Decimal("10")
