"""Demo orders for ``qcare demo`` (R-OR-1…12): a dozen orders in every state of the workflow.

Draft, under review with some signatures, in clarification with an open point, awaiting
approval (an oral order with its e-mailed confirmation), approved with a production notice,
partially shipped with serial and lot numbers, shipped, closed, rejected, cancelled, one
approved order with an applied change (acknowledged by part of the departments) and one with
a change still under review.

Everything goes through the services, so numbers (SO/HP/BG/SC/CH), classification, routing,
signatures, transitions, notifications, sales records and the audit trail are real. Signing
needs the demo users' password: :func:`load_demo` takes it (``qcare demo`` passes the one it
gave the users it created; else ``QCARE_DEMO_PASSWORD``) and checks it first, so a wrong
password never counts as a failed signature.

Idempotent: each demo order is known by its customer's contract / reference number and is
created only when missing, each in its own transaction (a failure leaves none of it behind).
Needs the demo users, customers and products (accounts, customers and catalog demos).
"""

import logging
import os
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from qcare.catalog.models import Product
from qcare.customers.models import Customer
from qcare.orders import authority, services, services_change, services_fulfil
from qcare.orders.choices import OrderSource, ReviewStatus
from qcare.orders.models import Order

logger = logging.getLogger(__name__)

#: Department code → the demo user who signs its reviews and acknowledges for it.
REVIEWERS = {
    "sales": "wangfang",
    "production": "liuyang",
    "purchasing": "chenjing",
    "quality": "yangli",
    "rnd": "zhaolei",
    "warehouse": "huangmin",
    "finance": "zhoujie",
}
APPROVERS = ("wangfang", "wuqiang", "xuming")  # sales manager, deputy GM, GM
WAREHOUSE = "huangmin"

REQUIREMENTS = {
    "explicit": {
        "items": ["quality", "delivery", "warranty", "training"],
        "text": "整机保修 12 个月，到货后 7 日内上门培训",
    },
    "implied": {"items": ["intended_use"], "text": "医院病房 24 小时连续使用"},
    "statutory": {"items": ["registration", "labelling"], "text": "随货提供注册证复印件（加盖公章）"},
    "company": {"items": ["payment_terms"], "text": "预付 30%，到货验收后 60 天内付清"},
}
CONFIRMATION_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

#: Products of the catalogue demo the scenarios sell.
PRODUCT_CODES = (
    "JX-0601",
    "JX-0603",
    "JX-0701",
    "JX-0702",
    "JX-0704",
    "JX-1401",
    "JX-1402",
    "JX-1403",
    "JX-2202",
    "PJ-0001",
)

H1 = "广州市第一人民医院"
H2 = "深圳市人民医院"
D1 = "湖南湘雅医疗器械有限公司"
D2 = "武汉同济医疗器械贸易有限公司"


class Demo:
    """The context of one run: users by username, the password, today."""

    def __init__(self, users, password):
        self.users = users
        self.password = password
        self.today = timezone.localdate()

    def user(self, username):
        return self.users[username]

    def line(self, code, qty, price, days, **extra):
        product = Product.objects.get(code=code)
        return {
            "product": product,
            "specification": product.model,
            "quantity": Decimal(qty),
            "unit": product.unit,
            "unit_price": Decimal(price),
            "requested_date": self.today + timedelta(days=days),
            "delivery_mode": "物流配送到院",
            "packaging": "原厂纸箱加木架",
            "acceptance_criteria": "按产品技术要求及出厂检验报告验收",
        } | extra

    def order(self, customer, reference, lines, *, source=OrderSource.CONTRACT, **header):
        header = {"payment_terms": "月结 60 天", "delivery_address": customer.address} | header
        return services.create_order(
            customer.owner,
            customer=customer,
            source=source,
            lines=lines,
            customer_reference=reference,
            requirements=REQUIREMENTS,
            **header,
        )

    def sign(self, order, department, opinion="can_meet", comments="", proposed_date=None):
        review = services.current_reviews(order).get(department__code=department, status=ReviewStatus.PENDING)
        user = self.user(REVIEWERS[department])
        services.sign_review(
            user,
            review,
            opinion=opinion,
            comments=comments,
            proposed_date=proposed_date,
            password=self.password,
            username=user.username,
        )

    def sign_all(self, order, *, comments=None):
        comments = comments or {}
        for code in pending_departments(order):
            opinion = "conditional" if code in comments else "can_meet"
            self.sign(order, code, opinion, comments.get(code, ""))

    def approver(self, order):
        rule = authority.rule_for(order)
        return next(self.user(name) for name in APPROVERS if authority.may_approve(self.user(name), rule))

    def approve(self, order, comment="同意"):
        order.refresh_from_db()
        approver = self.approver(order)
        return services.approve_order(
            approver, order, password=self.password, comment=comment, username=approver.username
        )

    def submit_and_approve(self, order, *, comments=None, optional=()):
        services.submit_order(order.owner, order, optional_departments=optional)
        self.sign_all(order, comments=comments)
        return self.approve(order)

    def notice(self, order, days, *, acknowledge=True):
        lines = [
            {"order_line": line, "quantity": line.quantity, "planned_date": self.today + timedelta(days=days)}
            for line in order.lines.filter(in_stock__isnull=True)
        ]
        notice = services_fulfil.issue_production_notice(
            order.owner, order, lines=lines, notes="按订单评审结论排产"
        )
        if acknowledge:
            services_fulfil.acknowledge_production_notice(
                self.user("liuyang"), notice, comment="已排入生产计划"
            )
        return notice

    def ship(self, order, lines, number):
        return services_fulfil.create_shipment(
            self.user(WAREHOUSE),
            order,
            shipped_on=self.today,
            lines=lines,
            delivery_note_number=f"SHD-{number}",
            carrier="顺丰速运",
            waybill_number=f"SF1{number}",
        )

    def serials(self, order, line_no, prefix, count, start=1):
        line = order.lines.get(line_no=line_no)
        return [
            {
                "order_line": line,
                "quantity": 1,
                "serial_number": f"{prefix}{n:05d}",
                "production_date": self.today - timedelta(days=20),
            }
            for n in range(start, start + count)
        ]

    def lot(self, order, line_no, qty, lot, *, expiry_years=None):
        produced = self.today - timedelta(days=30)
        return {
            "order_line": order.lines.get(line_no=line_no),
            "quantity": qty,
            "lot_number": lot,
            "production_date": produced,
            "expiry_date": produced + timedelta(days=365 * expiry_years) if expiry_years else None,
        }


def pending_departments(order):
    reviews = services.current_reviews(order).filter(status=ReviewStatus.PENDING)
    return sorted(reviews.values_list("department__code", flat=True))


# --- the scenarios, in the order they must run (a customer's first approved order makes the
# --- next one regular: R-OR-4 "first order of this customer" is special) ----------------------
def _h1_shipped(demo, customer):
    """Special (first order): reviewed by five departments, notice, shipped in full with serials."""
    order = demo.order(
        customer,
        "GZ1Y-HT-2025-031",
        [demo.line("JX-0702", 4, "38000", 20), demo.line("PJ-0001", 4, "1200", 20)],
    )
    demo.submit_and_approve(order, comments={"quality": "按 GB 9706.1 出厂检验，随货附检验报告"})
    demo.notice(order, 12)
    demo.ship(
        order,
        [*demo.serials(order, 1, "PM9P-2506-", 4), {"order_line": order.lines.get(line_no=2), "quantity": 4}],
        "250601",
    )
    return order


def _h1_closed(demo, customer):
    """Regular, in stock: sales and warehouse review; shipped from stock and closed."""
    order = demo.order(customer, "GZ1Y-HT-2025-047", [demo.line("JX-0701", 2, "26000", 7, in_stock=True)])
    demo.submit_and_approve(order)
    demo.ship(order, demo.serials(order, 1, "PM7-2505-", 2), "250602")
    services_fulfil.close_order(order.owner, order)
    return order


def _h1_draft(demo, customer):
    """A draft the clerk is still entering."""
    return demo.order(customer, "GZ1Y-HT-2025-052", [demo.line("JX-0603", 6, "3800", 30)])


def _d1_partially_shipped(demo, customer):
    """Special (first order of the distributor): partial shipment with serials and a probe lot."""
    order = demo.order(
        customer,
        "XY-CG-2025-0112",
        [demo.line("JX-0701", 10, "23500", 25), demo.line("JX-0603", 20, "3800", 25)],
    )
    demo.submit_and_approve(order)
    demo.notice(order, 15)
    demo.ship(
        order,
        [*demo.serials(order, 1, "PM7-2506-", 6), demo.lot(order, 2, 12, "L2506A", expiry_years=3)],
        "250603",
    )
    return order


def _d1_change_applied(demo, customer):
    """Approved regular order whose delivery date was changed: re-reviewed by production only,
    approved, acknowledged by production (the other departments still have to)."""
    order = demo.order(customer, "XY-CG-2025-0098", [demo.line("JX-0603", 10, "3800", 20)])
    demo.submit_and_approve(order)
    demo.notice(order, 10)
    line = order.lines.get(line_no=1)
    new_date = line.requested_date + timedelta(days=7)
    change = services_change.create_change_request(
        order.owner,
        order,
        proposed={"lines": [{"line_no": 1, "requested_date": new_date.isoformat()}]},
        reason="客户医院基建延期，要求推迟一周交货",
        customer_agreed=True,
        customer_agreement="客户采购部 6 月 20 日邮件同意推迟至新交期",
    )
    services_change.submit_change_request(order.owner, change)
    for review in services_change.change_reviews(change).filter(status=ReviewStatus.PENDING):
        user = demo.user(REVIEWERS[review.department.code])
        services.sign_review(
            user, review, opinion="can_meet", comments="", password=demo.password, username=user.username
        )
    change.refresh_from_db()
    approver = demo.approver(order)
    services_change.approve_change_request(
        approver, change, password=demo.password, comment="同意变更", username=approver.username
    )
    for ack in change.acknowledgements.filter(department__code="production"):
        services_change.acknowledge_change(demo.user("liuyang"), ack, comment="生产计划已调整")
    return order


def _d1_under_review(demo, customer):
    """Regular, not in stock: production has signed, purchasing and sales have not."""
    order = demo.order(customer, "XY-CG-2025-0127", [demo.line("JX-0702", 3, "36000", 35)])
    services.submit_order(order.owner, order)
    demo.sign(
        order, "production", "conditional", "需加班排产，建议交期顺延 5 天", demo.today + timedelta(days=40)
    )
    return order


def _d2_notice(demo, customer):
    """Special (first order, amount over the threshold): approved, production notice acknowledged."""
    order = demo.order(
        customer,
        "TJ-2025-HT-0456",
        [demo.line("JX-1401", 20, "8500", 30), demo.line("JX-1402", 10, "7800", 30)],
    )
    demo.submit_and_approve(order)
    demo.notice(order, 21)
    return order


def _d2_change_pending(demo, customer):
    """Approved regular order with a quantity change under review by production and purchasing."""
    order = demo.order(customer, "TJ-2025-HT-0471", [demo.line("JX-1402", 8, "7800", 28)])
    demo.submit_and_approve(order)
    change = services_change.create_change_request(
        order.owner,
        order,
        proposed={"lines": [{"line_no": 1, "quantity": "12"}]},
        reason="客户新增两个病区，注射泵增加 4 台",
        customer_agreed=True,
        customer_agreement="客户补充订单已盖章回传",
    )
    services_change.submit_change_request(order.owner, change)
    for review in services_change.change_reviews(change).filter(department__code="production"):
        user = demo.user("liuyang")
        services.sign_review(
            user, review, opinion="can_meet", comments="", password=demo.password, username=user.username
        )
    return order


def _d2_awaiting_approval(demo, customer):
    """An oral order by phone, confirmed by e-mail (订单确认表), fully reviewed, awaiting approval."""
    from qcare.attachments.services import upload_attachment

    order = demo.order(
        customer,
        "TJ-TEL-2025-0618",
        [demo.line("JX-2202", 1, "125000", 30)],
        source=OrderSource.ORAL,
        notes="客户设备科陈经理电话订购",
    )
    pdf = SimpleUploadedFile("订单确认表-同济.pdf", CONFIRMATION_PDF, content_type="application/pdf")
    attachment = upload_attachment(order.owner, order, pdf)
    services.record_confirmation(
        order.owner, order, kind="email", received_on=demo.today, attachment=attachment
    )
    services.submit_order(order.owner, order)
    demo.sign_all(order)
    return order


def _h2_clarification(demo, customer):
    """Special (product not standard): R&D asks the customer a question; the rest have signed."""
    order = demo.order(customer, "SZRY-2025-ZB-019", [demo.line("JX-0704", 5, "16000", 45)])
    services.submit_order(order.owner, order)
    for code in pending_departments(order):
        if code != "rnd":
            demo.sign(order, code)
    review = services.current_reviews(order).get(department__code="rnd")
    services.raise_question(
        demo.user("zhaolei"), review, text="定制接口需与客户中央站型号确认：请客户书面提供通讯协议版本。"
    )
    return order


def _h2_rejected(demo, customer):
    """Special (amount): reviewed, then rejected by the deputy GM with the reason."""
    order = demo.order(customer, "SZRY-2025-ZB-023", [demo.line("JX-0601", 1, "480000", 60)])
    services.submit_order(order.owner, order)
    demo.sign_all(order)
    order.refresh_from_db()
    approver = demo.approver(order)
    services.reject_order(
        approver,
        order,
        password=demo.password,
        reason="报价低于公司最低限价，请重新报价后再提交",
        username=approver.username,
    )
    return order


def _h2_cancelled(demo, customer):
    """A draft the customer withdrew."""
    order = demo.order(customer, "SZRY-2025-ZB-011", [demo.line("JX-1403", 4, "6200", 20)])
    services.cancel_order(order.owner, order, reason="客户预算未获批准，撤销采购")
    return order


SCENARIOS = (
    (H1, "GZ1Y-HT-2025-031", _h1_shipped),
    (H1, "GZ1Y-HT-2025-047", _h1_closed),
    (H1, "GZ1Y-HT-2025-052", _h1_draft),
    (D1, "XY-CG-2025-0112", _d1_partially_shipped),
    (D1, "XY-CG-2025-0098", _d1_change_applied),
    (D1, "XY-CG-2025-0127", _d1_under_review),
    (D2, "TJ-2025-HT-0456", _d2_notice),
    (D2, "TJ-2025-HT-0471", _d2_change_pending),
    (D2, "TJ-TEL-2025-0618", _d2_awaiting_approval),
    (H2, "SZRY-2025-ZB-019", _h2_clarification),
    (H2, "SZRY-2025-ZB-023", _h2_rejected),
    (H2, "SZRY-2025-ZB-011", _h2_cancelled),
)


def _demo_users(password):
    """The demo users who act in the scenarios, or None when one is missing or the password is not theirs."""
    names = {*REVIEWERS.values(), *APPROVERS, WAREHOUSE}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=names, is_active=True)}
    if set(users) != names:
        logger.info("orders demo skipped: the demo users are missing")
        return None
    # Checked before signing anything: a wrong password would count as a failed signature.
    if not password or not all(user.check_password(password) for user in users.values()):
        logger.warning("orders demo skipped: the demo users' password is not known (set QCARE_DEMO_PASSWORD)")
        return None
    return users


def load_demo(password=None):
    """Create the demo orders that do not exist yet; returns how many were created.

    ``password``: the demo users' password (default: ``QCARE_DEMO_PASSWORD``); without the
    right one nothing is created, since reviews and approvals are signed.
    """
    password = password or os.environ.get("QCARE_DEMO_PASSWORD")
    users = _demo_users(password)
    if users is None:
        return 0
    if Product.objects.filter(code__in=PRODUCT_CODES).count() != len(PRODUCT_CODES):
        logger.info("orders demo skipped: the demo products are missing")
        return 0
    demo = Demo(users, password)
    customers = {c.name: c for c in Customer.objects.filter(name__in={s[0] for s in SCENARIOS})}
    created = 0
    for customer_name, reference, scenario in SCENARIOS:
        customer = customers.get(customer_name)
        if customer is None:
            continue
        if Order.objects.filter(customer=customer, customer_reference=reference).exists():
            continue
        with transaction.atomic():
            scenario(demo, customer)
        created += 1
    return created
