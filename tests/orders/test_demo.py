"""The orders demo (``qcare demo``): a dozen orders in every state, made through the services,
created once (idempotent), and nothing at all without the demo users' password."""

import pytest

from qcare.accounts.demo import create_demo_company
from qcare.core.signatures import valid_signatures
from qcare.orders import services
from qcare.orders.choices import ChangeStatus, NoticeStatus, OrderStatus, QuestionStatus, ReviewStatus
from qcare.orders.demo import load_demo
from qcare.orders.models import (
    ChangeAcknowledgement,
    ChangeRequest,
    Order,
    ProductionNotice,
    SalesRecord,
    ShipmentLine,
)
from tests.customers.conftest import ensure_reference_data

PASSWORD = "demo-pass-2025"


@pytest.fixture
def demo_company(db, monkeypatch):
    """Demo users (with a known password), customers and products; orders if already wired in."""
    monkeypatch.setenv("QCARE_DEMO_PASSWORD", PASSWORD)
    ensure_reference_data()
    create_demo_company()


def test_R_OR_9_demo_orders_cover_every_state_once(demo_company):
    load_demo(password=PASSWORD)
    orders = {o.customer_reference: o for o in Order.objects.all()}
    statuses = {o.status for o in orders.values()}
    assert set(OrderStatus.values) <= statuses
    assert len(orders) == 12

    under_review = orders["XY-CG-2025-0127"]
    reviews = services.current_reviews(under_review)
    assert reviews.filter(status=ReviewStatus.SIGNED).exists() and reviews.filter(status="pending").exists()
    clarification = orders["SZRY-2025-ZB-019"]
    assert clarification.status == OrderStatus.CLARIFICATION
    assert clarification.questions.filter(status=QuestionStatus.OPEN).count() == 1
    oral = orders["TJ-TEL-2025-0618"]
    assert oral.status == OrderStatus.AWAITING_APPROVAL and oral.confirmation_attachment_id

    noticed = orders["TJ-2025-HT-0456"]
    assert noticed.status == OrderStatus.APPROVED and noticed.order_class == "special"
    assert noticed.production_notices.get().status == NoticeStatus.ACKNOWLEDGED
    assert all(line.planned_date for line in noticed.lines.all())
    assert valid_signatures(noticed, "approved")

    partial = orders["XY-CG-2025-0112"]
    assert partial.status == OrderStatus.PARTIALLY_SHIPPED
    shipped = ShipmentLine.objects.filter(order=partial)
    assert shipped.exclude(serial_number="").count() == 6 and shipped.filter(lot_number="L2506A").exists()
    assert SalesRecord.objects.filter(order=partial).count() == 7
    assert orders["GZ1Y-HT-2025-031"].status == OrderStatus.SHIPPED
    assert orders["GZ1Y-HT-2025-047"].status == OrderStatus.CLOSED

    applied = ChangeRequest.objects.get(order=orders["XY-CG-2025-0098"])
    assert applied.status == ChangeStatus.APPLIED and orders["XY-CG-2025-0098"].change_count == 1
    acks = ChangeAcknowledgement.objects.filter(change_request=applied)
    assert (
        acks.filter(acknowledged_at__isnull=False).exists()
        and acks.filter(acknowledged_at__isnull=True).exists()
    )
    pending = ChangeRequest.objects.get(order=orders["TJ-2025-HT-0471"])
    assert pending.status == ChangeStatus.UNDER_REVIEW
    assert ProductionNotice.objects.count() == 4

    # Idempotent: a second run creates nothing.
    counts = (Order.objects.count(), ShipmentLine.objects.count(), ChangeRequest.objects.count())
    assert load_demo(password=PASSWORD) == 0
    assert (Order.objects.count(), ShipmentLine.objects.count(), ChangeRequest.objects.count()) == counts


def test_R_OR_9_demo_needs_the_password(db, monkeypatch):
    from django.contrib.auth import get_user_model

    monkeypatch.setenv("QCARE_DEMO_PASSWORD", PASSWORD)
    ensure_reference_data()
    # Users made by an earlier run with another password: nothing is signed, nothing is locked.
    monkeypatch.setattr("qcare.accounts.demo._create_demo_records", lambda *args, **kwargs: None)
    create_demo_company()
    monkeypatch.delenv("QCARE_DEMO_PASSWORD")
    assert load_demo(password="wrong") == 0
    assert not Order.objects.exists()
    assert not get_user_model().objects.filter(signing_failures__gt=0).exists()
