"""Screens after approval (R-OR-7…12): change requests and their diff, versions, production
notices, shipments with serial numbers, the sales record and its export, traceability, metrics,
and the contract review record as HTML and PDF.

Orders go through the real services (submitted, reviewed, approved); the screens are driven
with the test client as the persona who would use them, in English (language cookie).
"""

import io
import re
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qcare.audit.models import AuditEntry
from qcare.orders import services
from qcare.orders import services_change as changes
from qcare.orders import services_fulfil as fulfil
from qcare.orders.choices import ChangeStatus, NoticeStatus, OrderClass, ReviewStatus
from qcare.orders.models import (
    ChangeAcknowledgement,
    ChangeRequest,
    OrderVersion,
    ProductionNotice,
    SalesRecord,
    Shipment,
    ShipmentLine,
)
from qcare.orders.views_after import bar_chart, my_production_notices
from tests.orders.test_workflow_support import (
    approved_order,
    line,
    make_known,
    make_order,
    sign,
    team_fixture,  # noqa: F401  (fixture: team)
)
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------------
def web(user, language="en"):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode()


@pytest.fixture
def order(sales_clerk, sales_manager, distributor, device, accessory, team):
    """A regular order (not in stock) of a known customer: production, purchasing and sales
    reviewed it, the sales manager approved it. Line 1: 10 monitors, line 2: 5 rolls of paper."""
    make_known(distributor, sales_clerk)
    draft = make_order(
        sales_clerk,
        distributor,
        line(device, qty="10", price="1000"),
        line(accessory, qty="5", price="20"),
    )
    approved = approved_order(draft, team, sales_manager)
    assert approved.order_class == OrderClass.REGULAR_NO_STOCK
    return approved


def change_form_data(order, **overrides):
    """The change form as the browser posts it, prefilled with the order's current content."""
    data = {
        "customer_reference": order.customer_reference,
        "currency": order.currency,
        "exchange_rate": str(order.exchange_rate),
        "payment_terms": order.payment_terms,
        "delivery_address": order.delivery_address,
        "special_delivery": order.special_delivery,
        "reason": "客户要求推迟交货",
        "customer_agreed": "on",
        "customer_agreement": "客户 6 月 10 日邮件同意",
        "version": str(order.version),
        "lines-TOTAL_FORMS": str(order.lines.count()),
        "lines-INITIAL_FORMS": str(order.lines.count()),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
    }
    for category, entry in order.requirements.items():
        data[f"requirements_{category}"] = entry.get("text", "")
    for index, order_line in enumerate(order.lines.order_by("line_no")):
        prefix = f"lines-{index}-"
        data |= {
            f"{prefix}line_no": str(order_line.line_no),
            f"{prefix}product": str(order_line.product_id),
            f"{prefix}specification": order_line.specification,
            f"{prefix}quantity": str(order_line.quantity),
            f"{prefix}unit": order_line.unit,
            f"{prefix}unit_price": str(order_line.unit_price),
            f"{prefix}requested_date": order_line.requested_date.isoformat(),
            f"{prefix}delivery_mode": order_line.delivery_mode,
            f"{prefix}packaging": order_line.packaging,
            f"{prefix}acceptance_criteria": order_line.acceptance_criteria,
            f"{prefix}in_stock": "unknown",
        }
    return data | overrides


def later_date(order, days=30):
    return (order.lines.get(line_no=1).requested_date + timedelta(days=days)).isoformat()


def submitted_change(order, actor, **proposed_line):
    """A change of line 1's requested date, drafted and submitted through the services."""
    change = changes.create_change_request(
        actor,
        order,
        proposed={"lines": [{"line_no": 1, "requested_date": later_date(order)}, {"line_no": 2}]},
        reason="客户要求推迟交货",
        customer_agreed=True,
        customer_agreement="客户邮件同意",
    )
    return changes.submit_change_request(actor, change)


def sign_change(change, team):
    for review in changes.change_reviews(change).filter(status=ReviewStatus.PENDING):
        sign(team[review.department.code], review)
    change.refresh_from_db()
    return change


def applied_change(order, clerk, manager, team):
    change = sign_change(submitted_change(order, clerk), team)
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    return changes.approve_change_request(manager, change, password=PERSONA_PASSWORD)


def ship(order, warehouse, *serials, lot="B2506001"):
    first = order.lines.get(line_no=1)
    rows = [
        {
            "order_line": first,
            "quantity": 1,
            "lot_number": lot,
            "serial_number": serial,
            "expiry_date": timezone.localdate() + timedelta(days=700),
        }
        for serial in serials
    ]
    return fulfil.create_shipment(warehouse, order, shipped_on=timezone.localdate(), lines=rows)


# --- change request: form, diff, rows (R-OR-8) -------------------------------------------------
def test_R_OR_8_change_form_prefilled_and_save_shows_the_field_level_diff(order, sales_clerk):
    client = web(sales_clerk)
    url = reverse("orders:change_create", args=[order.pk])
    page = client.get(url)
    assert page.status_code == 200
    formset = page.context["formset"]
    assert [row.initial["line_no"] for row in formset.forms] == [1, 2]
    assert formset.forms[0].initial["quantity"] == "10"
    old_date = order.lines.get(line_no=1).requested_date.isoformat()
    new_date = later_date(order)

    response = client.post(url, change_form_data(order, **{"lines-0-requested_date": new_date}))

    change = ChangeRequest.objects.get(order=order)
    assert response.status_code == 302
    assert response.url == reverse("orders:change_detail", args=[change.pk])
    assert change.customer_agreed and change.reason == "客户要求推迟交货"
    assert [(d["field"], d["line_no"]) for d in change.diff] == [("requested_date", 1)]
    detail = text_of(client.get(response.url))
    assert f"<del>{old_date}</del>" in detail and f"<ins>{new_date}</ins>" in detail
    assert "Delivery dates" in detail  # the subject the change concerns


def test_R_OR_8_add_a_line_keeps_input_and_saves_nothing_then_the_new_line_is_proposed(
    order, sales_clerk, accessory
):
    client = web(sales_clerk)
    url = reverse("orders:change_create", args=[order.pk])
    data = change_form_data(order, reason="增加一行", add_line="1")
    page = client.post(url, data)
    assert page.status_code == 200 and not ChangeRequest.objects.exists()
    assert len(page.context["formset"].forms) == 3
    assert page.context["form"]["reason"].value() == "增加一行"
    assert not page.context["form"].errors and not any(row.errors for row in page.context["formset"])

    data = change_form_data(order, reason="增加一行") | {
        "lines-TOTAL_FORMS": "3",
        "lines-2-product": str(accessory.pk),
        "lines-2-quantity": "7",
        "lines-2-unit": "卷",
        "lines-2-unit_price": "25",
        "lines-2-in_stock": "unknown",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    change = ChangeRequest.objects.get(order=order)
    added = [d for d in change.diff if d["field"] == "line"]
    assert added and added[0]["line_no"] == 3 and added[0]["old"] is None
    assert change.proposed["lines"][2]["quantity"] == "7.000"


def test_R_OR_8_service_errors_land_on_the_line_and_nothing_is_lost(order, sales_clerk, reviewer_warehouse):
    ship(order, reviewer_warehouse, "SN-1", "SN-2", "SN-3", "SN-4")
    order.refresh_from_db()
    client = web(sales_clerk)
    url = reverse("orders:change_create", args=[order.pk])
    response = client.post(url, change_form_data(order, **{"lines-0-quantity": "2"}))
    assert response.status_code == 200
    row = response.context["formset"].forms[0]
    assert "below the 4 already shipped" in " ".join(row.errors["quantity"])
    assert row["quantity"].value() == "2" and response.context["form"]["reason"].value() == "客户要求推迟交货"
    assert not ChangeRequest.objects.exists()
    # a proposal that changes nothing: said on top of the form
    response = client.post(url, change_form_data(order))
    assert "nothing would change" in " ".join(response.context["form"].non_field_errors())


def test_R_OR_8_change_screens_only_for_those_who_may(
    order, sales_clerk_2, reviewer_production, technician, sales_clerk
):
    url = reverse("orders:change_create", args=[order.pk])
    assert web(sales_clerk_2).get(url).status_code == 404  # another clerk's order
    assert web(reviewer_production).get(url).status_code == 404  # may view, may not change
    assert web(technician).get(url).status_code == 404
    assert web(technician).get(reverse("orders:change_list")).status_code == 403
    change = submitted_change(order, sales_clerk)
    assert web(sales_clerk_2).get(reverse("orders:change_detail", args=[change.pk])).status_code == 404
    assert web(sales_clerk).get(reverse("orders:change_approve", args=[change.pk])).status_code == 403
    listed = web(sales_clerk).get(reverse("orders:change_list"))
    assert [c.number for c in listed.context["listing"].page.object_list] == [change.number]


def test_R_OR_8_edit_draft_and_submit_needs_the_customer_agreement(order, sales_clerk):
    change = changes.create_change_request(
        sales_clerk,
        order,
        proposed={"lines": [{"line_no": 1, "requested_date": later_date(order)}, {"line_no": 2}]},
        reason="客户要求推迟交货",
    )
    client = web(sales_clerk)
    response = client.post(reverse("orders:change_submit", args=[change.pk]), follow=True)
    assert "Record that the customer agreed" in text_of(response)
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT

    edit = reverse("orders:change_edit", args=[change.pk])
    page = client.get(edit)
    assert page.context["formset"].forms[0].initial["requested_date"] == later_date(order)
    data = change_form_data(order, **{"lines-0-requested_date": later_date(order, 60)}) | {
        "version": str(change.version)
    }
    assert client.post(edit, data).status_code == 302
    change.refresh_from_db()
    assert change.customer_agreed and change.diff[0]["new"] == later_date(order, 60)
    client.post(reverse("orders:change_submit", args=[change.pk]))
    change.refresh_from_db()
    assert change.status == ChangeStatus.UNDER_REVIEW


def test_R_OR_8_reviewers_asked_get_a_link_to_sign_and_the_approver_signs_with_password(
    order, sales_clerk, sales_manager, reviewer_production, reviewer_purchasing, team, gm
):
    change = submitted_change(order, sales_clerk)
    detail = reverse("orders:change_detail", args=[change.pk])
    pending = changes.change_reviews(change).get(department__code="production")
    sign_url = reverse("orders:review_sign", args=[pending.pk])
    assert sign_url in text_of(web(reviewer_production).get(detail))
    assert sign_url not in text_of(web(reviewer_purchasing).get(detail))

    approve = reverse("orders:change_approve", args=[change.pk])
    client = web(sales_manager)
    early = client.get(approve)
    assert any("has not reviewed the change" in problem for problem in early.context["problems"])
    not_named = web(gm).get(approve).context["problems"]
    assert any("may approve this" in problem for problem in not_named)  # a regular order: sales manager

    change = sign_change(change, team)
    assert 'data-testid="approve"' in text_of(client.get(detail))
    wrong = client.post(approve, {"meaning": "approved", "username": "wangfang", "password": "wrong"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    change.refresh_from_db()
    assert change.status == ChangeStatus.AWAITING_APPROVAL

    ok = client.post(approve, {"meaning": "approved", "username": "wangfang", "password": PERSONA_PASSWORD})
    assert ok.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED
    assert OrderVersion.objects.filter(order=order).count() == 2


def test_R_OR_8_reject_needs_a_reason_and_withdraw_closes_the_request(
    order, sales_clerk, sales_manager, team
):
    change = sign_change(submitted_change(order, sales_clerk), team)
    reject = reverse("orders:change_reject", args=[change.pk])
    client = web(sales_manager)
    missing = client.post(
        reject, {"meaning": "rejected", "username": "wangfang", "password": PERSONA_PASSWORD}
    )
    assert missing.status_code == 200 and "reason" in missing.context["form"].errors
    done = client.post(
        reject,
        {
            "meaning": "rejected",
            "username": "wangfang",
            "password": PERSONA_PASSWORD,
            "reason": "价格不可接受",
        },
    )
    assert done.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.REJECTED

    second = submitted_change(order, sales_clerk)
    withdraw = reverse("orders:change_withdraw", args=[second.pk])
    assert web(sales_clerk).post(withdraw, {"reason": ""}).status_code == 200
    assert web(sales_clerk).post(withdraw, {"reason": "客户撤回"}).status_code == 302
    second.refresh_from_db()
    assert second.status == ChangeStatus.WITHDRAWN


def test_R_OR_8_acknowledge_button_for_my_department_only(
    order, sales_clerk, sales_manager, reviewer_production, reviewer_purchasing, team
):
    change = applied_change(order, sales_clerk, sales_manager, team)
    detail = reverse("orders:change_detail", args=[change.pk])
    production_ack = ChangeAcknowledgement.objects.get(change_request=change, department__code="production")
    ack_url = reverse("orders:change_acknowledge", args=[production_ack.pk])
    assert ack_url in text_of(web(reviewer_production).get(detail))
    assert f'action="{ack_url}"' not in text_of(web(reviewer_purchasing).get(detail))
    assert web(reviewer_purchasing).post(ack_url).status_code == 403

    assert web(reviewer_production).post(ack_url).status_code == 302
    production_ack.refresh_from_db()
    assert production_ack.acknowledged_by == reviewer_production
    again = web(reviewer_production).post(ack_url, follow=True)
    assert "already acknowledged" in text_of(again)


def test_R_OR_8_versions_old_and_new_side_by_side(order, sales_clerk, sales_manager, team):
    old_date = order.lines.get(line_no=1).requested_date.isoformat()
    applied_change(order, sales_clerk, sales_manager, team)
    page = web(sales_clerk).get(reverse("orders:versions", args=[order.pk]))
    assert page.status_code == 200
    assert (page.context["old"].number, page.context["new"].number) == (1, 2)
    changed = [cell for row in page.context["line_rows"] for cell in row["cells"] if cell["changed"]]
    assert [(c["old"], c["new"]) for c in changed] == [(old_date, later_date(order, 0))]
    same = web(sales_clerk).get(reverse("orders:versions", args=[order.pk]), {"a": 1, "b": 1})
    assert not any(cell["changed"] for row in same.context["line_rows"] for cell in row["cells"])
    assert web(sales_clerk).get(reverse("orders:versions", args=[order.pk + 999])).status_code == 404


# --- production notice (R-OR-9) ---------------------------------------------------------------
def test_R_OR_9_notice_issued_with_planned_dates_and_acknowledged_by_production(
    order, sales_clerk, reviewer_production, reviewer_purchasing
):
    client = web(sales_clerk)
    url = reverse("orders:notice_create", args=[order.pk])
    page = client.get(url)
    assert [row.initial["quantity"] for row in page.context["formset"].forms] == [10, 5]
    planned = (timezone.localdate() + timedelta(days=20)).isoformat()
    data = {
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "2",
        "lines-0-order_line": str(order.lines.get(line_no=1).pk),
        "lines-0-quantity": "10",
        "lines-0-planned_date": planned,
        "lines-1-order_line": str(order.lines.get(line_no=2).pk),
        "lines-1-quantity": "",
        "lines-1-planned_date": "",
        "notes": "优先排产",
    }
    past = data | {"lines-0-planned_date": (timezone.localdate() - timedelta(days=1)).isoformat()}
    refused = client.post(url, past)
    assert refused.status_code == 200 and not ProductionNotice.objects.exists()
    assert "in the past" in " ".join(refused.context["formset"].forms[0].errors["planned_date"])

    response = client.post(url, data)
    notice = ProductionNotice.objects.get(order=order)
    assert response.status_code == 302 and response.url == reverse("orders:notice_detail", args=[notice.pk])
    assert [(n.order_line.line_no, n.quantity) for n in notice.lines.all()] == [(1, 10)]

    detail = reverse("orders:notice_detail", args=[notice.pk])
    assert [task["url"] for task in my_production_notices(reviewer_production)] == [detail]
    assert my_production_notices(reviewer_purchasing) == []
    assert 'data-testid="acknowledge"' in text_of(web(reviewer_production).get(detail))
    assert 'data-testid="acknowledge"' not in text_of(web(reviewer_purchasing).get(detail))
    acknowledge = reverse("orders:notice_acknowledge", args=[notice.pk])
    assert web(reviewer_purchasing).post(acknowledge).status_code == 403
    assert web(reviewer_production).post(acknowledge, {"comment": "已排产"}).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ACKNOWLEDGED and notice.acknowledged_by == reviewer_production
    assert my_production_notices(reviewer_production) == []
    assert web(reviewer_purchasing).get(reverse("orders:notice_list")).status_code == 200


def test_R_OR_9_notice_only_for_who_may_issue(order, reviewer_production, technician):
    url = reverse("orders:notice_create", args=[order.pk])
    assert web(reviewer_production).get(url).status_code == 404
    assert web(technician).get(reverse("orders:notice_list")).status_code == 403


# --- shipments (R-OR-9) -----------------------------------------------------------------------
def shipment_form(order, **rows):
    first, second = order.lines.order_by("line_no")
    data = {
        "shipped_on": timezone.localdate().isoformat(),
        "delivery_note_number": "DN-0001",
        "carrier": "顺丰",
        "waybill_number": "SF123",
        "notes": "",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "2",
        "lines-0-order_line": str(first.pk),
        "lines-1-order_line": str(second.pk),
    }
    return data | {f"lines-{key.replace('__', '-')}": value for key, value in rows.items()}


def test_R_OR_9_serial_numbers_expand_into_one_shipment_line_each(order, reviewer_warehouse, sales_clerk):
    client = web(reviewer_warehouse)
    url = reverse("orders:shipment_create", args=[order.pk])
    expiry = (timezone.localdate() + timedelta(days=700)).isoformat()
    data = shipment_form(
        order,
        **{
            "0__serial_numbers": "PM7-0001\nPM7-0002, PM7-0003",
            "0__lot_number": "B2506001",
            "0__expiry_date": expiry,
            "1__quantity": "5",
        },
    )
    response = client.post(url, data)
    shipment = Shipment.objects.get(order=order)
    assert response.status_code == 302 and response.url == reverse(
        "orders:shipment_detail", args=[shipment.pk]
    )
    lines = ShipmentLine.objects.filter(shipment=shipment).order_by("pk")
    assert [(line.serial_number, line.quantity) for line in lines] == [
        ("PM7-0001", 1),
        ("PM7-0002", 1),
        ("PM7-0003", 1),
        ("", 5),
    ]
    assert SalesRecord.objects.filter(shipment=shipment).count() == 3  # the paper is not a device
    detail = text_of(client.get(response.url))
    assert "PM7-0002" in detail and "B2506001" in detail
    assert web(sales_clerk).get(reverse("orders:shipment_list")).status_code == 200


def test_R_OR_9_shipment_errors_per_line_and_nothing_saved(order, reviewer_warehouse):
    client = web(reviewer_warehouse)
    url = reverse("orders:shipment_create", args=[order.pk])
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    data = shipment_form(
        order, **{"0__serial_numbers": "A1\nA2", "0__expiry_date": yesterday, "1__quantity": "50"}
    )
    response = client.post(url, data)
    assert response.status_code == 200 and not Shipment.objects.exists()
    first, second = response.context["formset"].forms
    assert "expires before the shipping date" in " ".join(first.errors["expiry_date"])
    assert "still to ship" in " ".join(second.errors["quantity"])
    assert first["serial_numbers"].value() == "A1\nA2"  # the input is kept
    # duplicates and a quantity that contradicts the serials: caught by the form
    data = shipment_form(order, **{"0__serial_numbers": "A1 A1", "0__quantity": "3"})
    response = client.post(url, data)
    errors = response.context["formset"].forms[0].errors
    assert "Entered twice: A1" in errors["serial_numbers"][0] and "quantity" in errors
    # a row added for a second lot of the same line
    grown = client.post(url, shipment_form(order) | {"add_line": "1"})
    assert len(grown.context["formset"].forms) == 3


def test_R_OR_9_shipment_only_for_the_warehouse(order, sales_clerk, technician):
    url = reverse("orders:shipment_create", args=[order.pk])
    assert web(sales_clerk).get(url).status_code == 404
    assert web(technician).get(reverse("orders:shipment_list")).status_code == 403


# --- sales records (R-OR-10) ------------------------------------------------------------------
def test_R_OR_10_sales_records_list_filters_and_xlsx_export(
    order, reviewer_warehouse, sales_clerk, gm, reviewer_production
):
    from openpyxl import load_workbook

    ship(order, reviewer_warehouse, "PM7-0001", lot="B2506001")
    ship(order, reviewer_warehouse, "PM7-0002", lot="B2506002")
    url = reverse("orders:sales_records")
    page = web(sales_clerk).get(url, {"lot": "B2506002"})
    records = list(page.context["listing"].page.object_list)
    assert [r.serial_number for r in records] == ["PM7-0002"]
    html = text_of(page)
    assert "粤械注准20182070101" in html and "粤穗食药监械经营许20190123号" in html
    ambiguous = web(sales_clerk).get(url, {"customer": "不存在的客户"})
    assert ambiguous.context["problems"] and ambiguous.context["listing"].count == 0

    export = web(gm).get(reverse("orders:sales_records_export"), {"lot": "B2506001"})
    assert export.status_code == 200
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(export.content)).active.values)
    assert len(rows) == 2 and "B2506001" in rows[1]
    assert web(reviewer_production).get(reverse("orders:sales_records_export")).status_code == 403
    refused = web(gm).get(reverse("orders:sales_records_export"), {"customer": "不存在的客户"})
    assert refused.status_code == 302  # never exports more than asked for


# --- traceability (R-OR-11) -------------------------------------------------------------------
def test_R_OR_11_lot_and_serial_to_customers_and_customer_to_lots(
    order, reviewer_warehouse, sales_clerk, distributor
):
    ship(order, reviewer_warehouse, "PM7-0001", "PM7-0002", lot="B2506001")
    client = web(sales_clerk)
    page = client.get(reverse("orders:trace"), {"kind": "lot", "number": "B2506001"})
    rows = list(page.context["page"].object_list)
    assert len(rows) == 2 and {r["customer_name"] for r in rows} == {distributor.name}
    html = text_of(page)
    assert order.number in html and reverse("orders:customer_lots", args=[distributor.pk]) in html
    serial = client.get(reverse("orders:trace"), {"kind": "serial", "number": "PM7-0002"})
    assert [r["serial_number"] for r in serial.context["page"].object_list] == ["PM7-0002"]
    unknown = client.get(reverse("orders:trace"), {"kind": "lot", "number": "B2506001", "product": "NOPE"})
    assert unknown.context["page"] is None and unknown.context["form"].errors["product"]

    lots = client.get(reverse("orders:customer_lots", args=[distributor.pk]))
    assert [r["serial_number"] for r in lots.context["page"].object_list] == ["PM7-0001", "PM7-0002"]


def test_R_OR_11_trace_scope(order, reviewer_warehouse, sales_clerk_2, technician, distributor):
    ship(order, reviewer_warehouse, "PM7-0001")
    page = web(sales_clerk_2).get(reverse("orders:trace"), {"kind": "lot", "number": "B2506001"})
    assert page.context["page"].paginator.count == 0  # another clerk's shipments are not shown
    assert web(technician).get(reverse("orders:trace")).status_code == 403
    assert web(sales_clerk_2).get(reverse("orders:customer_lots", args=[distributor.pk])).status_code == 404


# --- metrics (R-OR-12) ------------------------------------------------------------------------
def test_R_OR_12_metrics_page_with_server_drawn_chart_and_export(order, gm, reviewer_production):
    year = timezone.localdate().year
    page = web(gm).get(reverse("orders:metrics"), {"year": year})
    assert page.status_code == 200
    html = text_of(page)
    assert "<svg" in html and "<rect" in html and "<script" not in html.split("<svg")[1].split("</svg>")[0]
    assert page.context["report"]["review_cycle"]["overall"]["count"] == 3
    export = web(gm).get(reverse("orders:metrics_export"), {"year": year})
    assert export.status_code == 200 and export.content[:2] == b"PK"
    assert web(reviewer_production).get(reverse("orders:metrics_export")).status_code == 403


def test_bar_chart_scales_bars_to_the_largest_value():
    chart = bar_chart([("生产部", 10), ("采购部", 5), ("质量部", None)])
    widths = [float(bar["width"]) for bar in chart["bars"]]
    assert widths[0] == 420 and widths[1] == 210 and widths[2] == 0
    assert chart["bars"][2]["value"] == "—"


# --- the review record (R-OR-7) ---------------------------------------------------------------
def test_R_OR_7_review_record_printable_with_every_opinion_and_logged(order, sales_clerk, sales_clerk_2):
    review = services.current_reviews(order).get(department__code="production")
    url = reverse("orders:review_record_print", args=[order.pk])
    page = web(sales_clerk).get(url)
    assert page.status_code == 200
    html = text_of(page)
    assert order.review_number in html and order.number in html
    assert (
        "Contract review record" in html
        and "Production / PMC" in html
        and review.signature.signer_full_name in html
    )
    assert "Can meet" in html and "valid" in html
    assert AuditEntry.objects.filter(action="export", object_pk=str(order.pk), data__format="print").exists()
    chinese = text_of(web(sales_clerk).get(url, {"lang": "zh-hans"}))
    assert "生产部/PMC" in chinese
    assert web(sales_clerk_2).get(url).status_code == 404


def test_R_OR_7_review_record_pdf_has_the_order_and_the_opinions(order, sales_clerk, team):
    review = services.current_reviews(order).get(department__code="purchasing")
    response = web(sales_clerk).get(reverse("orders:review_record_pdf", args=[order.pk]), {"lang": "en"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    document = pdfium.PdfDocument(response.content)
    text = "\n".join(page.get_textpage().get_text_range() for page in document)
    flat = re.sub(r"\s+", "", text)
    assert order.number in flat and order.review_number in flat
    assert "Purchasing" in text and "Canmeet" in flat and review.signature.signer_full_name in flat
    assert AuditEntry.objects.filter(action="export", object_pk=str(order.pk), data__format="pdf").exists()
    chinese = web(sales_clerk, "zh-hans").get(reverse("orders:review_record_pdf", args=[order.pk]))
    document = pdfium.PdfDocument(chinese.content)
    text = "".join(page.get_textpage().get_text_range() for page in document)
    assert "采购部" in text and "Purchasing" not in text  # the department names in Chinese
