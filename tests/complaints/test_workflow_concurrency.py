"""Concurrent decisions on one disposition (issue 5 "Bad input and safety"): real threads, real
transactions, on SQLite and PostgreSQL. The complaint row is locked and re-read, so exactly one
of two simultaneous approvals (or an approval and a rejection) wins; the other is refused."""

import pytest

from qcare.complaints import services
from qcare.complaints.choices import ComplaintStatus as S
from qcare.complaints.models import Complaint, ComplaintTransition
from qcare.core.errors import Conflict
from qcare.core.signatures import valid_signatures
from tests.complaints.test_workflow_support import (
    PERSONA_PASSWORD,
    english_fixture,  # noqa: F401  (fixture)
    investigate,
    propose,
    responsibility,
    triage,
)
from tests.orders.test_workflow_concurrency import race


@pytest.fixture
def awaiting(sales_clerk, complaint_fields, quality_engineer, deputy_gm, gm):
    """A disposition of 20,000 CNY (deputy GM band: the deputy GM and the GM may approve)."""
    complaint = services.register_complaint(sales_clerk, **complaint_fields)
    triage(complaint, quality_engineer)
    investigate(complaint, quality_engineer)
    responsibility(complaint, quality_engineer)
    propose(complaint, quality_engineer, loss="20000")
    assert complaint.status == S.AWAITING_APPROVAL
    return complaint


@pytest.mark.django_db(transaction=True)
def test_R_CO_3_two_approvers_at_once_exactly_one_wins(awaiting, gm, deputy_gm):
    def approve(user):
        return lambda: services.approve_disposition(
            user, Complaint.objects.get(pk=awaiting.pk), password=PERSONA_PASSWORD
        )

    outcomes = race(approve(gm), approve(deputy_gm))
    assert [str(o) for o in outcomes].count("ok") == 1, outcomes
    refused = next(o for o in outcomes if o != "ok")
    assert isinstance(refused, Conflict), refused
    complaint = Complaint.objects.get(pk=awaiting.pk)
    assert complaint.status == S.APPROVED
    assert len(valid_signatures(complaint, "approved")) == 1
    assert complaint.approved_by == valid_signatures(complaint, "approved")[0].signer
    assert ComplaintTransition.objects.filter(complaint=complaint, to_status=S.APPROVED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_R_CO_3_approve_and_reject_at_once_exactly_one_wins(awaiting, gm, deputy_gm):
    outcomes = race(
        lambda: services.approve_disposition(
            gm, Complaint.objects.get(pk=awaiting.pk), password=PERSONA_PASSWORD
        ),
        lambda: services.reject_disposition(
            deputy_gm, Complaint.objects.get(pk=awaiting.pk), password=PERSONA_PASSWORD, reason="金额过高"
        ),
    )
    assert [str(o) for o in outcomes].count("ok") == 1, outcomes
    complaint = Complaint.objects.get(pk=awaiting.pk)
    assert complaint.status in (S.APPROVED, S.RESPONSIBILITY)
    decided = ComplaintTransition.objects.filter(complaint=complaint, from_status=S.AWAITING_APPROVAL)
    assert decided.count() == 1
