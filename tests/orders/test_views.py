"""Screens of orders and contract review (R-OR-1…7): the list, entering and editing an order,
requirement capture, written confirmation, the submit page, the order page with its reviews,
signing, questions and answers, approval, cancelling, the configuration screens, and the
dashboard tasks. Each screen: renders for the right persona, 403/404 for others, posts
through the services, shows the service's errors and keeps the user's input."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qcare.attachments.services import upload_attachment
from qcare.core import ui
from qcare.core.context import audit_context
from qcare.orders import services, views
from qcare.orders.choices import (
    ChangeStatus,
    Opinion,
    OrderClass,
    OrderSource,
    OrderStatus,
    QuestionStatus,
    ReviewStatus,
)
from qcare.orders.models import (
    ApprovalRule,
    ChangeAcknowledgement,
    ChangeRequest,
    Order,
    OrderQuestion,
    OrderReview,
    ReviewRoute,
)
from tests.orders.conftest import make_distributor
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db

LIST = reverse("orders:list")
CREATE = reverse("orders:create")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def web(user):
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(user)
    return client


def url(name, obj):
    return reverse(f"orders:{name}", args=[obj.pk])


def html(response):
    return response.content.decode()


def new_order(clerk, customer, lines, *, requirements=None, **header):
    header.setdefault("source", OrderSource.CONTRACT)
    source = header.pop("source")
    order = services.create_order(clerk, customer=customer, source=source, lines=lines, **header)
    if requirements is not None:
        services.set_requirements(clerk, order, requirements)
    return order


@pytest.fixture
def special_order(sales_clerk, distributor, device, order_lines, requirements_all):
    """A submitted special order (amount 300,000 ≥ 200,000): production, purchasing, sales, R&D
    and quality review it."""
    order = new_order(
        sales_clerk, distributor, order_lines(device, qty="10", price="30000"), requirements=requirements_all
    )
    services.submit_order(sales_clerk, order)
    order.refresh_from_db()
    return order


def sign(user, review, opinion=Opinion.CAN_MEET, **kwargs):
    return services.sign_review(user, review, opinion=opinion, password=PERSONA_PASSWORD, **kwargs)


def review_of(order, code):
    return services.current_reviews(order).get(department__code=code)


def header_post(customer, **extra):
    data = {
        "customer": str(customer.pk),
        "source": OrderSource.ORAL,
        "customer_reference": "电话-0315",
        "order_date": date.today().isoformat(),
        "currency": "CNY",
        "exchange_rate": "1",
        "payment_terms": "款到发货",
        "delivery_address": "广州市天河区体育西路 1 号",
        "is_export": "",
        "special_delivery": "",
        "notes": "",
    }
    return data | extra


def lines_post(rows, *, total=None, initial=0):
    data = {
        "lines-TOTAL_FORMS": str(total if total is not None else len(rows)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
    }
    for i, row in enumerate(rows):
        data.update({f"lines-{i}-{name}": value for name, value in row.items()})
    return data


def line_row(product, qty="2", price="1000", **extra):
    return {
        "product": str(product.pk),
        "specification": "",
        "quantity": qty,
        "unit": "",
        "unit_price": price,
        "requested_date": (date.today() + timedelta(days=30)).isoformat(),
        "delivery_mode": "物流",
        "packaging": "标准纸箱",
        "acceptance_criteria": "按出厂检验标准",
        "in_stock": "",
    } | extra


# --- list (R-OR-1) -------------------------------------------------------------------------------
def test_R_OR_1_list_search_filters_and_scope(
    sales_clerk, sales_clerk_2, distributor, hospital, device, order_lines
):
    first = new_order(sales_clerk, distributor, order_lines(device), customer_reference="PO-8812")
    second = new_order(sales_clerk, hospital, order_lines(device))
    theirs = new_order(
        sales_clerk_2, make_distributor(sales_clerk_2, name="深圳其他经销商"), order_lines(device)
    )
    client = web(sales_clerk)

    def numbers(**params):
        response = client.get(LIST, params)
        assert response.status_code == 200
        return [o.number for o in response.context["listing"].page.object_list]

    assert set(numbers()) == {first.number, second.number}  # not the other clerk's order
    assert numbers(q="PO-8812") == [first.number]
    assert numbers(q="人民医院") == [second.number]
    assert numbers(q=first.number) == [first.number]
    assert numbers(customer=hospital.pk) == [second.number]
    assert numbers(status=OrderStatus.DRAFT, sort="number") == [first.number, second.number]
    assert numbers(status=OrderStatus.APPROVED) == []
    assert numbers(date_from=(date.today() + timedelta(days=1)).isoformat()) == []
    assert numbers(owner=sales_clerk.pk, sort="-number") == [second.number, first.number]
    page = html(client.get(LIST, {"q": "不存在"}))
    assert 'data-testid="empty-state"' in page
    assert 'data-testid="new-order"' in page
    assert theirs.number not in html(client.get(LIST))


def test_R_OR_1_list_needs_orders_view(technician):
    assert web(technician).get(LIST).status_code == 403


# --- enter / edit (R-OR-1) ---------------------------------------------------------------------------
def test_R_OR_1_create_order_with_lines_through_the_form(sales_clerk, distributor, device, accessory):
    client = web(sales_clerk)
    page = client.get(CREATE)
    assert page.status_code == 200
    assert distributor.name in html(page)
    data = header_post(distributor) | lines_post(
        [
            line_row(device, qty="3", price="12000"),
            line_row(accessory, qty="20", price="15", in_stock="yes"),
            {},
        ],
        total=3,
    )
    response = client.post(CREATE, data)
    order = Order.objects.get(owner=sales_clerk)
    assert response.status_code == 302
    assert response["Location"] == url("requirements", order)
    assert order.source == OrderSource.ORAL and order.customer_reference == "电话-0315"
    lines = list(order.lines.order_by("line_no"))
    assert [line.line_no for line in lines] == [1, 2]
    assert lines[0].specification == device.model  # defaults to the product's model
    assert lines[0].unit == device.unit
    assert lines[1].in_stock is True and lines[0].in_stock is None
    assert order.total_amount == Decimal("36300.00")
    assert order.is_export is False  # "as the customer": a domestic distributor


def test_R_OR_1_bad_line_shows_error_on_that_line_and_keeps_input(sales_clerk, distributor, device):
    client = web(sales_clerk)
    data = header_post(distributor, customer_reference="保留我") | lines_post(
        [line_row(device), line_row(device, qty="-1", delivery_mode="自提-保留")]
    )
    response = client.post(CREATE, data)
    assert response.status_code == 400
    formset = response.context["formset"]
    assert not formset.forms[0].errors
    assert "quantity" in formset.forms[1].errors
    page = html(response)
    assert "保留我" in page and "自提-保留" in page
    assert not Order.objects.exists()


def test_R_OR_1_service_errors_land_on_the_line(sales_clerk, distributor, device):
    """The form accepts it, the service refuses it (inactive product): the error is on line 1."""
    with audit_context(actor=None, reason="test"):
        device.is_active = False
        device.save()
    client = web(sales_clerk)
    response = client.post(CREATE, header_post(distributor) | lines_post([line_row(device)]))
    assert response.status_code == 400
    assert response.context["formset"].forms[0].errors["product"]
    assert not Order.objects.exists()


def test_R_OR_1_no_lines_is_refused(sales_clerk, distributor):
    response = web(sales_clerk).post(CREATE, header_post(distributor) | lines_post([{}], total=1))
    assert response.status_code == 400
    assert 'data-testid="lines-errors"' in html(response)


def test_R_OR_1_add_lines_without_javascript(sales_clerk, distributor, device):
    data = header_post(distributor) | lines_post([line_row(device, qty="-5")]) | {"add_lines": "1"}
    response = web(sales_clerk).post(CREATE, data)
    assert response.status_code == 200
    formset = response.context["formset"]
    assert len(formset.forms) == 4
    page = html(response)
    assert "is-invalid" not in page  # adding rows is not a submission
    assert 'value="-5"' in page
    assert not Order.objects.exists()


def test_R_OR_1_customer_choice_is_limited_to_my_customers(sales_clerk, sales_clerk_2, distributor, device):
    other = make_distributor(sales_clerk_2, name="深圳别人的客户")
    client = web(sales_clerk)
    assert other.name not in html(client.get(CREATE))
    response = client.post(CREATE, header_post(other) | lines_post([line_row(device)]))
    assert response.status_code == 400
    assert response.context["form"].errors["customer"]
    assert not Order.objects.exists()


def test_R_OR_1_create_needs_orders_add(reviewer_production):
    assert web(reviewer_production).get(CREATE).status_code == 403


def test_R_OR_1_edit_draft_changes_header_and_lines(sales_clerk, distributor, device, accessory, order_lines):
    order = new_order(sales_clerk, distributor, order_lines(device, accessory))
    client = web(sales_clerk)
    page = client.get(url("edit", order))
    assert page.status_code == 200
    rows = [
        line_row(device, qty="5", line_no="1"),
        line_row(accessory, line_no="2", DELETE="on"),
        line_row(accessory, qty="7"),
    ]
    data = header_post(distributor, payment_terms="月结30天", is_export="no", version=str(order.version))
    response = client.post(url("edit", order), data | lines_post(rows, initial=2))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.payment_terms == "月结30天"
    lines = {line.line_no: line for line in order.lines.all()}
    assert len(lines) == 2  # line 2 removed, the new line added
    assert lines[1].quantity == 5 and lines[max(lines)].quantity == 7


def test_R_OR_1_edit_with_stale_version_keeps_input(sales_clerk, distributor, device, order_lines):
    order = new_order(sales_clerk, distributor, order_lines(device))
    data = header_post(distributor, payment_terms="新条款", version=str(order.version - 1 or 99))
    response = web(sales_clerk).post(
        url("edit", order), data | lines_post([line_row(device, line_no="1")], initial=1)
    )
    assert response.status_code == 400
    assert "新条款" in html(response)
    order.refresh_from_db()
    assert order.payment_terms != "新条款"


def test_R_OR_1_submitted_order_is_not_edited_directly(special_order, sales_clerk, reviewer_production):
    response = web(sales_clerk).get(url("edit", special_order))
    assert response.status_code == 302 and response["Location"] == url("detail", special_order)
    # Another department's reviewer may see it but not edit it: 404 for the edit screen.
    assert web(reviewer_production).get(url("edit", special_order)).status_code == 404


# --- requirements (R-OR-2) --------------------------------------------------------------------------
def test_R_OR_2_requirement_checklist_and_special_requirements(sales_clerk, distributor, device, order_lines):
    order = new_order(sales_clerk, distributor, order_lines(device))
    client = web(sales_clerk)
    page = client.get(url("requirements", order))
    assert page.status_code == 200
    assert "RoHS" in html(page)
    # "Add a special requirement" adds a row without saving.
    added = client.post(
        url("requirements", order), {"rows": "1", "add_row": "1", "special_0_text": "需要中文标签"}
    )
    assert added.status_code == 200 and len(added.context["form"].special_rows()) == 2
    data = {
        "version": str(order.version),
        "rows": "2",
        "explicit_items": ["quality", "delivery"],
        "explicit_text": "保修 24 个月",
        "implied_items": ["none"],
        "statutory_items": ["registration"],
        "company_items": ["payment_terms"],
        "special_0_text": "需要中文标签",
        "special_0_confirmed": "on",
        "special_1_text": "",
    }
    response = client.post(url("requirements", order), data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.requirements["explicit"] == {"items": ["quality", "delivery"], "text": "保修 24 个月"}
    assert order.special_requirements == [{"text": "需要中文标签", "confirmed": True}]
    assert services.requirement_problems(order) == []


def test_R_OR_2_service_error_shown_on_the_category(sales_clerk, distributor, device, order_lines):
    order = new_order(sales_clerk, distributor, order_lines(device))
    data = {"rows": "1", "implied_items": ["none", "storage"], "implied_text": "保留这段文字"}
    response = web(sales_clerk).post(url("requirements", order), data)
    assert response.status_code == 200
    assert response.context["form"].errors["implied_items"]
    assert "保留这段文字" in html(response)


# --- written confirmation (R-OR-3) ------------------------------------------------------------------
def test_R_OR_3_oral_order_confirmation_uploaded_and_recorded(
    sales_clerk, distributor, device, order_lines, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    order = new_order(sales_clerk, distributor, order_lines(device), source=OrderSource.ORAL)
    client = web(sales_clerk)
    assert client.get(url("confirmation", order)).status_code == 200
    missing = client.post(
        url("confirmation", order), {"kind": "email", "received_on": date.today().isoformat()}
    )
    assert missing.status_code == 200 and missing.context["form"].errors["file"]
    upload = SimpleUploadedFile("订单确认邮件.pdf", PDF, content_type="application/pdf")
    response = client.post(
        url("confirmation", order), {"kind": "email", "received_on": date.today().isoformat(), "file": upload}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.confirmation_kind == "email"
    assert order.confirmation_attachment.original_name == "订单确认邮件.pdf"
    assert "订单确认邮件.pdf" in html(client.get(url("detail", order)))


def test_R_OR_3_refused_confirmation_keeps_the_uploaded_file(
    sales_clerk, distributor, device, order_lines, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    order = new_order(sales_clerk, distributor, order_lines(device), source=OrderSource.ORAL)
    upload = SimpleUploadedFile("传真.pdf", PDF, content_type="application/pdf")
    future = (date.today() + timedelta(days=3)).isoformat()
    response = web(sales_clerk).post(
        url("confirmation", order), {"kind": "fax", "received_on": future, "file": upload}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["received_on"]
    assert form["attachment"].value() == str(order_attachments(order)[0].pk)  # offered, not lost


def order_attachments(order):
    from qcare.attachments.models import Attachment

    return list(Attachment.objects.for_object(order))


# --- submit (R-OR-4, R-OR-5, R-CU-3) ------------------------------------------------------------------
def test_R_OR_4_submit_page_previews_class_and_blocks_incomplete_order(
    sales_clerk, distributor, device, order_lines
):
    order = new_order(sales_clerk, distributor, order_lines(device, qty="10", price="30000"))
    client = web(sales_clerk)
    response = client.get(url("submit", order))
    page = html(response)
    assert response.context["preview_class"] == OrderClass.SPECIAL.label
    assert any("300,000.00 ≥ 200,000.00" in reason for reason in response.context["preview_reasons"])
    assert 'data-testid="submit-problems"' in page
    assert 'data-testid="submit" disabled' in page
    refused = client.post(url("submit", order), {"version": str(order.version)})
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors()
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_R_CU_3_submit_page_names_the_licence_problem(sales_clerk, device, order_lines, requirements_all):
    expired = make_distributor(sales_clerk, name="过期经销商", licence_until=date.today() - timedelta(days=1))
    order = new_order(sales_clerk, expired, order_lines(device), requirements=requirements_all)
    response = web(sales_clerk).get(url("submit", order))
    problems = response.context["problems"]
    assert problems and all("Regulated" in p or "医疗器械" in p or "不能" in p for p in problems)
    assert 'data-testid="submit" disabled' in html(response)


def test_R_OR_5_submit_with_optional_department_routes_reviews(
    sales_clerk, distributor, device, order_lines, requirements_all, org
):
    order = new_order(
        sales_clerk, distributor, order_lines(device, qty="10", price="30000"), requirements=requirements_all
    )
    client = web(sales_clerk)
    page = client.get(url("submit", order))
    assert page.context["form"].fields["optional_departments"].choices  # warehouse, finance
    data = {"version": str(order.version), "optional_departments": [str(org["finance"].pk)]}
    response = client.post(url("submit", order), data)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.UNDER_REVIEW and order.review_number.startswith("HP-")
    codes = set(services.current_reviews(order).values_list("department__code", flat=True))
    assert codes == {"production", "purchasing", "sales", "rnd", "quality", "finance"}
    detail = html(client.get(url("detail", order)))
    assert detail.count('data-testid="review-row"') == 6
    assert order.review_number in detail


# --- the order page and reviewing (R-OR-5) ----------------------------------------------------------
def test_R_OR_5_reviewer_sees_own_sign_form_only(special_order, reviewer_production):
    response = web(reviewer_production).get(url("detail", special_order))
    assert response.status_code == 200
    forms = response.context["sign_forms"]
    assert [review.department.code for review, _s, _q in forms] == ["production"]
    assert "username" in forms[0][1].fields  # first signature of the session: user name too
    assert html(response).count('data-testid="sign-form"') == 1


def test_R_OR_5_sign_review_through_the_form(special_order, reviewer_production):
    client = web(reviewer_production)
    review = review_of(special_order, "production")
    prefix = f"r{review.pk}"
    wrong = client.post(
        url("review_sign", review),
        {
            f"{prefix}-opinion": Opinion.CONDITIONAL,
            f"{prefix}-comments": "需加班，交期延后一周",
            f"{prefix}-proposed_date": (date.today() + timedelta(days=40)).isoformat(),
            f"{prefix}-meaning": "reviewed",
            f"{prefix}-username": reviewer_production.username,
            f"{prefix}-password": "wrong-password",
        },
    )
    assert wrong.status_code == 400
    assert "需加班，交期延后一周" in html(wrong)
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING and review.signature_id is None
    response = client.post(
        url("review_sign", review),
        {
            f"{prefix}-opinion": Opinion.CONDITIONAL,
            f"{prefix}-comments": "需加班，交期延后一周",
            f"{prefix}-proposed_date": (date.today() + timedelta(days=40)).isoformat(),
            f"{prefix}-meaning": "reviewed",
            f"{prefix}-username": reviewer_production.username,
            f"{prefix}-password": PERSONA_PASSWORD,
        },
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.SIGNED and review.opinion == Opinion.CONDITIONAL
    assert review.reviewer == reviewer_production and review.proposed_date is not None
    # Second signature of the session: the password alone.
    detail = web_same = client.get(url("detail", special_order))
    assert 'data-testid="signature-valid"' in html(web_same)
    assert detail.context["sign_forms"] == []


def test_R_OR_5_conditional_opinion_needs_comments(special_order, reviewer_quality):
    review = review_of(special_order, "quality")
    prefix = f"r{review.pk}"
    response = web(reviewer_quality).post(
        url("review_sign", review),
        {
            f"{prefix}-opinion": Opinion.CANNOT_MEET,
            f"{prefix}-meaning": "reviewed",
            f"{prefix}-username": reviewer_quality.username,
            f"{prefix}-password": PERSONA_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert response.context["sign_form"].errors["comments"]
    assert review_of(special_order, "quality").status == ReviewStatus.PENDING


def test_R_OR_5_cannot_sign_for_another_department(special_order, reviewer_production, reviewer_warehouse):
    review = review_of(special_order, "purchasing")
    assert web(reviewer_production).get(url("review_sign", review)).status_code == 403
    # The warehouse is not routed on this order and sees no review of it: 404 (not its scope).
    assert web(reviewer_warehouse).get(url("review_sign", review)).status_code in (403, 404)


def test_R_OR_5_sign_page_of_a_signed_review_redirects(special_order, reviewer_production):
    review = review_of(special_order, "production")
    sign(reviewer_production, review)
    response = web(reviewer_production).get(url("review_sign", review))
    assert response.status_code == 302


def test_R_OR_5_question_answer_and_resubmit(special_order, reviewer_rnd, sales_clerk, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    review = review_of(special_order, "rnd")
    rnd = web(reviewer_rnd)
    empty = rnd.post(url("review_question", review), {f"q{review.pk}-text": ""})
    assert empty.status_code == 400 and empty.context["question_form"].errors["text"]
    asked = rnd.post(url("review_question", review), {f"q{review.pk}-text": "探头是否需要兼容旧型号？"})
    assert asked.status_code == 302
    special_order.refresh_from_db()
    assert special_order.status == OrderStatus.CLARIFICATION
    question = OrderQuestion.objects.get(order=special_order)

    clerk = web(sales_clerk)
    detail = clerk.get(url("detail", special_order))
    assert "探头是否需要兼容旧型号？" in html(detail)
    assert 'data-testid="answer-form"' in html(detail)
    assert not detail.context["can_resubmit"]  # an open point first
    answer_page = clerk.get(url("question_answer", question))
    assert answer_page.status_code == 200 and 'data-testid="answer-form"' in html(answer_page)
    upload = SimpleUploadedFile("客户回复.pdf", PDF, content_type="application/pdf")
    answered = clerk.post(
        url("question_answer", question),
        {f"a{question.pk}-answer": "需兼容 PM-6000", f"a{question.pk}-file": upload},
    )
    assert answered.status_code == 302
    question.refresh_from_db()
    assert question.status == QuestionStatus.ANSWERED and question.answer == "需兼容 PM-6000"
    assert [a.original_name for a in order_attachments(question)] == ["客户回复.pdf"]

    page = clerk.get(url("resubmit", special_order))
    assert page.status_code == 200 and 'data-testid="restarting-none"' in html(page)
    response = clerk.post(url("resubmit", special_order), {"version": str(special_order.version)})
    assert response.status_code == 302
    special_order.refresh_from_db()
    assert special_order.status == OrderStatus.UNDER_REVIEW
    assert review_of(special_order, "rnd").status == ReviewStatus.PENDING  # still to sign


def test_R_OR_5_other_clerk_cannot_answer(special_order, reviewer_rnd, sales_clerk_2):
    question = services.raise_question(reviewer_rnd, review_of(special_order, "rnd"), text="问题")
    assert web(sales_clerk_2).get(url("question_answer", question)).status_code == 404
    assert web(sales_clerk_2).get(url("detail", special_order)).status_code == 404


def test_R_OR_5_clarification_edit_invalidates_signature_and_restarts_that_review(
    special_order, reviewer_production, reviewer_rnd, sales_clerk, device
):
    sign(reviewer_production, review_of(special_order, "production"))
    services.raise_question(reviewer_rnd, review_of(special_order, "rnd"), text="交期能否提前？")
    question = OrderQuestion.objects.get(order=special_order)
    services.answer_question(sales_clerk, question, answer="客户同意交期推迟两周")
    line = special_order.lines.get()
    later = (line.requested_date + timedelta(days=14)).isoformat()
    data = header_post(
        special_order.customer,
        source=special_order.source,
        is_export="no",
        version=str(special_order.version),
    )
    row = line_row(device, qty="10", price="30000", line_no="1", requested_date=later)
    client = web(sales_clerk)
    response = client.post(url("edit", special_order), data | lines_post([row], initial=1))
    assert response.status_code == 302, (response.context["form"].errors, response.context["formset"].errors)
    detail = html(client.get(url("detail", special_order)))
    assert 'data-testid="signature-invalid"' in detail
    page = client.get(url("resubmit", special_order))
    assert [r.department.code for r in page.context["restarting"]] == ["production"]


# --- classification override (R-OR-4) ---------------------------------------------------------------
def test_R_OR_4_sales_manager_overrides_class_with_reason(special_order, sales_manager, sales_clerk):
    client = web(sales_manager)
    detail = client.get(url("detail", special_order))
    assert 'data-testid="classify-form"' in html(detail)
    no_reason = client.post(url("classify", special_order), {"order_class": OrderClass.REGULAR_NO_STOCK})
    assert no_reason.status_code == 200 and no_reason.context["form"].errors["reason"]
    response = client.post(
        url("classify", special_order),
        {"order_class": OrderClass.REGULAR_NO_STOCK, "reason": "框架协议内的常规补货"},
    )
    assert response.status_code == 302
    special_order.refresh_from_db()
    assert special_order.order_class == OrderClass.REGULAR_NO_STOCK
    codes = set(services.current_reviews(special_order).values_list("department__code", flat=True))
    assert codes == {"production", "purchasing", "sales"}
    assert "框架协议内的常规补货" in html(client.get(url("detail", special_order)))
    assert web(sales_clerk).get(url("classify", special_order)).status_code == 404


# --- approval (R-OR-6), rejection, cancel ----------------------------------------------------------------
@pytest.fixture
def reviewed_order(
    special_order, reviewer_production, reviewer_purchasing, sales_manager, reviewer_rnd, reviewer_quality
):
    for user, code in (
        (reviewer_production, "production"),
        (reviewer_purchasing, "purchasing"),
        (sales_manager, "sales"),
        (reviewer_rnd, "rnd"),
        (reviewer_quality, "quality"),
    ):
        sign(user, review_of(special_order, code))
    special_order.refresh_from_db()
    return special_order


def test_R_OR_6_approval_panel_only_for_the_rule_approvers(reviewed_order, gm, sales_manager):
    assert reviewed_order.status == OrderStatus.AWAITING_APPROVAL
    gm_page = web(gm).get(url("detail", reviewed_order))
    assert "approve_form" in gm_page.context and 'data-testid="approve-form"' in html(gm_page)
    manager_page = web(sales_manager).get(url("detail", reviewed_order))
    assert "approve_form" not in manager_page.context  # a special order: deputy GM or GM
    assert manager_page.context["may_approve"] is False
    assert web(sales_manager).post(url("approve", reviewed_order), {}).status_code in (400, 403)


def test_R_OR_6_gm_approves_with_signature(reviewed_order, gm):
    client = web(gm)
    page = client.get(url("approve", reviewed_order))
    assert page.status_code == 200
    data = {
        "approve-meaning": "approved",
        "approve-username": gm.username,
        "approve-password": PERSONA_PASSWORD,
        "approve-comment": "同意",
        "approve-version": str(reviewed_order.version),
    }
    response = client.post(url("approve", reviewed_order), data)
    assert response.status_code == 302
    reviewed_order.refresh_from_db()
    assert reviewed_order.status == OrderStatus.APPROVED and reviewed_order.approved_by == gm
    detail = html(client.get(url("detail", reviewed_order)))
    assert 'data-testid="approved-by"' in detail and 'data-testid="signatures"' in detail


def test_R_OR_6_approve_refused_while_a_review_is_missing(special_order, gm, reviewer_production):
    sign(reviewer_production, review_of(special_order, "production"))
    client = web(gm)
    page = client.get(url("detail", special_order))
    problems = page.context["approval_problems"]
    assert problems and 'data-testid="approval-problems"' in html(page)
    data = {
        "approve-meaning": "approved",
        "approve-username": gm.username,
        "approve-password": PERSONA_PASSWORD,
        "approve-version": str(special_order.version),
    }
    response = client.post(url("approve", special_order), data)
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    special_order.refresh_from_db()
    assert special_order.status == OrderStatus.UNDER_REVIEW


def test_R_OR_6_reject_needs_reason_and_signature(reviewed_order, gm):
    client = web(gm)
    base = {
        "reject-meaning": "rejected",
        "reject-username": gm.username,
        "reject-version": str(reviewed_order.version),
    }
    no_reason = client.post(url("reject", reviewed_order), base | {"reject-password": PERSONA_PASSWORD})
    assert no_reason.status_code == 400 and no_reason.context["form"].errors["reason"]
    response = client.post(
        url("reject", reviewed_order),
        base | {"reject-password": PERSONA_PASSWORD, "reject-reason": "价格过低"},
    )
    assert response.status_code == 302
    reviewed_order.refresh_from_db()
    assert reviewed_order.status == OrderStatus.REJECTED and reviewed_order.decision_comment == "价格过低"


def test_cancel_has_a_confirmation_step(sales_clerk, distributor, device, order_lines, reviewer_production):
    order = new_order(sales_clerk, distributor, order_lines(device))
    client = web(sales_clerk)
    page = client.get(url("cancel", order))
    assert 'data-testid="cancel-warning"' in html(page)
    unconfirmed = client.post(url("cancel", order), {"reason": "客户取消", "version": str(order.version)})
    assert unconfirmed.status_code == 200 and unconfirmed.context["form"].errors["confirm"]
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    response = client.post(
        url("cancel", order), {"reason": "客户取消", "confirm": "on", "version": str(order.version)}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.cancelled_reason == "客户取消"
    assert web(reviewer_production).get(url("cancel", order)).status_code == 404


# --- change-request reviews on the sign page (R-OR-8) -------------------------------------------------
def test_R_OR_8_sign_page_of_a_change_review_shows_the_diff(
    reviewed_order, gm, reviewer_production, sales_clerk
):
    services.approve_order(gm, reviewed_order, password=PERSONA_PASSWORD)
    reviewed_order.refresh_from_db()
    from qcare.orders import services_change
    from qcare.orders.content import order_data

    proposed = order_data(reviewed_order)
    old_date = proposed["lines"][0]["requested_date"]
    new_date = (date.fromisoformat(old_date) + timedelta(days=10)).isoformat()
    proposed["lines"][0]["requested_date"] = new_date
    change = services_change.create_change_request(
        sales_clerk,
        reviewed_order,
        proposed=proposed,
        reason="客户要求延期交货",
        customer_agreed=True,
        customer_agreement="客户邮件确认",
    )
    services_change.submit_change_request(sales_clerk, change)
    review = OrderReview.objects.get(change_request=change, department__code="production")
    response = web(reviewer_production).get(url("review_sign", review))
    assert response.status_code == 200
    page = html(response)
    assert 'data-testid="change-diff"' in page and new_date in page and old_date in page
    detail = web(reviewer_production).get(url("detail", reviewed_order))
    assert [r.change_request_id for r, _s, _q in detail.context["sign_forms"]] == [change.pk]


# --- configuration (orders.configure) -----------------------------------------------------------------
def test_R_OR_5_routing_matrix_edit_with_reason(administrator, sales_clerk):
    route = ReviewRoute.objects.get(order_class=OrderClass.SPECIAL, department__code="warehouse")
    client = web(administrator)
    page = client.get(reverse("orders:routes"))
    assert page.status_code == 200 and html(page).count('data-testid="route-row"') >= 10
    edit = url("route_edit", route)
    no_reason = client.post(
        edit, {"aspects": ["transport"], "subjects": ["delivery_mode"], "sort_order": "60"}
    )
    assert no_reason.status_code == 200 and no_reason.context["form"].errors["reason"]
    data = {
        "aspects": ["transport", "staffing"],
        "subjects": ["delivery_mode", "packaging"],
        "is_optional": "",
        "sort_order": "60",
        "is_active": "on",
        "reason": "物流部必须参与特殊订单评审",
        "version": str(route.version),
    }
    assert client.post(edit, data).status_code == 302
    route.refresh_from_db()
    assert route.aspects == ["transport", "staffing"] and route.is_optional is False
    assert web(sales_clerk).get(reverse("orders:routes")).status_code == 403


def test_R_OR_5_add_route_refuses_a_duplicate_department(administrator, org):
    data = {
        "order_class": OrderClass.REGULAR_IN_STOCK,
        "department": str(org["sales"].pk),
        "aspects": ["terms"],
        "subjects": ["price"],
        "sort_order": "5",
        "is_active": "on",
        "reason": "测试",
    }
    response = web(administrator).post(reverse("orders:route_add"), data)
    assert response.status_code == 200 and response.context["form"].errors["department"]


def test_R_OR_6_approval_rule_add_and_edit(administrator):
    from qcare.accounts.models import Role

    client = web(administrator)
    assert client.get(reverse("orders:rules")).status_code == 200
    gm_role = Role.objects.get(code="gm")
    data = {
        "priority": "5",
        "name": "超大额订单：总经理",
        "order_class": "",
        "tender": "any",
        "is_export": "",
        "amount_from": "5000000",
        "amount_below": "",
        "approver_roles": [str(gm_role.pk)],
        "is_active": "on",
        "reason": "核决权限调整",
    }
    assert client.post(reverse("orders:rule_add"), data).status_code == 302
    rule = ApprovalRule.objects.get(name="超大额订单：总经理")
    assert rule.amount_from == Decimal("5000000") and list(rule.approver_roles.all()) == [gm_role]
    bad = data | {"amount_from": "100", "amount_below": "50", "version": str(rule.version)}
    refused = client.post(url("rule_edit", rule), bad)
    assert refused.status_code == 200 and refused.context["form"].errors["amount_below"]
    ok = client.post(url("rule_edit", rule), data | {"is_active": "", "version": str(rule.version)})
    assert ok.status_code == 302
    rule.refresh_from_db()
    assert rule.is_active is False


def test_configuration_needs_orders_configure(gm):
    assert web(gm).get(reverse("orders:rules")).status_code == 403
    assert web(gm).get(reverse("orders:route_add")).status_code == 403


# --- dashboard tasks and navigation --------------------------------------------------------------------
def test_dashboard_tasks_reviews_approvals_overdue(
    special_order, reviewed_order, reviewer_production, gm, sales_clerk, deputy_gm
):
    # reviewed_order is special_order with every review signed.
    assert views.reviews_to_sign(reviewer_production) == []
    titles = [t["title"] for t in views.approvals_waiting(gm)]
    assert titles and reviewed_order.number in titles[0]
    assert views.approvals_waiting(deputy_gm)  # special: deputy GM or GM


def test_dashboard_reviews_to_sign_and_overdue(
    special_order, reviewer_production, sales_clerk, sales_manager, gm
):
    tasks = views.reviews_to_sign(reviewer_production)
    assert len(tasks) == 1 and tasks[0]["url"] == url("review_sign", review_of(special_order, "production"))
    assert views.approvals_waiting(gm) == []
    assert views.overdue_reviews(sales_clerk) == []
    OrderReview.objects.filter(order=special_order).update(due_at=timezone.now() - timedelta(hours=1))
    overdue = views.overdue_reviews(sales_clerk)
    assert len(overdue) == 5 and all(t["overdue"] for t in overdue)
    assert len(views.overdue_reviews(sales_manager)) == 5
    assert views.overdue_reviews(reviewer_production) == []  # not an order owner
    response = web(reviewer_production).get(url("detail", special_order))
    assert 'data-testid="review-overdue"' in html(response)


def test_dashboard_changes_to_acknowledge(reviewed_order, gm, reviewer_quality, sales_clerk):
    services.approve_order(gm, reviewed_order, password=PERSONA_PASSWORD)
    with audit_context(actor=sales_clerk, reason="test"):
        change = ChangeRequest.objects.create(
            number="BG-TEST-0001",
            order=reviewed_order,
            status=ChangeStatus.APPLIED,
            reason="交期变更",
            proposed={},
            base_version=reviewed_order.version,
            requested_by=sales_clerk,
        )
        ChangeAcknowledgement.objects.create(
            change_request=change, order=reviewed_order, department=reviewer_quality.department
        )
    tasks = views.changes_to_acknowledge(reviewer_quality)
    assert len(tasks) == 1 and "BG-TEST-0001" in tasks[0]["title"]
    assert views.changes_to_acknowledge(sales_clerk) == []


def test_nav_entry_and_task_groups_registered(sales_clerk, technician):
    keys = [entry["key"] for entry in ui.nav.for_user(sales_clerk)]
    assert "orders" in keys
    assert "orders" not in [entry["key"] for entry in ui.nav.for_user(technician)]
    assert {"orders.reviews", "orders.approvals", "orders.acknowledgements", "orders.overdue"} <= set(
        ui.tasks._providers
    )


def test_detail_renders_for_auditor_read_only(special_order, auditor):
    response = web(auditor).get(url("detail", special_order))
    assert response.status_code == 200
    context = response.context
    assert not context["can_edit"] and not context["can_cancel"] and context["sign_forms"] == []
    assert special_order.number in html(response)


def test_detail_of_another_clerks_order_is_404(special_order, sales_clerk_2):
    assert web(sales_clerk_2).get(url("detail", special_order)).status_code == 404


def test_confirmation_needs_an_attachment_of_this_order(
    sales_clerk, distributor, device, order_lines, settings, tmp_path
):
    """A file attached to another order cannot be chosen: only this order's attachments are offered."""
    settings.MEDIA_ROOT = tmp_path
    order = new_order(sales_clerk, distributor, order_lines(device), source=OrderSource.ORAL)
    other = new_order(sales_clerk, distributor, order_lines(device))
    foreign = upload_attachment(
        sales_clerk, other, SimpleUploadedFile("x.pdf", PDF, content_type="application/pdf")
    )
    response = web(sales_clerk).post(
        url("confirmation", order),
        {"kind": "email", "received_on": date.today().isoformat(), "attachment": str(foreign.pk)},
    )
    assert response.status_code == 200 and response.context["form"].errors["attachment"]


def test_R_OR_5_config_services_check_permission_reason_and_audit(administrator, sales_manager):
    from django.contrib.contenttypes.models import ContentType

    from qcare.audit.models import AuditEntry
    from qcare.core.errors import NotPermitted, ReasonRequired
    from qcare.orders import services_config

    route = ReviewRoute.objects.get(order_class=OrderClass.SPECIAL, department__code="finance")
    with pytest.raises(NotPermitted):
        services_config.update_route(sales_manager, route, data={"is_optional": False}, reason="x")
    with pytest.raises(ReasonRequired):
        services_config.update_route(administrator, route, data={"is_optional": False}, reason=" ")
    services_config.update_route(
        administrator, route, data={"is_optional": False}, reason="财务必须评审特殊订单"
    )
    route.refresh_from_db()
    assert route.is_optional is False
    route_type = ContentType.objects.get_for_model(ReviewRoute)
    entry = AuditEntry.objects.filter(
        content_type=route_type, object_pk=str(route.pk), action="update"
    ).last()
    assert entry.reason == "财务必须评审特殊订单"


def test_R_OR_1_list_offers_no_customer_select_beyond_the_limit_but_keeps_a_linked_filter(
    client, sales_clerk, distributor, monkeypatch
):
    """Thousands of customers: the search box finds them; a link's ?customer= still filters."""
    from qcare.orders import views as order_views

    monkeypatch.setattr(order_views, "CUSTOMER_FILTER_LIMIT", 0)
    client.force_login(sales_clerk)
    response = client.get("/orders/", {"customer": str(distributor.pk)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="hidden" name="customer"' in html
    assert f'value="{distributor.pk}"' in html
    assert '<select name="customer"' not in html
