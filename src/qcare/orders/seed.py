"""Default review routing matrix (R-OR-5) and approval authority (R-OR-6) from the SPEC.

Seeded after every ``migrate`` (idempotent): routes only for classes that have none yet, rules
only when there are none, so an administrator's configuration is never overwritten.
"""

from django.db import transaction

from qcare.core.context import audit_context
from qcare.orders.choices import OrderClass, ReviewAspect, Subject, TenderBand

A, S = ReviewAspect, Subject
_SALES = ("sales", [A.TERMS], [S.PRICE, S.PAYMENT_TERMS, S.REQUIREMENTS], False)
_PRODUCTION = ("production", [A.CAPACITY], [S.PRODUCT, S.SPECIFICATION, S.QUANTITY, S.DELIVERY_DATE], False)
_PURCHASING = ("purchasing", [A.MATERIAL], [S.PRODUCT, S.SPECIFICATION, S.QUANTITY], False)

#: class -> [(department code, aspects, subjects it signs, optional)]
DEFAULT_ROUTES = {
    OrderClass.REGULAR_IN_STOCK: [
        _SALES,
        ("warehouse", [A.STOCK], [S.PRODUCT, S.SPECIFICATION, S.QUANTITY], False),
    ],
    OrderClass.REGULAR_NO_STOCK: [_PRODUCTION, _PURCHASING, _SALES],
    OrderClass.SPECIAL: [
        _PRODUCTION,
        _PURCHASING,
        _SALES,
        ("rnd", [A.TECHNICAL], [S.PRODUCT, S.SPECIFICATION, S.PACKAGING, S.REQUIREMENTS], False),
        ("quality", [A.ACCEPTANCE], [S.PRODUCT, S.SPECIFICATION, S.ACCEPTANCE, S.REQUIREMENTS], False),
        ("warehouse", [A.TRANSPORT], [S.DELIVERY_MODE, S.PACKAGING], True),
        ("finance", [A.CREDIT], [S.PRICE, S.PAYMENT_TERMS], True),
    ],
}

#: (priority, name, class, tender band, export, approver role codes)
DEFAULT_RULES = [
    (10, "出口合同：总经理批准 / Export contract: GM", "", TenderBand.ANY, True, ["gm"]),
    (
        20,
        "投标金额≥部门限额：总经理批准 / Tender at or above the limit: GM",
        "",
        TenderBand.TENDER_AT_OR_ABOVE,
        None,
        ["gm"],
    ),
    (
        30,
        "投标金额<部门限额：部门评审 / Tender below the limit: sales manager",
        "",
        TenderBand.TENDER_BELOW,
        None,
        ["sales_manager"],
    ),
    (
        40,
        "特殊订单：副总经理/总经理批准 / Special order: deputy GM or GM",
        OrderClass.SPECIAL,
        TenderBand.ANY,
        None,
        ["deputy_gm", "gm"],
    ),
    (
        50,
        "常规订单：销售经理批准 / Regular order: sales manager",
        "",
        TenderBand.ANY,
        None,
        ["sales_manager"],
    ),
]


def seed_routing(using="default"):
    """Create the default matrix and rules where none exist (idempotent)."""
    from qcare.accounts.models import Department, Role
    from qcare.orders.models import ApprovalRule, ReviewRoute

    departments = {d.code: d for d in Department.objects.using(using).all()}
    roles = {r.code: r for r in Role.objects.using(using).all()}
    with (
        transaction.atomic(using=using),
        audit_context(reason="默认配置 / default configuration (SPEC R-OR-5, R-OR-6)"),
    ):
        for order_class, routes in DEFAULT_ROUTES.items():
            if ReviewRoute.objects.using(using).filter(order_class=order_class).exists():
                continue
            for position, (code, aspects, subjects, optional) in enumerate(routes):
                if code not in departments:
                    continue
                ReviewRoute.objects.using(using).create(
                    order_class=order_class,
                    department=departments[code],
                    aspects=[str(a) for a in aspects],
                    subjects=[str(s) for s in subjects],
                    is_optional=optional,
                    sort_order=(position + 1) * 10,
                )
        if not ApprovalRule.objects.using(using).exists():
            for priority, name, order_class, tender, export, role_codes in DEFAULT_RULES:
                rule = ApprovalRule.objects.using(using).create(
                    priority=priority, name=name, order_class=order_class, tender=tender, is_export=export
                )
                rule.approver_roles.set([roles[c] for c in role_codes if c in roles])
