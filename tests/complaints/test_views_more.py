"""Screens of the feedback register (R-CO-1), CAPA (R-CO-6), returns and settlements (R-CO-7),
advisory notices (R-CO-10), statistics (R-CO-11), responsibility reports and penalties (R-CO-8).

Records go through the real services; the screens are driven with the test client as the
persona who would use them, in English (language cookie). Each screen: 403 without the
permission, 404 outside the scope, bad input kept with its errors, confirmation pages before
destructive steps, translated text.
"""

import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qcare.complaints import jobs, services_capa, services_feedback, services_notices, services_returns
from qcare.complaints.choices import (
    ActionStatus,
    CapaSource,
    CapaStatus,
    FeedbackStatus,
    NoticeStatus,
    ReturnStatus,
    SettlementStatus,
)
from qcare.complaints.models import (
    AdvisoryNotice,
    Capa,
    Complaint,
    Feedback,
    NoticeRecipient,
    ResponsibilityReport,
    ResponsibleParty,
    ReturnNote,
    Settlement,
)
from qcare.complaints.views_more import column_chart
from qcare.core import policies
from qcare.core.context import audit_context
from qcare.customers.models import Customer
from tests.complaints.conftest import LOT
from tests.factories import UserFactory
from tests.personas import PERSONA_PASSWORD

pytestmark = [pytest.mark.django_db]


def web(user, language="en"):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode()


@pytest.fixture
def outsider(db):
    """A signed-in employee with no role at all."""
    return UserFactory(roles=[])


def feedback_of(actor, customer, **fields):
    values = {
        "channel": "phone",
        "kind": "quality_opinion",
        "subject": "血氧读数偶尔跳动",
        "content": "客户反映监护仪血氧读数偶尔跳动，希望了解原因。",
        "customer": customer,
    }
    return services_feedback.log_feedback(actor, **(values | fields))


# --- feedback register (R-CO-1) ---------------------------------------------------------------
def test_R_CO_1_log_feedback_through_the_form_then_list_search_and_detail(sales_clerk, distributor):
    client = web(sales_clerk)
    page = client.get(reverse("complaints:feedback_create"))
    assert page.status_code == 200 and 'name="kind"' in text_of(page)
    data = {
        "channel": "email",
        "kind": "suggestion",
        "customer": str(distributor.pk),
        "contact_name": "陈经理",
        "subject": "希望增加中文说明书",
        "content": "客户建议随机附带中文操作说明书。",
    }
    response = client.post(reverse("complaints:feedback_create"), data)
    feedback = Feedback.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "complaints:feedback_detail", args=[feedback.pk]
    )
    assert feedback.number.startswith("FK-") and feedback.customer == distributor
    assert feedback.owner == sales_clerk and feedback.due_at is not None

    detail = text_of(client.get(response.url))
    assert feedback.number in detail and "希望增加中文说明书" in detail
    assert 'data-testid="due-badge"' in detail and 'data-testid="answer-form"' in detail

    listing = client.get(reverse("complaints:feedback_list"), {"q": "中文说明书"})
    assert feedback.number in text_of(listing) and listing.context["listing"].count == 1
    empty = client.get(reverse("complaints:feedback_list"), {"q": "不存在的内容"})
    assert 'data-testid="empty-state"' in text_of(empty) and "No feedback matches." in text_of(empty)
    by_status = client.get(reverse("complaints:feedback_list"), {"status": "answered"})
    assert by_status.context["listing"].count == 0


def test_R_CO_1_bad_feedback_input_keeps_the_data_with_errors(sales_clerk):
    client = web(sales_clerk)
    data = {"channel": "phone", "kind": "claim", "subject": "", "content": "产品外壳破裂"}
    page = client.post(reverse("complaints:feedback_create"), data)
    assert page.status_code == 200 and not Feedback.objects.exists()
    form = page.context["form"]
    assert "subject" in form.errors and "customer_name" in form.errors
    assert form["content"].value() == "产品外壳破裂"
    assert "is-invalid" in text_of(page)


def test_R_CO_1_answer_then_close_with_confirmation(sales_clerk, distributor):
    feedback = feedback_of(sales_clerk, distributor)
    client = web(sales_clerk)
    # an empty answer is refused, nothing changes
    page = client.post(
        reverse("complaints:feedback_answer", args=[feedback.pk]), {"channel": "phone", "answer": ""}
    )
    assert page.status_code == 200 and "answer" in page.context["form"].errors
    feedback.refresh_from_db()
    assert feedback.status == FeedbackStatus.OPEN

    response = client.post(
        reverse("complaints:feedback_answer", args=[feedback.pk]),
        {"channel": "phone", "answer": "已电话说明：属于探头佩戴位置问题。"},
    )
    assert response.status_code == 302
    feedback.refresh_from_db()
    assert feedback.status == FeedbackStatus.ANSWERED and feedback.answered_at is not None
    detail = text_of(client.get(feedback.get_absolute_url()))
    assert "已电话说明" in detail and 'data-testid="answer-form"' not in detail

    confirm = client.get(reverse("complaints:feedback_close", args=[feedback.pk]))
    assert 'data-confirm="' in text_of(confirm) and "Close this feedback?" in text_of(confirm)
    client.post(reverse("complaints:feedback_close", args=[feedback.pk]), {"reason": "已答复，客户满意"})
    feedback.refresh_from_db()
    assert feedback.status == FeedbackStatus.CLOSED


def test_R_CO_1_convert_feedback_into_a_complaint(sales_clerk, distributor, device):
    feedback = feedback_of(sales_clerk, distributor, kind="claim", product=device)
    client = web(sales_clerk)
    url = reverse("complaints:feedback_to_complaint", args=[feedback.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"]["description"].value() == feedback.content
    # neither a quantity nor "not yet known": refused, the text stays
    data = {"customer": str(distributor.pk), "product": str(device.pk), "description": "3 台血氧读数异常"}
    page = client.post(url, data)
    assert page.status_code == 200 and "defective_quantity" in page.context["form"].errors
    assert page.context["form"]["description"].value() == "3 台血氧读数异常"
    response = client.post(url, data | {"lot_number": LOT, "defective_quantity": "3"})
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "complaints:complaint_detail", args=[complaint.pk]
    )
    feedback.refresh_from_db()
    assert feedback.status == FeedbackStatus.CONVERTED and complaint.feedback == feedback
    assert complaint.lot_number == LOT and complaint.defective_quantity == 3
    detail = text_of(client.get(feedback.get_absolute_url()))
    assert (
        complaint.number in detail and reverse("complaints:complaint_detail", args=[complaint.pk]) in detail
    )


def test_R_CO_1_convert_feedback_into_a_capa(quality_engineer, distributor):
    feedback = feedback_of(quality_engineer, distributor)
    client = web(quality_engineer)
    url = reverse("complaints:feedback_to_capa", args=[feedback.pk])
    data = {
        "title": "探头佩戴说明不清",
        "problem": "多家客户反映读数跳动。",
        "owner": str(quality_engineer.pk),
    }
    response = client.post(url, data)
    capa = Capa.objects.get()
    assert response.status_code == 302 and response.url == capa.get_absolute_url()
    assert capa.source == CapaSource.FEEDBACK and capa.feedback == feedback


def test_R_CO_1_feedback_scope_404_and_permission_403(sales_clerk, sales_clerk_2, distributor, outsider):
    feedback = feedback_of(sales_clerk, distributor)
    other = web(sales_clerk_2)  # own scope: not theirs
    assert other.get(feedback.get_absolute_url()).status_code == 404
    assert (
        other.post(
            reverse("complaints:feedback_answer", args=[feedback.pk]), {"channel": "phone", "answer": "x"}
        ).status_code
        == 404
    )
    assert feedback.number not in text_of(other.get(reverse("complaints:feedback_list")))
    nobody = web(outsider)
    assert nobody.get(reverse("complaints:feedback_list")).status_code == 403
    assert nobody.get(reverse("complaints:feedback_create")).status_code == 403
    assert nobody.get(feedback.get_absolute_url()).status_code == 403


def test_R_CO_1_overdue_feedback_is_flagged_in_the_list(sales_clerk, distributor):
    feedback = feedback_of(sales_clerk, distributor, received_at=timezone.now() - timedelta(days=10))
    client = web(sales_clerk)
    page = client.get(reverse("complaints:feedback_list"), {"overdue": "yes"})
    assert page.context["listing"].count == 1 and "Overdue" in text_of(page)
    assert feedback.number in text_of(page)


def test_R_CO_1_screens_are_translated(sales_clerk, distributor):
    feedback = feedback_of(sales_clerk, distributor)
    page = text_of(web(sales_clerk, "zh-hans").get(feedback.get_absolute_url()))
    assert "顾客" in page or "反馈" in page


# --- CAPA (R-CO-6) ----------------------------------------------------------------------------
@pytest.fixture
def complaint(complaint_row, device):
    return complaint_row(product=device, cause_category="material", root_cause="簧片硬度不足")


def test_R_CO_6_capa_screens_from_a_complaint_to_verified(
    quality_engineer, reviewer_production, complaint, management_rep
):
    client = web(quality_engineer)
    page = client.get(reverse("complaints:capa_create"), {"complaint": complaint.pk})
    assert page.context["form"]["problem"].value() == complaint.description
    data = {
        "title": "血氧探头接触不良",
        "problem": complaint.description,
        "owner": str(quality_engineer.pk),
        "complaint_id": str(complaint.pk),
    }
    response = client.post(reverse("complaints:capa_create") + f"?complaint={complaint.pk}", data)
    capa = Capa.objects.get()
    assert response.status_code == 302 and capa.complaints.get() == complaint

    analysis = {
        "containment": "库存全部隔离复检。",
        "why_1": "读数不稳定",
        "why_2": "探头接触不良",
        "why_3": "簧片硬度不足",
        "fishbone_material": "簧片来料硬度不合格",
        "fishbone_method": "来料检验未检硬度",
        "root_cause": "来料检验规程未包含簧片硬度检验。",
        "version": str(capa.version),
    }
    assert client.post(reverse("complaints:capa_analysis", args=[capa.pk]), analysis).status_code == 302
    capa.refresh_from_db()
    assert capa.why_analysis == ["读数不稳定", "探头接触不良", "簧片硬度不足"]
    assert capa.fishbone == {"material": "簧片来料硬度不合格", "method": "来料检验未检硬度"}

    # an action in the past is refused, the description stays
    action = {
        "kind": "corrective",
        "description": "来料检验增加硬度检验",
        "owner": str(reviewer_production.pk),
    }
    page = client.post(
        reverse("complaints:capa_action_add", args=[capa.pk]), action | {"due_on": "2000-01-01"}
    )
    assert page.status_code == 200 and "due_on" in page.context["form"].errors
    assert page.context["form"]["description"].value() == "来料检验增加硬度检验"
    due = (timezone.localdate() + timedelta(days=30)).isoformat()
    assert (
        client.post(
            reverse("complaints:capa_action_add", args=[capa.pk]), action | {"due_on": due}
        ).status_code
        == 302
    )
    capa_action = capa.actions.get()

    detail = text_of(client.get(capa.get_absolute_url()))
    for text in ("簧片硬度不足", "簧片来料硬度不合格", "来料检验增加硬度检验", complaint.number):
        assert text in detail
    assert 'data-testid="fishbone"' in detail

    # the action's owner completes it
    owner = web(reviewer_production)
    url = reverse("complaints:capa_action_complete", args=[capa_action.pk])
    assert owner.post(url, {"result": "规程已修订并培训"}).status_code == 302
    capa_action.refresh_from_db()
    assert capa_action.status == ActionStatus.DONE

    assert client.post(reverse("complaints:capa_submit", args=[capa.pk])).status_code == 302
    capa.refresh_from_db()
    assert capa.status == CapaStatus.VERIFICATION

    verifier = web(management_rep)
    url = reverse("complaints:capa_verify", args=[capa.pk])
    data = {
        "effective": "yes",
        "verification": "连续三个月无同类投诉。",
        "meaning": "verified",
        "username": management_rep.username,
    }
    page = verifier.post(url, data | {"password": "wrong-password"})
    assert page.status_code == 200 and page.context["form"].errors
    capa.refresh_from_db()
    assert capa.status == CapaStatus.VERIFICATION
    assert verifier.post(url, data | {"password": PERSONA_PASSWORD}).status_code == 302
    capa.refresh_from_db()
    assert capa.status == CapaStatus.CLOSED and capa.is_effective and capa.verification_signature_id


def test_R_CO_6_capa_scope_and_permission(quality_engineer, complaint, sales_clerk, outsider):
    capa = services_capa.open_capa(
        quality_engineer,
        source=CapaSource.COMPLAINT,
        title="t",
        problem="p",
        owner=quality_engineer,
        complaints=[complaint],
    )
    assert web(outsider).get(reverse("complaints:capa_list")).status_code == 403
    assert web(outsider).get(capa.get_absolute_url()).status_code == 403
    assert web(sales_clerk).get(capa.get_absolute_url()).status_code == 404  # capa.view OWN
    assert web(sales_clerk).get(reverse("complaints:capa_create")).status_code == 403
    cancel = web(quality_engineer).get(reverse("complaints:capa_cancel", args=[capa.pk]))
    assert "data-confirm" in text_of(cancel)


# --- returns and settlements (R-CO-7) ---------------------------------------------------------
@pytest.fixture
def approved(complaint_row, device, shipped_lot, gm):
    """A complaint whose disposition (10 units, loss 2,000 CNY) was approved (as in test_returns)."""

    def build(disposition="return", quantity="10", **fields):
        values = {
            "product": device,
            "lot_number": shipped_lot.lot_number,
            "shipment_line": shipped_lot,
            "quantity": Decimal("20"),
            "defective_quantity": Decimal("10"),
            "status": "approved",
            "disposition": disposition,
            "disposition_quantity": None if quantity is None else Decimal(quantity),
            "loss_amount": Decimal("2000"),
            "approved_by": gm,
            "approved_at": timezone.now(),
        }
        return complaint_row(**(values | fields))

    return build


def test_R_CO_7_return_screens_receive_inspect_post(
    approved, quality_engineer, reviewer_warehouse, reviewer_finance
):
    complaint = approved()
    client = web(quality_engineer)
    url = reverse("complaints:return_create", args=[complaint.pk])
    data = {"approved_quantity": "50", "disposition": "rework", "reason": "探头批量不良"}
    page = client.post(url, data)  # over the approved 10 units: refused, input kept
    assert page.status_code == 200 and not ReturnNote.objects.exists()
    assert page.context["form"]["reason"].value() == "探头批量不良" and page.context["form"].errors
    assert client.post(url, data | {"approved_quantity": "10"}).status_code == 302
    note = ReturnNote.objects.get()

    warehouse = web(reviewer_warehouse)
    detail = text_of(warehouse.get(note.get_absolute_url()))
    assert 'data-testid="receive"' in detail and 'data-testid="inspect"' not in detail
    receive = reverse("complaints:return_receive", args=[note.pk])
    form = {"received_quantity": "10", "meaning": "acknowledged", "username": reviewer_warehouse.username}
    page = warehouse.post(receive, form | {"password": "nope"})
    assert page.status_code == 200 and "password" in page.context["form"].errors
    assert warehouse.post(receive, form | {"password": PERSONA_PASSWORD}).status_code == 302
    note.refresh_from_db()
    assert note.status == ReturnStatus.RECEIVED and note.received_quantity == 10

    inspect = web(quality_engineer).post(
        reverse("complaints:return_inspect", args=[note.pk]), {"report": "探头接口虚焊，属生产工艺问题。"}
    )
    assert inspect.status_code == 302
    finance = web(reviewer_finance)
    response = finance.post(reverse("complaints:return_post", args=[note.pk]), {"comment": ""}, follow=True)
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED and "The return was posted." in text_of(response)


def test_R_CO_7_quantity_beyond_tolerance_escalates_and_is_resolved(
    approved, quality_engineer, reviewer_warehouse, reviewer_finance
):
    complaint = approved()
    note = services_returns.issue_return(
        quality_engineer, complaint, approved_quantity="10", reason="r", disposition="rework"
    )
    services_returns.receive_return(
        reviewer_warehouse, note, received_quantity="7", password=PERSONA_PASSWORD
    )
    services_returns.inspect_return(quality_engineer, note, report="report")
    finance = web(reviewer_finance)
    page = finance.post(reverse("complaints:return_post", args=[note.pk]), {}, follow=True)
    note.refresh_from_db()
    assert note.status == ReturnStatus.ESCALATED and "escalated" in text_of(page)
    assert 'data-testid="resolve"' in text_of(page)
    url = reverse("complaints:return_resolve", args=[note.pk])
    page = finance.post(url, {"post": "yes", "reason": ""})
    assert page.status_code == 200 and "reason" in page.context["form"].errors
    assert finance.post(url, {"post": "yes", "reason": "客户确认只退回 7 台"}).status_code == 302
    note.refresh_from_db()
    assert note.status == ReturnStatus.POSTED


def test_R_CO_7_settlements_for_finance_list_settle_and_export(
    approved, quality_engineer, reviewer_finance, sales_clerk
):
    complaint = approved(disposition="allowance", quantity=None)
    page = web(quality_engineer).post(
        reverse("complaints:settlement_create", args=[complaint.pk]),
        {"kind": "allowance", "amount": "1500", "description": "销货折让"},
    )
    assert page.status_code == 302
    settlement = Settlement.objects.get()
    finance = web(reviewer_finance)
    listing = finance.get(reverse("complaints:settlement_list"), {"status": "open"})
    assert listing.context["listing"].count == 1 and complaint.number in text_of(listing)
    assert 'data-testid="export"' in text_of(listing)
    url = reverse("complaints:settlement_settle", args=[settlement.pk])
    page = finance.post(url, {"finance_reference": ""})
    assert page.status_code == 200 and "finance_reference" in page.context["form"].errors
    assert finance.post(url, {"finance_reference": "记账凭证 2026-06-018"}).status_code == 302
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.SETTLED

    export = finance.get(reverse("complaints:settlement_export"))
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxml")
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert any("记账凭证 2026-06-018" in str(cell.value) for row in sheet.iter_rows() for cell in row)
    assert web(sales_clerk).get(reverse("complaints:settlement_export")).status_code == 403


def test_R_CO_7_returns_list_and_scope(approved, quality_engineer, outsider, sales_clerk_2):
    complaint = approved()
    note = services_returns.issue_return(
        quality_engineer, complaint, approved_quantity="10", reason="r", disposition="rework"
    )
    assert note.number in text_of(web(quality_engineer).get(reverse("complaints:return_list")))
    assert web(outsider).get(reverse("complaints:return_list")).status_code == 403
    assert web(sales_clerk_2).get(note.get_absolute_url()).status_code == 404


# --- advisory notices (R-CO-10) ---------------------------------------------------------------
def notice_form(device, **overrides):
    data = {
        "kind": "advisory",
        "title": "血氧探头接口可能接触不良",
        "reason": "部分探头接口焊点强度不足。",
        "risk": "high",
        "risk_description": "",
        "action_required": "请停止使用受影响批次的探头并退回更换。",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "100",
        "items-0-product": str(device.pk),
        "items-0-lot_number": LOT,
        "items-0-serial_number": "",
    }
    return data | overrides


def test_R_CO_10_notice_draft_affected_customers_issue_ack_and_letter(
    management_rep, device, lot_to_customers
):
    lines = lot_to_customers(3)
    Customer.objects.filter(pk=lines[0].customer_id).update(preferred_language="en")
    client = web(management_rep)
    url = reverse("complaints:notice_create")
    # "add a line" keeps everything and saves nothing
    page = client.post(url, notice_form(device, add_item="1"))
    assert page.status_code == 200 and not AdvisoryNotice.objects.exists()
    assert (
        len(page.context["formset"].forms) == 2
        and page.context["form"]["title"].value() == "血氧探头接口可能接触不良"
    )
    # a lot without a product: the row says so
    page = client.post(url, notice_form(device, **{"items-0-product": ""}))
    assert page.status_code == 200 and page.context["formset"].forms[0].errors
    response = client.post(url, notice_form(device))
    notice = AdvisoryNotice.objects.get()
    assert response.status_code == 302 and notice.number.startswith("AN-")

    detail = client.get(notice.get_absolute_url())
    assert len(detail.context["affected"]) == 3
    html = text_of(detail)
    assert "3 customers received 6 units." in html
    for line in lines:
        assert line.customer.name in html

    issue = reverse("complaints:notice_issue", args=[notice.pk])
    form = {"meaning": "approved", "username": management_rep.username}
    page = client.post(issue, form | {"password": "wrong"})
    assert page.status_code == 200 and "password" in page.context["form"].errors
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT
    assert client.post(issue, form | {"password": PERSONA_PASSWORD}).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ISSUED and notice.recipients.count() == 3

    recipient = notice.recipients.get(customer_id=lines[1].customer_id)
    ack = reverse("complaints:notice_recipient", args=[recipient.pk])
    page = client.post(
        ack, {"acknowledged_by_name": "刘主任", "action": "returned", "quantity_accounted": "5"}
    )
    assert page.status_code == 200 and "quantity_accounted" in page.context["form"].errors  # received only 2
    assert page.context["form"]["acknowledged_by_name"].value() == "刘主任"
    assert (
        client.post(
            ack, {"acknowledged_by_name": "刘主任", "action": "returned", "quantity_accounted": "2"}
        ).status_code
        == 302
    )
    recipient.refresh_from_db()
    assert recipient.is_complete

    detail = client.get(notice.get_absolute_url())
    assert detail.context["share"] == "33.3"
    html = text_of(detail)
    assert 'width="33.3%"' in html and "2 of 6 units accounted for (33.3 %)." in html

    english = notice.recipients.get(customer_id=lines[0].customer_id)
    letter = text_of(client.get(reverse("complaints:notice_letter", args=[english.pk])))
    assert 'lang="en"' in letter and "Reply slip" in letter and LOT in letter
    chinese = text_of(client.get(reverse("complaints:notice_letter", args=[recipient.pk])))
    assert 'lang="zh-hans"' in chinese and "打印" in chinese and "刘主任" not in chinese

    close = client.get(reverse("complaints:notice_close", args=[notice.pk]))
    assert "data-confirm" in text_of(close)
    page = client.post(reverse("complaints:notice_close", args=[notice.pk]), {"comment": ""})
    assert page.status_code == 200 and "comment" in page.context["form"].errors  # two still open


def test_R_CO_10_a_lot_nobody_received_cannot_be_issued(management_rep, device):
    notice = services_notices.draft_notice(
        management_rep,
        kind="advisory",
        title="t",
        reason="r",
        risk="low",
        action_required="a",
        items=[{"product": device, "lot_number": "NO-SUCH-LOT"}],
    )
    client = web(management_rep)
    assert 'data-testid="no-affected"' in text_of(client.get(notice.get_absolute_url()))
    page = client.post(
        reverse("complaints:notice_issue", args=[notice.pk]),
        {"meaning": "approved", "username": management_rep.username, "password": PERSONA_PASSWORD},
    )
    assert page.status_code == 200 and page.context["form"].non_field_errors()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT


def test_R_CO_10_notice_permissions(management_rep, quality_engineer, device, outsider, lot_to_customers):
    lot_to_customers(1)
    notice = services_notices.draft_notice(
        quality_engineer,
        kind="recall",
        title="t",
        reason="r",
        risk="high",
        action_required="a",
        items=[{"product": device, "lot_number": LOT}],
    )
    assert web(outsider).get(reverse("complaints:notice_list")).status_code == 403
    assert web(outsider).get(notice.get_absolute_url()).status_code == 403
    # quality drafts but cannot issue: no button, 403 on the page
    quality = web(quality_engineer)
    assert 'data-testid="issue"' not in text_of(quality.get(notice.get_absolute_url()))
    assert quality.get(reverse("complaints:notice_issue", args=[notice.pk])).status_code == 403
    assert web(management_rep).get(reverse("complaints:notice_issue", args=[notice.pk])).status_code == 200


# --- statistics (R-CO-11) ---------------------------------------------------------------------
def test_column_chart_geometry_and_pareto_line():
    chart = column_chart([("材料", 6), ("生产", 3), ("包装", 1)], line=[60, 90, 100])
    assert [bar["height"] for bar in chart["bars"]] == ["180.0", "90.0", "30.0"]
    assert len(chart["points"].split()) == 3 and chart["percent_ticks"]
    assert column_chart([])["bars"] == []


def test_R_CO_11_statistics_page_with_charts_filters_and_exports(
    management_rep, complaint_row, device, sales_clerk
):
    now = timezone.now()
    for cause in ("material", "material", "production"):
        complaint_row(product=device, cause_category=cause, category="quality", received_at=now)
    client = web(management_rep)
    page = client.get(reverse("complaints:statistics"))
    assert page.status_code == 200
    html = text_of(page)
    assert page.context["totals"]["received"] == 3
    for testid in (
        "chart-month",
        "chart-pareto",
        "chart-pareto-line",
        "on-time-rate",
        "repeat-rate",
        "export-xlsx",
        "export-pdf",
    ):
        assert f'data-testid="{testid}"' in html
    assert "<script" not in html.split("</main>")[0].split("<main")[-1]
    assert 'style="' not in html

    month = timezone.localdate().strftime("%Y-%m")
    filtered = client.get(
        reverse("complaints:statistics"), {"period_from": month, "period_to": month, "category": "delivery"}
    )
    assert filtered.context["totals"]["received"] == 0
    bad = client.get(reverse("complaints:statistics"), {"period_from": "2001-01", "period_to": month})
    assert (
        bad.status_code == 200 and bad.context["form"].errors
    )  # over the longest period: said, defaults used

    xlsx = client.get(reverse("complaints:statistics_export"), {"period_from": month, "period_to": month})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    pdf = client.get(reverse("complaints:statistics_pdf"), {"period_from": month, "period_to": month})
    assert pdf.status_code in (200, 503)
    if pdf.status_code == 200:
        assert pdf.content.startswith(b"%PDF")
    assert web(sales_clerk).get(reverse("complaints:statistics")).status_code == 403


# --- responsibility reports and penalties (R-CO-8) --------------------------------------------
def test_R_CO_8_responsibility_reports_list_and_detail(management_rep, complaint_row, org, sales_clerk):
    closed_period = (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    case = complaint_row(
        status="closed",
        closed_period=closed_period,
        loss_amount=Decimal("1000"),
        closed_on_time=True,
        days_to_close=9,
    )
    with audit_context(actor=management_rep, reason="test data"):
        ResponsibleParty.objects.create(
            complaint=case,
            kind="department",
            department=org["production"],
            share=Decimal("70"),
            amount=Decimal("700"),
            closed_period=closed_period,
        )
        ResponsibleParty.objects.create(
            complaint=case,
            kind="department",
            department=org["purchasing"],
            share=Decimal("30"),
            amount=Decimal("300"),
            closed_period=closed_period,
        )
    report, created = jobs.generate_responsibility_report(closed_period)
    assert created and isinstance(report, ResponsibilityReport)
    client = web(management_rep)
    listing = text_of(client.get(reverse("complaints:responsibility_reports")))
    assert closed_period in listing
    detail = client.get(reverse("complaints:responsibility_report_detail", args=[closed_period]))
    html = text_of(detail)
    assert case.number in html and "700.00" in html and 'data-testid="chart-department"' in html
    assert client.get(reverse("complaints:responsibility_report_detail", args=["1999-01"])).status_code == 404
    assert web(sales_clerk).get(reverse("complaints:responsibility_reports")).status_code == 403


def test_R_CO_8_penalties_only_with_the_policy_and_the_role(management_rep, administrator, sales_clerk):
    officer = UserFactory(roles=["penalty_officer"])
    client = web(officer)
    assert client.get(reverse("complaints:penalty_list")).status_code == 404  # feature off
    assert 'data-testid="penalties"' not in text_of(
        web(management_rep).get(reverse("complaints:responsibility_reports"))
    )
    policies.set_policy(administrator, "complaints.penalties_enabled", True, "试行处罚跟踪")
    assert client.get(reverse("complaints:penalty_list")).status_code == 200
    assert web(sales_clerk).get(reverse("complaints:penalty_list")).status_code == 403
    data = {
        "person": str(sales_clerk.pk),
        "kind": "bonus_deduction",
        "amount": "3000",
        "monthly_bonus": "2000",
        "start_period": date.today().strftime("%Y-%m"),
        "reason": "",
    }
    page = client.post(reverse("complaints:penalty_create"), data)
    assert page.status_code == 200 and "reason" in page.context["form"].errors
    assert (
        client.post(reverse("complaints:penalty_create"), data | {"reason": "重复投诉责任人"}).status_code
        == 302
    )
    listing = text_of(client.get(reverse("complaints:penalty_list")))
    assert (
        sales_clerk.get_full_name() in listing and "1000.00" in listing
    )  # 50 % of the 2,000 bonus per month


def test_recipient_rows_are_listed_for_notices_with_many_customers(management_rep, device, lot_to_customers):
    lot_to_customers(30)
    notice = services_notices.draft_notice(
        management_rep,
        kind="advisory",
        title="t",
        reason="r",
        risk="low",
        action_required="a",
        items=[{"product": device, "lot_number": LOT}],
    )
    services_notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)
    page = web(management_rep).get(notice.get_absolute_url())
    assert len(page.context["recipients"]) == 30 == NoticeRecipient.objects.filter(notice=notice).count()


def test_R_CO_1_communication_log_entry_becomes_feedback_from_the_customer_file(sales_clerk, distributor):
    from qcare.customers.models import Communication

    with audit_context(actor=sales_clerk):
        entry = Communication.objects.create(
            customer=distributor,
            kind="call",
            occurred_at=timezone.now(),
            subject="希望监护仪增加中文语音提示",
            summary="客户电话反映：夜班护士希望报警时有中文语音。",
            recorded_by=sales_clerk,
        )
    client = web(sales_clerk)
    tab = client.get(reverse("customers:detail", args=[distributor.pk]) + "?tab=communication")
    convert_url = reverse("complaints:feedback_from_communication", args=[entry.pk])
    assert convert_url in tab.content.decode()
    assert client.get(convert_url).status_code == 200
    response = client.post(convert_url, {"kind": "bogus"})
    assert response.status_code == 200 and "is-invalid" in response.content.decode()  # the form again
    assert Feedback.objects.count() == 0  # bad input: nothing logged
    response = client.post(convert_url, {"kind": "expectation_future"})
    feedback = Feedback.objects.get()
    assert response.status_code == 302 and response["Location"] == feedback.get_absolute_url()
    assert feedback.customer == distributor and feedback.subject == entry.subject
    tab = client.get(reverse("customers:detail", args=[distributor.pk]) + "?tab=communication")
    assert feedback.get_absolute_url() in tab.content.decode() and convert_url not in tab.content.decode()
    # Converted once: a second submission is refused, nothing more is logged.
    again = client.post(convert_url, {"kind": "suggestion"})
    assert "This communication has already been converted." in again.content.decode()
    assert Feedback.objects.count() == 1
