"""Concurrent decisions on one order (issue 4 "Bad input and safety"): real threads, real
transactions, on SQLite and PostgreSQL. The order row is locked and re-read, so exactly one of
two simultaneous decisions wins and the other is refused with a clear message."""

import threading

import pytest
from django.db import connection

from qcare.core.errors import Conflict, DomainError
from qcare.core.signatures import valid_signatures
from qcare.orders import services
from qcare.orders.choices import OrderStatus
from qcare.orders.models import Order, OrderTransition, OrderVersion
from tests.orders.test_workflow_support import (
    PERSONA_PASSWORD,
    english_fixture,  # noqa: F401  (fixture)
    line,
    make_order,
    sign_all,
    team_fixture,  # noqa: F401  (fixture)
)


def race(*actions):
    """Run the actions at the same moment in threads; returns their outcomes ("ok" or the error)."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            action()
            outcomes[index] = "ok"
        except DomainError as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture
def awaiting(team, sales_clerk, distributor, device):
    """A special order (formal contract), reviewed, awaiting approval by the deputy GM or the GM."""
    order = make_order(sales_clerk, distributor, line(device, qty="10", price="30000"))
    services.submit_order(sales_clerk, order)
    sign_all(order, team)
    assert order.status == OrderStatus.AWAITING_APPROVAL
    return order


@pytest.mark.django_db(transaction=True)
def test_R_OR_6_two_approvers_at_once_exactly_one_wins(awaiting, gm, deputy_gm):
    def approve(user):
        return lambda: services.approve_order(
            user, Order.objects.get(pk=awaiting.pk), password=PERSONA_PASSWORD
        )

    outcomes = race(approve(gm), approve(deputy_gm))
    assert sorted(map(str, outcomes)).count("ok") == 1, outcomes
    refused = next(o for o in outcomes if o != "ok")
    assert isinstance(refused, Conflict), refused
    order = Order.objects.get(pk=awaiting.pk)
    assert order.status == OrderStatus.APPROVED
    assert len(valid_signatures(order, "approved")) == 1
    assert OrderVersion.objects.filter(order=order).count() == 1
    assert OrderTransition.objects.filter(order=order, to_status=OrderStatus.APPROVED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_R_OR_6_approve_and_reject_at_once_exactly_one_wins(awaiting, gm, deputy_gm):
    loaded = Order.objects.get(pk=awaiting.pk)
    version = loaded.version
    outcomes = race(
        lambda: services.approve_order(
            gm, Order.objects.get(pk=awaiting.pk), password=PERSONA_PASSWORD, expected_version=version
        ),
        lambda: services.reject_order(
            deputy_gm,
            Order.objects.get(pk=awaiting.pk),
            password=PERSONA_PASSWORD,
            reason="价格",
            expected_version=version,
        ),
    )
    assert [str(o) for o in outcomes].count("ok") == 1, outcomes
    order = Order.objects.get(pk=awaiting.pk)
    assert order.status in (OrderStatus.APPROVED, OrderStatus.REJECTED)
    decisions = OrderTransition.objects.filter(order=order, to_status__in=["approved", "rejected"])
    assert decisions.count() == 1
