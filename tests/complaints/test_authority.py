"""Approval authority of the disposition by loss band (SPEC R-CO-3, decision 5001): the band
boundaries come from the policies; a higher role may approve a lower band; everyone needs
complaints.approve with the complaint in scope."""

from decimal import Decimal

import pytest

from qcare.complaints import authority, services
from qcare.core import policies
from qcare.core.errors import NotPermitted
from tests.complaints.test_workflow_support import (
    english_fixture,  # noqa: F401  (fixture)
    investigate,
    propose,
    responsibility,
    triage,
)


@pytest.mark.parametrize(
    ("amount", "band"),
    [
        ("0", "sales_manager"),
        ("4999.99", "sales_manager"),
        ("5000", "deputy_gm"),
        ("20000", "deputy_gm"),
        ("49999.99", "deputy_gm"),
        ("50000", "gm"),
        ("1000000", "gm"),
    ],
)
def test_R_CO_3_band_for_the_default_policies(db, amount, band):
    assert authority.band_for(Decimal(amount)) == band


def test_R_CO_3_changing_a_policy_moves_the_band(administrator):
    assert authority.band_for(Decimal("8000")) == "deputy_gm"
    policies.set_policy(administrator, "complaints.approval.sales_manager_limit", "10,000", "管理评审决议")
    assert authority.band_for(Decimal("8000")) == "sales_manager"
    assert authority.band_for(Decimal("10000")) == "deputy_gm"
    policies.set_policy(administrator, "complaints.approval.deputy_gm_limit", "20000", "管理评审决议")
    assert authority.band_for(Decimal("19999.99")) == "deputy_gm"
    assert authority.band_for(Decimal("20000")) == "gm"


def test_R_CO_3_a_higher_role_may_approve_a_lower_band(
    sales_manager, deputy_gm, gm, quality_engineer, administrator, sales_clerk
):
    assert authority.can_approve(sales_manager, Decimal("4999.99"))
    assert not authority.can_approve(sales_manager, Decimal("5000"))
    assert authority.can_approve(deputy_gm, Decimal("100")) and authority.can_approve(
        deputy_gm, Decimal("49999")
    )
    assert not authority.can_approve(deputy_gm, Decimal("50000"))
    assert authority.can_approve(gm, Decimal("100")) and authority.can_approve(gm, Decimal("9999999"))
    # complaints.approve alone (the administrator's wildcard) or the role alone is not enough
    for user in (quality_engineer, administrator, sales_clerk):
        assert not authority.can_approve(user, Decimal("1"))


def test_R_CO_3_band_is_stored_when_proposed_and_names_the_approvers(
    sales_clerk, complaint_fields, quality_engineer, sales_manager, deputy_gm, gm, administrator
):
    complaint = services.register_complaint(sales_clerk, **complaint_fields)
    triage(complaint, quality_engineer)
    investigate(complaint, quality_engineer)
    responsibility(complaint, quality_engineer)
    propose(complaint, quality_engineer, loss="3000")
    assert complaint.approval_band == "sales_manager"
    assert authority.approvers_for(complaint) == sorted([sales_manager, deputy_gm, gm], key=lambda u: u.pk)
    # a later policy change does not move the case already waiting
    policies.set_policy(administrator, "complaints.approval.sales_manager_limit", "1000", "收紧权限")
    assert authority.band_for(complaint.loss_amount) == "deputy_gm"
    authority.require_approver(sales_manager, complaint)  # the stored band decides
    complaint.approval_band = "gm"
    with pytest.raises(NotPermitted, match="above your approval band: the General manager"):
        authority.require_approver(deputy_gm, complaint)
