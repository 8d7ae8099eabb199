"""The complaints demo (``qcare demo``): feedback and complaints in every state, a repeat group with
its CAPA, a return, an allowance and an issued advisory notice — made through the services,
created once (idempotent), and nothing without the demo users' password."""

import pytest

from qcare.accounts.demo import create_demo_company
from qcare.complaints.choices import ComplaintStatus, FeedbackStatus, ReturnStatus
from qcare.complaints.demo import NOTICE_TITLE, load_demo
from qcare.complaints.models import (
    AdvisoryNotice,
    Capa,
    Complaint,
    ComplaintDeadline,
    ComplaintTransition,
    Feedback,
    ReturnNote,
    Settlement,
)
from qcare.core.signatures import valid_signatures
from qcare.orders.demo import load_demo as load_orders_demo
from tests.customers.conftest import ensure_reference_data

PASSWORD = "demo-pass-2025"


@pytest.fixture
def demo_company(db, monkeypatch):
    """Demo users (known password), customers, products and the orders demo (lots, serials);
    ``create_demo_company`` may already run the complaints demo (the accounts demo hook)."""
    monkeypatch.setenv("QCARE_DEMO_PASSWORD", PASSWORD)
    ensure_reference_data()
    create_demo_company()
    load_orders_demo(password=PASSWORD)


def _counts():
    return (
        Feedback.objects.count(),
        Complaint.objects.count(),
        Capa.objects.count(),
        ReturnNote.objects.count(),
        Settlement.objects.count(),
        AdvisoryNotice.objects.count(),
    )


def test_R_CO_demo_covers_every_state_and_runs_twice(demo_company):
    load_demo(password=PASSWORD)
    counts = _counts()
    assert load_demo(password=PASSWORD) == 0  # idempotent: nothing new the second time
    assert _counts() == counts

    assert {f.status for f in Feedback.objects.all()} == set(FeedbackStatus.values)
    complaints = Complaint.objects.all()
    assert {c.status for c in complaints} == set(ComplaintStatus.values)
    # every complaint went through the services: number, deadlines, a transition per change
    for complaint in complaints:
        assert complaint.number.startswith("KS-")
        assert ComplaintDeadline.objects.filter(complaint=complaint).count() == 3
        assert ComplaintTransition.objects.filter(complaint=complaint).exists()
        assert complaint.search_text  # the search index covers the demo
    assert complaints.filter(is_major=True, status=ComplaintStatus.INVESTIGATION).exists()
    converted = Feedback.objects.get(status=FeedbackStatus.CONVERTED)
    assert complaints.filter(feedback=converted, status=ComplaintStatus.REGISTERED).exists()

    rejected = complaints.get(status=ComplaintStatus.REJECTED)
    follow_up = complaints.get(parent=rejected)
    assert follow_up.status == ComplaintStatus.REGISTERED

    repeats = complaints.filter(is_repeat=True)
    assert repeats.count() >= 3
    capa = Capa.objects.get()
    assert set(capa.complaints.values_list("pk", flat=True)) >= set(repeats.values_list("pk", flat=True))
    assert {a.status for a in capa.actions.all()} == {"done", "open"}

    approved = complaints.get(status=ComplaintStatus.APPROVED)
    assert valid_signatures(approved, "approved")
    note = ReturnNote.objects.get()
    assert note.complaint == approved and note.status == ReturnStatus.INSPECTED
    assert note.received_quantity == note.approved_quantity
    settlement = Settlement.objects.get()
    assert settlement.kind == "allowance" and settlement.complaint.status == ComplaintStatus.REPLIED

    notice = AdvisoryNotice.objects.get(title=NOTICE_TITLE)
    assert notice.status == "issued" and valid_signatures(notice, "approved")
    recipients = notice.recipients.all()
    assert recipients.count() >= 1
    assert sum(1 for r in recipients if r.acknowledged_at) == 1


def test_R_CO_demo_needs_the_password(demo_company):
    Complaint.objects.filter(description__startswith="客户来电：新到货的血氧探头").update(
        description="改过的描述"
    )
    before = _counts()
    assert load_demo(password="wrong") == 0  # the missing scenario is not recreated without it
    assert _counts() == before
    assert load_demo(password=PASSWORD) == 1  # with it, exactly the missing one
    assert _counts()[1] == before[1] + 1
