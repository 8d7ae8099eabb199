"""Services of the configuration screens of orders: the review routing matrix (R-OR-5) and
the approval authority (核决权限, R-OR-6).

Both are controlled configuration: permission ``orders.configure``, a reason for every
change (recorded in the audit trail with the actor), translated field errors, one
transaction each (DESIGN rule 1). The lookups that use the rows live in ``authority.py``.
"""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.core.context import audit_context
from qcare.core.errors import ReasonRequired, ValidationFailed
from qcare.orders.choices import OrderClass, ReviewAspect, Subject, TenderBand
from qcare.orders.models import ApprovalRule, ReviewRoute

ROUTE_FIELDS = ("aspects", "subjects", "is_optional", "sort_order", "is_active")
RULE_FIELDS = (
    "priority",
    "name",
    "order_class",
    "tender",
    "is_export",
    "amount_from",
    "amount_below",
    "is_active",
)


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired()
    return reason.strip()


def _fail(errors):
    raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _codes(values, allowed, field, errors, *, required):
    """The chosen codes as plain strings in the enumeration's order; errors for unknown ones."""
    chosen = [str(v) for v in values or ()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        errors[field] = [_("Unknown value: %(values)s.") % {"values": ", ".join(unknown)}]
    elif required and not chosen:
        errors[field] = [_("Choose at least one.")]
    return [code for code in allowed if code in chosen]


def _clean_route(data, errors):
    cleaned = dict(data)
    if "aspects" in data:
        cleaned["aspects"] = _codes(data["aspects"], ReviewAspect.values, "aspects", errors, required=True)
    if "subjects" in data:
        cleaned["subjects"] = _codes(data["subjects"], Subject.values, "subjects", errors, required=True)
    return cleaned


def create_route(
    actor,
    *,
    order_class,
    department,
    aspects,
    subjects,
    is_optional=False,
    sort_order=100,
    is_active=True,
    reason,
):
    """Add a department to the routing matrix of one order class (R-OR-5)."""
    require_perm(actor, "orders.configure")
    reason = _require_reason(reason)
    errors = {}
    if order_class not in OrderClass.values:
        errors["order_class"] = [_("Choose an order class.")]
    if department is None:
        errors["department"] = [_("Choose a department.")]
    elif ReviewRoute.objects.filter(order_class=order_class, department=department).exists():
        errors["department"] = [_("This department is already in the matrix of this class.")]
    data = _clean_route({"aspects": aspects, "subjects": subjects}, errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        return ReviewRoute.objects.create(
            order_class=order_class,
            department=department,
            aspects=data["aspects"],
            subjects=data["subjects"],
            is_optional=bool(is_optional),
            sort_order=sort_order,
            is_active=bool(is_active),
        )


def update_route(actor, route, *, data, reason, expected_version=None):
    """Change what a department reviews, whether it is optional, its place, or withdraw it.

    Orders already submitted keep the reviews they were routed to; the change applies to the
    next submission or re-routing.
    """
    require_perm(actor, "orders.configure")
    reason = _require_reason(reason)
    route.check_version(expected_version)
    unknown = set(data) - set(ROUTE_FIELDS)
    if unknown:
        _fail({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    errors = {}
    data = _clean_route(data, errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name, value in data.items():
            setattr(route, name, value)
        route.save()
    return route


def _clean_rule(data, errors):
    cleaned = dict(data)
    if "name" in data:
        cleaned["name"] = (data.get("name") or "").strip()
        if not cleaned["name"]:
            errors["name"] = [_("This field is required.")]
    if data.get("order_class") and data["order_class"] not in OrderClass.values:
        errors["order_class"] = [_("Choose an order class.")]
    if "tender" in data and data["tender"] not in TenderBand.values:
        errors["tender"] = [_("Choose how the rule treats tenders.")]
    low, high = data.get("amount_from"), data.get("amount_below")
    for name in ("amount_from", "amount_below"):
        if data.get(name) is not None and Decimal(data[name]) < 0:
            errors[name] = [_("The amount cannot be negative.")]
    if low is not None and high is not None and Decimal(low) >= Decimal(high):
        errors["amount_below"] = [_("The upper limit must be above the lower limit.")]
    return cleaned


def _clean_roles(roles, errors):
    roles = list(roles or ())
    if not roles:
        errors["approver_roles"] = [_("Choose at least one role that may approve.")]
    return roles


def create_rule(actor, *, data, approver_roles, reason):
    """Add an approval rule (R-OR-6); the active rule with the lowest priority that matches decides."""
    require_perm(actor, "orders.configure")
    reason = _require_reason(reason)
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        _fail({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    errors = {}
    data = _clean_rule({"name": "", "tender": TenderBand.ANY} | data, errors)
    roles = _clean_roles(approver_roles, errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        rule = ApprovalRule.objects.create(**data)
        rule.approver_roles.set(roles)
    return rule


def update_rule(actor, rule, *, data, approver_roles=None, reason, expected_version=None):
    """Change an approval rule's priority, conditions, approver roles or withdraw it (inactive).

    Orders already approved keep their approval; orders awaiting approval are decided by the
    rules as they are when the approver signs.
    """
    require_perm(actor, "orders.configure")
    reason = _require_reason(reason)
    rule.check_version(expected_version)
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        _fail({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    errors = {}
    merged = {name: getattr(rule, name) for name in RULE_FIELDS} | data
    _clean_rule(merged, errors)
    roles = _clean_roles(approver_roles, errors) if approver_roles is not None else None
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name, value in data.items():
            setattr(rule, name, value.strip() if name == "name" else value)
        rule.save()
        if roles is not None:
            before = set(rule.approver_roles.values_list("pk", flat=True))
            if before != {role.pk for role in roles}:
                rule.approver_roles.set(roles)
    return rule
