"""Two workers running the reminder scans at the same moment (R-CO-4 "a reminder is never sent
twice"): real threads, real transactions, on SQLite and PostgreSQL. Each stage of each deadline is
claimed by exactly one worker (conditional UPDATE), so every reminder is queued exactly once."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qcare.complaints import jobs
from qcare.complaints.models import ComplaintDeadline, Feedback
from qcare.core.context import audit_context
from qcare.notifications.models import Notification
from tests.complaints.conftest import create_complaint_row
from tests.orders.test_workflow_concurrency import race

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 17, 10, tzinfo=SHANGHAI)  # every stage of the deadlines below has come
CASES = 12


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def overdue(sales_clerk, distributor, quality_engineer, management_rep, org, gm):
    with audit_context(actor=gm, reason="组织调整"):
        org["quality"].manager = gm
        org["quality"].save()
    deadlines = []
    for _i in range(CASES):
        complaint = create_complaint_row(
            sales_clerk,
            distributor,
            received_at=at(2026, 3, 2, 9),
            status="investigation",
            owner=quality_engineer,
        )
        deadlines.append(
            ComplaintDeadline.objects.create(
                complaint=complaint,
                kind="close",
                warn_at=at(2026, 3, 13, 9),
                due_at=at(2026, 3, 15, 9),
                escalate_at=at(2026, 3, 16, 9),
                escalate2_at=at(2026, 3, 17, 9),
            )
        )
    return deadlines


def _worker(results, index):
    def run():
        results[index] = jobs.send_deadline_reminders(NOW)

    return run


def _queued(template, user):
    return Notification.objects.filter(template=f"complaints/{template}", recipient=user, channel="inbox")


@pytest.mark.django_db(transaction=True)
def test_R_CO_4_two_workers_scan_at_once_each_reminder_queued_once(
    overdue, quality_engineer, management_rep, gm
):
    results = [None, None]
    outcomes = race(_worker(results, 0), _worker(results, 1))
    assert outcomes == ["ok", "ok"], outcomes
    # the warnings were claimed silently (reached after the deadline); every other stage once
    for stage in ("due", "manager", "management_rep"):
        assert results[0][stage] + results[1][stage] == CASES, results
    assert results[0]["warning"] + results[1]["warning"] == 0
    assert _queued("reminder_due", quality_engineer).count() == CASES
    assert _queued("reminder_manager", gm).count() == CASES
    assert _queued("reminder_management_rep", management_rep).count() == CASES
    assert not Notification.objects.filter(template="complaints/reminder_warning").exists()
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys))
    assert not ComplaintDeadline.objects.filter(reminded_at__isnull=True).exists()
    assert not ComplaintDeadline.objects.filter(escalated2_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_R_CO_1_two_workers_remind_feedback_once(sales_clerk, org):
    with audit_context(actor=sales_clerk, reason="test data"):
        for n in range(CASES):
            Feedback.objects.create(
                number=f"FK-202603-{n:04d}",
                channel="phone",
                kind="inquiry",
                subject="询价",
                content="客户询问交期",
                recorded_by=sales_clerk,
                owner=sales_clerk,
                department=org["sales"],
                received_at=at(2026, 3, 2, 9),
                remind_at=at(2026, 3, 2, 17),
                escalate_at=at(2026, 3, 3, 17),
            )
    results = [None, None]

    def worker(index):
        def run():
            results[index] = jobs.send_feedback_reminders(at(2026, 3, 2, 18))

        return run

    assert race(worker(0), worker(1)) == ["ok", "ok"]
    assert results[0]["reminded"] + results[1]["reminded"] == CASES
    assert (
        Notification.objects.filter(
            template="complaints/reminder_feedback", recipient=sales_clerk, channel="inbox"
        ).count()
        == CASES
    )
