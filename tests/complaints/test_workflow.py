"""The complaint workflow through its services (SPEC R-CO-2, R-CO-3, R-CO-5): registration from
the customer's shipment, triage, investigation with the departments' findings, responsibility
shares, disposition and its approval band with signatures, reply, the customer's answer and the
follow-up; the "not substantiated" path; refusals that change nothing; scope; audit trail."""

import re
from decimal import Decimal

import pytest

from qcare.complaints import services
from qcare.complaints.choices import ComplaintStatus as S
from qcare.complaints.choices import DeadlineKind
from qcare.complaints.models import Complaint, ComplaintFinding, ComplaintReply
from qcare.core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from qcare.core.models import get_restricted_or_404
from qcare.core.signatures import SignatureRefused, valid_signatures
from tests.complaints.test_workflow_support import (
    PERSONA_PASSWORD,
    audit_of,
    decide_not_reportable,
    drive_to_replied,
    english_fixture,  # noqa: F401  (fixture)
    inbox,
    investigate,
    propose,
    reply,
    responsibility,
    snapshot,
    transitions,
    triage,
)


@pytest.fixture
def registered(sales_clerk, complaint_fields, quality_engineer):
    return services.register_complaint(sales_clerk, **complaint_fields)


@pytest.fixture
def in_responsibility(registered, quality_engineer, reviewer_production, reviewer_purchasing):
    triage(registered, quality_engineer)
    investigate(registered, quality_engineer)
    responsibility(registered, quality_engineer)
    return registered


@pytest.fixture
def awaiting(in_responsibility, quality_engineer):
    return propose(in_responsibility, quality_engineer)


# --- R-CO-2 registration --------------------------------------------------------------------
def test_R_CO_2_register_from_the_customers_shipment_fills_the_links(
    sales_clerk, distributor, shipped_lot, device, complaint_fields, quality_engineer
):
    complaint = services.register_complaint(sales_clerk, **complaint_fields)
    assert re.fullmatch(r"KS-\d{4}-\d{3}", complaint.number)
    assert complaint.status == S.REGISTERED
    assert complaint.order_id == shipped_lot.order_id
    assert complaint.product == device and complaint.part_number == device.code
    assert complaint.lot_number == "L2609-01" and complaint.serial_number == ""
    assert complaint.shipped_on == shipped_lot.shipped_on
    assert complaint.quantity == Decimal("20") and complaint.defective_quantity == Decimal("3")
    assert complaint.is_regulated is True and complaint.is_foreign is False
    assert complaint.registered_by == sales_clerk and complaint.department == sales_clerk.department
    assert complaint.period == complaint.received_at.astimezone(complaint.received_at.tzinfo).strftime(
        "%Y-%m"
    )
    assert complaint.demands == ["exchange"]
    assert set(complaint.deadlines.values_list("kind", flat=True)) == set(DeadlineKind.values)
    assert complaint.due_at == complaint.deadlines.get(kind="close").due_at
    assert "l2609-01" in complaint.search_text
    assert transitions(complaint) == [("", S.REGISTERED)]
    assert inbox(quality_engineer, "registered").count() == 1  # quality triages
    assert not inbox(sales_clerk, "registered").exists()


def test_R_CO_2_quantity_not_yet_known_is_accepted(sales_clerk, distributor, device):
    complaint = services.register_complaint(
        sales_clerk,
        customer=distributor,
        channel="email",
        description="客户仍在清点受影响的数量。",
        product=device,
        lot_number="L2609-01",
        quantity_pending=True,
    )
    assert complaint.quantity is None and complaint.defective_quantity is None
    assert complaint.quantity_pending is True
    with pytest.raises(ValidationFailed) as exc:
        services.register_complaint(
            sales_clerk, customer=distributor, channel="email", description="无数量", product=device
        )
    assert "quantity not yet known" in exc.value.errors["quantity"][0]


def test_R_CO_2_html_in_the_description_is_stored_as_typed(sales_clerk, complaint_fields):
    text = "<script>alert('x')</script><b>读数</b> & \"不稳\""
    complaint = services.register_complaint(sales_clerk, **complaint_fields | {"description": text})
    assert Complaint.objects.get(pk=complaint.pk).description == text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"defective_quantity": "-1"}, "defective_quantity", "The quantity cannot be negative."),
        ({"quantity": "-5", "defective_quantity": None}, "quantity", "The quantity cannot be negative."),
        (
            {"defective_quantity": "25"},
            "defective_quantity",
            "The defective quantity (25) cannot exceed the quantity delivered (20).",
        ),
        ({"demands": ["refund_all"]}, "demands", "Select valid demands."),
        ({"channel": "pigeon"}, "channel", "Select a valid choice."),
        ({"description": "   "}, "description", "This field is required."),
        ({"claimed_amount": "-1"}, "claimed_amount", "The amount cannot be negative."),
    ],
)
def test_R_CO_2_bad_registration_is_refused_and_nothing_saved(
    sales_clerk, complaint_fields, fields, field, message
):
    with pytest.raises(ValidationFailed) as exc:
        services.register_complaint(sales_clerk, **complaint_fields | fields)
    assert exc.value.errors[field] == [message]
    assert not Complaint.objects.exists()


def test_R_CO_2_links_must_belong_to_the_customer(sales_clerk, hospital, shipped_lot, quality_engineer):
    with pytest.raises(ValidationFailed) as exc:
        services.register_complaint(
            sales_clerk, customer=hospital, channel="phone", description="x", shipment_line=shipped_lot
        )
    assert exc.value.errors["shipment_line"] == ["Select one of this customer's records."]
    assert not Complaint.objects.exists()


def test_R_CO_2_only_customers_in_scope(sales_clerk_2, quality_engineer, complaint_fields):
    with pytest.raises(NotFound):
        services.register_complaint(sales_clerk_2, **complaint_fields)  # not their customer
    complaint = services.register_complaint(quality_engineer, **complaint_fields)  # quality: all customers
    assert complaint.registered_by == quality_engineer
    assert Complaint.objects.count() == 1


def test_R_CO_2_corrections_need_a_reason_and_refresh_the_search_text(registered, sales_clerk):
    with pytest.raises(ValidationFailed):
        services.update_complaint(sales_clerk, registered, data={"serial_number": "SN-1"}, reason=" ")
    services.update_complaint(
        sales_clerk, registered, data={"serial_number": "SN-20260901"}, reason="客户补充序列号"
    )
    registered.refresh_from_db()
    assert registered.serial_number == "SN-20260901" and "sn-20260901" in registered.search_text
    assert audit_of(registered).filter(reason="客户补充序列号").exists()
    with pytest.raises(ValidationFailed) as exc:
        services.update_complaint(sales_clerk, registered, data={"customer": None}, reason="改客户")
    assert exc.value.errors == {"customer": ["This field cannot be changed."]}


# --- R-CO-3 the whole case ------------------------------------------------------------------
def test_R_CO_3_full_case_split_approved_by_deputy_gm_rejected_then_follow_up_accepted(
    sales_clerk,
    complaint_fields,
    quality_engineer,
    reviewer_production,
    reviewer_purchasing,
    sales_manager,
    deputy_gm,
    gm,
):
    complaint = services.register_complaint(sales_clerk, **complaint_fields)
    # triage: quality owns it
    services.triage_complaint(
        quality_engineer, complaint, severity="minor", category="quality", owner=quality_engineer
    )
    assert complaint.status == S.TRIAGED and complaint.owner == quality_engineer and not complaint.is_major
    # first written answer within 7 days
    reply(complaint, sales_clerk, kind="first_answer", text="已收到投诉，正在调查。")
    assert complaint.deadlines.get(kind="first_answer").met_at is not None
    # investigation with findings of production and purchasing
    services.start_investigation(quality_engineer, complaint, departments=["production", "purchasing"])
    assert inbox(reviewer_production, "findings_requested").count() == 1
    assert inbox(reviewer_purchasing, "findings_requested").count() == 1
    services.add_finding(reviewer_production, complaint, text="装配工序未做血氧功能全检。")
    services.add_finding(reviewer_purchasing, complaint, text="供应商该批次血氧模块不良率 4%。")
    findings = {f.department.code: f.text for f in ComplaintFinding.objects.filter(complaint=complaint)}
    assert findings == {
        "production": "装配工序未做血氧功能全检。",
        "purchasing": "供应商该批次血氧模块不良率 4%。",
    }
    services.submit_investigation_report(quality_engineer, complaint, report="来料不良且未全检。")
    assert complaint.deadlines.get(kind="investigation").met_at is not None
    # responsibility 70/30 between production and purchasing
    responsibility(complaint, quality_engineer, ("production", 70), ("purchasing", 30))
    assert complaint.status == S.RESPONSIBILITY
    # allowance 20,000 → deputy GM band
    propose(complaint, quality_engineer, loss="20000")
    assert complaint.status == S.AWAITING_APPROVAL and complaint.approval_band == "deputy_gm"
    amounts = list(complaint.responsible_parties.values_list("department__code", "share", "amount"))
    assert amounts == [
        ("production", Decimal("70"), Decimal("14000")),
        ("purchasing", Decimal("30"), Decimal("6000")),
    ]
    assert inbox(deputy_gm, "approval_requested").count() == 1
    assert inbox(gm, "approval_requested").count() == 1  # a higher role may approve too
    assert not inbox(sales_manager, "approval_requested").exists()
    # the sales manager is refused: above the band, nothing changed
    before = snapshot(complaint)
    with pytest.raises(NotPermitted) as exc:
        services.approve_disposition(sales_manager, complaint, password=PERSONA_PASSWORD)
    assert "above your approval band" in str(exc.value)
    assert snapshot(complaint) == before
    # the deputy GM signs
    services.approve_disposition(deputy_gm, complaint, password=PERSONA_PASSWORD, comment="同意折让")
    complaint.refresh_from_db()
    assert complaint.status == S.APPROVED and complaint.approved_by == deputy_gm
    assert [s.signer for s in valid_signatures(complaint, "approved")] == [deputy_gm]
    assert complaint.approval_signature.meaning == "approved"
    assert inbox(quality_engineer, "disposition_approved").count() == 1
    assert inbox(sales_clerk, "disposition_approved").count() == 1
    # reply with the disposition, reportability decided (regulated device)
    reply(complaint, sales_clerk)
    assert complaint.status == S.REPLIED and complaint.replied_at is not None
    decide_not_reportable(complaint, quality_engineer)
    # the customer rejects → the complaint ends and a linked follow-up is opened
    follow_up = services.record_customer_response(
        sales_clerk, complaint, accepted=False, response="客户不接受折让，要求整批退货。"
    )
    complaint.refresh_from_db()
    assert complaint.status == S.REJECTED and complaint.customer_accepted is False
    assert complaint.closed_at is not None and complaint.closed_on_time is True
    assert follow_up.parent == complaint and follow_up.status == S.REGISTERED
    assert follow_up.description == "客户不接受折让，要求整批退货。"
    assert (follow_up.customer, follow_up.product, follow_up.lot_number, follow_up.order) == (
        complaint.customer,
        complaint.product,
        complaint.lot_number,
        complaint.order,
    )
    assert list(complaint.follow_ups.all()) == [follow_up]
    assert inbox(quality_engineer, "follow_up_opened").count() == 1
    assert follow_up.deadlines.count() == 3
    # the follow-up goes its way and the customer accepts → closed
    drive_to_replied(follow_up, quality_engineer, deputy_gm, loss="30000")
    decide_not_reportable(follow_up, quality_engineer)
    services.record_customer_response(sales_clerk, follow_up, accepted=True, response="客户接受退货方案。")
    follow_up.refresh_from_db()
    assert follow_up.status == S.CLOSED and follow_up.customer_accepted is True
    assert follow_up.closed_on_time is True and follow_up.days_to_close in (0, 1)
    assert follow_up.closed_period == follow_up.closed_at.astimezone(follow_up.received_at.tzinfo).strftime(
        "%Y-%m"
    )
    assert set(follow_up.responsible_parties.values_list("closed_period", flat=True)) == {
        follow_up.closed_period
    }
    assert not follow_up.deadlines.filter(met_at__isnull=True).exists()
    # every step left a transition row and an audit entry
    assert transitions(complaint) == [
        ("", S.REGISTERED),
        (S.REGISTERED, S.TRIAGED),
        (S.TRIAGED, S.INVESTIGATION),
        (S.INVESTIGATION, S.RESPONSIBILITY),
        (S.RESPONSIBILITY, S.AWAITING_APPROVAL),
        (S.AWAITING_APPROVAL, S.APPROVED),
        (S.APPROVED, S.REPLIED),
        (S.REPLIED, S.REJECTED),
    ]
    reasons = set(audit_of(complaint).values_list("reason", flat=True))
    assert {
        "Complaint registered",
        "Complaint triaged",
        "Reply to the customer",
        "Investigation report",
        "Root cause and responsibility",
        "Disposition proposed",
        "Disposition approved",
        "Rejected by the customer",
    } <= reasons
    actions = list(audit_of(complaint).values_list("action", flat=True))
    assert actions[0] == "create" and "signature" in actions
    approval = audit_of(complaint).filter(reason="Disposition approved", action="update").get()
    assert approval.actor == deputy_gm and approval.changes["status"] == ["awaiting_approval", "approved"]


def test_R_CO_3_supplier_share_and_rounding_remainder_to_the_largest(in_responsibility, quality_engineer):
    responsibility(
        in_responsibility,
        quality_engineer,
        ("supplier:深圳某传感器有限公司", "33.33"),
        ("production", "66.67"),
    )
    propose(in_responsibility, quality_engineer, loss="100.01")
    parties = list(in_responsibility.responsible_parties.order_by("pk"))
    assert [(p.kind, p.supplier_name, p.amount) for p in parties] == [
        ("supplier", "深圳某传感器有限公司", Decimal("33.33")),
        ("department", "", Decimal("66.68")),  # 66.6767 → 66.68, and the sum stays 100.01
    ]
    assert sum(p.amount for p in parties) == Decimal("100.01")


def test_R_CO_3_rejected_disposition_goes_back_and_can_be_proposed_again(
    awaiting, deputy_gm, quality_engineer
):
    with pytest.raises(ValidationFailed):
        services.reject_disposition(deputy_gm, awaiting, password=PERSONA_PASSWORD, reason="  ")
    services.reject_disposition(deputy_gm, awaiting, password=PERSONA_PASSWORD, reason="折让金额过高")
    assert awaiting.status == S.RESPONSIBILITY and awaiting.approval_comment == "折让金额过高"
    assert inbox(quality_engineer, "disposition_rejected").count() == 1
    propose(awaiting, quality_engineer, loss="4000")
    assert awaiting.status == S.AWAITING_APPROVAL and awaiting.approval_band == "sales_manager"


def test_R_CO_3_not_substantiated_closes_with_reason(
    sales_clerk, distributor, accessory, quality_engineer, management_rep
):
    complaint = services.register_complaint(
        sales_clerk,
        customer=distributor,
        channel="phone",
        description="打印纸发黄",
        product=accessory,
        quantity=5,
    )
    triage(complaint, quality_engineer)
    reply(complaint, quality_engineer, kind="first_answer", text="经核实为客户储存不当。")
    services.close_not_substantiated(management_rep, complaint, reason="储存环境潮湿，非产品质量问题。")
    complaint.refresh_from_db()
    assert complaint.status == S.NOT_SUBSTANTIATED
    assert complaint.close_reason == "储存环境潮湿，非产品质量问题。"
    assert complaint.closed_by == management_rep and complaint.closed_on_time is True
    assert transitions(complaint)[-1] == (S.TRIAGED, S.NOT_SUBSTANTIATED)
    assert not complaint.deadlines.filter(met_at__isnull=True).exists()
    assert audit_of(complaint).filter(reason="储存环境潮湿，非产品质量问题。").exists()
    with pytest.raises(Conflict):  # finished: nothing more
        reply(complaint, quality_engineer, kind="other", text="补充")


# --- R-CO-5 major complaints ----------------------------------------------------------------
def test_R_CO_5_major_severity_goes_to_the_deputy_gm_at_once(registered, quality_engineer, deputy_gm):
    triage(registered, quality_engineer, severity="major")
    assert registered.is_major and registered.major_reasons == ["severity", "regulated"]
    assert services.major_reason_texts(registered) == [
        "Severity at or above the major-complaint level",
        "Serious complaint on a regulated medical device",
    ]
    assert inbox(deputy_gm, "major").count() == 1


def test_R_CO_5_serious_on_a_regulated_device_is_major_minor_is_not(
    registered, sales_clerk, complaint_fields, quality_engineer, deputy_gm
):
    triage(registered, quality_engineer, severity="serious")
    assert registered.major_reasons == ["regulated"]
    other = services.register_complaint(sales_clerk, **complaint_fields)
    triage(other, quality_engineer, severity="minor")
    assert not other.is_major and other.major_reasons == []
    assert inbox(deputy_gm, "major").count() == 1


def test_R_CO_5_a_large_loss_makes_it_major_once(in_responsibility, quality_engineer, deputy_gm, gm):
    propose(in_responsibility, quality_engineer, loss="80000")
    assert in_responsibility.is_major and in_responsibility.major_reasons == ["loss"]
    assert in_responsibility.approval_band == "gm"
    assert inbox(deputy_gm, "major").count() == 1
    services.reject_disposition(gm, in_responsibility, password=PERSONA_PASSWORD, reason="重新核算")
    propose(in_responsibility, quality_engineer, loss="90000")
    assert inbox(deputy_gm, "major").count() == 1  # told once


# --- bad input and safety (issue 5) -----------------------------------------------------------
def test_R_CO_3_shares_must_add_up_to_100(registered, quality_engineer):
    triage(registered, quality_engineer)
    investigate(registered, quality_engineer)
    before = snapshot(registered)
    with pytest.raises(ValidationFailed) as exc:
        responsibility(registered, quality_engineer, ("production", 60), ("purchasing", 30))
    assert exc.value.errors["parties"] == ["Responsibility shares add up to 90 %; they must add up to 100 %."]
    with pytest.raises(ValidationFailed) as exc:
        responsibility(registered, quality_engineer, ("production", 110), ("purchasing", -10))
    assert exc.value.errors["parties.1.share"] == ["A share must be greater than zero."]
    assert snapshot(registered) == before
    assert registered.status == S.INVESTIGATION


def test_R_CO_3_responsibility_needs_the_investigation_report(registered, quality_engineer):
    triage(registered, quality_engineer)
    services.start_investigation(quality_engineer, registered)
    with pytest.raises(Conflict, match="investigation report"):
        responsibility(registered, quality_engineer)


def test_R_CO_3_wrong_password_on_approval_signs_and_changes_nothing(awaiting, deputy_gm):
    before = snapshot(awaiting)
    with pytest.raises(SignatureRefused):
        services.approve_disposition(deputy_gm, awaiting, password="wrong-password")
    assert snapshot(awaiting) == before
    assert Complaint.objects.get(pk=awaiting.pk).status == S.AWAITING_APPROVAL


def test_R_CO_3_approval_only_while_awaiting(awaiting, deputy_gm, gm):
    services.approve_disposition(deputy_gm, awaiting, password=PERSONA_PASSWORD)
    with pytest.raises(Conflict, match="not awaiting approval"):
        services.approve_disposition(gm, awaiting, password=PERSONA_PASSWORD)


def test_R_CO_3_final_reply_only_after_approval(in_responsibility, quality_engineer):
    with pytest.raises(Conflict, match="once the disposition is approved"):
        reply(in_responsibility, quality_engineer)
    assert not ComplaintReply.objects.exists()


def test_R_CO_3_closing_without_a_reply_is_refused(registered, quality_engineer, management_rep):
    triage(registered, quality_engineer)
    before = snapshot(registered)
    with pytest.raises(Conflict) as exc:
        services.close_not_substantiated(management_rep, registered, reason="不成立")
    assert exc.value.errors["__all__"][0] == "No reply to the customer has been recorded."
    assert snapshot(registered) == before


def test_R_CO_9_closing_a_regulated_complaint_needs_the_reportability_decision(
    registered, quality_engineer, management_rep
):
    triage(registered, quality_engineer)
    reply(registered, quality_engineer, kind="first_answer", text="已答复")
    before = snapshot(registered)
    with pytest.raises(Conflict) as exc:
        services.close_not_substantiated(management_rep, registered, reason="不成立")
    assert (
        str(exc.value)
        == "A complaint on a regulated product needs the reportability decision before closing."
    )
    assert snapshot(registered) == before
    decide_not_reportable(registered, quality_engineer)
    services.close_not_substantiated(management_rep, registered, reason="不成立")
    assert registered.status == S.NOT_SUBSTANTIATED


def test_R_CO_3_customer_answer_only_after_the_reply(awaiting, sales_clerk):
    with pytest.raises(Conflict, match="after the reply"):
        services.record_customer_response(sales_clerk, awaiting, accepted=True)
    with pytest.raises(ValidationFailed):  # a rejection says what the customer objects to
        services.record_customer_response(sales_clerk, awaiting, accepted=False, response=" ")


def test_R_CO_3_follow_up_on_an_open_complaint_is_refused(registered, quality_engineer):
    before = snapshot(registered)
    with pytest.raises(Conflict) as exc:
        services.open_follow_up(quality_engineer, registered, description="再次投诉")
    assert str(exc.value) == (
        f"Complaint {registered.number} is still open; add to it instead of opening a follow-up."
    )
    assert snapshot(registered) == before


def test_R_CO_3_illegal_transitions_are_refused(registered, quality_engineer):
    with pytest.raises(Conflict, match="cannot be done while"):
        services.start_investigation(quality_engineer, registered)
    with pytest.raises(Conflict, match="cannot go from"):
        services.set_status(registered, S.CLOSED, quality_engineer)


# --- scope and permissions --------------------------------------------------------------------
def test_R_CO_3_a_clerk_of_another_department_cannot_see_or_act(
    registered, sales_clerk_other_dept, sales_clerk_2, quality_engineer
):
    for outsider in (sales_clerk_other_dept, sales_clerk_2):
        with pytest.raises(NotFound):
            get_restricted_or_404(Complaint, outsider, pk=registered.pk)
        with pytest.raises(NotFound):
            reply(registered, outsider, kind="other", text="越权")
    with pytest.raises(NotPermitted):
        triage(registered, sales_clerk_other_dept, owner=quality_engineer)
    assert not ComplaintReply.objects.exists()


def test_R_CO_3_departments_see_a_complaint_once_asked_for_findings(
    registered, quality_engineer, reviewer_production, reviewer_rnd
):
    triage(registered, quality_engineer)
    with pytest.raises(NotFound):
        services.add_finding(reviewer_production, registered, text="尚未被邀请")
    services.start_investigation(quality_engineer, registered, departments=["production"])
    finding = services.add_finding(reviewer_production, registered, text="装配记录正常。")
    assert finding.department.code == "production" and finding.author == reviewer_production
    assert ComplaintFinding.objects.filter(complaint=registered).count() == 1  # the request was filled
    with pytest.raises(NotFound):
        services.add_finding(reviewer_rnd, registered, text="R&D 未被邀请")
    services.request_findings(quality_engineer, registered, departments=["rnd"])
    services.add_finding(reviewer_rnd, registered, text="设计裕量足够。")
    assert ComplaintFinding.objects.filter(complaint=registered).count() == 2


def test_R_CO_3_owner_must_be_an_investigator(registered, quality_engineer, sales_clerk):
    with pytest.raises(ValidationFailed) as exc:
        triage(registered, quality_engineer, owner=sales_clerk)
    assert "owner" in exc.value.errors
    assert Complaint.objects.get(pk=registered.pk).status == S.REGISTERED


def test_R_CO_6_responsibility_flags_repeated_complaints(
    sales_clerk, complaint_fields, quality_engineer, reviewer_production, reviewer_purchasing
):
    """The third complaint on the same product and cause category within 90 days is a repeat."""
    cases = [services.register_complaint(sales_clerk, **complaint_fields) for _ in range(3)]
    for complaint in cases:
        triage(complaint, quality_engineer)
        investigate(complaint, quality_engineer)
        responsibility(complaint, quality_engineer)
    assert [Complaint.objects.get(pk=c.pk).is_repeat for c in cases] == [True, True, True]
