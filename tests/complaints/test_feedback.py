"""The feedback register through its services (SPEC R-CO-1): numbering, every channel and kind,
the first-answer deadline in working hours on the business calendar, answer, close, conversion
into a complaint or a CAPA (linked both ways), conversion of a communication-log entry, and
who may log and see what."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone, translation

from qcare.complaints import services_feedback as fb
from qcare.complaints.choices import CapaSource, Channel, ConvertedTo, FeedbackKind, FeedbackStatus
from qcare.complaints.models import Capa, Complaint, Feedback
from qcare.core import policies
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, StaleVersion, ValidationFailed
from qcare.customers.models import Communication, Contact
from qcare.notifications.models import Notification
from qcare.workcalendar.durations import Duration
from tests.factories import UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _english():
    """Messages in English in these tests (the company default is zh-Hans)."""
    with translation.override("en"):
        yield


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def inbox(user, template):
    return Notification.objects.filter(recipient=user, channel="inbox", template=f"complaints/{template}")


def log(actor, customer=None, **fields):
    values = {
        "channel": Channel.PHONE,
        "kind": FeedbackKind.QUALITY_OPINION,
        "subject": "血氧探头接触不良",
        "content": "客户来电反映：部分监护仪血氧探头接触不良，读数跳动。",
        "customer": customer,
    } | fields
    return fb.log_feedback(actor, **values)


def make_portal_user(customer):
    """A portal_customer user linked to ``customer``."""
    from qcare.customers.models import CustomerPortalUser

    user = UserFactory(roles=["portal_customer"], department=None)
    with audit_context(actor=user):
        CustomerPortalUser.objects.create(user=user, customer=customer)
    return user


def snapshot(feedback):
    row = Feedback.objects.get(pk=feedback.pk)
    return (
        row.version,
        row.status,
        row.answer,
        row.converted_to,
        Complaint.objects.count(),
        Capa.objects.count(),
    )


# --- logging, number, deadline ----------------------------------------------------------------
def test_R_CO_1_friday_call_is_numbered_and_due_monday_afternoon(sales_clerk, distributor, device):
    """A call on Friday 16:00: 1.5 working hours on Friday, 3.5 + 3 on Monday → due Monday 16:00
    (the calendar's working hours 08:30–12:00 / 13:00–17:30); escalation one working day later."""
    with time_machine.travel(at(2026, 3, 6, 16, 0), tick=False):
        entry = log(sales_clerk, distributor, product=device)
    assert re.fullmatch(r"FK-202603-\d{4}", entry.number)
    assert entry.status == FeedbackStatus.OPEN
    assert entry.received_at == at(2026, 3, 6, 16, 0)
    assert entry.due_at == entry.remind_at == at(2026, 3, 9, 16, 0)
    assert entry.escalate_at == at(2026, 3, 10, 16, 0)
    assert entry.recorded_by == entry.owner == sales_clerk
    assert entry.department == sales_clerk.department
    assert entry.customer == distributor and entry.customer_name == distributor.name
    assert entry.product == device


def test_R_CO_1_numbers_count_up_within_the_month(sales_clerk, distributor):
    with time_machine.travel(at(2026, 3, 6, 10, 0), tick=False):
        first, second = log(sales_clerk, distributor), log(sales_clerk, distributor)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1


def test_R_CO_1_deadline_skips_the_national_day_holiday(sales_clerk, distributor):
    # 30 Sept 16:00–17:30 (1.5 h); 1–7 October off; 8 October 08:30–12:00, 13:00–16:00.
    with time_machine.travel(at(2026, 9, 30, 16, 0), tick=False):
        entry = log(sales_clerk, distributor, channel=Channel.LETTER)
    assert entry.due_at == at(2026, 10, 8, 16, 0)


def test_R_CO_1_deadline_comes_from_the_policy(sales_clerk, distributor, administrator):
    policies.set_policy(
        administrator, "feedback.first_answer", Duration(2, "working_hours"), reason="管理评审"
    )
    policies.set_policy(
        administrator, "feedback.escalate_after", Duration(4, "working_hours"), reason="管理评审"
    )
    with time_machine.travel(at(2026, 3, 6, 11, 0), tick=False):
        entry = log(sales_clerk, distributor)
    assert entry.due_at == at(2026, 3, 6, 14, 0)  # 11:00–12:00, lunch, 13:00–14:00
    assert entry.escalate_at == at(2026, 3, 9, 9, 0)  # 14:00–17:30 Friday (3.5 h), 08:30–09:00 Monday


def test_R_CO_1_received_earlier_counts_from_receipt(sales_clerk, distributor):
    with time_machine.travel(at(2026, 3, 9, 9, 0), tick=False):
        entry = log(sales_clerk, distributor, received_at=at(2026, 3, 6, 16, 0))
    assert entry.due_at == at(2026, 3, 9, 16, 0)


def test_R_CO_1_every_channel_and_every_kind(sales_clerk, distributor):
    kinds = list(FeedbackKind.values)
    for index, channel in enumerate(Channel.values):
        log(sales_clerk, distributor, channel=channel, kind=kinds[index % len(kinds)])
    for kind in kinds:
        log(sales_clerk, distributor, kind=kind)
    rows = Feedback.objects.all()
    assert set(rows.values_list("channel", flat=True)) == set(Channel.values)
    assert set(rows.values_list("kind", flat=True)) == set(FeedbackKind.values)
    assert {"dealer_report", "survey_card", "portal", "visit", "fax"} <= set(Channel.values)
    assert {"expectation_current", "expectation_future", "commitment_opinion", "praise", "claim"} <= set(
        kinds
    )


def test_R_CO_1_contact_fills_name_and_phone(sales_clerk, distributor):
    contact = Contact.objects.get(customer=distributor)
    entry = log(sales_clerk, distributor, contact=contact)
    assert entry.contact == contact
    assert (entry.contact_name, entry.contact_phone) == ("陈经理", "020-88886666")


def test_R_CO_1_bad_input_is_refused_and_nothing_saved(sales_clerk, distributor, hospital):
    other_contact = Contact.objects.get(customer=distributor)
    cases = [
        ({"channel": "pigeon"}, "channel"),
        ({"kind": "gossip"}, "kind"),
        ({"subject": "  "}, "subject"),
        ({"content": ""}, "content"),
        ({"customer": None}, "customer"),
        ({"customer": hospital, "contact": other_contact}, "contact"),
        ({"received_at": timezone.now() + timezone.timedelta(days=1)}, "received_at"),
        ({"owner": 999999}, "owner"),
    ]
    for fields, field in cases:
        values = {"customer": distributor} | fields
        with pytest.raises(ValidationFailed) as caught:
            log(sales_clerk, **values)
        assert field in caught.value.errors, fields
    assert not Feedback.objects.exists()


# --- who may log and who sees what ----------------------------------------------------------
def test_R_CO_1_any_internal_user_may_log(reviewer_production, reviewer_warehouse, technician):
    for user in (reviewer_production, reviewer_warehouse, technician):
        entry = log(user, customer_name="佛山市南海区人民医院", channel=Channel.VISIT)
        assert entry.recorded_by == user and entry.department == user.department
    assert Feedback.objects.count() == 3


def test_R_CO_1_auditor_and_portal_users_cannot_log(auditor, distributor):
    portal = make_portal_user(distributor)
    for user in (auditor, portal):
        with pytest.raises(NotPermitted):
            log(user, customer_name="x")
    assert not Feedback.objects.exists()


def test_R_CO_1_customer_must_be_in_the_actors_view(sales_clerk_2, reviewer_production, distributor):
    """The customer file stays private: a customer outside the actor's scope cannot be picked;
    typing the name is always possible."""
    for user in (sales_clerk_2, reviewer_production):
        with pytest.raises(ValidationFailed) as caught:
            log(user, distributor)
        assert "customer" in caught.value.errors
    assert log(sales_clerk_2, customer_name=distributor.name).customer is None


def test_R_CO_1_scope_own_department_all(
    sales_clerk, sales_clerk_2, sales_manager, quality_engineer, reviewer_production, auditor, distributor
):
    mine = log(sales_clerk, distributor)
    colleague = log(sales_clerk_2, customer_name="某医院")
    production = log(reviewer_production, customer_name="某医院")

    def visible(user):
        return set(Feedback.objects.restrict(user, "view").values_list("pk", flat=True))

    assert visible(sales_clerk) == {mine.pk}
    assert visible(sales_clerk_2) == {colleague.pk}
    assert visible(sales_manager) == {mine.pk, colleague.pk}  # the sales department
    assert visible(reviewer_production) == {production.pk}
    assert visible(quality_engineer) == visible(auditor) == {mine.pk, colleague.pk, production.pk}


def test_R_CO_1_owner_sees_and_is_told(sales_clerk, sales_clerk_2, reviewer_production, distributor):
    entry = log(sales_clerk, distributor, owner=sales_clerk_2)
    assert entry.owner == sales_clerk_2
    assert Feedback.objects.restrict(sales_clerk_2, "view").filter(pk=entry.pk).exists()
    message = inbox(sales_clerk_2, "feedback_assigned").get()
    assert entry.number in message.subject
    assert not inbox(sales_clerk, "feedback_assigned").exists()
    with pytest.raises(ValidationFailed) as caught:  # may not answer feedback: cannot own it
        log(sales_clerk, distributor, owner=reviewer_production)
    assert "owner" in caught.value.errors


def test_R_CO_1_portal_user_sees_only_their_companys_feedback(sales_clerk, distributor, hospital):
    theirs = log(sales_clerk, distributor)
    log(sales_clerk, hospital)
    portal = make_portal_user(distributor)
    assert list(Feedback.objects.restrict(portal, "view")) == [theirs]
    assert not Feedback.objects.restrict(portal, "change").exists()


# --- answer, update, close --------------------------------------------------------------------
def test_R_CO_1_answer_is_recorded_and_the_recorder_told(sales_clerk, quality_engineer, distributor):
    entry = log(sales_clerk, distributor)
    with time_machine.travel(at(2026, 3, 9, 10, 0), tick=False):
        fb.answer_feedback(quality_engineer, entry, channel="phone", answer="已电话告知更换探头的方法。")
    entry.refresh_from_db()
    assert entry.status == FeedbackStatus.ANSWERED
    assert entry.answered_by == quality_engineer and entry.answered_at == at(2026, 3, 9, 10, 0)
    assert (entry.answer_channel, entry.answer) == ("phone", "已电话告知更换探头的方法。")
    assert inbox(sales_clerk, "feedback_answered").count() == 1
    with pytest.raises(Conflict):
        fb.answer_feedback(sales_clerk, entry, channel="letter", answer="again")


def test_R_CO_1_answer_refusals_change_nothing(sales_clerk, sales_clerk_2, distributor):
    entry = log(sales_clerk, distributor)
    before = snapshot(entry)
    with pytest.raises(ValidationFailed) as caught:
        fb.answer_feedback(sales_clerk, entry, channel="pigeon", answer="")
    assert set(caught.value.errors) == {"channel", "answer"}
    with pytest.raises(NotFound):  # someone else's feedback is outside the clerk's scope
        fb.answer_feedback(sales_clerk_2, entry, channel="phone", answer="x")
    assert snapshot(entry) == before


def test_R_CO_1_update_moves_the_deadline_and_checks_the_version(sales_clerk, sales_clerk_2, distributor):
    with time_machine.travel(at(2026, 3, 9, 9, 0), tick=False):
        entry = log(sales_clerk, distributor)
        version = entry.version
        fb.update_feedback(
            sales_clerk,
            entry,
            data={"received_at": at(2026, 3, 6, 16, 0), "subject": "探头问题", "owner": sales_clerk_2},
            expected_version=version,
        )
    entry.refresh_from_db()
    assert entry.subject == "探头问题" and entry.owner == sales_clerk_2
    assert entry.due_at == at(2026, 3, 9, 16, 0)
    assert inbox(sales_clerk_2, "feedback_assigned").count() == 1
    with pytest.raises(StaleVersion):
        fb.update_feedback(sales_clerk, entry, data={"subject": "x"}, expected_version=version)
    with pytest.raises(ValidationFailed):
        fb.update_feedback(sales_clerk, entry, data={"number": "FK-1"})


def test_R_CO_1_close_needs_a_reason_and_ends_the_entry(sales_clerk, distributor):
    entry = log(sales_clerk, distributor, kind=FeedbackKind.PRAISE, subject="表扬售后服务")
    with pytest.raises(ReasonRequired):
        fb.close_feedback(sales_clerk, entry, reason=" ")
    fb.close_feedback(sales_clerk, entry, reason="表扬已转达服务部")
    entry.refresh_from_db()
    assert entry.status == FeedbackStatus.CLOSED
    assert (entry.close_reason, entry.closed_by) == ("表扬已转达服务部", sales_clerk)
    assert entry.closed_at is not None
    for call in (
        lambda: fb.answer_feedback(sales_clerk, entry, channel="phone", answer="x"),
        lambda: fb.close_feedback(sales_clerk, entry, reason="again"),
        lambda: fb.update_feedback(sales_clerk, entry, data={"subject": "x"}),
    ):
        with pytest.raises(Conflict):
            call()


# --- conversion -------------------------------------------------------------------------------
def test_R_CO_1_conversion_to_a_complaint_links_both_ways(sales_clerk, distributor, device):
    with time_machine.travel(at(2026, 3, 6, 16, 0), tick=False):
        entry = log(sales_clerk, distributor, product=device, kind=FeedbackKind.CLAIM)
    fb.answer_feedback(sales_clerk, entry, channel="phone", answer="已受理，转投诉处理。")
    complaint = fb.convert_feedback_to_complaint(
        sales_clerk, entry, quantity_pending=True, demands=["exchange"]
    )
    entry.refresh_from_db()
    assert complaint.feedback == entry
    assert entry.status == FeedbackStatus.CONVERTED
    assert entry.converted_to == ConvertedTo.COMPLAINT
    assert (entry.converted_to_id, entry.converted_to_number) == (complaint.pk, complaint.number)
    assert complaint.customer == distributor and complaint.product == device
    assert complaint.channel == Channel.PHONE and complaint.description == entry.content
    assert complaint.received_at == at(2026, 3, 6, 16, 0)  # the customer told us then
    assert complaint.registered_by == sales_clerk
    assert Complaint.objects.filter(feedback=entry).count() == 1
    with pytest.raises(Conflict):
        fb.convert_feedback_to_complaint(sales_clerk, entry, quantity_pending=True)
    assert Complaint.objects.count() == 1


def test_R_CO_1_conversion_needs_a_customer_from_the_file(sales_clerk, distributor):
    entry = log(sales_clerk, customer_name="不在档案中的医院")
    before = snapshot(entry)
    with pytest.raises(ValidationFailed) as caught:
        fb.convert_feedback_to_complaint(sales_clerk, entry, quantity_pending=True)
    assert "customer" in caught.value.errors
    assert snapshot(entry) == before
    # The complaint's own rules apply too (quantity or "not yet known"); nothing is converted.
    entry = log(sales_clerk, distributor)
    before = snapshot(entry)
    with pytest.raises(ValidationFailed):
        fb.convert_feedback_to_complaint(sales_clerk, entry)
    assert snapshot(entry) == before


def test_R_CO_1_conversion_to_a_capa(sales_clerk, quality_engineer, distributor, device):
    entry = log(sales_clerk, distributor, product=device, kind=FeedbackKind.SUGGESTION)
    with pytest.raises(NotPermitted):  # the clerk cannot open CAPAs
        fb.convert_feedback_to_capa(sales_clerk, entry, title="t", problem="p", owner=quality_engineer)
    capa = fb.convert_feedback_to_capa(
        quality_engineer, entry, title="改进探头固定方式", problem=entry.content, owner=quality_engineer
    )
    entry.refresh_from_db()
    assert capa.source == CapaSource.FEEDBACK and capa.feedback == entry and capa.product == device
    assert (entry.status, entry.converted_to) == (FeedbackStatus.CONVERTED, ConvertedTo.CAPA)
    assert (entry.converted_to_id, entry.converted_to_number) == (capa.pk, capa.number)
    assert re.fullmatch(r"CA-\d{4}-\d{4}", capa.number)
    assert inbox(sales_clerk, "feedback_converted").count() == 1  # the clerk who logged it is told


def _communication(customer, user, **fields):
    values = {
        "kind": "call",
        "occurred_at": timezone.now() - timezone.timedelta(hours=2),
        "subject": "咨询监护仪报警问题",
        "summary": "客户反映夜间误报警较多，希望调整报警阈值的默认值。",
        "contact": Contact.objects.filter(customer=customer).first(),
        "recorded_by": user,
    } | fields
    with audit_context(actor=user):
        return Communication.objects.create(customer=customer, **values)


def test_R_CO_1_communication_log_entry_is_converted(sales_clerk, distributor):
    entry = _communication(distributor, sales_clerk)
    feedback = fb.feedback_from_communication(sales_clerk, entry, kind=FeedbackKind.EXPECTATION_CURRENT)
    entry.refresh_from_db()
    assert feedback.channel == Channel.PHONE
    assert feedback.customer == distributor and feedback.contact == entry.contact
    assert feedback.contact_name == "陈经理"
    assert (feedback.subject, feedback.content) == (entry.subject, entry.summary)
    assert feedback.received_at == entry.occurred_at
    assert feedback.communication == entry and feedback.kind == FeedbackKind.EXPECTATION_CURRENT
    assert (entry.converted_to_type, entry.converted_to_id) == ("feedback", str(feedback.pk))
    with pytest.raises(Conflict):
        fb.feedback_from_communication(sales_clerk, entry, kind=FeedbackKind.SUGGESTION)
    assert Feedback.objects.count() == 1


def test_R_CO_1_visit_opinions_become_the_content(sales_clerk, distributor):
    entry = _communication(
        distributor, sales_clerk, kind="sales_visit", summary="走访", customer_opinions="希望缩短交货期。"
    )
    feedback = fb.feedback_from_communication(sales_clerk, entry, kind=FeedbackKind.COMMITMENT_OPINION)
    assert feedback.channel == Channel.VISIT
    assert "希望缩短交货期。" in feedback.content and "走访" in feedback.content


def test_R_CO_1_communication_outside_scope_is_not_found(sales_clerk, sales_clerk_2, distributor):
    entry = _communication(distributor, sales_clerk)
    with pytest.raises(NotFound):
        fb.feedback_from_communication(sales_clerk_2, entry, kind=FeedbackKind.INQUIRY)
    entry.refresh_from_db()
    assert entry.converted_to_type == "" and not Feedback.objects.exists()
