"""List filters, search and dashboard providers of complaints (R-CO-2/3/4, dashboard tasks of issue 5)."""

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from qcare.complaints import selectors
from qcare.complaints.models import Complaint

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(complaint_row, quality_engineer, hospital, device):
    now = timezone.now()
    return {
        "overdue": complaint_row(
            status="investigation", owner=quality_engineer, due_at=now - timedelta(days=1), is_major=True
        ),
        "mine": complaint_row(status="triaged", owner=quality_engineer, due_at=now + timedelta(days=3)),
        "closed": complaint_row(status="closed", owner=quality_engineer, due_at=now - timedelta(days=5)),
        "lot": complaint_row(customer=hospital, product=device, lot_number="L2609-01", is_repeat=True),
        "approval": complaint_row(status="awaiting_approval", approval_band="deputy_gm", loss_amount=20000),
    }


def ids(queryset):
    return set(queryset.values_list("pk", flat=True))


def test_R_CO_2_filter_complaints(rows, hospital):
    everything = Complaint.objects.all()
    assert ids(selectors.filter_complaints(everything, {"status": "open"})) == {
        rows[k].pk for k in ("overdue", "mine", "lot", "approval")
    }
    assert ids(selectors.filter_complaints(everything, {"status": "closed,triaged"})) == {
        rows["closed"].pk,
        rows["mine"].pk,
    }
    assert ids(selectors.filter_complaints(everything, {"overdue": "1"})) == {rows["overdue"].pk}
    assert ids(selectors.filter_complaints(everything, {"major": "true"})) == {rows["overdue"].pk}
    assert ids(selectors.filter_complaints(everything, {"repeat": "yes", "lot": " L2609-01 "})) == {
        rows["lot"].pk
    }
    assert ids(selectors.filter_complaints(everything, {"customer": str(hospital.pk)})) == {rows["lot"].pk}
    assert ids(selectors.filter_complaints(everything, {"owner": "none"})) == {
        rows["lot"].pk,
        rows["approval"].pk,
    }
    query = QueryDict("status=closed&status=triaged&customer=abc&period_from=2026-99")
    assert ids(selectors.filter_complaints(everything, query)) == {rows["closed"].pk, rows["mine"].pk}


def test_R_CO_2_search_through_the_index(rows):
    from qcare.complaints.search import refresh_search_text

    for complaint in rows.values():
        refresh_search_text(complaint)
    assert ids(selectors.search_complaints(Complaint.objects.all(), rows["mine"].number)) == {rows["mine"].pk}
    found = selectors.filter_complaints(Complaint.objects.all(), {"q": "第一人民医院"})
    assert ids(found) == {rows["lot"].pk}
    assert selectors.search_complaints(Complaint.objects.all(), "  ").count() == len(rows)


def test_R_CO_4_dashboard_my_and_overdue_complaints(rows, quality_engineer, sales_clerk):
    assert list(selectors.my_complaints(quality_engineer)) == [rows["overdue"], rows["mine"]]  # by due date
    assert list(selectors.overdue_complaints(quality_engineer)) == [rows["overdue"]]
    assert list(selectors.my_complaints(sales_clerk)) == []


def test_R_CO_3_awaiting_my_approval_by_band(rows, sales_manager, deputy_gm, gm, quality_engineer):
    assert list(selectors.awaiting_my_approval(deputy_gm)) == [rows["approval"]]
    assert list(selectors.awaiting_my_approval(gm)) == [rows["approval"]]
    assert list(selectors.awaiting_my_approval(sales_manager)) == []  # above the sales manager's band
    assert list(selectors.awaiting_my_approval(quality_engineer)) == []  # no complaints.approve


def test_R_CO_9_reportability_pending(complaint_row, quality_engineer, sales_clerk, management_rep):
    regulated = complaint_row(is_regulated=True, status="investigation")
    complaint_row(is_regulated=False)
    assert list(selectors.reportability_pending(management_rep)) == [regulated]
    assert list(selectors.reportability_pending(sales_clerk)) == []
