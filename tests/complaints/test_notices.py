"""Advisory notices and recalls (忠告性通知/召回, SPEC R-CO-10).

A notice on lot L2609-01 reaches every customer who received the lot (shipment traceability)
and nobody else; it is signed by the management representative; every customer's contacts are
e-mailed the letter in the customer's language; acknowledgements and actions are recorded;
customers who have not completed are reminded — never twice for the same due time, even by two
workers at once (threads, on SQLite and PostgreSQL); the authority notification is recorded;
effectiveness is the share of units accounted for.
"""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from qcare.complaints import services_notices as notices
from qcare.complaints.choices import NoticeStatus
from qcare.complaints.models import AdvisoryNotice, NoticeRecipient
from qcare.core import signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.signatures import SignatureRefused
from qcare.customers.models import Contact, Customer
from qcare.notifications.models import Notification
from tests.complaints.conftest import LOT
from tests.orders.test_trace import build_shipments, bulk_customers
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db

COMPANY = "广州康达医疗科技有限公司"


def add_contact(customer, name, email, language="", **fields):
    with audit_context(actor=customer.owner, reason="test data"):
        return Contact.objects.create(
            customer=customer, name=name, email=email, preferred_language=language, **fields
        )


def speak(customer, language):
    Customer.objects.filter(pk=customer.pk).update(preferred_language=language)


def draft(actor, device, *, lot=LOT, serial="", **fields):
    values = {
        "kind": "advisory",
        "title": "血氧探头接口可能接触不良",
        "reason": "生产工艺变更后，部分探头接口焊点强度不足，可能导致血氧读数中断。",
        "risk": "high",
        "risk_description": "监护过程中读数中断可能延误对低氧的发现。",
        "action_required": "请立即停止使用受影响批次的探头，并退回本公司更换。",
        "items": [{"product": device, "lot_number": lot, "serial_number": serial}],
    }
    return notices.draft_notice(actor, **(values | fields))


def issued(actor, device, **fields):
    notice = draft(actor, device, **fields)
    return notices.issue_notice(actor, notice, password=PERSONA_PASSWORD)


@pytest.fixture
def lot_customers(lot_to_customers, sales_clerk, device, accessory):
    """Four hospitals received lot L2609-01 of the device; others received another lot, or the same
    lot number of another product: they are not affected."""
    lines = lot_to_customers(4)
    other_lot = lot_to_customers(2, lot="L2609-02")
    other_product = lot_to_customers(1)  # then the same lot number of the accessory only
    from qcare.orders.models import ShipmentLine

    ShipmentLine.objects.filter(pk__in=[line.pk for line in other_product]).update(product=accessory)
    return {
        "affected": [line.customer for line in lines],
        "unaffected": [line.customer for line in other_lot + other_product],
    }


# --- who is affected ----------------------------------------------------------------------------
def test_R_CO_10_notice_on_a_lot_reaches_every_customer_who_received_it_and_nobody_else(
    lot_customers, management_rep, device
):
    notice = issued(management_rep, device)
    reached = set(NoticeRecipient.objects.filter(notice=notice).values_list("customer_id", flat=True))
    assert reached == {c.pk for c in lot_customers["affected"]}
    assert reached.isdisjoint(c.pk for c in lot_customers["unaffected"])
    assert notice.number.startswith("AN-") and notice.status == NoticeStatus.ISSUED


def test_R_CO_10_recipients_list_shipments_and_quantities(
    lot_to_customers, sales_clerk, management_rep, device
):
    (first, *_rest) = lot_to_customers(3, quantity="5")
    build_shipments(sales_clerk, device, [first.customer], [LOT], quantity="7")  # a second shipment
    notice = draft(management_rep, device)
    affected = notices.affected_customers(notice)
    assert len(affected) == 3
    row = next(r for r in affected if r["customer_id"] == first.customer_id)
    assert (row["customer_code"], row["customer_name"]) == (first.customer.code, first.customer.name)
    assert row["quantity"] == Decimal("12")
    assert sorted(s["quantity"] for s in row["shipments"]) == [Decimal("5"), Decimal("7")]
    assert {s["lot"] for s in row["shipments"]} == {LOT}
    assert first.shipment.number in {s["number"] for s in row["shipments"]}

    notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)
    recipient = NoticeRecipient.objects.get(notice=notice, customer=first.customer)
    assert recipient.quantity_shipped == Decimal("12")
    assert sorted(s["quantity"] for s in recipient.shipments) == ["5", "7"]
    shipment = next(s for s in recipient.shipments if s["number"] == first.shipment.number)
    assert shipment == {
        "number": first.shipment.number,
        "product": device.code,
        "lot": LOT,
        "serial": "",
        "quantity": "5",
        "shipped_on": first.shipped_on.isoformat(),
    }
    assert recipient.remind_at > timezone.now() and recipient.sent_at is None  # no e-mail contact


def test_R_CO_10_affected_customers_is_one_query_for_a_lot_shipped_to_5000_customers(
    sales_clerk, management_rep, device, django_assert_num_queries
):
    customers = bulk_customers(sales_clerk, 5000)
    build_shipments(sales_clerk, device, customers, [LOT])
    notice = draft(management_rep, device)
    # Timing is measured in benchmarks/complaints.py (docs/benchmarks-complaints.md), not here.
    with django_assert_num_queries(2):  # the notice's items, then the shipment lines
        affected = notices.affected_customers(notice)
    assert len(affected) == 5000 and all(r["quantity"] == Decimal("2") for r in affected)


def test_R_CO_10_a_serial_number_notice(lot_to_customers, sales_clerk, management_rep, device):
    hospitals = [line.customer for line in lot_to_customers(3)]
    build_shipments(sales_clerk, device, hospitals, ["L2609-05"], serials=["SN-0001", "SN-0002", "SN-0003"])
    notice = issued(management_rep, device, lot="", serial="SN-0002", kind="recall", title="SN-0002 召回")
    (recipient,) = NoticeRecipient.objects.filter(notice=notice)
    assert recipient.customer == hospitals[1]
    assert recipient.quantity_shipped == Decimal("1")
    assert [s["serial"] for s in recipient.shipments] == ["SN-0002"]


def test_R_CO_10_a_whole_product_notice_reaches_every_lot(lot_customers, management_rep, device):
    notice = issued(management_rep, device, lot="")
    affected_lots = (
        lot_customers["affected"] + lot_customers["unaffected"][:2]
    )  # both lots, not the accessory
    assert set(notice.recipients.values_list("customer_id", flat=True)) == {c.pk for c in affected_lots}


def test_R_CO_10_nothing_to_notify_is_refused(lot_customers, management_rep, device):
    nobody = draft(management_rep, device, lot="L-NEVER-SHIPPED")
    with pytest.raises(Conflict):
        notices.issue_notice(management_rep, nobody, password=PERSONA_PASSWORD)
    empty = draft(management_rep, device, items=[])
    with pytest.raises(Conflict):
        notices.issue_notice(management_rep, empty, password=PERSONA_PASSWORD)
    for notice in (nobody, empty):
        notice.refresh_from_db()
        assert notice.status == NoticeStatus.DRAFT and not notice.recipients.exists()


# --- issuing: signature and letters -----------------------------------------------------------------
def test_R_CO_10_only_the_management_representative_signs_the_notice(
    lot_customers, management_rep, quality_engineer, sales_clerk, gm, device
):
    notice = draft(quality_engineer, device)  # quality drafts
    for outsider in (quality_engineer, sales_clerk, gm):
        with pytest.raises(NotPermitted):
            notices.issue_notice(outsider, notice, password=PERSONA_PASSWORD)
    with pytest.raises(SignatureRefused):
        notices.issue_notice(management_rep, notice, password="wrong")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT and not notice.recipients.exists()
    notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)
    notice.refresh_from_db()
    assert (notice.issued_by, notice.signature.signer, notice.signature.meaning) == (
        management_rep,
        management_rep,
        "approved",
    )
    assert signatures.valid_signatures(notice, "approved") == [notice.signature]
    with pytest.raises(Conflict):  # issued once
        notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)


@override_settings(QCARE_COMPANY_NAME=COMPANY)
def test_R_CO_10_letters_are_emailed_to_each_customers_contacts_in_their_language(
    lot_customers, management_rep, sales_clerk, device
):
    chinese, english, silent, _fourth = lot_customers["affected"]
    speak(english, "en")
    add_contact(chinese, "陈主任", "chen@hospital.cn")
    add_contact(chinese, "李工", "li@hospital.cn")
    add_contact(chinese, "王护士", "")  # no e-mail: not e-mailed
    add_contact(chinese, "离职人员", "left@hospital.cn", is_active=False)
    add_contact(english, "Dr. Smith", "smith@clinic.example")
    add_contact(silent, "刘科长", "")
    stranger = lot_customers["unaffected"][0]
    add_contact(stranger, "Not affected", "nobody@elsewhere.example")

    notice = issued(management_rep, device)

    mails = Notification.objects.filter(template="complaints/notice_issued", channel="email")
    assert {(m.recipient_email, m.language) for m in mails} == {
        ("chen@hospital.cn", "zh-hans"),
        ("li@hospital.cn", "zh-hans"),
        ("smith@clinic.example", "en"),
    }
    letter = mails.get(recipient_email="smith@clinic.example")
    assert letter.subject == f"{COMPANY}: Advisory notice {notice.number}: {notice.title}"
    for text in (
        COMPANY,
        f"ADVISORY NOTICE {notice.number}",
        f"{device.code} {device.name}",
        f"lot {LOT}",
        notice.reason,
        "Risk: High",
        notice.risk_description,
        notice.action_required,
        "How to acknowledge this notice:",
        f"quoting notice number {notice.number}",
        management_rep.get_full_name(),
    ):
        assert text in letter.body, text
    assert "/complaints/" not in letter.body  # no internal link in a letter to customers
    chinese_letter = mails.get(recipient_email="chen@hospital.cn")
    assert notice.number in chinese_letter.body and LOT in chinese_letter.body
    # who was reached by e-mail; the sales owner is told (and prints the letter for the others)
    sent = dict(NoticeRecipient.objects.filter(notice=notice).values_list("customer_id", "sent_at"))
    assert sent[chinese.pk] and sent[english.pk] and sent[silent.pk] is None
    owner_note = Notification.objects.get(
        recipient=sales_clerk, template="complaints/notice_customers", channel="inbox"
    )
    assert notice.number in owner_note.body


@override_settings(QCARE_COMPANY_NAME=COMPANY)
def test_R_CO_10_the_chinese_letter_is_rendered_in_chinese(lot_customers, management_rep, device):
    from qcare.notifications.services import render

    notice = issued(management_rep, device)
    subject, body, _html = render("complaints/notice_issued", notices.letter_context(notice), "zh-hans")
    assert COMPANY in subject and notice.number in subject
    assert notice.action_required in body and LOT in body


# --- acknowledgements, effectiveness -------------------------------------------------------------------
def test_R_CO_10_acknowledgements_and_actions_are_tracked(
    lot_customers, management_rep, quality_engineer, device
):
    notice = issued(management_rep, device)
    first, second = NoticeRecipient.objects.filter(notice=notice)[:2]
    with pytest.raises(ValidationFailed) as refused:
        notices.record_acknowledgement(quality_engineer, first, action="returned")
    assert "acknowledged_by_name" in refused.value.errors
    notices.record_acknowledgement(quality_engineer, first, acknowledged_by_name="陈主任")
    first.refresh_from_db()
    assert first.acknowledged_at is not None and not first.is_complete and first.remind_at is not None
    notices.record_acknowledgement(
        quality_engineer, first, action="returned", quantity_accounted="2", comment="已退回 2 台"
    )
    first.refresh_from_db()
    assert first.is_complete and first.remind_at is None
    assert (first.action, first.quantity_accounted, first.action_comment) == (
        "returned",
        Decimal("2"),
        "已退回 2 台",
    )
    assert first.recorded_by == quality_engineer
    with pytest.raises(ValidationFailed) as refused:
        notices.record_acknowledgement(
            quality_engineer, second, acknowledged_by_name="李工", action="sold", quantity_accounted="3"
        )
    assert set(refused.value.errors) == {"action", "quantity_accounted"}  # unknown action; 3 > 2 received
    future = timezone.now() + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        notices.record_acknowledgement(
            quality_engineer, second, acknowledged_by_name="李工", acknowledged_at=future
        )


def test_R_CO_10_acknowledgement_needs_the_track_permission_and_an_issued_notice(
    lot_customers, management_rep, sales_clerk, reviewer_finance, device
):
    notice = issued(management_rep, device)
    recipient = notice.recipients.first()
    for outsider in (sales_clerk, reviewer_finance):
        with pytest.raises(NotPermitted):
            notices.record_acknowledgement(outsider, recipient, acknowledged_by_name="陈主任")
    notices.close_notice(management_rep, notice, comment="测试关闭")
    with pytest.raises(Conflict):
        notices.record_acknowledgement(management_rep, recipient, acknowledged_by_name="陈主任")


def test_R_CO_10_effectiveness_is_the_share_of_units_accounted_for(
    lot_customers, management_rep, quality_engineer, device
):
    notice = issued(management_rep, device)  # 4 customers × 2 units
    first, second, third, _fourth = notice.recipients.all()
    for recipient, action, quantity in (
        (first, "returned", "2"),
        (second, "destroyed", "2"),
        (third, "", "1"),
    ):
        notices.record_acknowledgement(
            quality_engineer, recipient, acknowledged_by_name="x", action=action, quantity_accounted=quantity
        )
    assert notices.effectiveness(notice) == {
        "customers": 4,
        "acknowledged": 3,
        "completed": 2,
        "units_shipped": Decimal("8"),
        "units_accounted": Decimal("5"),
        "share_accounted": Decimal("62.5"),
    }


# --- reminders ---------------------------------------------------------------------------------------------
def reminders(recipient_email=None):
    mails = Notification.objects.filter(template="complaints/notice_reminder")
    return mails.filter(recipient_email=recipient_email) if recipient_email else mails


def test_R_CO_10_reminders_go_only_to_incomplete_recipients_and_never_twice(
    lot_customers, management_rep, quality_engineer, sales_clerk, device
):
    done, acknowledged, *rest = lot_customers["affected"]
    for index, customer in enumerate(lot_customers["affected"][:3]):
        add_contact(customer, f"联系人{index}", f"c{index}@hospital.cn")
    notice = issued(management_rep, device)
    by_customer = {r.customer_id: r for r in notice.recipients.all()}
    notices.record_acknowledgement(
        quality_engineer, by_customer[done.pk], acknowledged_by_name="陈主任", action="destroyed"
    )
    notices.record_acknowledgement(
        quality_engineer, by_customer[acknowledged.pk], acknowledged_by_name="李工"
    )
    due = by_customer[acknowledged.pk].remind_at
    assert notices.remind_recipients(due - timedelta(minutes=1)) == 0  # not yet

    assert notices.remind_recipients(due) == 3  # acknowledged without action, and the two others
    assert notices.remind_recipients(due) == 0  # the same due time is never reminded twice
    assert notices.remind_recipients(due + timedelta(hours=1)) == 0
    assert not reminders("c0@hospital.cn").exists()  # complete
    assert reminders("c1@hospital.cn").count() == 1
    assert reminders("c2@hospital.cn").count() == 1
    body = reminders("c1@hospital.cn").get().body
    assert notice.number in body and acknowledged.name in body
    # the customer without an e-mail contact is chased by its sales owner
    chase = Notification.objects.filter(
        template="complaints/notice_chase", recipient=sales_clerk, channel="inbox"
    )
    assert chase.count() == 1 and rest[1].name in chase.get().body
    recipient = NoticeRecipient.objects.get(pk=by_customer[acknowledged.pk].pk)
    assert recipient.reminder_count == 1 and recipient.last_reminded_at == due
    assert recipient.remind_at > due
    # the next interval reminds again, once
    assert notices.remind_recipients(recipient.remind_at) == 3
    assert reminders("c1@hospital.cn").count() == 2
    recipient.refresh_from_db()
    assert recipient.reminder_count == 2


def run_together(*actions):
    """Run the actions at the same moment in threads; returns their results."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:  # noqa: BLE001 — reported to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_R_CO_10_two_workers_never_remind_twice(lot_to_customers, management_rep, device):
    customers = [line.customer for line in lot_to_customers(6)]
    for index, customer in enumerate(customers):
        add_contact(customer, f"联系人{index}", f"w{index}@hospital.cn")
    notice = issued(management_rep, device)
    due = notice.recipients.first().remind_at
    results = run_together(
        lambda: notices.remind_recipients(due),
        lambda: notices.remind_recipients(due),
    )
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 6
    assert reminders().count() == 6
    for index in range(6):
        assert reminders(f"w{index}@hospital.cn").count() == 1
    assert set(NoticeRecipient.objects.values_list("reminder_count", flat=True)) == {1}


# --- authority, closing, drafts ------------------------------------------------------------------------
def test_R_CO_10_authority_notification_is_recorded(lot_customers, management_rep, quality_engineer, device):
    notice = draft(management_rep, device)
    with pytest.raises(Conflict):
        notices.record_authority_notification(
            quality_engineer, notice, authority_name="广东省药品监督管理局", notified_at=timezone.now()
        )
    notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)
    with pytest.raises(ValidationFailed) as refused:
        notices.record_authority_notification(
            quality_engineer, notice, authority_name="", notified_at=timezone.now() + timedelta(days=1)
        )
    assert set(refused.value.errors) == {"authority_name", "notified_at"}
    at = timezone.now() - timedelta(hours=2)
    notices.record_authority_notification(
        quality_engineer,
        notice,
        authority_name="广东省药品监督管理局",
        notified_at=at,
        reference="粤药监召回〔2026〕12号",
    )
    notice.refresh_from_db()
    assert (notice.authority_name, notice.authority_notified_at, notice.authority_reference) == (
        "广东省药品监督管理局",
        at,
        "粤药监召回〔2026〕12号",
    )


def test_R_CO_10_close_is_refused_while_incomplete_without_a_comment(
    lot_customers, management_rep, quality_engineer, device
):
    notice = issued(management_rep, device)
    with pytest.raises(NotPermitted):
        notices.close_notice(quality_engineer, notice, comment="x")
    with pytest.raises(ValidationFailed) as refused:
        notices.close_notice(management_rep, notice, comment=" ")
    assert "4" in refused.value.errors["comment"][0]
    notices.close_notice(management_rep, notice, comment="两家医院已停业，无法联系；已报药监局备案。")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.CLOSED and notice.closed_at is not None
    assert not notice.recipients.filter(remind_at__isnull=False).exists()  # reminders stop
    assert notices.remind_recipients(timezone.now() + timedelta(days=60)) == 0


def test_R_CO_10_a_complete_notice_closes_without_comment(
    lot_to_customers, management_rep, quality_engineer, device
):
    lot_to_customers(2)
    notice = issued(management_rep, device)
    for recipient in notice.recipients.all():
        notices.record_acknowledgement(
            quality_engineer, recipient, acknowledged_by_name="x", action="none", quantity_accounted="0"
        )
    notices.close_notice(management_rep, notice, comment="")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.CLOSED


def test_R_CO_10_drafts_are_edited_and_cancelled_issued_notices_are_not(
    lot_customers, management_rep, quality_engineer, device
):
    notice = draft(quality_engineer, device, lot="L-TYPO")
    notices.update_notice(
        quality_engineer,
        notice,
        data={"title": "血氧探头接口接触不良"},
        items=[{"product": device.pk, "lot_number": LOT}],
    )
    notice.refresh_from_db()
    assert notice.title == "血氧探头接口接触不良"
    assert list(notice.items.values_list("lot_number", flat=True)) == [LOT]
    with pytest.raises(ValidationFailed) as refused:
        notices.update_notice(quality_engineer, notice, data={"risk": "extreme", "title": ""})
    assert set(refused.value.errors) == {"risk", "title"}
    with pytest.raises(ValidationFailed):
        notices.update_notice(quality_engineer, notice, data={"number": "AN-X"})
    notices.issue_notice(management_rep, notice, password=PERSONA_PASSWORD)
    with pytest.raises(Conflict):
        notices.update_notice(quality_engineer, notice, data={"title": "改"})
    with pytest.raises(Conflict):
        notices.cancel_notice(quality_engineer, notice, reason="x")
    other = draft(quality_engineer, device)
    with pytest.raises(ReasonRequired):
        notices.cancel_notice(quality_engineer, other, reason="")
    notices.cancel_notice(quality_engineer, other, reason="重复起草")
    assert AdvisoryNotice.objects.get(pk=other.pk).status == NoticeStatus.CANCELLED


def test_R_CO_10_draft_input_is_checked(management_rep, device):
    with pytest.raises(ValidationFailed) as refused:
        notices.draft_notice(
            management_rep,
            kind="warning",
            title="",
            reason="",
            risk="low",
            action_required="",
            items=[{"product": None}, {"product": device, "lot_number": "x" * 61}],
        )
    assert set(refused.value.errors) == {
        "kind",
        "title",
        "reason",
        "action_required",
        "items.0.product",
        "items.1.lot_number",
    }
    assert not AdvisoryNotice.objects.exists()
