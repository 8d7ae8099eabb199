"""Screens of customer complaints (R-CO-2…5, R-CO-9): the list (filters, Chinese search, pages,
empty state), the register form with "from the customer's shipments" (with and without
JavaScript), the complaint page and one page per workflow step, the print view of the
客户投诉处理表, the dashboard tasks. Each screen: renders for the right persona, 404 outside the
scope, 403 for a step the user may not take, refused input re-rendered with errors and the
user's input kept, and complaint text with HTML shown escaped."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qcare.complaints import services, views
from qcare.complaints.choices import ComplaintStatus
from qcare.complaints.models import Capa, Complaint
from qcare.core import ui
from tests.complaints.test_workflow_support import (
    decide_not_reportable,
    drive_to_replied,
    investigate,
    propose,
    responsibility,
    triage,
)
from tests.factories import UserFactory
from tests.orders.test_trace import build_shipments
from tests.personas import PERSONA_PASSWORD

S = ComplaintStatus
pytestmark = [pytest.mark.django_db]

SCRIPT = "<script>alert('x')</script>读数不稳"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;读数不稳"


def web(user):
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(user)
    return client


def url(name, obj=None):
    return reverse(f"complaints:{name}", args=[obj.pk] if obj is not None else None)


def html(response):
    return response.content.decode()


def register_post(customer, **extra):
    data = {
        "customer": str(customer.pk),
        "contact": "",
        "contact_name": "陈经理",
        "contact_phone": "020-88886666",
        "channel": "phone",
        "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "shipment_line": "",
        "order_reference": "",
        "product": "",
        "part_number": "",
        "lot_number": "",
        "serial_number": "",
        "shipped_on": "",
        "quantity": "",
        "defective_quantity": "3",
        "description": "3 台监护仪开机后血氧读数不稳定",
        "demands": ["exchange"],
        "demand_details": "",
        "claimed_amount": "",
    }
    return data | extra


@pytest.fixture
def registered(sales_clerk, complaint_fields):
    """A complaint registered by the clerk through the service (deadlines, number, search text)."""
    return services.register_complaint(sales_clerk, **complaint_fields)


# --- list ---------------------------------------------------------------------------------------
def test_R_CO_2_list_scope_search_filters_and_empty_state(
    sales_clerk, sales_clerk_2, complaint_row, distributor, quality_engineer
):
    mine = complaint_row(description="血氧探头接触不良", lot_number="L2609-01")
    other = complaint_row(description="打印纸卡纸", status=S.CLOSED)
    theirs = complaint_row(registered_by=sales_clerk_2, description="别人的投诉", customer=distributor)
    theirs.customer.owner = sales_clerk  # the clerk owns the customer: sees it too (scope P7)
    from qcare.complaints.search import refresh_search_text

    for c in (mine, other, theirs):
        refresh_search_text(c)

    def numbers(client, **params):
        response = client.get(url("complaint_list"), params)
        assert response.status_code == 200
        return {c.number for c in response.context["listing"].page.object_list}

    clerk = web(sales_clerk)
    assert numbers(clerk) >= {mine.number, other.number}
    assert numbers(clerk, q="血氧") == {mine.number}
    assert numbers(clerk, q="L2609") == {mine.number}
    assert numbers(clerk, status="open") >= {mine.number} and other.number not in numbers(
        clerk, status="open"
    )
    assert numbers(clerk, status="finished") == {other.number}
    # Another clerk's complaint on another customer: not in the list of the first clerk's colleague.
    assert mine.number not in numbers(web(sales_clerk_2))
    assert numbers(web(quality_engineer)) >= {mine.number, other.number, theirs.number}
    empty = clerk.get(url("complaint_list"), {"q": "没有这个词"})
    assert 'data-testid="empty-state"' in html(empty)


def test_R_CO_2_list_pages_and_overdue_flag(sales_clerk, complaint_row):
    past = timezone.now() - timedelta(days=1)
    late = complaint_row(due_at=past)
    for _i in range(27):
        complaint_row(due_at=timezone.now() + timedelta(days=5))
    client = web(sales_clerk)
    first = client.get(url("complaint_list"))
    assert first.context["listing"].page.paginator.num_pages == 2
    assert 'data-testid="next-page"' in html(first)
    assert len(client.get(url("complaint_list"), {"page": 2}).context["listing"].page.object_list) == 3
    overdue = client.get(url("complaint_list"), {"flag": "overdue"})
    assert [c.pk for c in overdue.context["listing"].page.object_list] == [late.pk]
    assert 'data-testid="overdue"' in html(overdue)


def test_list_needs_the_permission(db, sales_clerk):
    nobody = UserFactory(roles=[])
    assert web(nobody).get(url("complaint_list")).status_code == 403


def test_list_and_detail_escape_html_in_the_text(sales_clerk, complaint_row):
    complaint = complaint_row(description=SCRIPT, contact_name="<b>陈</b>")
    client = web(sales_clerk)
    for response in (
        client.get(url("complaint_list")),
        client.get(url("complaint_detail", complaint)),
        client.get(url("complaint_print", complaint)),
    ):
        assert response.status_code == 200
        page = html(response)
        assert "<script>alert" not in page and "<b>陈</b>" not in page
        assert ESCAPED in page or "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/s" in page


# --- register --------------------------------------------------------------------------------
def test_R_CO_2_register_from_the_customers_shipments(sales_clerk, distributor, shipped_lot):
    client = web(sales_clerk)
    page = client.get(url("complaint_create"), {"customer": distributor.pk})
    assert page.status_code == 200
    assert f'value="{shipped_lot.pk}"' in html(page) and "L2609-01" in html(page)
    response = client.post(
        url("complaint_create"), register_post(distributor, shipment_line=str(shipped_lot.pk))
    )
    complaint = Complaint.objects.get(customer=distributor)
    assert response.status_code == 302
    assert response["Location"] == url("complaint_detail", complaint) + "#attachments"
    assert complaint.shipment_line == shipped_lot
    assert (complaint.lot_number, complaint.product_id, complaint.quantity) == (
        "L2609-01",
        shipped_lot.product_id,
        Decimal("20"),
    )
    assert complaint.order_id == shipped_lot.order_id and complaint.status == S.REGISTERED
    detail = client.get(url("complaint_detail", complaint))
    assert 'id="attachments"' in html(detail) and 'data-testid="shipment-link"' in html(detail)


def test_R_CO_2_shipment_select_refresh_without_and_with_javascript(
    sales_clerk, distributor, hospital, device
):
    (line,) = build_shipments(sales_clerk, device, [hospital], ["L-HOSP-7"], quantity="5")
    client = web(sales_clerk)
    # No JavaScript: the "show the shipments" button posts the form back with the input kept.
    data = register_post(hospital, description="保留这段文字", refresh="1")
    page = client.post(url("complaint_create"), data)
    assert page.status_code == 200 and not Complaint.objects.exists()
    assert "L-HOSP-7" in html(page) and "保留这段文字" in html(page)
    assert "invalid-feedback" not in html(page)
    # htmx: GET with the customer; the page's customer rows carry the shipment options.
    fragment = client.get(url("complaint_create"), {"customer": hospital.pk}, headers={"hx-request": "true"})
    assert f'value="{line.pk}"' in html(fragment)
    assert 'hx-get="' + url("complaint_create") + '"' in html(page)


def test_R_CO_2_register_bad_input_keeps_the_form(sales_clerk, distributor, hospital, device):
    (foreign_line,) = build_shipments(sales_clerk, device, [hospital], ["L-OTHER"], quantity="5")
    client = web(sales_clerk)
    data = register_post(
        distributor,
        description="",
        quantity="2",
        defective_quantity="5",
        shipment_line=str(foreign_line.pk),
        contact_name="保留的联系人",
    )
    response = client.post(url("complaint_create"), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert {"description", "defective_quantity", "shipment_line"} <= set(form.errors)
    assert "保留的联系人" in html(response) and 'aria-invalid="true"' in html(response)
    assert not Complaint.objects.exists()


def test_R_CO_2_quantity_not_yet_known(sales_clerk, distributor):
    client = web(sales_clerk)
    response = client.post(
        url("complaint_create"), register_post(distributor, defective_quantity="", quantity_pending="on")
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.quantity_pending and complaint.defective_quantity is None
    assert 'data-testid="quantities"' in html(client.get(url("complaint_detail", complaint)))


def test_register_needs_the_permission_and_an_own_customer(db, sales_clerk_2, distributor):
    nobody = UserFactory(roles=[])
    assert web(nobody).get(url("complaint_create")).status_code == 403
    # The distributor belongs to another clerk: not offered, a forged id is a form error.
    response = web(sales_clerk_2).post(url("complaint_create"), register_post(distributor))
    assert response.status_code == 400 and "customer" in response.context["form"].errors


# --- the complaint page and the scope ---------------------------------------------------------
def test_R_CO_3_detail_scope_404_and_steps_by_role(registered, sales_clerk, sales_clerk_2, quality_engineer):
    assert web(sales_clerk_2).get(url("complaint_detail", registered)).status_code == 404
    assert web(sales_clerk_2).get(url("complaint_triage", registered)).status_code == 404
    clerk_page = web(sales_clerk).get(url("complaint_detail", registered))
    assert clerk_page.status_code == 200
    assert "triage" not in clerk_page.context["steps"] and 'data-testid="triage-form"' not in html(clerk_page)
    assert len(clerk_page.context["deadlines"]) == 3
    assert web(sales_clerk).get(url("complaint_triage", registered)).status_code == 403
    assert web(sales_clerk).post(url("complaint_triage", registered), {}).status_code == 403
    quality_page = web(quality_engineer).get(url("complaint_detail", registered))
    assert 'data-testid="triage-form"' in html(quality_page)
    assert "approve" not in quality_page.context["steps"]


def test_R_CO_3_triage_errors_keep_input_then_saved(registered, quality_engineer):
    client = web(quality_engineer)
    bad = client.post(
        url("complaint_triage", registered),
        {
            "triage-severity": "serious",
            "triage-category": "quality",
            "triage-owner": "",
            "triage-human_error": "on",
        },
    )
    assert bad.status_code == 400 and "owner" in bad.context["form"].errors
    assert 'value="serious" selected' in html(bad)
    good = client.post(
        url("complaint_triage", registered),
        {"triage-severity": "minor", "triage-category": "quality", "triage-owner": str(quality_engineer.pk)},
    )
    assert good.status_code == 302
    registered.refresh_from_db()
    assert registered.status == S.TRIAGED and registered.owner == quality_engineer
    # The step in the wrong state: back to the case with a message (GET), no form.
    again = client.get(url("complaint_triage", registered))
    assert again.status_code == 302 and again["Location"] == url("complaint_detail", registered)


def test_R_CO_3_responsibility_shares_must_add_up(registered, quality_engineer, org):
    triage(registered, quality_engineer)
    investigate(registered, quality_engineer)
    client = web(quality_engineer)
    data = {
        "responsibility-root_cause": "来料不良",
        "responsibility-cause_category": "material",
        "responsibility-rows": "3",
        "responsibility-party_0_kind": "department",
        "responsibility-party_0_department": str(org["production"].pk),
        "responsibility-party_0_share": "70",
        "responsibility-party_1_kind": "supplier",
        "responsibility-party_1_supplier_name": "深圳某传感器厂",
        "responsibility-party_1_share": "20",
    }
    refused = client.post(url("complaint_responsibility", registered), data)
    assert refused.status_code == 400
    assert "100" in html(refused) and "深圳某传感器厂" in html(refused)
    registered.refresh_from_db()
    assert registered.status == S.INVESTIGATION and not registered.responsible_parties.exists()
    more = client.post(url("complaint_responsibility", registered), data | {"add_row": "1"})
    assert more.status_code == 200 and len(more.context["form"].party_rows()) == 4
    saved = client.post(
        url("complaint_responsibility", registered), data | {"responsibility-party_1_share": "30"}
    )
    assert saved.status_code == 302
    registered.refresh_from_db()
    assert registered.status == S.RESPONSIBILITY
    assert sorted(p.share for p in registered.responsible_parties.all()) == [Decimal("30"), Decimal("70")]


def test_R_CO_3_approval_band_and_password(registered, quality_engineer, sales_manager, deputy_gm):
    triage(registered, quality_engineer)
    investigate(registered, quality_engineer)
    responsibility(registered, quality_engineer)
    propose(registered, quality_engineer, loss="12000")  # the deputy GM's band
    # The sales manager holds complaints.approve but not for 12,000: no form, the step is refused.
    manager_page = web(sales_manager).get(url("complaint_detail", registered))
    assert "approve" not in manager_page.context["steps"] and 'data-testid="approver-note"' in html(
        manager_page
    )
    assert web(sales_manager).post(url("complaint_approve", registered), {}).status_code in (403, 404)
    client = web(deputy_gm)
    page = client.get(url("complaint_detail", registered))
    assert 'data-testid="approve-form"' in html(page) and 'name="approve-username"' in html(page)
    wrong = client.post(
        url("complaint_approve", registered),
        {"approve-meaning": "approved", "approve-username": deputy_gm.username, "approve-password": "wrong"},
    )
    assert wrong.status_code == 400 and wrong.context["form"].errors
    registered.refresh_from_db()
    assert registered.status == S.AWAITING_APPROVAL
    ok = client.post(
        url("complaint_approve", registered),
        {
            "approve-meaning": "approved",
            "approve-username": deputy_gm.username,
            "approve-password": PERSONA_PASSWORD,
        },
    )
    assert ok.status_code == 302
    registered.refresh_from_db()
    assert registered.status == S.APPROVED and registered.approved_by == deputy_gm
    assert 'data-testid="approved-by"' in html(client.get(url("complaint_detail", registered)))


def test_R_CO_3_reply_rejection_opens_follow_up_and_page_links_it(
    registered, quality_engineer, deputy_gm, sales_clerk
):
    drive_to_replied(registered, quality_engineer, deputy_gm)
    decide_not_reportable(registered, quality_engineer)
    client = web(sales_clerk)
    page = client.get(url("complaint_detail", registered))
    assert 'data-testid="response-form"' in html(page)
    missing = client.post(
        url("complaint_response", registered), {"response-accepted": "no", "response-response": ""}
    )
    assert missing.status_code == 400 and "response" in missing.context["form"].errors
    response = client.post(
        url("complaint_response", registered),
        {"response-accepted": "no", "response-response": "折让金额太低"},
    )
    follow_up = Complaint.objects.get(parent=registered)
    assert response.status_code == 302 and response["Location"] == url("complaint_detail", follow_up)
    registered.refresh_from_db()
    assert registered.status == S.REJECTED
    follow_page = html(client.get(url("complaint_detail", follow_up)))
    assert 'data-testid="parent-link"' in follow_page and registered.number in follow_page
    original = html(client.get(url("complaint_detail", registered)))
    assert follow_up.number in original and 'data-testid="follow-up"' in original


def test_R_CO_9_reportability_form_required_answers(registered, quality_engineer):
    triage(registered, quality_engineer)
    client = web(quality_engineer)
    page = client.get(url("complaint_detail", registered))
    assert 'data-testid="reportability-missing"' in html(page) and 'data-testid="report-questions"' in html(
        page
    )
    data = {
        "reportability-meaning": "reviewed",
        "reportability-username": quality_engineer.username,
        "reportability-password": PERSONA_PASSWORD,
        "reportability-outcome": "reportable",
        "reportability-rationale": "可能导致严重伤害",
        "reportability-q_death": "no",
    }
    refused = client.post(url("complaint_reportability", registered), data)
    assert refused.status_code == 400
    errors = refused.context["form"].errors
    assert {"basis", "authority", "q_serious_injury"} <= set(errors)
    data |= {
        f"reportability-q_{q}": "no" for q in ("serious_injury", "malfunction", "cluster", "device_related")
    }
    data |= {"reportability-outcome": "not_reportable"}
    assert client.post(url("complaint_reportability", registered), data).status_code == 302
    assert registered.reportability.outcome == "not_reportable"


def test_R_CO_2_edit_needs_a_reason(registered, sales_clerk):
    client = web(sales_clerk)
    page = client.get(url("complaint_edit", registered))
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data |= {"description": "更正后的描述", "demands": ["exchange", "allowance"]}
    assert "customer" not in data and "received_at" not in data
    refused = client.post(url("complaint_edit", registered), data)
    assert refused.status_code == 400 and "reason" in refused.context["form"].errors
    saved = client.post(url("complaint_edit", registered), data | {"reason": "客户补充说明"})
    assert saved.status_code == 302
    registered.refresh_from_db()
    assert registered.description == "更正后的描述" and registered.demands == ["exchange", "allowance"]
    assert registered.lot_number == "L2609-01" and registered.product_id is not None


def test_R_CO_6_one_click_capa_from_the_repeat_flag(sales_clerk, complaint_row, quality_engineer, device):
    complaint = complaint_row(
        is_repeat=True, product=device, cause_category="material", owner=quality_engineer
    )
    client = web(quality_engineer)
    page = client.get(url("complaint_detail", complaint))
    assert 'data-testid="open-capa"' in html(page)
    assert 'data-testid="open-capa"' not in html(web(sales_clerk).get(url("complaint_detail", complaint)))
    response = client.post(url("complaint_capa", complaint))
    capa = Capa.objects.get()
    assert response.status_code == 302 and response["Location"] == capa.get_absolute_url()
    complaint.refresh_from_db()
    assert complaint.capa == capa


def test_print_view_is_the_internal_form(registered, sales_clerk, sales_clerk_2):
    response = web(sales_clerk).get(url("complaint_print", registered))
    assert response.status_code == 200
    assert 'data-testid="record-title"' in html(response) and registered.number in html(response)
    assert web(sales_clerk_2).get(url("complaint_print", registered)).status_code == 404


# --- navigation and dashboard -------------------------------------------------------------------
def test_nav_and_dashboard_tasks(registered, quality_engineer, deputy_gm, sales_clerk):
    assert "complaints" in {entry.key for entry in ui.nav.all()}
    keys = {key for key, _label, _name in views.TASKS}
    assert keys <= set(ui.tasks._providers)
    triage(registered, quality_engineer)
    tasks = views._provider("my_complaints", "complaints.mine")(quality_engineer)
    assert [t["url"] for t in tasks] == [url("complaint_detail", registered)]
    assert tasks[0]["due_at"] == registered.due_at
    investigate(registered, quality_engineer)
    responsibility(registered, quality_engineer)
    propose(registered, quality_engineer, loss="12000")
    approvals = views._provider("awaiting_my_approval", "complaints.approval")(deputy_gm)
    assert [t["url"] for t in approvals] == [url("complaint_detail", registered)]
    dashboard = web(deputy_gm).get(reverse("core:dashboard"))
    assert url("complaint_detail", registered) in html(dashboard)
    assert views._provider("my_complaints", "complaints.mine")(sales_clerk) == []


def test_dashboard_task_of_a_capa_action_and_the_step_page(
    registered, quality_engineer, reviewer_production, org
):
    from qcare.complaints import services_capa

    capa = services_capa.open_capa(
        quality_engineer,
        source="complaint",
        title="血氧读数不稳",
        problem="来料不良",
        owner=quality_engineer,
        complaints=[registered],
    )
    services_capa.add_action(
        quality_engineer,
        capa,
        kind="corrective",
        description="加严来料检验",
        owner=quality_engineer,
        due_on=timezone.localdate(),
    )
    (task,) = views._provider("capa_actions_due", "complaints.capa_actions")(quality_engineer)
    assert task["url"] == capa.get_absolute_url() and task["overdue"] is False
    assert timezone.localtime(task["due_at"]).date() == timezone.localdate()
    # The finding step: production sees the complaint only once it was asked for findings.
    triage(registered, quality_engineer)
    assert web(reviewer_production).get(url("complaint_finding", registered)).status_code == 404
    services.start_investigation(quality_engineer, registered, departments=[org["production"]])
    page = web(reviewer_production).get(url("complaint_finding", registered))
    assert page.status_code == 200 and 'data-testid="finding-form"' in html(page)
    assert 'data-testid="complaint-summary"' in html(page)
    refused = web(reviewer_production).post(url("complaint_finding", registered), {"finding-text": ""})
    assert refused.status_code == 400 and "text" in refused.context["form"].errors
