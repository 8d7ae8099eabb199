"""Complaint deadlines on the business calendar, time-frozen (SPEC R-CO-4, decision 5000):
13 calendar days to close for a domestic customer, 17 for a foreign one; the first written
answer within 7 days; the investigation report within 3 working days (across the National Day
holiday of 2026: 1–7 October off, Saturday 10 October a working day); the stored stage times of
the reminder chain; steps met on time or late; timeliness recorded on closing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from qcare.complaints import deadlines, services
from qcare.complaints.choices import ComplaintStatus as S
from qcare.complaints.models import Complaint
from qcare.core import policies
from qcare.core.errors import ValidationFailed
from qcare.workcalendar import calendar
from qcare.workcalendar.durations import Duration
from tests.complaints.test_workflow_support import (
    english_fixture,  # noqa: F401  (fixture)
    reply,
    snapshot,
    triage,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def register(clerk, customer, product, when, **extra):
    with time_machine.travel(when, tick=False):
        return services.register_complaint(
            clerk,
            customer=customer,
            channel="phone",
            description="产品故障",
            product=product,
            quantity=5,
            **extra,
        )


def stages(complaint, kind):
    row = complaint.deadlines.get(kind=kind)
    return {
        "warn_at": row.warn_at,
        "due_at": row.due_at,
        "escalate_at": row.escalate_at,
        "escalate2_at": row.escalate2_at,
    }


# --- due dates ----------------------------------------------------------------------------------
def test_R_CO_4_domestic_13_days_foreign_17_days(sales_clerk, distributor, foreign_customer, device):
    domestic = register(sales_clerk, distributor, device, at(2026, 3, 2, 10, 0))
    foreign = register(sales_clerk, foreign_customer, device, at(2026, 3, 2, 10, 0))
    assert domestic.is_foreign is False and foreign.is_foreign is True
    assert domestic.deadlines.get(kind="close").due_at == at(2026, 3, 15, 10, 0)
    assert foreign.deadlines.get(kind="close").due_at == at(2026, 3, 19, 10, 0)
    assert domestic.due_at == at(2026, 3, 15, 10, 0) and foreign.due_at == at(2026, 3, 19, 10, 0)


def test_R_CO_4_first_answer_7_days_and_the_stage_times(sales_clerk, distributor, device):
    """Registered Monday 2 March 2026 10:00 (an ordinary week)."""
    complaint = register(sales_clerk, distributor, device, at(2026, 3, 2, 10, 0))
    assert stages(complaint, "first_answer") == {
        "warn_at": at(2026, 3, 6, 10, 0),  # one working day before Monday 9 March: Friday
        "due_at": at(2026, 3, 9, 10, 0),
        "escalate_at": at(2026, 3, 10, 10, 0),  # + 1 working day → the owner's manager
        "escalate2_at": at(2026, 3, 11, 10, 0),  # + 2 working days → the management representative
    }
    assert stages(complaint, "investigation") == {
        "warn_at": at(2026, 3, 4, 10, 0),
        "due_at": at(2026, 3, 5, 10, 0),  # 3 working days
        "escalate_at": at(2026, 3, 6, 10, 0),
        "escalate2_at": at(2026, 3, 9, 10, 0),
    }
    assert stages(complaint, "close") == {
        "warn_at": at(2026, 3, 13, 10, 0),  # due on Sunday 15 March: reminded on Friday
        "due_at": at(2026, 3, 15, 10, 0),
        "escalate_at": at(2026, 3, 17, 8, 30),  # Sunday → Monday's start, + 1 working day
        "escalate2_at": at(2026, 3, 18, 8, 30),
    }
    assert not complaint.deadlines.filter(met_at__isnull=False).exists()


def test_R_CO_4_investigation_across_the_national_day_holiday(sales_clerk, distributor, device):
    """Registered Wednesday 30 September 2026 10:00: 1–7 October are holidays (chinese-calendar),
    Thursday 8, Friday 9 and the make-up working Saturday 10 October are the 3 working days."""
    assert not calendar.is_working_day(at(2026, 10, 5, 12, 0))
    assert calendar.is_working_day(at(2026, 10, 10, 12, 0))
    complaint = register(sales_clerk, distributor, device, at(2026, 9, 30, 10, 0))
    assert stages(complaint, "investigation") == {
        "warn_at": at(2026, 10, 9, 10, 0),
        "due_at": at(2026, 10, 10, 10, 0),
        "escalate_at": at(2026, 10, 12, 10, 0),
        "escalate2_at": at(2026, 10, 13, 10, 0),
    }
    first = stages(complaint, "first_answer")
    assert first["due_at"] == at(2026, 10, 7, 10, 0)  # calendar days: holidays count
    assert first["warn_at"] == at(2026, 9, 30, 10, 0)  # a working day before is before receipt: receipt
    assert first["escalate_at"] == at(2026, 10, 9, 8, 30)
    assert complaint.deadlines.get(kind="close").due_at == at(2026, 10, 13, 10, 0)


def test_R_CO_4_a_policy_change_applies_to_new_complaints_only(
    sales_clerk, distributor, device, administrator
):
    before = register(sales_clerk, distributor, device, at(2026, 3, 2, 10, 0))
    policies.set_policy(
        administrator, "complaints.close.domestic", {"amount": 10, "unit": "calendar_days"}, "管理评审"
    )
    after = register(sales_clerk, distributor, device, at(2026, 3, 2, 11, 0))
    assert after.deadlines.get(kind="close").due_at == at(2026, 3, 12, 11, 0)
    before.refresh_from_db()
    assert before.deadlines.get(kind="close").due_at == at(2026, 3, 15, 10, 0)


@pytest.mark.parametrize("hours", [1, 4, 9.5, 20])
def test_R_CO_4_subtracting_working_hours_reverses_adding_them(db, hours):
    start = at(2026, 9, 29, 9, 15)
    due = calendar.add_working_hours(start, hours)
    assert deadlines.subtract_duration(due, Duration(hours, "working_hours")) == start


# --- steps met on time or late --------------------------------------------------------------------
def test_R_CO_4_steps_are_met_on_time_or_late(sales_clerk, distributor, device, quality_engineer):
    complaint = register(sales_clerk, distributor, device, at(2026, 3, 2, 10, 0))
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        triage(complaint, quality_engineer)
        services.start_investigation(quality_engineer, complaint)
    with time_machine.travel(at(2026, 3, 5, 9, 59), tick=False):
        services.submit_investigation_report(quality_engineer, complaint, report="调查完成")
    with time_machine.travel(at(2026, 3, 9, 10, 1), tick=False):
        reply(complaint, sales_clerk, kind="other", text="电话沟通")  # not a written answer
        assert complaint.deadlines.get(kind="first_answer").met_at is None
        reply(complaint, sales_clerk, kind="first_answer", text="书面答复")
    investigation = complaint.deadlines.get(kind="investigation")
    assert investigation.met_at == at(2026, 3, 5, 9, 59) and investigation.was_late is False
    first = complaint.deadlines.get(kind="first_answer")
    assert first.met_at == at(2026, 3, 9, 10, 1) and first.was_late is True
    complaint.refresh_from_db()
    assert complaint.first_answer_at == at(2026, 3, 9, 10, 1)
    with time_machine.travel(at(2026, 3, 10, 10, 0), tick=False):
        reply(complaint, sales_clerk, kind="first_answer", text="再次书面答复")
    assert complaint.deadlines.get(kind="first_answer").met_at == at(2026, 3, 9, 10, 1)  # the first counts
    assert complaint.deadlines.get(kind="close").met_at is None


# --- timeliness on closing ----------------------------------------------------------------------
@pytest.fixture
def replied(sales_clerk, distributor, accessory, quality_engineer):
    """A complaint on an unregulated product, received Monday 2 March 2026 10:00, answered."""
    complaint = register(sales_clerk, distributor, accessory, at(2026, 3, 2, 10, 0))
    with time_machine.travel(at(2026, 3, 3, 9, 0), tick=False):
        triage(complaint, quality_engineer)
        reply(complaint, quality_engineer, kind="first_answer", text="已答复")
    return complaint


def test_R_CO_4_closed_on_time(replied, management_rep):
    with time_machine.travel(at(2026, 3, 15, 10, 0), tick=False):
        services.close_not_substantiated(management_rep, replied, reason="客户使用不当")
    replied.refresh_from_db()
    assert replied.status == S.NOT_SUBSTANTIATED
    assert replied.closed_on_time is True and replied.days_to_close == 13
    assert replied.overdue_reason == "" and replied.closed_period == "2026-03"
    close = replied.deadlines.get(kind="close")
    assert close.met_at == at(2026, 3, 15, 10, 0) and close.was_late is False


def test_R_CO_4_closing_late_needs_the_reason_for_the_delay(replied, management_rep):
    with time_machine.travel(at(2026, 3, 16, 9, 0), tick=False):
        before = snapshot(replied)
        with pytest.raises(ValidationFailed) as exc:
            services.close_not_substantiated(management_rep, replied, reason="客户使用不当")
        assert exc.value.errors == {
            "overdue_reason": ["The complaint is closed after its deadline: give the reason for the delay."]
        }
        assert snapshot(replied) == before
        services.close_not_substantiated(
            management_rep, replied, reason="客户使用不当", overdue_reason="等待客户寄回样品"
        )
    replied.refresh_from_db()
    assert replied.closed_on_time is False and replied.days_to_close == 14
    assert replied.overdue_reason == "等待客户寄回样品"
    assert replied.deadlines.get(kind="close").was_late is True
    # the investigation deadline was never met: closing stops its reminders (late)
    investigation = replied.deadlines.get(kind="investigation")
    assert investigation.met_at == at(2026, 3, 16, 9, 0) and investigation.was_late is True


def test_R_CO_4_a_foreign_case_closed_on_day_16_is_on_time(
    sales_clerk, foreign_customer, accessory, quality_engineer, management_rep
):
    complaint = register(sales_clerk, foreign_customer, accessory, at(2026, 3, 2, 10, 0))
    with time_machine.travel(at(2026, 3, 18, 17, 0), tick=False):
        triage(complaint, quality_engineer)
        reply(complaint, quality_engineer, kind="first_answer", text="Answered in writing.")
        services.close_not_substantiated(management_rep, complaint, reason="Not a product defect")
    complaint = Complaint.objects.get(pk=complaint.pk)
    assert complaint.closed_on_time is True and complaint.days_to_close == 16


def test_R_CO_4_timeliness_counts_local_dates(replied):
    """Received 10:00 on 2 March, closed 00:30 on 3 March (local): one day, whatever UTC says."""
    on_time, days = deadlines.timeliness(replied, at(2026, 3, 3, 0, 30))
    assert (on_time, days) == (True, 1)
    assert deadlines.timeliness(replied, at(2026, 3, 2, 23, 0) + timedelta(hours=1))[1] == 1
