"""The reportability decision of a complaint on a regulated product (SPEC R-CO-9): every question
answered, the outcome with its rationale, basis and authority when reportable, the report deadline
per basis from the policies, signed ("reviewed") — a later edit invalidates the signature — and a
reportable case closes only once the report sent to the authority is recorded."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from qcare.complaints import services
from qcare.complaints.choices import ComplaintStatus as S
from qcare.complaints.choices import ReportQuestion
from qcare.complaints.models import ReportabilityDecision
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotPermitted, ValidationFailed
from qcare.core.models_mech import Signature
from qcare.core.signatures import SignatureRefused, valid_signatures
from tests.complaints.test_workflow_support import (
    NO,
    PERSONA_PASSWORD,
    audit_of,
    decide_not_reportable,
    english_fixture,  # noqa: F401  (fixture)
    reply,
    snapshot,
    triage,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
YES_SERIOUS = NO | {"serious_injury": True, "device_related": True}


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def complaint(sales_clerk, complaint_fields, quality_engineer):
    """A complaint on the regulated monitor, received 2 March 2026 10:00, triaged and answered."""
    with time_machine.travel(at(2026, 3, 2, 10, 0), tick=False):
        registered = services.register_complaint(sales_clerk, **complaint_fields)
        triage(registered, quality_engineer, severity="serious")
        reply(registered, quality_engineer, kind="first_answer", text="已收到，正在评估是否需上报不良事件。")
    return registered


def decide(user, complaint, **fields):
    values = {
        "answers": YES_SERIOUS,
        "outcome": "reportable",
        "rationale": "血氧读数错误可能导致误判，属可能导致严重伤害的事件。",
        "basis": "serious",
        "authority": "广东省药品监督管理局",
        "password": PERSONA_PASSWORD,
    } | fields
    return services.decide_reportability(user, complaint, **values)


def close(user, complaint):
    """Close as not substantiated on 6 March 2026 (within the 13 days)."""
    with time_machine.travel(at(2026, 3, 6, 10, 0), tick=False):
        return services.close_not_substantiated(user, complaint, reason="调查后不成立")


def test_R_CO_9_every_question_must_be_answered(complaint, quality_engineer):
    answers = {k: v for k, v in NO.items() if k != "cluster"}
    with pytest.raises(ValidationFailed) as exc:
        decide(quality_engineer, complaint, answers=answers, outcome="not_reportable")
    assert exc.value.errors["answers"] == ["Answer every question (yes or no)."]
    assert exc.value.errors["answers.cluster"] == ["This field is required."]
    with pytest.raises(ValidationFailed) as exc:
        decide(quality_engineer, complaint, answers=NO | {"death": "no"}, outcome="not_reportable")
    assert "answers.death" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        decide(quality_engineer, complaint, answers=NO | {"weather": False}, outcome="not_reportable")
    assert exc.value.errors["answers"] == ["Unknown questions: weather"]
    assert set(NO) == set(ReportQuestion.values)
    assert not ReportabilityDecision.objects.exists()


def test_R_CO_9_reportable_needs_basis_and_authority(complaint, quality_engineer):
    with pytest.raises(ValidationFailed) as exc:
        decide(quality_engineer, complaint, basis="", authority=" ")
    assert set(exc.value.errors) == {"basis", "authority"}
    with pytest.raises(ValidationFailed) as exc:
        decide(quality_engineer, complaint, rationale=" ", outcome="maybe")
    assert set(exc.value.errors) == {"rationale", "outcome"}
    assert not ReportabilityDecision.objects.exists()


@pytest.mark.parametrize(
    ("basis", "due"),
    [
        ("death", at(2026, 3, 9, 10, 0)),
        ("serious", at(2026, 3, 22, 10, 0)),
        ("cluster", at(2026, 3, 3, 10, 0)),
    ],
)
def test_R_CO_9_report_due_per_basis_from_receipt(complaint, quality_engineer, basis, due):
    with time_machine.travel(at(2026, 3, 2, 15, 0), tick=False):
        decision = decide(quality_engineer, complaint, basis=basis)
    assert decision.report_due_at == due
    assert decision.outcome == "reportable" and decision.authority == "广东省药品监督管理局"


def test_R_CO_9_not_reportable_has_no_basis_authority_or_due_date(complaint, quality_engineer):
    decision = decide(quality_engineer, complaint, answers=NO, outcome="not_reportable", basis="death")
    assert (decision.basis, decision.authority, decision.report_due_at) == ("", "", None)


def test_R_CO_9_the_decision_is_signed_and_editing_invalidates_it(
    complaint, quality_engineer, management_rep
):
    decision = decide_not_reportable(complaint, quality_engineer)
    (signature,) = valid_signatures(decision, "reviewed")
    assert decision.signature == signature and signature.signer == quality_engineer
    assert decision.decided_by == quality_engineer
    assert services.closure_problems(complaint) == []
    with audit_context(actor=quality_engineer, reason="改写结论"):
        decision.rationale = "事后改写"
        decision.save()
    assert valid_signatures(decision, "reviewed") == []
    assert services.closure_problems(complaint) == [
        "The reportability decision was changed after it was signed: decide it again."
    ]
    with pytest.raises(Conflict):
        services.close_not_substantiated(management_rep, complaint, reason="不成立")
    decide_not_reportable(complaint, quality_engineer)  # decided (and signed) again
    close(management_rep, complaint)
    assert complaint.status == S.NOT_SUBSTANTIATED


def test_R_CO_9_a_second_decision_replaces_the_first_and_the_audit_keeps_it(complaint, quality_engineer):
    first = decide_not_reportable(complaint, quality_engineer)
    second = decide(quality_engineer, complaint)
    assert second.pk == first.pk and ReportabilityDecision.objects.count() == 1
    assert second.outcome == "reportable"
    assert Signature.objects.filter(object_pk=str(first.pk), meaning="reviewed").count() == 2
    assert len(valid_signatures(second, "reviewed")) == 1
    outcomes = [e.changes.get("outcome") for e in audit_of(second).filter(action__in=["create", "update"])]
    assert [None, "not_reportable"] in outcomes and ["not_reportable", "reportable"] in outcomes


def test_R_CO_9_wrong_password_decides_nothing(complaint, quality_engineer):
    with pytest.raises(SignatureRefused):
        decide(quality_engineer, complaint, password="wrong")
    assert not ReportabilityDecision.objects.exists()


def test_R_CO_9_only_with_the_close_permission(complaint, sales_clerk):
    with pytest.raises(NotPermitted):
        decide(sales_clerk, complaint)


def test_R_CO_9_closing_a_reportable_case_needs_the_report_recorded(
    complaint, quality_engineer, management_rep
):
    decide(quality_engineer, complaint)
    before = snapshot(complaint)
    with pytest.raises(Conflict) as exc:
        services.close_not_substantiated(management_rep, complaint, reason="调查后不成立")
    assert str(exc.value) == "The case is reportable: record the report sent to the authority before closing."
    assert snapshot(complaint) == before
    with pytest.raises(ValidationFailed) as exc:
        services.record_authority_report(
            management_rep, complaint, sent_at=at(2026, 3, 5, 9, 0), reference=" "
        )
    assert set(exc.value.errors) == {"reference"}
    decision = services.record_authority_report(
        management_rep, complaint, sent_at=at(2026, 3, 5, 9, 0), reference="粤械不良2026-0042"
    )
    assert decision.report_sent_at == at(2026, 3, 5, 9, 0) and decision.report_recorded_by == management_rep
    assert len(valid_signatures(decision, "reviewed")) == 1  # the record of sending is not signed content
    close(management_rep, complaint)
    assert complaint.status == S.NOT_SUBSTANTIATED


def test_R_CO_9_a_report_only_for_a_reportable_case(complaint, quality_engineer, management_rep):
    with pytest.raises(Conflict):
        services.record_authority_report(
            management_rep, complaint, sent_at=at(2026, 3, 5, 9, 0), reference="X"
        )
    decide_not_reportable(complaint, quality_engineer)
    with pytest.raises(Conflict, match="decided as reportable"):
        services.record_authority_report(
            management_rep, complaint, sent_at=at(2026, 3, 5, 9, 0), reference="X"
        )


def test_R_CO_9_unregulated_products_close_without_a_decision(
    sales_clerk, distributor, accessory, quality_engineer, management_rep
):
    complaint = services.register_complaint(
        sales_clerk,
        customer=distributor,
        channel="phone",
        description="纸卷破损",
        product=accessory,
        quantity=3,
    )
    assert complaint.is_regulated is False
    triage(complaint, quality_engineer)
    reply(complaint, quality_engineer, kind="first_answer", text="已答复")
    assert services.closure_problems(complaint) == []
