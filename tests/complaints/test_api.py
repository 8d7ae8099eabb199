"""R-IF-2 for feedback and complaints (R-CO-1…9, R-CO-11): the REST API end to end.

Every request goes through the real stack — bearer token of a persona, error format, the
services — so these tests check what an integration sees: a whole complaint case, bad input
refused with the right status and field errors and nothing changed, scope (404) and permission
(403) per persona and for the customer portal, text returned as data, and the OpenAPI document.
Advisory notices: test_api_notices.py.
"""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from qcare.complaints import services
from qcare.complaints.models import Capa, Complaint, Feedback, ReturnNote, Settlement
from qcare.core.context import audit_context
from qcare.customers.models import Communication, CustomerPortalUser
from tests.factories import UserFactory
from tests.orders.test_api import assert_error, body, client_for, ok, patch, post
from tests.personas import PERSONA_PASSWORD

TODAY = datetime.date.today()
HTML = '<script>alert("x")</script><b onclick="steal()">监护仪</b> & 1 < 2'


# --- helpers -----------------------------------------------------------------------------------
def complaint_data(customer, line=None, **extra):
    data = {
        "customer": customer.pk,
        "channel": "phone",
        "contact_name": "陈经理",
        "contact_phone": "020-88886666",
        "defective_quantity": "3",
        "description": "3 台监护仪开机后血氧读数不稳定，客户要求折让。",
        "demands": ["allowance"],
    }
    if line is not None:
        data["shipment_line"] = line.pk
    return data | extra


def url(complaint_id, action=""):
    return f"/api/complaints/{complaint_id}/{action + '/' if action else ''}"


def state(complaint_id):
    """What must not change when a request is refused: status, version and child rows."""
    c = Complaint.objects.get(pk=complaint_id)
    return (
        c.status,
        c.version,
        c.responsible_parties.count(),
        c.replies.count(),
        c.transitions.count(),
        c.follow_ups.count(),
        ReturnNote.objects.filter(complaint=c).count(),
    )


def all_false():
    return {q: False for q in ("death", "serious_injury", "malfunction", "cluster", "device_related")}


@pytest.fixture
def clerk(sales_clerk):
    return client_for(sales_clerk)


@pytest.fixture
def qe(quality_engineer):
    return client_for(quality_engineer)


@pytest.fixture
def registered(clerk, distributor, shipped_lot):
    """A phone complaint on the shipped lot, registered through the API by the sales clerk."""
    return ok(post(clerk, "/api/complaints/", complaint_data(distributor, shipped_lot)), 201)


def walk_to_responsibility(qe, complaint_id, quality_engineer, org, shares=(("production", "70"),)):
    ok(
        post(
            qe,
            url(complaint_id, "triage"),
            {"severity": "minor", "category": "quality", "owner": quality_engineer.pk},
        )
    )
    ok(post(qe, url(complaint_id, "start-investigation"), {"departments": [org["production"].pk]}))
    ok(post(qe, url(complaint_id, "investigation-report"), {"report": "调查报告：焊点虚焊。"}))
    parties = [{"kind": "department", "department": org[code].pk, "share": share} for code, share in shares]
    return ok(
        post(
            qe,
            url(complaint_id, "responsibility"),
            {"root_cause": "波峰焊温度偏低", "cause_category": "production", "parties": parties},
        )
    )


def approved_case(
    quality_engineer, deputy_gm, sales_manager, complaint, org, *, disposition, loss, quantity=None
):
    """Take a registered complaint to an approved disposition through the services."""
    services.triage_complaint(
        quality_engineer, complaint, severity="minor", category="quality", owner=quality_engineer
    )
    services.start_investigation(quality_engineer, complaint, departments=[org["production"]])
    services.submit_investigation_report(quality_engineer, complaint, report="调查报告")
    services.set_responsibility(
        quality_engineer,
        complaint,
        root_cause="焊接",
        cause_category="production",
        parties=[{"kind": "department", "department": org["production"], "share": "100"}],
    )
    services.propose_disposition(
        quality_engineer,
        complaint,
        disposition=disposition,
        details="处理方案",
        loss_amount=Decimal(loss),
        quantity=quantity,
    )
    approver = sales_manager if Decimal(loss) < 5000 else deputy_gm
    services.approve_disposition(approver, complaint, password=PERSONA_PASSWORD)
    complaint.refresh_from_db()
    return complaint


# --- the OpenAPI document ----------------------------------------------------------------------
OPERATIONS = {
    ("/api/feedback/", "get"),
    ("/api/feedback/", "post"),
    ("/api/feedback/{pk}/", "get"),
    ("/api/feedback/{pk}/", "patch"),
    ("/api/feedback/{pk}/answer/", "post"),
    ("/api/feedback/{pk}/close/", "post"),
    ("/api/feedback/{pk}/convert-to-complaint/", "post"),
    ("/api/feedback/{pk}/convert-to-capa/", "post"),
    ("/api/feedback/from-communication/", "post"),
    ("/api/complaints/", "get"),
    ("/api/complaints/", "post"),
    ("/api/complaints/{pk}/", "get"),
    ("/api/complaints/{pk}/", "patch"),
    ("/api/complaints/{pk}/history/", "get"),
    ("/api/complaints/{pk}/capa/", "post"),
    ("/api/complaints/{pk}/follow-up/", "post"),
    ("/api/capas/", "get"),
    ("/api/capas/", "post"),
    ("/api/capas/{pk}/", "get"),
    ("/api/capas/{pk}/analysis/", "post"),
    ("/api/capas/{pk}/actions/", "post"),
    ("/api/capas/{pk}/actions/{aid}/complete/", "post"),
    ("/api/capas/{pk}/actions/{aid}/cancel/", "post"),
    ("/api/capas/{pk}/submit-verification/", "post"),
    ("/api/capas/{pk}/verify/", "post"),
    ("/api/capas/{pk}/cancel/", "post"),
    ("/api/returns/", "get"),
    ("/api/returns/", "post"),
    ("/api/returns/{pk}/", "get"),
    ("/api/returns/{pk}/receive/", "post"),
    ("/api/returns/{pk}/inspect/", "post"),
    ("/api/returns/{pk}/post/", "post"),
    ("/api/returns/{pk}/resolve/", "post"),
    ("/api/returns/{pk}/cancel/", "post"),
    ("/api/settlements/", "get"),
    ("/api/settlements/", "post"),
    ("/api/settlements/{pk}/", "get"),
    ("/api/settlements/{pk}/settle/", "post"),
    ("/api/settlements/{pk}/cancel/", "post"),
    ("/api/notices/", "get"),
    ("/api/notices/", "post"),
    ("/api/notices/{pk}/", "get"),
    ("/api/notices/{pk}/", "patch"),
    ("/api/notices/{pk}/affected-customers/", "get"),
    ("/api/notices/{pk}/issue/", "post"),
    ("/api/notices/{pk}/recipients/", "get"),
    ("/api/notices/{pk}/recipients/{rid}/acknowledgement/", "post"),
    ("/api/notices/{pk}/authority-notification/", "post"),
    ("/api/notices/{pk}/close/", "post"),
    ("/api/notices/{pk}/cancel/", "post"),
    ("/api/notices/{pk}/effectiveness/", "get"),
    ("/api/reports/complaints/statistics/", "get"),
    ("/api/reports/complaints/responsibility/{period}/", "get"),
}
TRANSITIONS = (
    "triage",
    "start-investigation",
    "request-findings",
    "findings",
    "investigation-report",
    "responsibility",
    "disposition",
    "approve",
    "reject",
    "replies",
    "customer-response",
    "not-substantiated",
    "reportability",
    "authority-report",
)


def test_R_IF_2_every_complaints_operation_is_documented(db):
    schema = body(Client().get("/api/schema/"))
    paths = schema["paths"]
    expected = OPERATIONS | {(f"/api/complaints/{{pk}}/{name}/", "post") for name in TRANSITIONS}
    for path, method in sorted(expected):
        assert path in paths and method in paths[path], (path, method)
        operation = paths[path][method]
        assert "complaints" in operation["tags"], (path, method)
        assert operation.get("summary") and operation.get("description"), (path, method)
        assert {"401", "403", "404"} <= set(operation["responses"]), (path, method)
        if method != "get":
            assert {"400", "409"} <= set(operation["responses"]), (path, method)
    components = schema["components"]["schemas"]
    # enums are in the schema: clients see the allowed codes
    assert set(components["ComplaintTriageIn"]["properties"]) >= {"severity", "category", "owner"}
    assert "minor" in str(components)
    approve = components["DispositionApproveIn"]
    assert approve["properties"]["password"]["format"] == "password"
    assert approve.get("additionalProperties") is False
    create = components["ComplaintCreate"]
    assert not {"id", "number", "status", "owner", "version", "registered_by", "is_major"} & set(
        create["properties"]
    )
    detail = components["ComplaintDetail"]["properties"]
    assert {"deadlines", "transitions", "findings", "responsibility", "replies", "reportability"} <= set(
        detail
    )
    params = {p["name"] for p in paths["/api/complaints/"]["get"]["parameters"]}
    assert {"q", "status", "customer", "product", "owner", "period_from", "overdue", "major", "lot"} <= params


def test_R_IF_2_complaints_schemas_are_not_shadowed_by_other_apps(db):
    """ninja names components by class name: another app's schema of the same name would
    silently replace ours in the document."""
    from ninja import Schema

    from qcare.complaints import api

    components = body(Client().get("/api/schema/"))["components"]["schemas"]
    ours = [
        value
        for value in vars(api).values()
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == api.__name__
    ]
    assert len(ours) > 50
    for schema in ours:
        if schema.__name__ in components:
            expected = set(schema.model_json_schema().get("properties", {}))
            assert set(components[schema.__name__].get("properties", {})) == expected, schema.__name__


# --- the whole case ----------------------------------------------------------------------------
def test_R_CO_3_api_full_complaint_case(
    sales_clerk,
    clerk,
    qe,
    quality_engineer,
    reviewer_production,
    sales_manager,
    deputy_gm,
    management_rep,
    distributor,
    device,
    shipped_lot,
    org,
):
    # registration (R-CO-2): the shipment fills product, lot, order and quantity
    response = post(clerk, "/api/complaints/", complaint_data(distributor, shipped_lot))
    case = ok(response, 201)
    cid = case["id"]
    assert response["Location"].endswith(f"/api/complaints/{cid}/")
    assert response["ETag"] == f'W/"{case["version"]}"'
    assert case["number"].startswith("KS-") and case["status"] == "registered"
    assert (case["product"], case["lot_number"], case["quantity"]) == (device.pk, "L2609-01", "20.000")
    assert case["customer_name"] == distributor.name and case["registered_by"] == sales_clerk.pk
    assert case["is_regulated"] is True
    assert {d["kind"] for d in case["deadlines"]} == {"first_answer", "investigation", "close"}
    assert [t["to_status"] for t in case["transitions"]] == ["registered"]
    listed = ok(clerk.get("/api/complaints/", {"q": case["number"]}))
    assert [row["id"] for row in listed["results"]] == [cid]

    # triage → investigation with production's findings → report
    case = ok(
        post(
            qe,
            url(cid, "triage"),
            {"severity": "serious", "category": "quality", "owner": quality_engineer.pk},
        )
    )
    assert case["status"] == "triaged" and case["owner"] == quality_engineer.pk
    case = ok(post(qe, url(cid, "start-investigation"), {"departments": [org["production"].pk]}))
    assert case["status"] == "investigation"
    assert [f["department_code"] for f in case["findings"]] == ["production"]
    production = client_for(reviewer_production)
    case = ok(post(production, url(cid, "findings"), {"text": "焊点虚焊，批次 L2609-01 共 3 台。"}))
    assert (
        case["findings"][0]["text"].startswith("焊点虚焊")
        and case["findings"][0]["author"] == reviewer_production.pk
    )
    case = ok(post(qe, url(cid, "investigation-report"), {"report": "调查报告：波峰焊温度偏低。"}))
    investigation = next(d for d in case["deadlines"] if d["kind"] == "investigation")
    assert investigation["met_at"] is not None

    # responsibility 70/30 (shares not adding up to 100 are refused, nothing changed)
    parties = [
        {"kind": "department", "department": org["production"].pk, "share": "70"},
        {"kind": "department", "department": org["purchasing"].pk, "share": "20"},
    ]
    before = state(cid)
    data = {"root_cause": "波峰焊温度偏低", "cause_category": "production", "parties": parties}
    error = assert_error(post(qe, url(cid, "responsibility"), data), 400)
    assert "parties" in error["errors"] and "90" in error["errors"]["parties"][0]
    assert state(cid) == before
    parties[1]["share"] = "30"
    case = ok(post(qe, url(cid, "responsibility"), data | {"parties": parties}))
    assert case["status"] == "responsibility"
    assert [(p["department"], p["share"]) for p in case["responsibility"]] == [
        (org["production"].pk, "70.00"),
        (org["purchasing"].pk, "30.00"),
    ]

    # disposition: allowance of 8,000 → the deputy GM's band; the loss is allocated 70/30
    case = ok(
        post(
            qe,
            url(cid, "disposition"),
            {"disposition": "allowance", "details": "折让 8000 元", "loss_amount": "8000"},
        )
    )
    assert case["status"] == "awaiting_approval" and case["approval_band"] == "deputy_gm"
    assert [p["amount"] for p in case["responsibility"]] == ["5600.00", "2400.00"]

    # approval above the sales manager's band → 403, nothing changed; wrong password → 400
    before = state(cid)
    assert_error(post(client_for(sales_manager), url(cid, "approve"), {"password": PERSONA_PASSWORD}), 403)
    deputy = client_for(deputy_gm)
    assert_error(post(deputy, url(cid, "approve"), {"password": "wrong-password"}), 400, "signature_refused")
    assert state(cid) == before
    case = ok(post(deputy, url(cid, "approve"), {"password": PERSONA_PASSWORD, "comment": "同意折让"}))
    assert case["status"] == "approved" and case["approved_by"] == deputy_gm.pk
    assert [s["meaning"] for s in case["signatures"]] == ["approved"]
    assert case["signatures"][0]["is_valid"] is True

    # the allowance for finance
    settlement = ok(
        post(qe, "/api/settlements/", {"complaint": cid, "kind": "allowance", "amount": "8000.00"}), 201
    )
    assert settlement["status"] == "open" and settlement["amount"] == "8000.00"
    error = assert_error(
        post(qe, "/api/settlements/", {"complaint": cid, "kind": "allowance", "amount": "1"}), 400
    )
    assert Settlement.objects.filter(complaint_id=cid).count() == 1, error

    # closing is refused without the reply and, for the regulated device, the reportability decision
    before = state(cid)
    assert_error(post(clerk, url(cid, "customer-response"), {"accepted": True}), 409)
    assert state(cid) == before
    reply = {
        "kind": "final",
        "channel": "letter",
        "replied_on": TODAY.isoformat(),
        "text": "同意折让 8000 元。",
    }
    case = ok(post(clerk, url(cid, "replies"), reply))
    assert case["status"] == "replied" and case["replies"][0]["text"] == reply["text"]
    assert case["closure_problems"]  # reportability still missing
    before = state(cid)
    error = assert_error(post(clerk, url(cid, "customer-response"), {"accepted": True}), 409)
    assert "reportability" in error["detail"]
    assert state(cid) == before
    mr = client_for(management_rep)
    decision = {
        "answers": all_false(),
        "outcome": "not_reportable",
        "rationale": "读数不稳定不会导致伤害。",
        "password": PERSONA_PASSWORD,
    }
    case = ok(post(mr, url(cid, "reportability"), decision))
    assert case["reportability"]["outcome"] == "not_reportable"
    assert [s["meaning"] for s in case["reportability"]["signatures"]] == ["reviewed"]
    assert case["closure_problems"] == []

    # the customer rejects → rejected, and a follow-up complaint is opened
    case = ok(post(clerk, url(cid, "customer-response"), {"accepted": False, "response": "折让金额不够。"}))
    assert case["status"] == "rejected" and len(case["follow_ups"]) == 1
    follow = ok(clerk.get(url(case["follow_ups"][0]["id"])))
    assert follow["parent"] == cid and follow["status"] == "registered" and follow["lot_number"] == "L2609-01"

    # a follow-up of the open follow-up is refused (add to it instead)
    before = state(follow["id"])
    assert_error(post(clerk, url(follow["id"], "follow-up"), {"description": "再次投诉"}), 409)
    assert state(follow["id"]) == before
    history = ok(clerk.get(url(cid, "history")))
    assert history["count"] >= 5


def test_R_CO_3_api_close_not_substantiated_needs_reply_and_reportability(
    qe, quality_engineer, management_rep, registered
):
    cid = registered["id"]
    ok(
        post(
            qe, url(cid, "triage"), {"severity": "minor", "category": "quality", "owner": quality_engineer.pk}
        )
    )
    mr = client_for(management_rep)
    before = state(cid)
    error = assert_error(post(mr, url(cid, "not-substantiated"), {"reason": "客户操作不当"}), 409)
    assert len(error["errors"]["__all__"]) == 2  # no reply, no reportability decision
    assert state(cid) == before
    reply = {
        "kind": "first_answer",
        "channel": "phone",
        "replied_on": TODAY.isoformat(),
        "text": "已电话答复。",
    }
    ok(post(qe, url(cid, "replies"), reply))
    before = state(cid)
    error = assert_error(post(mr, url(cid, "not-substantiated"), {"reason": "客户操作不当"}), 409)
    assert "reportability" in error["detail"] + str(error["errors"])
    assert state(cid) == before
    # reportable needs basis and authority
    bad = {"answers": all_false(), "outcome": "reportable", "rationale": "x", "password": PERSONA_PASSWORD}
    error = assert_error(post(mr, url(cid, "reportability"), bad), 400)
    assert {"basis", "authority"} & set(error["errors"])
    missing = {
        "answers": {"death": False},
        "outcome": "not_reportable",
        "rationale": "x",
        "password": PERSONA_PASSWORD,
    }
    assert_error(post(mr, url(cid, "reportability"), missing), 400)
    decision = {
        "answers": all_false(),
        "outcome": "not_reportable",
        "rationale": "无伤害",
        "password": PERSONA_PASSWORD,
    }
    ok(post(mr, url(cid, "reportability"), decision))
    case = ok(post(mr, url(cid, "not-substantiated"), {"reason": "客户操作不当"}))
    assert case["status"] == "not_substantiated" and case["close_reason"] == "客户操作不当"
    assert case["closed_at"] is not None and case["closed_on_time"] is True


# --- bad input ----------------------------------------------------------------------------------
def test_R_CO_2_api_bad_registration_is_400_and_nothing_is_created(clerk, distributor, shipped_lot, hospital):
    before = Complaint.objects.count()
    cases = [
        (complaint_data(distributor, shipped_lot) | {"status": "closed"}, "status"),
        (complaint_data(distributor, shipped_lot) | {"number": "KS-1"}, "number"),
        (complaint_data(distributor, shipped_lot) | {"is_major": True}, "is_major"),
        (complaint_data(distributor, shipped_lot, channel="pigeon"), "channel"),
        (complaint_data(distributor, shipped_lot, demands=["free money"]), "demands.0"),
        (complaint_data(distributor, shipped_lot, defective_quantity="abc"), "defective_quantity"),
        (complaint_data(distributor, shipped_lot, defective_quantity="21"), "defective_quantity"),
        (complaint_data(distributor, shipped_lot, description=""), "description"),
        (complaint_data(distributor, shipped_lot) | {"customer": 999999}, "customer"),
        (complaint_data(distributor) | {"defective_quantity": None}, "quantity"),
        (complaint_data(distributor, shipped_lot, claimed_amount="1e30"), "claimed_amount"),
        (complaint_data(distributor, shipped_lot, description="坏\x00"), "description"),
    ]
    for data, field in cases:
        error = assert_error(post(clerk, "/api/complaints/", data), 400)
        assert field in error["errors"], (field, error)
    assert Complaint.objects.count() == before


def test_R_CO_2_api_customer_outside_scope_is_a_field_error(sales_clerk_2, distributor, shipped_lot):
    error = assert_error(
        post(client_for(sales_clerk_2), "/api/complaints/", complaint_data(distributor)), 400
    )
    assert "customer" in error["errors"]
    assert not Complaint.objects.exists()


def test_R_CO_2_api_corrections_need_version_and_reason(clerk, registered):
    cid = registered["id"]
    target = url(cid)
    assert_error(patch(clerk, target, {"reason": "更正", "contact_name": "李"}), 400, "version_required")
    assert_error(
        patch(clerk, target, {"version": registered["version"], "contact_name": "李"}), 400, "reason_required"
    )
    data = {"version": registered["version"], "reason": "客户更正联系人", "contact_name": "李经理"}
    case = ok(patch(clerk, target, data))
    assert case["contact_name"] == "李经理" and case["version"] == registered["version"] + 1
    assert_error(patch(clerk, target, data), 409, "stale_version")
    assert_error(patch(clerk, target, {**data, "version": None}, HTTP_IF_MATCH='W/"1"'), 412)
    assert_error(patch(clerk, target, {**data, "version": case["version"], "status": "closed"}), 400)


def test_R_CO_7_api_return_over_the_approved_quantity_is_refused(
    qe, sales_clerk, quality_engineer, deputy_gm, sales_manager, reviewer_warehouse, complaint_fields, org
):
    complaint = services.register_complaint(sales_clerk, **complaint_fields)
    approved_case(
        quality_engineer,
        deputy_gm,
        sales_manager,
        complaint,
        org,
        disposition="return",
        loss="3000",
        quantity=Decimal("3"),
    )
    data = {"complaint": complaint.pk, "approved_quantity": "4", "reason": "退货", "disposition": "scrap"}
    error = assert_error(post(qe, "/api/returns/", data), 400)
    assert "approved_quantity" in error["errors"]
    assert not ReturnNote.objects.exists()
    note = ok(post(qe, "/api/returns/", data | {"approved_quantity": "2"}), 201)
    assert note["number"].startswith("TH") and note["status"] == "approved"
    assert_error(post(qe, "/api/returns/", data | {"approved_quantity": "1.5"}), 400)
    assert ReturnNote.objects.count() == 1
    # the warehouse receives (signed), quality inspects, finance posts
    warehouse = client_for(reviewer_warehouse)
    assert_error(
        post(
            qe,
            f"/api/returns/{note['id']}/receive/",
            {"received_quantity": "2", "password": PERSONA_PASSWORD},
        ),
        403,
    )
    note = ok(
        post(
            warehouse,
            f"/api/returns/{note['id']}/receive/",
            {"received_quantity": "2", "password": PERSONA_PASSWORD},
        )
    )
    assert note["status"] == "received" and [s["meaning"] for s in note["signatures"]] == ["acknowledged"]
    note = ok(post(qe, f"/api/returns/{note['id']}/inspect/", {"report": "品质异常处理报告：焊点虚焊"}))
    assert note["status"] == "inspected"


def test_R_CO_3_api_findings_and_text_are_returned_as_data(
    clerk, qe, quality_engineer, distributor, shipped_lot
):
    """Text with HTML/script is stored and returned as typed, in JSON (clients escape it)."""
    response = post(clerk, "/api/complaints/", complaint_data(distributor, shipped_lot, description=HTML))
    case = ok(response, 201)
    assert response["Content-Type"].startswith("application/json")
    assert case["description"] == HTML
    fetched = clerk.get(url(case["id"]))
    assert fetched["Content-Type"].startswith("application/json") and body(fetched)["description"] == HTML
    ok(
        post(
            qe,
            url(case["id"], "triage"),
            {"severity": "minor", "category": "quality", "owner": quality_engineer.pk},
        )
    )
    case = ok(post(qe, url(case["id"], "findings"), {"text": HTML}))
    assert case["findings"][0]["text"] == HTML


def test_R_CO_3_api_triage_input_errors(qe, clerk, registered, sales_clerk):
    cid = registered["id"]
    before = state(cid)
    bad = [
        ({"severity": "apocalyptic", "category": "quality", "owner": 1}, "severity"),
        ({"severity": "minor", "category": "quality"}, "owner"),
        ({"severity": "minor", "category": "quality", "owner": 999999}, "owner"),
        (
            {"severity": "minor", "category": "quality", "owner": sales_clerk.pk},
            "owner",
        ),  # cannot investigate
    ]
    for data, field in bad:
        error = assert_error(post(qe, url(cid, "triage"), data), 400)
        assert field in error["errors"], (field, error)
    # the clerk may see the complaint but not triage it
    triage = {"severity": "minor", "category": "quality", "owner": sales_clerk.pk}
    assert_error(post(clerk, url(cid, "triage"), triage), 403)
    assert state(cid) == before


# --- scope and permissions ----------------------------------------------------------------------
def test_R_CO_3_api_scope_another_clerks_and_departments_complaints_are_404(
    sales_clerk_2, reviewer_rnd, reviewer_production, qe, clerk, quality_engineer, registered, org
):
    cid = registered["id"]
    other = client_for(sales_clerk_2)
    assert_error(other.get(url(cid)), 404, "not_found")
    assert cid not in [r["id"] for r in ok(other.get("/api/complaints/"))["results"]]
    triage = {"severity": "minor", "category": "quality", "owner": quality_engineer.pk}
    assert_error(post(other, url(cid, "triage"), triage), 404)
    assert_error(post(other, url(cid, "follow-up"), {"description": "x"}), 404)
    production = client_for(reviewer_production)
    assert_error(production.get(url(cid)), 404)
    # the clerk sees it but may not triage (403), and nothing changes
    before = state(cid)
    assert_error(post(clerk, url(cid, "triage"), triage), 403, "permission_denied")
    assert state(cid) == before
    ok(post(client_for(quality_engineer), url(cid, "triage"), triage))
    ok(post(qe, url(cid, "start-investigation"), {"departments": [org["production"].pk]}))
    assert ok(production.get(url(cid)))["id"] == cid  # asked for findings: now in its scope
    rnd = client_for(reviewer_rnd)
    assert_error(rnd.get(url(cid)), 404)
    assert_error(post(rnd, url(cid, "findings"), {"text": "x"}), 404)
    # ids out of range are 404, not 500
    assert_error(clerk.get(url(2**63)), 404)


def test_R_CO_2_api_list_needs_the_permission(db, registered):
    outsider = UserFactory(roles=[], department=None)
    assert_error(client_for(outsider).get("/api/complaints/"), 403)
    assert_error(client_for(outsider).get(url(registered["id"])), 404)
    assert_error(Client().get("/api/complaints/"), 401, "not_authenticated")


def test_R_CO_2_api_portal_user_sees_only_their_company(sales_clerk, distributor, hospital, complaint_row):
    mine = complaint_row(customer=distributor)
    theirs = complaint_row(customer=hospital)
    user = UserFactory(roles=["portal_customer"], department=None)
    with audit_context(actor=user):
        CustomerPortalUser.objects.create(user=user, customer=distributor)
    portal = client_for(user)
    assert [r["id"] for r in ok(portal.get("/api/complaints/"))["results"]] == [mine.pk]
    assert ok(portal.get(url(mine.pk)))["id"] == mine.pk
    assert_error(portal.get(url(theirs.pk)), 404)
    assert_error(
        post(
            portal,
            url(mine.pk, "triage"),
            {"severity": "minor", "category": "quality", "owner": sales_clerk.pk},
        ),
        403,
    )
    with audit_context(actor=sales_clerk):
        Feedback.objects.create(
            number="FK-T-1",
            channel="phone",
            kind="praise",
            customer=hospital,
            subject="表扬",
            content="x",
            recorded_by=sales_clerk,
        )
    assert ok(portal.get("/api/feedback/"))["count"] == 0


def test_R_CO_2_api_list_filters(
    clerk, qe, quality_engineer, distributor, foreign_customer, complaint_row, registered
):
    complaint_row(customer=distributor, lot_number="L-OTHER", is_major=True)
    rows = ok(qe.get("/api/complaints/", {"lot": "L2609-01"}))["results"]
    assert [r["id"] for r in rows] == [registered["id"]]
    assert ok(qe.get("/api/complaints/", {"major": "true"}))["count"] == 1
    assert ok(qe.get("/api/complaints/", {"status": "registered", "customer": distributor.pk}))["count"] == 2
    assert ok(qe.get("/api/complaints/", {"open": "false"}))["count"] == 0
    assert ok(qe.get("/api/complaints/", {"q": "血氧"}))["count"] >= 1
    assert_error(qe.get("/api/complaints/", {"status": "lost"}), 400)
    assert_error(qe.get("/api/complaints/", {"period_from": "2026-13"}), 400)
    assert_error(qe.get("/api/complaints/", {"ordering": "password"}), 400)


# --- feedback -----------------------------------------------------------------------------------
def test_R_CO_1_api_feedback_log_answer_convert(
    clerk, qe, sales_clerk, quality_engineer, distributor, shipped_lot, device
):
    data = {
        "channel": "phone",
        "kind": "claim",
        "subject": "血氧读数不稳定",
        "content": HTML,
        "customer": distributor.pk,
        "product": device.pk,
    }
    response = post(clerk, "/api/feedback/", data)
    entry = ok(response, 201)
    assert entry["number"].startswith("FK-") and entry["status"] == "open" and entry["due_at"]
    assert entry["owner"] == sales_clerk.pk and entry["content"] == HTML
    assert_error(post(clerk, "/api/feedback/", data | {"status": "answered"}), 400)
    assert_error(post(clerk, "/api/feedback/", data | {"kind": "gossip"}), 400)
    assert Feedback.objects.count() == 1
    listed = ok(clerk.get("/api/feedback/", {"status": "open"}))
    assert [r["id"] for r in listed["results"]] == [entry["id"]]
    complaint = ok(
        post(
            clerk,
            f"/api/feedback/{entry['id']}/convert-to-complaint/",
            {
                "channel": "phone",
                "description": "转为投诉",
                "shipment_line": shipped_lot.pk,
                "defective_quantity": "1",
            },
        ),
        201,
    )
    assert complaint["feedback"] == entry["id"] and complaint["customer"] == distributor.pk
    entry = ok(clerk.get(f"/api/feedback/{entry['id']}/"))
    assert entry["status"] == "converted" and entry["converted_to_number"] == complaint["number"]
    # praise is answered and closed
    praise = ok(post(clerk, "/api/feedback/", data | {"kind": "praise", "content": "服务很好"}), 201)
    praise = ok(post(clerk, f"/api/feedback/{praise['id']}/answer/", {"channel": "phone", "answer": "谢谢"}))
    assert praise["status"] == "answered" and praise["answer"] == "谢谢"
    praise = ok(post(clerk, f"/api/feedback/{praise['id']}/close/", {"reason": "表扬已记录"}))
    assert praise["status"] == "closed"
    # a suggestion becomes a CAPA (quality)
    idea = ok(post(qe, "/api/feedback/", data | {"kind": "suggestion"}), 201)
    capa = ok(
        post(
            qe,
            f"/api/feedback/{idea['id']}/convert-to-capa/",
            {"title": "改进", "problem": "建议", "owner": quality_engineer.pk},
        ),
        201,
    )
    assert capa["number"].startswith("CA-") and capa["feedback"] == idea["id"]


def test_R_CO_1_api_feedback_from_communication(clerk, sales_clerk, sales_clerk_2, distributor):
    with audit_context(actor=sales_clerk):
        entry = Communication.objects.create(
            customer=distributor,
            kind="call",
            occurred_at=timezone.now(),
            subject="来电反映打印纸卡纸",
            summary="客户来电",
            recorded_by=sales_clerk,
        )
    data = {"communication": entry.pk, "kind": "quality_opinion"}
    assert_error(post(client_for(sales_clerk_2), "/api/feedback/from-communication/", data), 400)
    feedback = ok(post(clerk, "/api/feedback/from-communication/", data), 201)
    assert feedback["communication"] == entry.pk and feedback["customer"] == distributor.pk
    assert feedback["subject"] == "来电反映打印纸卡纸"
    entry.refresh_from_db()
    assert entry.converted_to_type == "feedback" and entry.converted_to_id == str(feedback["id"])


# --- CAPA ---------------------------------------------------------------------------------------
def test_R_CO_6_api_capa_from_complaint_to_verification(
    qe, quality_engineer, reviewer_production, management_rep, complaint_fields
):
    complaint = services.register_complaint(quality_engineer, **complaint_fields)
    data = {
        "source": "complaint",
        "title": "血氧模块焊接",
        "problem": "批次 L2609-01 焊点虚焊",
        "owner": quality_engineer.pk,
        "complaints": [complaint.pk],
    }
    assert_error(post(qe, "/api/capas/", data | {"complaints": []}), 400)
    capa = ok(post(qe, "/api/capas/", data), 201)
    assert capa["status"] == "open" and capa["complaints"] == [
        {"id": complaint.pk, "number": complaint.number}
    ]
    cid = capa["id"]
    analysis = {
        "containment": "隔离库存",
        "why_analysis": ["读数不稳", "焊点虚焊", "温度偏低"],
        "fishbone": {"machine": "波峰焊温控漂移", "method": "无首件检验"},
        "root_cause": "温控器漂移",
    }
    assert_error(post(qe, f"/api/capas/{cid}/analysis/", analysis | {"why_analysis": ["1"] * 6}), 400)
    assert_error(post(qe, f"/api/capas/{cid}/analysis/", analysis | {"fishbone": {"luck": "x"}}), 400)
    capa = ok(post(qe, f"/api/capas/{cid}/analysis/", analysis))
    assert capa["fishbone"]["machine"] == "波峰焊温控漂移" and capa["root_cause"] == "温控器漂移"
    due = (TODAY + datetime.timedelta(days=14)).isoformat()
    action = ok(
        post(
            qe,
            f"/api/capas/{cid}/actions/",
            {"description": "校准温控器", "owner": reviewer_production.pk, "due_on": due},
        ),
        201,
    )
    assert action["status"] == "open" and action["owner"] == reviewer_production.pk
    assert_error(post(qe, f"/api/capas/{cid}/submit-verification/"), 409)
    done = ok(
        post(
            client_for(reviewer_production),
            f"/api/capas/{cid}/actions/{action['id']}/complete/",
            {"result": "已校准"},
        )
    )
    assert done["status"] == "done"
    assert_error(post(qe, f"/api/capas/{cid}/actions/999999/complete/", {"result": "x"}), 404)
    capa = ok(post(qe, f"/api/capas/{cid}/submit-verification/"))
    assert capa["status"] == "verification"
    verify = {"effective": True, "verification": "连续三批无投诉", "password": PERSONA_PASSWORD}
    assert_error(
        post(qe, f"/api/capas/{cid}/verify/", verify | {"password": "nope"}), 400, "signature_refused"
    )
    capa = ok(post(qe, f"/api/capas/{cid}/verify/", verify))
    assert capa["status"] == "closed" and [s["meaning"] for s in capa["signatures"]] == ["verified"]


def test_R_CO_6_api_one_click_capa_for_repeats(qe, quality_engineer, complaint_row, device):
    rows = [
        complaint_row(product=device, cause_category="production", is_repeat=True, owner=quality_engineer)
        for _ in range(3)
    ]
    plain = complaint_row(product=device)
    assert_error(post(qe, f"/api/complaints/{plain.pk}/capa/", {}), 409)
    capa = ok(post(qe, f"/api/complaints/{rows[0].pk}/capa/", {}), 201)
    assert capa["source"] == "repeated_complaints"
    assert {c["id"] for c in capa["complaints"]} == {r.pk for r in rows}
    assert Capa.objects.count() == 1


# --- statistics ---------------------------------------------------------------------------------
def test_R_CO_11_api_statistics(qe, clerk, complaint_row, distributor):
    period = timezone.localtime().strftime("%Y-%m")
    complaint_row(customer=distributor, category="quality")
    assert_error(
        clerk.get("/api/reports/complaints/statistics/", {"period_from": period, "period_to": period}), 403
    )
    assert_error(
        qe.get("/api/reports/complaints/statistics/", {"period_from": "2026-1", "period_to": period}), 400
    )
    assert_error(
        qe.get("/api/reports/complaints/statistics/", {"period_from": period, "period_to": "2000-01"}), 400
    )
    stats = ok(qe.get("/api/reports/complaints/statistics/", {"period_from": period, "period_to": period}))
    assert stats["data"]["totals"]["received"] == 1
    assert stats["data"]["by_customer"][0]["count"] == 1
    report = ok(qe.get(f"/api/reports/complaints/responsibility/{period}/"))
    assert report["period"] == period and report["stored"] is False
    assert_error(qe.get("/api/reports/complaints/responsibility/2026-99/"), 400)
    assert_error(clerk.get(f"/api/reports/complaints/responsibility/{period}/"), 403)
