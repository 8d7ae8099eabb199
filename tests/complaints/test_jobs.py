"""Reminder and escalation jobs (R-CO-4 deadlines, R-CO-1 feedback, R-CO-6 CAPA actions, R-CO-9
report deadline, R-CO-10 notices, R-CO-8 monthly report), with frozen time.

Each stage of a deadline fires at its time, once (claimed by a conditional update; the dedupe key
is a second guard), to the owner, then the owner's manager, then the management representative;
a met deadline or a closed case stops the chain.
"""

import sys
import types
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from qcare.complaints import jobs
from qcare.complaints.models import (
    Capa,
    CapaAction,
    ComplaintDeadline,
    Feedback,
    ReportabilityDecision,
    ResponsibilityReport,
    ResponsibleParty,
)
from qcare.core.context import audit_context
from qcare.notifications.models import Notification
from qcare.notifications.scheduler import registered
from tests.factories import UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def sent(template, user=None):
    rows = Notification.objects.filter(template=f"complaints/{template}", channel="inbox")
    return rows.filter(recipient=user) if user is not None else rows


# The close deadline of a complaint received Monday 2026-03-02 09:00 (stage times as the
# workflow stores them; written directly here).
WARN, DUE, ESCALATE, ESCALATE2 = (
    at(2026, 3, 13, 9),
    at(2026, 3, 15, 9),
    at(2026, 3, 16, 9),
    at(2026, 3, 17, 9),
)


def add_deadline(complaint, kind="close", **times):
    values = {"warn_at": WARN, "due_at": DUE, "escalate_at": ESCALATE, "escalate2_at": ESCALATE2} | times
    return ComplaintDeadline.objects.create(complaint=complaint, kind=kind, **values)


@pytest.fixture
def owned(complaint_row, quality_engineer):
    """A triaged complaint owned by the quality engineer, with its close deadline."""
    complaint = complaint_row(received_at=at(2026, 3, 2, 9), status="investigation", owner=quality_engineer)
    add_deadline(complaint)
    return complaint


@pytest.fixture
def quality_head(org, gm):
    """A head of quality recorded as the quality department's manager."""
    head = UserFactory(
        username="qhead", full_name="品质部经理", department=org["quality"], roles=["quality_engineer"]
    )
    with audit_context(actor=gm, reason="组织调整"):
        org["quality"].manager = head
        org["quality"].save()
    return head


def run(moment):
    with time_machine.travel(moment, tick=False):
        return jobs.send_deadline_reminders()


def test_R_CO_4_jobs_are_registered():
    assert {
        "complaints.deadline_reminders",
        "complaints.feedback_reminders",
        "complaints.capa_action_reminders",
        "complaints.report_due_reminders",
        "complaints.notice_reminders",
        "complaints.responsibility_report",
    } <= set(registered())


def test_R_CO_4_each_stage_fires_at_its_time_and_only_once(
    owned, quality_engineer, quality_head, management_rep
):
    assert run(at(2026, 3, 13, 8, 59)) == {"warning": 0, "due": 0, "manager": 0, "management_rep": 0}
    assert run(WARN)["warning"] == 1
    assert run(WARN)["warning"] == 0  # the next run (or a second worker): nothing
    assert sent("reminder_warning", quality_engineer).count() == 1
    assert not sent("reminder_due").exists()

    assert run(at(2026, 3, 15, 8, 59))["due"] == 0
    assert run(DUE) == {"warning": 0, "due": 1, "manager": 0, "management_rep": 0}
    assert run(DUE)["due"] == 0
    slip = sent("reminder_due", quality_engineer).get()
    assert owned.number in slip.subject and owned.number in slip.body

    assert run(ESCALATE)["manager"] == 1
    assert run(at(2026, 3, 16, 12))["manager"] == 0
    assert run(ESCALATE2)["management_rep"] == 1
    assert run(at(2026, 3, 20, 9)) == {"warning": 0, "due": 0, "manager": 0, "management_rep": 0}

    assert sent("reminder_manager", quality_head).count() == 1
    assert sent("reminder_management_rep", management_rep).count() == 1
    # the owner gets the reminder and the 催办单, not the escalations; each went once
    assert sent("reminder_manager", quality_engineer).count() == 0
    assert sent("reminder_management_rep", quality_engineer).count() == 0
    assert sent("reminder_due").count() == 1 and sent("reminder_warning").count() == 1
    deadline = ComplaintDeadline.objects.get(complaint=owned)
    assert (deadline.warned_at, deadline.reminded_at, deadline.escalated_at, deadline.escalated2_at) == (
        WARN,
        DUE,
        ESCALATE,
        ESCALATE2,
    )


def test_R_CO_4_escalation_goes_to_the_manager_then_the_management_representative(
    owned, quality_engineer, quality_head, management_rep
):
    run(ESCALATE)  # warning skipped (late), 催办单 and the manager at once
    assert sent("reminder_manager", quality_head).count() == 1
    assert not sent("reminder_management_rep").exists()  # not yet
    run(ESCALATE2)
    assert sent("reminder_management_rep", management_rep).count() == 1
    assert not sent("reminder_management_rep", quality_head).exists()


def test_R_CO_4_without_a_recorded_manager_other_quality_approvers_are_told(owned, quality_engineer, org):
    colleague = UserFactory(username="qe2", department=org["quality"], roles=["quality_engineer"])
    run(ESCALATE)
    assert sent("reminder_manager", colleague).count() == 1
    assert not sent("reminder_manager", quality_engineer).exists()  # not escalated to the owner


def test_R_CO_4_nobody_in_the_department_escalates_to_the_management_representative(
    owned, quality_engineer, management_rep
):
    run(ESCALATE)
    assert sent("reminder_manager", management_rep).count() == 1


def test_R_CO_4_a_met_deadline_stops_the_chain(owned, quality_engineer, quality_head, management_rep):
    run(WARN)
    ComplaintDeadline.objects.filter(complaint=owned).update(met_at=at(2026, 3, 14, 10), was_late=False)
    assert run(at(2026, 3, 30, 9)) == {"warning": 0, "due": 0, "manager": 0, "management_rep": 0}
    assert not sent("reminder_due").exists() and not sent("reminder_manager").exists()


def test_R_CO_4_a_closed_case_gets_no_reminders(complaint_row, quality_engineer):
    complaint = complaint_row(received_at=at(2026, 3, 2, 9), status="closed", owner=quality_engineer)
    add_deadline(complaint)
    assert run(at(2026, 3, 30, 9)) == {"warning": 0, "due": 0, "manager": 0, "management_rep": 0}


def test_R_CO_4_each_deadline_kind_has_its_own_chain(owned, quality_engineer):
    add_deadline(owned, kind="first_answer", warn_at=at(2026, 3, 6, 9), due_at=at(2026, 3, 9, 9))
    run(at(2026, 3, 6, 9))
    assert sent("reminder_warning", quality_engineer).count() == 1
    run(WARN)
    assert sent("reminder_warning", quality_engineer).count() == 2  # one per deadline


def test_R_CO_4_a_warning_reached_after_the_deadline_is_not_sent(owned, quality_engineer):
    """The worker was down: at the deadline only the 催办单 goes, not also "due soon"."""
    assert run(at(2026, 3, 15, 10))["due"] == 1
    assert not sent("reminder_warning").exists()
    assert ComplaintDeadline.objects.get(complaint=owned).warned_at is not None  # claimed, silently
    assert sent("reminder_due", quality_engineer).count() == 1


def test_R_CO_4_a_complaint_without_owner_is_reminded_to_quality(
    complaint_row, quality_engineer, sales_clerk
):
    complaint = complaint_row(received_at=at(2026, 3, 2, 9))
    add_deadline(complaint)
    run(DUE)
    assert sent("reminder_due", quality_engineer).count() == 1  # holds complaints.triage
    assert not sent("reminder_due", sales_clerk).exists()


def test_R_CO_4_a_claimed_stage_is_not_sent_again(owned, quality_engineer):
    deadline = ComplaintDeadline.objects.get(complaint=owned)
    assert jobs._claim(ComplaintDeadline, deadline.pk, "reminded_at", DUE, met_at__isnull=True) == 1
    assert jobs._claim(ComplaintDeadline, deadline.pk, "reminded_at", DUE, met_at__isnull=True) == 0
    assert run(DUE)["due"] == 0  # claimed elsewhere
    assert not sent("reminder_due").exists()


def test_R_CO_4_the_dedupe_key_is_a_second_guard(owned, quality_engineer):
    run(DUE)
    ComplaintDeadline.objects.filter(complaint=owned).update(reminded_at=None)  # a lost claim
    run(at(2026, 3, 15, 9, 30))
    assert sent("reminder_due", quality_engineer).count() == 1


def test_R_CO_4_scans_in_batches(complaint_row, quality_engineer, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH", 2)
    for _i in range(5):
        add_deadline(complaint_row(received_at=at(2026, 3, 2, 9), owner=quality_engineer, status="triaged"))
    assert run(DUE)["due"] == 5
    assert sent("reminder_due", quality_engineer).count() == 5


# --- feedback (R-CO-1) ----------------------------------------------------------------------------
@pytest.fixture
def feedback(sales_clerk, org):
    with audit_context(actor=sales_clerk, reason="test data"):
        return Feedback.objects.create(
            number="FK-202603-0001",
            channel="phone",
            kind="quality_opinion",
            subject="包装破损",
            content="客户来电反映包装破损",
            recorded_by=sales_clerk,
            owner=sales_clerk,
            department=org["sales"],
            received_at=at(2026, 3, 2, 9),
            due_at=at(2026, 3, 2, 17),
            remind_at=at(2026, 3, 2, 17),
            escalate_at=at(2026, 3, 3, 17),
        )


def test_R_CO_1_unanswered_feedback_is_reminded_then_escalated_once(feedback, sales_clerk, sales_manager):
    with time_machine.travel(at(2026, 3, 2, 16, 59), tick=False):
        assert jobs.send_feedback_reminders() == {"reminded": 0, "escalated": 0}
    with time_machine.travel(at(2026, 3, 2, 17), tick=False):
        assert jobs.send_feedback_reminders() == {"reminded": 1, "escalated": 0}
        assert jobs.send_feedback_reminders() == {"reminded": 0, "escalated": 0}
    with time_machine.travel(at(2026, 3, 3, 17), tick=False):
        assert jobs.send_feedback_reminders() == {"reminded": 0, "escalated": 1}
        assert jobs.send_feedback_reminders() == {"reminded": 0, "escalated": 0}
    assert sent("reminder_feedback", sales_clerk).count() == 1
    assert feedback.number in sent("reminder_feedback", sales_clerk).get().subject
    # no manager recorded for sales: the department's users holding feedback.change (the sales manager)
    assert sent("reminder_feedback_escalated", sales_manager).count() == 1
    assert not sent("reminder_feedback_escalated", sales_clerk).exists()


def test_R_CO_1_answered_feedback_is_not_reminded(feedback, sales_clerk):
    Feedback.objects.filter(pk=feedback.pk).update(status="answered", answered_at=at(2026, 3, 2, 11))
    with time_machine.travel(at(2026, 3, 5, 9), tick=False):
        assert jobs.send_feedback_reminders() == {"reminded": 0, "escalated": 0}


# --- CAPA actions (R-CO-6) ------------------------------------------------------------------------
@pytest.fixture
def capa_action(quality_engineer, reviewer_production):
    with audit_context(actor=quality_engineer, reason="test data"):
        capa = Capa.objects.create(
            number="CA-2026-0001",
            source="complaint",
            title="血氧读数不稳定",
            problem="同一批次多次投诉",
            owner=quality_engineer,
            opened_by=quality_engineer,
            status="in_progress",
        )
        return CapaAction.objects.create(
            capa=capa,
            description="更换传感器供应商",
            owner=reviewer_production,
            due_on=date(2026, 3, 20),
            remind_at=at(2026, 3, 18, 0),
            escalate_at=at(2026, 3, 24, 0),
        )


def test_R_CO_6_capa_action_reminder_and_escalation(capa_action, reviewer_production, quality_engineer):
    with time_machine.travel(at(2026, 3, 18, 0, 15), tick=False):
        assert jobs.send_capa_action_reminders() == {"reminded": 1, "escalated": 0}
        assert jobs.send_capa_action_reminders() == {"reminded": 0, "escalated": 0}
    with time_machine.travel(at(2026, 3, 24, 0, 15), tick=False):
        assert jobs.send_capa_action_reminders() == {"reminded": 0, "escalated": 1}
        assert jobs.send_capa_action_reminders() == {"reminded": 0, "escalated": 0}
    assert sent("reminder_capa_action", reviewer_production).count() == 1
    assert sent("reminder_capa_action_overdue", quality_engineer).count() == 1
    assert not sent("reminder_capa_action_overdue", reviewer_production).exists()


def test_R_CO_6_done_actions_are_not_reminded(capa_action):
    CapaAction.objects.filter(pk=capa_action.pk).update(status="done")
    with time_machine.travel(at(2026, 3, 30), tick=False):
        assert jobs.send_capa_action_reminders() == {"reminded": 0, "escalated": 0}


# --- reportability (R-CO-9) -------------------------------------------------------------------------
def test_R_CO_9_report_due_reminder_once(complaint_row, quality_engineer, management_rep):
    complaint = complaint_row(received_at=at(2026, 3, 2, 9), owner=quality_engineer, is_regulated=True)
    with audit_context(actor=quality_engineer, reason="test data"):
        ReportabilityDecision.objects.create(
            complaint=complaint,
            answers={"death": False},
            outcome="reportable",
            basis="serious",
            rationale="可能导致严重伤害",
            authority="省药监局",
            report_due_at=at(2026, 3, 22, 9),
            decided_by=quality_engineer,
        )
    with time_machine.travel(at(2026, 3, 21, 8), tick=False):
        assert jobs.send_report_due_reminders() == 0
    with time_machine.travel(at(2026, 3, 21, 9), tick=False):
        assert jobs.send_report_due_reminders() == 1
        assert jobs.send_report_due_reminders() == 0
    assert sent("reminder_report_due", quality_engineer).count() == 1
    assert sent("reminder_report_due", management_rep).count() == 1  # holds complaints.close


# --- notices (R-CO-10) ------------------------------------------------------------------------------
def test_R_CO_10_notice_reminders_delegate(monkeypatch):
    calls = []
    module = types.ModuleType("qcare.complaints.services_notices")
    module.remind_recipients = lambda now: calls.append(now) or 4
    monkeypatch.setitem(sys.modules, "qcare.complaints.services_notices", module)
    with time_machine.travel(at(2026, 3, 2, 9), tick=False):
        assert jobs.send_notice_reminders() == 4
    assert calls == [at(2026, 3, 2, 9)]


# --- monthly responsibility report (R-CO-8) ----------------------------------------------------------
def test_R_CO_8_monthly_report_on_the_1st_for_the_previous_month_once(
    complaint_row, quality_engineer, management_rep, org
):
    closed = complaint_row(
        received_at=at(2026, 3, 2, 9),
        status="closed",
        owner=quality_engineer,
        closed_at=at(2026, 3, 12, 15),
        closed_period="2026-03",
        closed_on_time=True,
        days_to_close=10,
        loss_amount=Decimal("1000.00"),
    )
    ResponsibleParty.objects.create(
        complaint=closed,
        kind="department",
        department=org["production"],
        share=Decimal("70"),
        amount=Decimal("700.00"),
        closed_period="2026-03",
    )
    ResponsibleParty.objects.create(
        complaint=closed,
        kind="department",
        department=org["purchasing"],
        share=Decimal("30"),
        amount=Decimal("300.00"),
        closed_period="2026-03",
    )
    complaint_row(received_at=at(2026, 4, 1, 1), status="closed", closed_period="2026-04")  # not March
    first = at(2026, 4, 1, 6)
    job = registered()["complaints.responsibility_report"]
    assert job.latest_slot(first) == first  # 06:00 on the 1st, company time
    with time_machine.travel(first, tick=False):
        assert jobs.monthly_responsibility_report() == "2026-03"
        assert jobs.monthly_responsibility_report() == "2026-03"  # idempotent
    report = ResponsibilityReport.objects.get()
    assert report.period == "2026-03" and report.due_on == date(2026, 4, 10)
    assert report.data["totals"]["cases"] == 1 and report.data["totals"]["cost"] == "1000.00"
    assert [c["number"] for c in report.data["cases"]] == [closed.number]
    ratios = {row["label_en"]: row["ratio"] for row in report.data["by_department"]}
    assert ratios == {"Production / PMC": 70.0, "Purchasing": 30.0}
    assert sent("report_responsibility", management_rep).count() == 1
    assert "2026-03" in sent("report_responsibility", management_rep).get().subject


def test_R_CO_8_generate_report_is_idempotent(management_rep):
    report, created = jobs.generate_responsibility_report("2026-02", now=at(2026, 3, 1, 6))
    again, created_again = jobs.generate_responsibility_report("2026-02", now=at(2026, 3, 1, 7))
    assert created and not created_again and again.pk == report.pk
    assert report.data["totals"]["cases"] == 0
    assert sent("report_responsibility").count() == 1


def test_R_CO_8_report_due_day_follows_the_policy(administrator):
    from qcare.core.policies import set_policy

    set_policy(administrator, "complaints.responsibility_report_day", "5", reason="管理评审提前")
    assert jobs.report_due_on("2026-12") == date(2027, 1, 5)
    assert jobs.previous_period(date(2026, 1, 1)) == "2025-12"


# --- through the workflow services ---------------------------------------------------------------
def test_R_CO_4_chain_of_a_registered_complaint_stops_when_the_first_answer_is_given(
    complaint_fields, sales_clerk, quality_engineer, management_rep
):
    """Registered Monday 2026-03-02 10:00 by the services: the first written answer (7 days) is
    due 2026-03-09 10:00. Its 催办单 goes at that time; the answer recorded then stops its chain,
    while the close deadline's chain goes on."""
    from qcare.complaints import services

    with time_machine.travel(at(2026, 3, 2, 10), tick=False):
        complaint = services.register_complaint(sales_clerk, **complaint_fields)
        services.triage_complaint(
            quality_engineer, complaint, severity="minor", category="quality", owner=quality_engineer
        )
    first = ComplaintDeadline.objects.get(complaint=complaint, kind="first_answer")
    assert first.due_at == at(2026, 3, 9, 10)
    run(first.due_at)
    slips = sent("reminder_due", quality_engineer)
    assert slips.filter(dedupe_key__startswith=f"complaint-deadline:{first.pk}:due:").count() == 1
    assert slips.count() == 2  # and the investigation report's (due 2026-03-05)
    with time_machine.travel(at(2026, 3, 9, 11), tick=False):
        services.record_reply(
            quality_engineer,
            complaint,
            kind="first_answer",
            channel="letter",
            replied_on=date(2026, 3, 9),
            text="已收到您的投诉，正在调查。",
        )
    first.refresh_from_db()
    assert first.met_at is not None and first.was_late is True
    run(first.escalate2_at)
    first.refresh_from_db()
    assert first.escalated_at is None and first.escalated2_at is None  # the met step stops its chain
    investigation = ComplaintDeadline.objects.get(complaint=complaint, kind="investigation")
    assert investigation.escalated_at is not None  # the investigation report is still missing
    assert sent("reminder_manager").exists()
