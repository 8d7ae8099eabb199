"""The contract review of the issue, walked in Chromium with the Chinese UI (R-OR-1…9):

a sales clerk enters an oral phone order for a distributor, attaches the customer's e-mailed
confirmation and submits it; it is special (amount); production, purchasing, quality, R&D and
sales review in parallel, R&D asks a question, sales answers, R&D signs; the GM approves.
Then (the after-approval screens) a change of the delivery date is re-reviewed by production
only and acknowledged by every department; a partial shipment with serial numbers; the
review record PDF is opened and its text checked.

Each person works in their own browser context (own session: their first signature asks for
the user name too). Screenshots go to test-output/screenshots/orders-*.png.
"""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from qcare.core.context import audit_context
from qcare.orders.choices import ChangeStatus, OrderClass, OrderSource, OrderStatus, ReviewStatus
from qcare.orders.models import ChangeRequest, Order, OrderReview
from qcare.orders.seed import seed_routing
from tests.browser.conftest import login, shot
from tests.orders.conftest import make_distributor, make_product_row
from tests.personas import PERSONA_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CUSTOMER = "广州康达医疗器械有限公司"


@pytest.fixture
def people(
    org,
    sales_clerk,
    sales_manager,
    reviewer_production,
    reviewer_purchasing,
    reviewer_quality,
    reviewer_rnd,
    reviewer_warehouse,
    gm,
):
    seed_routing()  # a transactional test's flush removed the migrations' seed
    return {
        "clerk": sales_clerk,
        "manager": sales_manager,
        "production": reviewer_production,
        "purchasing": reviewer_purchasing,
        "quality": reviewer_quality,
        "rnd": reviewer_rnd,
        "warehouse": reviewer_warehouse,
        "gm": gm,
    }


@pytest.fixture
def known_distributor(people):
    """A distributor with an earlier approved order: its confirmed order counts as the contract."""
    clerk = people["clerk"]
    customer = make_distributor(clerk, name=CUSTOMER)
    with audit_context(actor=clerk, reason="earlier order (test data)"):
        Order.objects.create(
            number="SO-202401-0001",
            source=OrderSource.CONTRACT,
            customer=customer,
            owner=clerk,
            department=clerk.department,
            status=OrderStatus.CLOSED,
            approved_at=timezone.now() - timedelta(days=400),
        )
    return customer


class Session:
    """One person's browser context."""

    def __init__(self, browser, live_server, user):
        self.user = user
        self.context = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.page.base_url = live_server.url
        login(self.page, user, PERSONA_PASSWORD)

    def go(self, path):
        self.page.goto(self.page.base_url + path)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def sessions(browser, live_server):
    opened = []

    def open_for(user):
        session = Session(browser, live_server, user)
        opened.append(session)
        return session

    yield open_for
    for session in opened:
        session.close()


def fill_signature(page, prefix, user):
    """Password, and the user name when this is the session's first signature."""
    field = f"#id_{prefix}-" if prefix else "#id_"
    username = page.locator(f"{field}username")
    if username.count():
        username.fill(user.username)
    page.fill(f"{field}password", PERSONA_PASSWORD)


def sign_review(session, order, code, *, opinion="can_meet", comments=""):
    """The reviewer opens the task from the dashboard and signs the review on its own page."""
    page = session.page
    review = OrderReview.objects.get(order=order, department__code=code, status=ReviewStatus.PENDING)
    session.go("/")
    page.click(f"a[href='{reverse('orders:review_sign', args=[review.pk])}']")
    page.wait_for_selector("[data-testid=sign-form]")
    prefix = f"r{review.pk}"
    page.check(f"input[name='{prefix}-opinion'][value='{opinion}']")
    if comments:
        page.fill(f"#id_{prefix}-comments", comments)
    fill_signature(page, prefix, session.user)
    page.click("[data-testid=sign-form] [data-testid=sign]")
    page.wait_for_load_state()
    review.refresh_from_db()
    assert review.status == ReviewStatus.SIGNED, page.inner_text("main")
    return review


def zh(text):
    """``text`` as the Chinese UI shows it (the label itself until its translation is compiled)."""
    with translation.override("zh-hans"):
        return str(text)


def test_R_OR_browser_oral_order_reviewed_in_parallel_with_a_question_and_approved(
    sessions, people, known_distributor, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    monitor = make_product_row(name="多参数监护仪", model="PM-7000")
    clerk = sessions(people["clerk"])
    page = clerk.page

    # 1. The clerk enters the phone order: header and one line worth 300,000 (special).
    clerk.go("/orders/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.click("[data-testid=new-order]")
    page.select_option("#id_customer", value=str(known_distributor.pk))
    page.select_option("#id_source", value=OrderSource.ORAL)
    page.fill("#id_customer_reference", "电话订单 陈经理 0315")
    page.fill("#id_payment_terms", "款到发货")
    page.fill("#id_delivery_address", "广州市天河区体育西路 1 号")
    page.select_option("#id_lines-0-product", value=str(monitor.pk))
    page.fill("#id_lines-0-quantity", "10")
    page.fill("#id_lines-0-unit_price", "30000")
    page.fill("#id_lines-0-requested_date", (date.today() + timedelta(days=45)).isoformat())
    page.fill("#id_lines-0-delivery_mode", "物流")
    page.fill("#id_lines-0-packaging", "标准纸箱")
    page.fill("#id_lines-0-acceptance_criteria", "按出厂检验标准")
    shot(page, "orders-01-new-order")
    page.click("[data-testid=order-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=requirements-form]")
    order = Order.objects.get(customer=known_distributor, status=OrderStatus.DRAFT)
    assert order.lines.get().specification == "PM-7000"

    # 2. Requirement capture: the four categories, one special requirement confirmed.
    for name, value in (
        ("explicit_items", "quality"),
        ("explicit_items", "delivery"),
        ("explicit_items", "warranty"),
        ("implied_items", "intended_use"),
        ("statutory_items", "registration"),
        ("statutory_items", "labelling"),
        ("company_items", "payment_terms"),
    ):
        page.check(f"input[name={name}][value={value}]")
    page.fill("#id_explicit_text", "保修 12 个月，含操作培训")
    page.fill("#id_special_0_text", "说明书和标签须为中文")
    page.check("#id_special_0_confirmed")
    shot(page, "orders-02-requirements")
    page.click("[data-testid=requirements-form] [data-testid=save]")

    # 3. Oral order → the written confirmation: the customer's e-mail, attached.
    page.wait_for_selector("[data-testid=confirmation-form]")
    mail = tmp_path / "客户确认邮件.pdf"
    mail.write_bytes(PDF)
    page.select_option("#id_kind", value="email")
    page.set_input_files("#id_file", str(mail))
    page.click("[data-testid=confirmation-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=confirmation-document]")
    expect(page.locator("[data-testid=confirmation-document]")).to_contain_text("客户确认邮件.pdf")

    # 4. Submit: the preview explains "special" by the amount.
    page.click("[data-testid=submit]")
    page.wait_for_selector("[data-testid=classification-preview]")
    expect(page.locator("[data-testid=preview-class]")).to_contain_text(zh(OrderClass.SPECIAL.label))
    expect(page.locator("[data-testid=preview-reasons]")).to_contain_text("300,000.00")
    shot(page, "orders-03-submit-preview")
    page.click("[data-testid=submit-form] [data-testid=submit]")
    page.wait_for_selector("[data-testid=reviews]")
    order.refresh_from_db()
    assert order.status == OrderStatus.UNDER_REVIEW and order.order_class == "special"
    reviewing = set(OrderReview.objects.filter(order=order).values_list("department__code", flat=True))
    assert reviewing == {"production", "purchasing", "sales", "rnd", "quality"}
    expect(page.locator("[data-testid=review-row]")).to_have_count(5)

    # 5. Parallel reviews: production (with a condition), purchasing, quality, sales.
    sign_review(
        sessions(people["production"]),
        order,
        "production",
        opinion="conditional",
        comments="需安排加班，可按期交货",
    )
    sign_review(sessions(people["purchasing"]), order, "purchasing")
    sign_review(sessions(people["quality"]), order, "quality")
    manager = sessions(people["manager"])
    sign_review(manager, order, "sales")

    # 6. R&D asks a question instead of signing: the order goes to clarification.
    rnd = sessions(people["rnd"])
    review = OrderReview.objects.get(order=order, department__code="rnd")
    rnd.go(reverse("orders:review_sign", args=[review.pk]))
    rnd.page.fill(f"#id_q{review.pk}-text", "客户现有 PM-6000 的探头是否需要兼容？")
    shot(rnd.page, "orders-04-rnd-question")
    rnd.page.click("[data-testid=question-form] [data-testid=ask]")
    rnd.page.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.CLARIFICATION

    # 7. Sales records the customer's written answer and resubmits; the signed reviews stand.
    clerk.go(reverse("orders:detail", args=[order.pk]))
    expect(page.locator("[data-testid=question-text]")).to_contain_text("PM-6000")
    answer = tmp_path / "客户回复.pdf"
    answer.write_bytes(PDF)
    page.fill("[data-testid=answer-form] textarea", "需兼容 PM-6000 探头，客户邮件确认")
    page.set_input_files("[data-testid=answer-form] input[type=file]", str(answer))
    page.click("[data-testid=answer-form] [data-testid=answer]")
    page.wait_for_selector("[data-testid=question-answer]")
    page.click("[data-testid=resubmit]")
    expect(page.locator("[data-testid=restarting-none]")).to_be_visible()
    page.click("[data-testid=resubmit-form] [data-testid=save]")
    page.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.UNDER_REVIEW

    # 8. R&D signs now; every review is positive: the order awaits the GM's approval.
    sign_review(rnd, order, "rnd", comments="兼容性已确认")
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_APPROVAL

    # 9. The GM approves with an e-signature from the task on the dashboard.
    gm = sessions(people["gm"])
    gm.go("/")
    gm.page.click(f"a[href='{reverse('orders:detail', args=[order.pk])}#approval']")
    gm.page.wait_for_selector("[data-testid=approve-form]")
    expect(gm.page.locator("[data-testid=review-row]")).to_have_count(5)
    fill_signature(gm.page, "approve", people["gm"])
    gm.page.fill("#id_approve-comment", "同意，按期交货")
    shot(gm.page, "orders-05-approval")
    gm.page.click("[data-testid=approve-form] [data-testid=approve]")
    gm.page.wait_for_selector("[data-testid=approved-by]")
    order.refresh_from_db()
    assert order.status == OrderStatus.APPROVED and order.approved_by == people["gm"]
    shot(gm.page, "orders-06-approved")
    clerk.go("/orders/")
    expect(page.locator("[data-testid=order-row]")).to_have_count(2)  # with the earlier order
    shot(page, "orders-06-list")

    after_approval(sessions, people, order, tmp_path)


def after_approval(sessions, people, order, tmp_path):
    """Change of the delivery date (production re-reviews), acknowledgements, a partial
    shipment with serial numbers, and the review record PDF (ui-b's and pdf's screens)."""
    from qcare.accounts.permissions import has_perm

    clerk = sessions(people["clerk"])
    page = clerk.page
    line = order.lines.get()
    new_date = (line.requested_date + timedelta(days=14)).isoformat()

    # The change request: the delivery date of line 1, agreed with the customer.
    clerk.go(reverse("orders:detail", args=[order.pk]))
    page.click("[data-testid=change-create]")
    page.wait_for_selector("[data-testid=change-form]")
    page.fill("#id_lines-0-requested_date", new_date)
    page.fill("#id_reason", "客户要求推迟两周交货")
    page.check("#id_customer_agreed")
    page.fill("#id_customer_agreement", "客户陈经理邮件同意推迟两周")
    shot(page, "orders-07-change-request")
    page.click("[data-testid=change-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=change-summary]")
    page.click("main [data-testid=submit]")
    page.wait_for_selector("[data-testid=change-reviews]")
    change = ChangeRequest.objects.get(order=order)
    assert change.status == ChangeStatus.UNDER_REVIEW, page.inner_text("main")
    assert list(change.reviews.values_list("department__code", flat=True)) == ["production"]

    # Production re-reviews the change from its task; the diff is on the sign page.
    production = sessions(people["production"])
    production.go("/")
    review = change.reviews.get()
    production.page.click(f"a[href='{reverse('orders:review_sign', args=[review.pk])}']")
    expect(production.page.locator("[data-testid=change-diff]")).to_contain_text(new_date)
    shot(production.page, "orders-08-change-review")
    production.page.check(f"input[name='r{review.pk}-opinion'][value='can_meet']")
    fill_signature(production.page, f"r{review.pk}", people["production"])
    production.page.click("[data-testid=sign-form] [data-testid=sign]")
    production.page.wait_for_load_state()
    change.refresh_from_db()
    assert change.status == ChangeStatus.AWAITING_APPROVAL

    # The GM approves the change; it is applied to the order.
    gm = sessions(people["gm"])
    gm.go(reverse("orders:change_detail", args=[change.pk]))
    gm.page.click("[data-testid=approve]")
    fill_signature(gm.page, "", people["gm"])
    gm.page.click("[data-testid=decision-form] [data-testid=confirm]")
    gm.page.wait_for_selector("[data-testid=acknowledgements]")
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED, gm.page.inner_text("main")
    line.refresh_from_db()
    assert line.requested_date.isoformat() == new_date

    # Every department that had received the order acknowledges the change from its task.
    acks = list(change.acknowledgements.select_related("department"))
    assert {a.department.code for a in acks} >= {"production", "purchasing", "quality", "rnd", "sales"}
    for ack in acks:
        user = next(
            u
            for u in people.values()
            if u.department_id == ack.department_id and has_perm(u, "orders.acknowledge")
        )
        session = sessions(user)
        session.go("/")
        session.page.click(f"a[href='{reverse('orders:change_detail', args=[change.pk])}']")
        session.page.click("[data-testid=acknowledge]")
        session.page.wait_for_load_state()
        ack.refresh_from_db()
        assert ack.acknowledged_at is not None, session.page.inner_text("main")
    shot(clerk.go(reverse("orders:change_detail", args=[change.pk])), "orders-09-change-acknowledged")

    # A partial shipment with serial numbers: 3 of the 10 monitors.
    warehouse = sessions(people["warehouse"])
    warehouse.go(reverse("orders:detail", args=[order.pk]))
    wpage = warehouse.page
    wpage.click("[data-testid=shipment-create]")
    wpage.wait_for_selector("[data-testid=shipment-form]")
    wpage.fill("#id_delivery_note_number", "CK-20260315-01")
    wpage.fill("#id_lines-0-serial_numbers", "PM7-2403-0001\nPM7-2403-0002\nPM7-2403-0003")
    wpage.fill("#id_lines-0-production_date", (date.today() - timedelta(days=20)).isoformat())
    wpage.fill("#id_lines-0-expiry_date", (date.today() + timedelta(days=3 * 365)).isoformat())
    shot(wpage, "orders-10-shipment")
    wpage.click("[data-testid=shipment-form] [data-testid=save]")
    wpage.wait_for_load_state()
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED, wpage.inner_text("main")
    shipment = order.shipments.get()
    assert sorted(shipment.lines.values_list("serial_number", flat=True)) == [
        "PM7-2403-0001",
        "PM7-2403-0002",
        "PM7-2403-0003",
    ]

    # The review record PDF, opened from the order page: its text names the order, the review
    # record number, the customer, the product, the change, a reviewer and the approver.
    clerk.go(reverse("orders:detail", args=[order.pk]))
    shot(page, "orders-11-order-after-shipment")
    href = page.get_attribute("[data-testid=review-record-pdf]", "href")
    response = page.request.get(page.base_url + href)
    assert response.status == 200 and response.headers["content-type"].startswith("application/pdf")
    text = pdf_text(response.body())
    for expected in (order.number, order.review_number, CUSTOMER, "PM-7000", change.number, "刘洋", "徐明"):
        expected = re.sub(r"\s+", "", expected)
        assert expected in text, expected

    # The GM traces a serial number to the customer (R-OR-11), reads the sales record (R-OR-10)
    # and exports it, and opens the review-cycle report (R-OR-12).
    gm = sessions(people["gm"])
    gpage = gm.page
    gm.go(reverse("orders:trace"))
    gpage.select_option("#id_kind", "serial")
    gpage.fill("#id_number", "PM7-2403-0002")
    gpage.click("[data-testid=trace]")
    expect(gpage.locator("[data-testid=trace-row]")).to_have_count(1)
    expect(gpage.locator("[data-testid=trace-results]")).to_contain_text(CUSTOMER)
    expect(gpage.locator("[data-testid=trace-results]")).to_contain_text(shipment.number)
    shot(gpage, "orders-12-trace")
    gm.go(reverse("orders:sales_records"))
    expect(gpage.locator("main")).to_contain_text("PM7-2403-0001")
    expect(gpage.locator("main")).to_contain_text("粤械注准20182070101")
    shot(gpage, "orders-13-sales-records")
    with gpage.expect_download() as download:
        gpage.click("[data-testid=export]")
    assert download.value.suggested_filename.endswith(".xlsx")
    gm.go(reverse("orders:metrics") + f"?year={timezone.localdate().year}")
    expect(gpage.locator("svg").first).to_be_visible()
    assert gpage.inner_text("[data-testid=mean-review-hours]").strip() not in ("", "—")
    shot(gpage, "orders-14-metrics")


def pdf_text(data):
    """The text of a PDF as PDFium (Chromium's PDF engine) reads it, without white space."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    return re.sub(r"\s+", "", "".join(page.get_textpage().get_text_range() for page in document))


def test_R_OR_1_browser_order_screens_work_without_javascript(
    browser, live_server, people, known_distributor, client
):
    """No JavaScript: "add lines" is a plain submit, the list filters are a GET form."""
    from tests.browser.conftest import login_by_session

    monitor = make_product_row(name="多参数监护仪", model="PM-7000")
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    page.base_url = live_server.url
    try:
        login_by_session(page, client, people["clerk"])
        page.goto(live_server.url + reverse("orders:create"))
        page.select_option("#id_customer", value=str(known_distributor.pk))
        page.select_option("#id_lines-0-product", value=str(monitor.pk))
        page.fill("#id_lines-0-quantity", "2")
        page.fill("#id_lines-0-unit_price", "5000")
        page.click("[data-testid=add-lines]")
        assert page.locator("[data-testid=line-row]").count() == 6
        assert page.input_value("#id_lines-0-quantity") == "2"  # nothing lost
        page.click("[data-testid=order-form] [data-testid=save]")
        page.wait_for_selector("[data-testid=requirements-form]")
        order = Order.objects.get(customer=known_distributor, status=OrderStatus.DRAFT)
        page.click("[data-testid=add-special]")
        assert page.locator("[data-testid=special-row]").count() == 2
        page.goto(live_server.url + reverse("orders:list") + "?q=" + order.number)
        assert page.locator("[data-testid=order-row]").count() == 1
        page.goto(live_server.url + reverse("orders:list") + "?status=approved")
        assert page.locator("[data-testid=empty-state]").count() == 1
    finally:
        context.close()
