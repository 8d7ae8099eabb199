"""Classification of orders (R-OR-4): computed at submission with every reason, regular in stock
only when every line is in stock, overridable by the sales manager with an audited reason."""

from decimal import Decimal

import pytest

from qcare.audit.models import AuditEntry
from qcare.core import policies
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.orders import services
from qcare.orders.choices import OrderClass, OrderStatus
from qcare.orders.models import Order
from tests.customers.conftest import create_customer_row
from tests.orders.test_workflow_support import (
    PERSONA_PASSWORD,
    departments,
    english_fixture,  # noqa: F401  (fixture)
    line,
    make_known,
    make_order,
    review_of,
    sign,
    sign_all,
    team_fixture,  # noqa: F401  (fixture)
)


@pytest.fixture
def known(sales_clerk, hospital):
    """An end user with an earlier approved order: its orders are not "first orders"."""
    make_known(hospital, sales_clerk)
    return hospital


def codes(reasons):
    return [r["code"] for r in reasons]


def test_R_OR_4_regular_in_stock_only_when_every_line_is_in_stock(sales_clerk, known, device, accessory):
    order = make_order(sales_clerk, known, line(device, in_stock=True), line(accessory, in_stock=True))
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.REGULAR_IN_STOCK and codes(reasons) == ["all_in_stock"]
    assert services.reason_texts(reasons) == ["Standard products, all lines in stock"]
    mixed = make_order(sales_clerk, known, line(device, in_stock=True), line(accessory))  # stock unknown
    assert services.classify(mixed) == (OrderClass.REGULAR_NO_STOCK, [{"code": "not_in_stock", "params": {}}])


def test_R_OR_4_amount_at_threshold_is_special(sales_clerk, known, device):
    order = make_order(sales_clerk, known, line(device, qty="2", price="130000"))
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.SPECIAL and codes(reasons) == ["amount"]
    assert services.reason_texts(reasons) == ["Amount 260,000.00 ≥ 200,000.00"]
    at = make_order(sales_clerk, known, line(device, qty="1", price="200000"))
    assert services.classify(at)[0] == OrderClass.SPECIAL
    below = make_order(sales_clerk, known, line(device, qty="1", price="199999.99"))
    assert services.classify(below)[0] != OrderClass.SPECIAL


def test_R_OR_4_amount_is_compared_in_cny(sales_clerk, known, device):
    order = make_order(
        sales_clerk, known, line(device, qty="1", price="30000"), currency="USD", exchange_rate="7.2"
    )
    assert order.total_amount_cny == Decimal("216000.00")
    assert codes(services.classify(order)[1]) == ["amount"]


def test_R_OR_4_first_order_of_a_customer_is_special(sales_clerk, hospital, device, administrator):
    order = make_order(sales_clerk, hospital, line(device, in_stock=True))
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.SPECIAL and codes(reasons) == ["first_order"]
    assert services.reason_texts(reasons) == ["First order of this customer"]
    policies.set_policy(administrator, "orders.first_order_is_special", False, reason="管理评审决定")
    assert services.classify(order)[0] == OrderClass.REGULAR_IN_STOCK


def test_R_OR_4_product_not_standard_is_named(sales_clerk, known, custom_device, device):
    order = make_order(sales_clerk, known, line(custom_device), line(device), line(custom_device))
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.SPECIAL
    assert services.reason_texts(reasons) == [f"Product {custom_device} is not standard (new or modified)"]


def test_R_OR_4_oem_customer_is_special(sales_clerk, device):
    oem = create_customer_row(sales_clerk, type_code="oem", name="贴牌客户")
    make_known(oem, sales_clerk)
    order = make_order(sales_clerk, oem, line(device, in_stock=True))
    assert services.classify(order) == (OrderClass.SPECIAL, [{"code": "oem", "params": {}}])


def test_R_OR_4_export_is_special(sales_clerk, known, device):
    order = make_order(sales_clerk, known, line(device, in_stock=True), is_export=True)
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.SPECIAL and services.reason_texts(reasons) == ["Export order"]


def test_R_OR_4_special_delivery_demands_are_special(sales_clerk, known, device):
    order = make_order(sales_clerk, known, line(device, in_stock=True), special_delivery="须 3 天内空运到货")
    order_class, reasons = services.classify(order)
    assert order_class == OrderClass.SPECIAL
    assert services.reason_texts(reasons) == ["Special delivery demands: 须 3 天内空运到货"]


def test_R_OR_4_every_reason_is_listed(sales_clerk, custom_device):
    oem = create_customer_row(sales_clerk, type_code="oem", name="贴牌出口客户")
    order = make_order(
        sales_clerk,
        oem,
        line(custom_device, qty="3", price="100000"),
        is_export=True,
        special_delivery="加急",
    )
    assert codes(services.classify(order)[1]) == [
        "amount",
        "first_order",
        "not_standard",
        "oem",
        "export",
        "special_delivery",
    ]


def test_R_OR_4_class_and_reasons_are_stored_at_submission(sales_clerk, known, device, team):
    order = make_order(sales_clerk, known, line(device, in_stock=True))
    assert order.order_class == "" and order.class_reasons == []
    services.submit_order(sales_clerk, order)
    order.refresh_from_db()
    assert order.order_class == order.computed_class == OrderClass.REGULAR_IN_STOCK
    assert codes(order.class_reasons) == ["all_in_stock"] and order.is_first_order is False
    assert departments(order) == ["sales", "warehouse"]
    no_stock = services.submit_order(sales_clerk, make_order(sales_clerk, known, line(device)))
    assert departments(no_stock) == ["production", "purchasing", "sales"]


def test_R_OR_4_override_by_sales_manager_with_audited_reason(
    sales_clerk, sales_manager, known, device, team
):
    order = services.submit_order(sales_clerk, make_order(sales_clerk, known, line(device, in_stock=True)))
    sign(team["warehouse"], review_of(order, "warehouse"))
    services.override_class(sales_manager, order, order_class=OrderClass.SPECIAL, reason="客户要求定制标签")
    order.refresh_from_db()
    assert order.order_class == OrderClass.SPECIAL and order.computed_class == OrderClass.REGULAR_IN_STOCK
    assert order.class_overridden_by == sales_manager and order.class_override_reason == "客户要求定制标签"
    assert services.reason_texts(order.class_reasons)[-1] == "Class overridden to “Special”: 客户要求定制标签"
    entry = AuditEntry.objects.filter(object_pk=str(order.pk), reason="客户要求定制标签", actor=sales_manager)
    assert entry.filter(changes__has_key="order_class").exists()
    # Re-routed: the special departments are asked; warehouse (stock → transport, optional) is dropped.
    assert departments(order) == ["production", "purchasing", "quality", "rnd", "sales"]
    # The override stands when the order comes back from clarification.
    sign(team["rnd"], review_of(order, "rnd"), "cannot_meet", "标签需重新设计")
    services.answer_question(sales_clerk, order.questions.get(), answer="客户接受标准标签")
    services.resubmit_order(sales_clerk, order)
    assert order.order_class == OrderClass.SPECIAL


def test_R_OR_4_override_needs_permission_reason_and_an_open_order(
    sales_clerk, sales_manager, known, device, team, gm
):
    order = services.submit_order(sales_clerk, make_order(sales_clerk, known, line(device, in_stock=True)))
    with pytest.raises(NotPermitted):
        services.override_class(sales_clerk, order, order_class=OrderClass.SPECIAL, reason="x")
    with pytest.raises(ReasonRequired):
        services.override_class(sales_manager, order, order_class=OrderClass.SPECIAL, reason="")
    with pytest.raises(ValidationFailed):
        services.override_class(sales_manager, order, order_class=OrderClass.REGULAR_IN_STOCK, reason="同类")
    sign_all(order, team)
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)
    with pytest.raises(Conflict):
        services.override_class(gm, order, order_class=OrderClass.SPECIAL, reason="事后")
    assert Order.objects.get(pk=order.pk).order_class == OrderClass.REGULAR_IN_STOCK


def test_R_OR_4_override_down_to_regular_moves_on_to_approval(
    sales_clerk, sales_manager, known, device, team
):
    """A special order whose special reviews are all signed except R&D and quality, overridden
    to regular (not in stock): R&D and quality are no longer asked, the order awaits approval
    by the sales manager."""
    order = services.submit_order(
        sales_clerk, make_order(sales_clerk, known, line(device, qty="1", price="250000"))
    )
    sign_all(order, team, except_=("rnd", "quality"))
    services.override_class(
        sales_manager, order, order_class=OrderClass.REGULAR_NO_STOCK, reason="框架协议价"
    )
    assert departments(order) == ["production", "purchasing", "sales"]
    assert order.status == OrderStatus.AWAITING_APPROVAL
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)
