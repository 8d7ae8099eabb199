"""Helpers of the order workflow tests (no tests here): orders through the services, the
reviewer of each department, signing, attachments, a known customer.

Import what you need: ``from tests.orders.test_workflow_support import ...``; import the
fixtures ``team_fixture`` (→ ``team``) and ``english_fixture`` (autouse) into a test module to use them.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone, translation

from qcare.attachments.services import upload_attachment
from qcare.core.context import audit_context
from qcare.core.numbering import next_number
from qcare.orders import services
from qcare.orders.choices import OrderSource, OrderStatus
from qcare.orders.models import Order
from tests.personas import PERSONA_PASSWORD, make_persona

#: department code → persona that signs its reviews
REVIEWER_OF = {
    "sales": "sales_manager",
    "production": "reviewer_production",
    "purchasing": "reviewer_purchasing",
    "quality": "reviewer_quality",
    "rnd": "reviewer_rnd",
    "warehouse": "reviewer_warehouse",
    "finance": "reviewer_finance",
}

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

REQUIREMENTS = {
    "explicit": {"items": ["quality", "delivery", "warranty"], "text": "保修 12 个月"},
    "implied": {"items": ["intended_use"], "text": "医院病房使用"},
    "statutory": {"items": ["registration", "labelling"], "text": ""},
    "company": {"items": ["payment_terms"], "text": "款到发货"},
}


@pytest.fixture(name="team")
def team_fixture(db):
    """``team``: department code → the user who signs that department's reviews."""
    return {code: make_persona(name) for code, name in REVIEWER_OF.items()}


@pytest.fixture(name="english", autouse=True)
def english_fixture():
    """Messages in English in these tests (the company default is zh-Hans)."""
    with translation.override("en"):
        yield


def line(product, *, qty="10", price="1000", days=30, **extra):
    return {
        "product": product,
        "quantity": Decimal(qty),
        "unit_price": Decimal(price),
        "requested_date": date.today() + timedelta(days=days),
        "delivery_mode": "物流",
        "packaging": "标准纸箱",
        "acceptance_criteria": "按出厂检验标准",
    } | extra


def make_order(actor, customer, *lines, source=OrderSource.CONTRACT, requirements=REQUIREMENTS, **header):
    """A draft order through the service (formal contract, every requirement captured)."""
    return services.create_order(
        actor, customer=customer, source=source, lines=list(lines), requirements=requirements, **header
    )


def make_known(customer, owner):
    """Give ``customer`` an earlier approved order (so it is no longer a new customer)."""
    with transaction.atomic(), audit_context(actor=owner, reason="test data"):
        return Order.objects.create(
            number=next_number("order"),
            source=OrderSource.CONTRACT,
            customer=customer,
            owner=owner,
            department=owner.department,
            status=OrderStatus.CLOSED,
            approved_at=timezone.now() - timedelta(days=400),
            order_date=date.today() - timedelta(days=400),
        )


def review_of(order, department_code):
    return services.current_reviews(order).get(department__code=department_code)


def departments(order):
    return sorted(services.current_reviews(order).values_list("department__code", flat=True))


def sign(user, review, opinion="can_meet", comments="", password=PERSONA_PASSWORD, **kwargs):
    if opinion != "can_meet" and not comments:
        comments = "需说明"
    return services.sign_review(user, review, opinion=opinion, comments=comments, password=password, **kwargs)


def sign_all(order, team, *, except_=()):
    """Every pending current review signed "can meet" by its department's reviewer."""
    for review in services.current_reviews(order).filter(status="pending"):
        if review.department.code not in except_:
            sign(team[review.department.code], review)
    order.refresh_from_db()
    return order


def attach(actor, parent, name="确认邮件.pdf"):
    return upload_attachment(actor, parent, SimpleUploadedFile(name, PDF, content_type="application/pdf"))


def approved_order(order, team, approver):
    """Submit, review and approve ``order`` (a draft)."""
    services.submit_order(order.owner, order)
    sign_all(order, team)
    assert order.status == OrderStatus.AWAITING_APPROVAL, services.approval_problems(order)
    return services.approve_order(approver, order, password=PERSONA_PASSWORD)
