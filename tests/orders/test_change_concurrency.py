"""Change control under concurrency (R-OR-8, "concurrent approval and change request on the same
order: exactly one wins"), with real threads and committed transactions, on SQLite and PostgreSQL."""

import pytest

from qcare.orders import services_change as changes
from qcare.orders.choices import ChangeStatus
from qcare.orders.models import ChangeAcknowledgement, ChangeRequest, OrderVersion
from tests.orders.test_workflow_concurrency import race
from tests.orders.test_workflow_support import (
    approved_order,
    english_fixture,  # noqa: F401  (fixture: messages in English)
    line,
    make_order,
    sign,
    team_fixture,  # noqa: F401  (fixture: team)
)
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def special_order(sales_clerk, gm, distributor, device, team):
    """A special order (first order of the customer), approved by the GM."""
    return approved_order(
        make_order(sales_clerk, distributor, line(device, qty="10", price="1000")), team, gm
    )


def change_awaiting_approval(clerk, order, team, quantity="12"):
    change = changes.create_change_request(
        clerk,
        order,
        proposed={"lines": [{"line_no": 1, "quantity": quantity}]},
        reason="客户追加数量",
        customer_agreed=True,
        customer_agreement="客户邮件确认",
    )
    change = changes.submit_change_request(clerk, change)
    for review in changes.change_reviews(change).filter(status="pending"):
        sign(team[review.department.code], review)
    change.refresh_from_db()
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    return change


def test_R_OR_8_two_approvers_of_one_change_exactly_one_applies(
    special_order, sales_clerk, gm, deputy_gm, team
):
    change = change_awaiting_approval(sales_clerk, special_order, team)
    outcomes = race(
        *(
            lambda user=user: changes.approve_change_request(user, change, password=PERSONA_PASSWORD)
            for user in (gm, deputy_gm)
        )
    )
    assert outcomes.count("ok") == 1, outcomes
    special_order.refresh_from_db()
    assert special_order.change_count == 1
    assert list(OrderVersion.objects.filter(order=special_order).values_list("number", flat=True)) == [1, 2]
    assert ChangeAcknowledgement.objects.filter(change_request=change).count() == 5
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED


def test_R_OR_8_approval_and_a_second_change_request_race_exactly_one_wins(
    special_order, sales_clerk, sales_manager, gm, team
):
    """While change A is being approved, sales asks for change B on the order version it saw:
    B waits for the lock and is refused (A was open, or the order moved on) — or, in the other
    order, A's approval finds nothing changed by B, which could not be created while A is open."""
    change = change_awaiting_approval(sales_clerk, special_order, team)
    seen_version = special_order.version
    outcomes = race(
        lambda: changes.approve_change_request(gm, change, password=PERSONA_PASSWORD),
        lambda: changes.create_change_request(
            sales_manager,
            special_order,
            proposed={"header": {"payment_terms": "月结 60 天"}},
            reason="另一个变更",
            expected_version=seen_version,
        ),
    )
    assert outcomes[0] == "ok" and outcomes[1] != "ok", outcomes
    assert ChangeRequest.objects.filter(order=special_order).count() == 1
    special_order.refresh_from_db()
    assert special_order.change_count == 1


def test_R_OR_8_two_change_requests_at_once_exactly_one_is_created(special_order, sales_clerk, sales_manager):
    outcomes = race(
        *(
            lambda user=user, terms=terms: changes.create_change_request(
                user,
                special_order,
                proposed={"header": {"payment_terms": terms}},
                reason="客户要求调整账期",
            )
            for user, terms in ((sales_clerk, "月结 30 天"), (sales_manager, "月结 60 天"))
        )
    )
    assert outcomes.count("ok") == 1, outcomes
    assert ChangeRequest.objects.filter(order=special_order).count() == 1


def test_R_OR_8_approval_and_withdrawal_race_exactly_one_wins(special_order, sales_clerk, gm, team):
    change = change_awaiting_approval(sales_clerk, special_order, team)
    outcomes = race(
        lambda: changes.approve_change_request(gm, change, password=PERSONA_PASSWORD),
        lambda: changes.withdraw_change_request(sales_clerk, change, reason="客户撤回"),
    )
    assert outcomes.count("ok") == 1, outcomes
    change.refresh_from_db()
    special_order.refresh_from_db()
    if outcomes[0] == "ok":
        assert change.status == ChangeStatus.APPLIED and special_order.change_count == 1
    else:
        assert change.status == ChangeStatus.WITHDRAWN and special_order.change_count == 0
        assert special_order.lines.get(line_no=1).quantity == 10
