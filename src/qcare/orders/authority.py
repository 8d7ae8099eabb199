"""Approval authority (核决权限, R-OR-6) and the review routing matrix (R-OR-5), as lookups.

Both are configuration rows (``ApprovalRule``, ``ReviewRoute``) seeded with the SPEC defaults
by :mod:`qcare.orders.seed`; the functions here only read them. Order and change-request
services call :func:`rule_for` and :func:`require_approver`.
"""

from django.utils.translation import gettext as _

from qcare.core import policies
from qcare.core.errors import Conflict, NotPermitted
from qcare.orders.choices import OrderClass, TenderBand
from qcare.orders.models import ApprovalRule, ReviewRoute


def _tender_matches(band, order, limit):
    if band == TenderBand.ANY:
        return True
    if band == TenderBand.NOT_TENDER:
        return not order.is_tender
    if not order.is_tender:
        return False
    below = order.total_amount_cny < limit
    return below if band == TenderBand.TENDER_BELOW else not below


def rule_matches(rule, order, *, tender_limit=None):
    """Does ``rule`` apply to ``order`` (its class, tender band, export flag and CNY amount)?"""
    if tender_limit is None:
        tender_limit = policies.get("orders.tender_department_limit").amount
    amount = order.total_amount_cny
    return (
        (not rule.order_class or rule.order_class == order.order_class)
        and _tender_matches(rule.tender, order, tender_limit)
        and (rule.is_export is None or rule.is_export == order.is_export)
        and (rule.amount_from is None or amount >= rule.amount_from)
        and (rule.amount_below is None or amount < rule.amount_below)
    )


def rule_for(order):
    """The approval rule deciding who approves ``order`` (lowest priority that matches).

    Raises Conflict when no active rule matches: an administrator must add one; nobody
    can approve an order the authority does not cover.
    """
    limit = policies.get("orders.tender_department_limit").amount
    for rule in ApprovalRule.objects.filter(is_active=True).prefetch_related("approver_roles"):
        if rule_matches(rule, order, tender_limit=limit):
            return rule
    raise Conflict(_("No approval rule covers this order. Ask an administrator to add one."))


def approver_role_codes(rule):
    return {role.code for role in rule.approver_roles.all()}


def may_approve(user, rule):
    """True when ``user`` holds one of the rule's approver roles (and is active)."""
    if not user.is_active:
        return False
    held = set(user.roles.values_list("code", flat=True))
    return bool(held & approver_role_codes(rule))


def require_approver(user, rule):
    """Refuse (403) anyone the rule does not name, with the roles that may approve."""
    if not may_approve(user, rule):
        names = "、".join(str(role) for role in rule.approver_roles.all())
        raise NotPermitted(
            _("Only %(roles)s may approve this (approval rule: %(rule)s).")
            % {"roles": names, "rule": rule.name}
        )


def routes_for(order_class, *, optional_departments=()):
    """Active routes of a class: the mandatory ones plus the optional ones asked for."""
    wanted = {getattr(d, "pk", d) for d in optional_departments}
    routes = ReviewRoute.objects.filter(order_class=order_class, is_active=True).select_related("department")
    return [r for r in routes if not r.is_optional or r.department_id in wanted]


def optional_routes(order_class):
    return list(
        ReviewRoute.objects.filter(order_class=order_class, is_active=True, is_optional=True).select_related(
            "department"
        )
    )


def order_class_label(value):
    return OrderClass(value).label if value else ""
