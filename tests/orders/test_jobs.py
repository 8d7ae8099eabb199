"""Review deadlines, reminders and escalation (R-OR-5): due dates in working days from the
policies, one reminder to the department's reviewers when due, one escalation to the managers
later, never twice (claimed by a conditional update), nothing for signed or cancelled reviews."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from qcare.notifications.models import Notification
from qcare.notifications.scheduler import registered
from qcare.orders import jobs, services
from qcare.orders.models import OrderReview
from tests.orders.test_workflow_support import (
    english_fixture,  # noqa: F401  (fixture)
    line,
    make_order,
    review_of,
    sign,
    team_fixture,  # noqa: F401  (fixture)
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def sent(template, user=None):
    rows = Notification.objects.filter(template=f"orders/{template}", channel="inbox")
    return rows.filter(recipient=user) if user is not None else rows


@pytest.fixture
def submitted(team, sales_clerk, distributor, device):
    """A special order submitted on Tuesday 2026-03-03 10:00 (an ordinary working week)."""
    with time_machine.travel(at(2026, 3, 3, 10, 0), tick=False):
        order = make_order(sales_clerk, distributor, line(device, qty="10", price="30000"))
        return services.submit_order(sales_clerk, order)


def test_R_OR_5_jobs_are_registered():
    names = registered()
    assert {"orders.review_reminders", "orders.review_escalation", "orders.change_ack_reminders"} <= set(
        names
    )


def test_R_OR_5_due_dates_in_working_days_from_the_policies(submitted):
    review = review_of(submitted, "production")
    assert review.started_at == at(2026, 3, 3, 10, 0)
    assert review.due_at == review.remind_at == at(2026, 3, 5, 10, 0)  # 2 working days
    assert review.escalate_at == at(2026, 3, 6, 10, 0)  # 1 working day later


def test_R_OR_5_due_dates_skip_the_national_holiday(team, sales_clerk, distributor, device):
    """Submitted on 30 September: 1–7 October are holidays, Saturday 10 October is a working day."""
    with time_machine.travel(at(2026, 9, 30, 10, 0), tick=False):
        order = services.submit_order(sales_clerk, make_order(sales_clerk, distributor, line(device)))
    review = review_of(order, "sales")
    assert review.due_at == at(2026, 10, 9, 10, 0)
    assert review.escalate_at == at(2026, 10, 10, 10, 0)


def test_R_OR_5_reminder_goes_once_to_the_departments_reviewers(submitted, team, sales_clerk, reviewer_rnd):
    sign(team["rnd"], review_of(submitted, "rnd"))  # signed in time: no reminder
    with time_machine.travel(at(2026, 3, 5, 9, 59), tick=False):
        assert jobs.send_review_reminders() == 0
    with time_machine.travel(at(2026, 3, 5, 10, 0), tick=False):
        assert jobs.send_review_reminders() == 4  # production, purchasing, quality, sales
        assert jobs.send_review_reminders() == 0  # the next run (or a second worker): nothing
    assert sent("review_reminder", team["production"]).count() == 1
    assert sent("review_reminder", team["sales"]).count() == 1
    assert not sent("review_reminder", team["rnd"]).exists()
    assert not sent("review_reminder", sales_clerk).exists()  # the clerk holds no orders.review
    message = sent("review_reminder", team["production"]).get()
    assert submitted.number in message.subject
    assert OrderReview.objects.filter(order=submitted, reminded_at__isnull=False).count() == 4


def test_R_OR_5_escalation_to_sales_manager_and_department_head(submitted, team, sales_clerk, org, gm):
    # the production department has a recorded head; the others fall back to their reviewers
    from qcare.core.context import audit_context

    head = gm  # any user recorded as the department's manager
    with audit_context(actor=gm, reason="组织调整"):
        org["production"].manager = head
        org["production"].save()
    for code in ("purchasing", "quality", "rnd", "sales"):
        sign(team[code], review_of(submitted, code))
    with time_machine.travel(at(2026, 3, 6, 9, 0), tick=False):
        assert jobs.escalate_overdue_reviews() == 0
    with time_machine.travel(at(2026, 3, 6, 10, 30), tick=False):
        assert jobs.escalate_overdue_reviews() == 1
        assert jobs.escalate_overdue_reviews() == 0
    assert sent("review_escalated", team["sales"]).count() == 1  # the owner's sales manager
    assert sent("review_escalated", head).count() == 1
    assert not sent("review_escalated", team["production"]).exists()  # the head was told instead
    assert not sent("review_escalated", sales_clerk).exists()


def test_R_OR_5_no_reminders_for_cancelled_orders(submitted, sales_clerk):
    services.cancel_order(sales_clerk, submitted, reason="客户取消")
    with time_machine.travel(at(2026, 3, 10, 10, 0), tick=False):
        assert jobs.send_review_reminders() == 0
        assert jobs.escalate_overdue_reviews() == 0


def test_R_OR_5_a_claimed_review_is_not_sent_again(submitted, team):
    """Two workers: the second one's conditional update finds the review already claimed."""
    review = review_of(submitted, "quality")
    with time_machine.travel(at(2026, 3, 5, 11, 0), tick=False):
        assert jobs._claim(review, "reminded_at", at(2026, 3, 5, 11, 0)) == 1
        assert jobs._claim(review, "reminded_at", at(2026, 3, 5, 11, 0)) == 0
        assert jobs.send_review_reminders() == 4  # the other four; quality was claimed elsewhere
    assert not sent("review_reminder", team["quality"]).exists()


def test_R_OR_5_claim_does_not_block_signing(submitted, team):
    review = review_of(submitted, "quality")  # loaded before the job runs
    with time_machine.travel(at(2026, 3, 5, 11, 0), tick=False):
        jobs.send_review_reminders()
    sign(team["quality"], review)
    review.refresh_from_db()
    assert review.status == "signed" and review.reminded_at == at(2026, 3, 5, 11, 0)


def test_R_OR_8_change_acknowledgement_reminders_delegate(monkeypatch):
    from qcare.orders import services_change

    calls = []
    monkeypatch.setattr(services_change, "send_ack_reminders", lambda: calls.append(1) or 3)
    assert jobs.send_change_ack_reminders() == 3 and calls == [1]
