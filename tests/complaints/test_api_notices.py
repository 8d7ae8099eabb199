"""R-IF-2 for advisory notices and recalls (R-CO-10) through the REST API.

A recall of a lot shipped to several customers: drafted by quality, the affected customers
listed from traceability, issued and signed by the management representative, one recipient
per customer with acknowledgement and action, effectiveness, authority notification and
closure; bad input refused with nothing changed; the portal sees only its own company's row.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.complaints.models import AdvisoryNotice, NoticeRecipient
from qcare.core.context import audit_context
from qcare.customers.models import CustomerPortalUser
from tests.complaints.conftest import LOT
from tests.factories import UserFactory
from tests.orders.test_api import assert_error, client_for, ok, patch, post
from tests.personas import PERSONA_PASSWORD


def notice_data(product, lot=LOT, **extra):
    return {
        "kind": "recall",
        "title": f"批号 {lot} 监护仪召回",
        "reason": "血氧模块焊点虚焊",
        "risk": "high",
        "risk_description": "读数错误可能延误诊疗",
        "action_required": "停止使用并退回",
        "items": [{"product": product.pk, "lot_number": lot}],
    } | extra


@pytest.fixture
def qe(quality_engineer):
    return client_for(quality_engineer)


@pytest.fixture
def mr(management_rep):
    return client_for(management_rep)


@pytest.fixture
def reach(shipped_lot, lot_to_customers):
    """The lot went to the distributor (20 units) and to three hospitals (2 units each)."""
    return [shipped_lot, *lot_to_customers(3)]


def test_R_CO_10_api_recall_reaches_every_customer_with_acknowledgements(qe, mr, device, reach, distributor):
    response = post(qe, "/api/notices/", notice_data(device))
    notice = ok(response, 201)
    nid = notice["id"]
    assert response["Location"].endswith(f"/api/notices/{nid}/")
    assert notice["number"].startswith("AN-") and notice["status"] == "draft"
    assert [(i["product"], i["lot_number"]) for i in notice["items"]] == [(device.pk, LOT)]

    affected = ok(qe.get(f"/api/notices/{nid}/affected-customers/"))
    assert {row["customer"] for row in affected} == {line.shipment.customer_id for line in reach}
    by_customer = {row["customer"]: row for row in affected}
    assert by_customer[distributor.pk]["quantity"] == "20.000"

    notice = ok(patch(qe, f"/api/notices/{nid}/", {"version": notice["version"], "risk": "medium"}))
    assert notice["risk"] == "medium"

    # only the management representative issues, with the right password
    assert_error(post(qe, f"/api/notices/{nid}/issue/", {"password": PERSONA_PASSWORD}), 403)
    assert_error(post(mr, f"/api/notices/{nid}/issue/", {"password": "wrong"}), 400, "signature_refused")
    assert AdvisoryNotice.objects.get(pk=nid).status == "draft" and not NoticeRecipient.objects.exists()
    notice = ok(post(mr, f"/api/notices/{nid}/issue/", {"password": PERSONA_PASSWORD}))
    assert notice["status"] == "issued" and notice["recipients"] == 4 and notice["recipients_complete"] == 0
    assert [s["meaning"] for s in notice["signatures"]] == ["approved"]
    assert_error(patch(qe, f"/api/notices/{nid}/", {"version": notice["version"], "title": "改"}), 409)

    recipients = ok(qe.get(f"/api/notices/{nid}/recipients/"))
    assert recipients["count"] == 4
    row = next(r for r in recipients["results"] if r["customer"] == distributor.pk)
    assert row["quantity_shipped"] == "20.000" and row["is_complete"] is False and row["shipments"]

    ack_url = f"/api/notices/{nid}/recipients/{row['id']}/acknowledgement/"
    error = assert_error(post(qe, ack_url, {"acknowledged_by_name": "陈经理", "action": "eaten"}), 400)
    assert "action" in error["errors"]
    assert_error(post(qe, f"/api/notices/{nid}/recipients/999999/acknowledgement/", {"action": "none"}), 404)
    done = ok(
        post(
            qe,
            ack_url,
            {
                "acknowledged_by_name": "陈经理",
                "action": "returned",
                "quantity_accounted": "20",
                "comment": "已退回",
            },
        )
    )
    assert done["is_complete"] is True and done["acknowledged_by_name"] == "陈经理"
    assert ok(qe.get(f"/api/notices/{nid}/recipients/", {"complete": "false"}))["count"] == 3

    effect = ok(qe.get(f"/api/notices/{nid}/effectiveness/"))
    assert (effect["customers"], effect["completed"]) == (4, 1)
    assert Decimal(effect["units_shipped"]) == 26 and Decimal(effect["units_accounted"]) == 20
    assert effect["share_accounted"] == "76.9"

    authority = {"authority_name": "广东省药品监督管理局", "notified_at": timezone.now().isoformat()}
    notice = ok(post(qe, f"/api/notices/{nid}/authority-notification/", authority))
    assert notice["authority_name"] == "广东省药品监督管理局"

    # closing with incomplete customers needs a comment
    error = assert_error(post(mr, f"/api/notices/{nid}/close/", {}), 400)
    assert "comment" in error["errors"]
    notice = ok(post(mr, f"/api/notices/{nid}/close/", {"comment": "其余客户确认无库存"}))
    assert notice["status"] == "closed"


def test_R_CO_10_api_bad_notice_input_is_refused(qe, device, reach):
    cases = [
        (notice_data(device, items=[]), "items"),
        (notice_data(device, items=[{"product": 999999}]), "items.0.product"),
        (notice_data(device, risk="apocalyptic"), "risk"),
        (notice_data(device) | {"status": "issued"}, "status"),
        (notice_data(device) | {"number": "AN-1"}, "number"),
        (notice_data(device, title=""), "title"),
    ]
    for data, field in cases:
        error = assert_error(post(qe, "/api/notices/", data), 400)
        assert field in error["errors"], (field, error)
    assert not AdvisoryNotice.objects.exists()


def test_R_CO_10_api_notice_reaching_nobody_is_not_issued(qe, mr, device, reach):
    notice = ok(post(qe, "/api/notices/", notice_data(device, lot="L-NOBODY")), 201)
    assert ok(qe.get(f"/api/notices/{notice['id']}/affected-customers/")) == []
    assert_error(post(mr, f"/api/notices/{notice['id']}/issue/", {"password": PERSONA_PASSWORD}), 409)
    assert AdvisoryNotice.objects.get(pk=notice["id"]).status == "draft"
    notice = ok(post(qe, f"/api/notices/{notice['id']}/cancel/", {"reason": "批号录入错误"}))
    assert notice["status"] == "cancelled"


def test_R_CO_10_api_portal_sees_only_its_own_recipient_row(qe, mr, device, reach, distributor, sales_clerk):
    notice = ok(post(qe, "/api/notices/", notice_data(device)), 201)
    draft_only = ok(post(qe, "/api/notices/", notice_data(device, title="草稿")), 201)
    ok(post(mr, f"/api/notices/{notice['id']}/issue/", {"password": PERSONA_PASSWORD}))
    user = UserFactory(roles=["portal_customer"], department=None)
    with audit_context(actor=user):
        CustomerPortalUser.objects.create(user=user, customer=distributor)
    portal = client_for(user)
    assert [n["id"] for n in ok(portal.get("/api/notices/"))["results"]] == [notice["id"]]
    assert_error(portal.get(f"/api/notices/{draft_only['id']}/"), 404)
    detail = ok(portal.get(f"/api/notices/{notice['id']}/"))
    assert detail["recipients"] == 1  # their own company only
    rows = ok(portal.get(f"/api/notices/{notice['id']}/recipients/"))["results"]
    assert [r["customer"] for r in rows] == [distributor.pk]
    assert_error(portal.get(f"/api/notices/{notice['id']}/effectiveness/"), 403)
    assert_error(portal.get(f"/api/notices/{notice['id']}/affected-customers/"), 403)
    ack = {"acknowledged_by_name": "陈经理", "action": "none"}
    assert_error(
        post(portal, f"/api/notices/{notice['id']}/recipients/{rows[0]['id']}/acknowledgement/", ack), 403
    )
    assert NoticeRecipient.objects.get(pk=rows[0]["id"]).acknowledged_at is None
    # a sales clerk sees notices (notices.view) but may not record acknowledgements
    clerk = client_for(sales_clerk)
    assert ok(clerk.get(f"/api/notices/{notice['id']}/recipients/"))["count"] == 4
    assert_error(
        post(clerk, f"/api/notices/{notice['id']}/recipients/{rows[0]['id']}/acknowledgement/", ack), 403
    )
