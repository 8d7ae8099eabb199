"""Penalty tracking from complaints (R-CO-8), an optional feature.

Off by default (policy ``complaints.penalties_enabled``) and only for the dedicated penalty
officer role (``penalties.change``). Warnings and demerits are records; a bonus deduction is
applied month by month: in any month the deductions of one person together take at most
``complaints.penalty_cap`` % (default 50 %) of the monthly bonus, and the remainder is carried
over to the following months (:class:`PenaltyInstalment` rows, one per month).
"""

import re
from decimal import ROUND_DOWN, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.complaints.choices import PenaltyKind
from qcare.complaints.models import Penalty, PenaltyInstalment
from qcare.core import policies
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ValidationFailed

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CENT = Decimal("0.01")
#: A deduction spread over more months than this is refused (a typo in the amount, not a plan).
MAX_MONTHS = 120


def penalties_enabled():
    """Whether penalty tracking is switched on (policy ``complaints.penalties_enabled``)."""
    return bool(policies.get("complaints.penalties_enabled"))


def _require_enabled():
    if not penalties_enabled():
        raise Conflict(_("Penalty tracking is switched off (policy “Penalty tracking”)."))


def next_period(period):
    year, month = (int(x) for x in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def monthly_cap(monthly_bonus):
    """The most that may be deducted from ``monthly_bonus`` in one month (policy cap %)."""
    cap = Decimal(str(policies.get("complaints.penalty_cap")))
    return (Decimal(monthly_bonus) * cap / 100).quantize(CENT, rounding=ROUND_DOWN)


def _amount(value, field, errors):
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except ArithmeticError:
        errors[field] = [_("Enter a number.")]
        return None
    if not amount.is_finite():
        errors[field] = [_("Enter a number.")]
        return None
    return amount


def _validate(kind, reason, amount, monthly_bonus, start_period):
    errors = {}
    if kind not in PenaltyKind.values:
        errors["kind"] = [_("Choose a kind of penalty.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Give the reason for the penalty.")]
    if not PERIOD_RE.match(str(start_period or "")):
        errors["start_period"] = [_("Enter a month as YYYY-MM.")]
    amount = _amount(amount, "amount", errors)
    bonus = _amount(monthly_bonus, "monthly_bonus", errors) if monthly_bonus not in (None, "") else None
    if kind == PenaltyKind.BONUS_DEDUCTION:
        if amount is not None and amount <= 0:
            errors["amount"] = [_("A bonus deduction needs an amount above zero.")]
        if bonus is None and "monthly_bonus" not in errors:
            errors["monthly_bonus"] = [_("Enter the person's monthly bonus: the deduction is capped by it.")]
        elif bonus is not None and bonus <= 0:
            errors["monthly_bonus"] = [_("The monthly bonus must be above zero.")]
        elif bonus is not None and monthly_cap(bonus) <= 0:
            errors["monthly_bonus"] = [_("With the current cap nothing can be deducted from this bonus.")]
    elif amount not in (None, Decimal("0")):
        errors["amount"] = [_("Only a bonus deduction has an amount.")]
    if errors:
        raise ValidationFailed(_("Please correct the penalty."), errors=errors)
    return amount.quantize(CENT), (bonus.quantize(CENT) if bonus is not None else None)


def _already_deducted(person, exclude_penalty=None):
    """``{period: amount}`` deducted from ``person`` by their other penalties."""
    rows = PenaltyInstalment.objects.filter(penalty__person=person)
    if exclude_penalty is not None:
        rows = rows.exclude(penalty=exclude_penalty)
    return {r["period"]: r["total"] for r in rows.values("period").annotate(total=Sum("amount"))}


def plan_instalments(amount, monthly_bonus, start_period, deducted=None):
    """``[(period, deducted, carried_over)]`` spreading ``amount`` from ``start_period`` on.

    Each month takes what is left of the cap (``monthly_cap(monthly_bonus)`` minus what the
    person's other penalties ``deducted`` already take that month); the rest is carried over.
    A month with no room left gets no row.
    """
    deducted = deducted or {}
    cap = monthly_cap(monthly_bonus)
    remaining, period, plan = amount, start_period, []
    for _month in range(MAX_MONTHS * 2):
        room = max(cap - deducted.get(period, Decimal("0")), Decimal("0"))
        take = min(room, remaining)
        if take > 0:
            remaining -= take
            plan.append((period, take, remaining))
        if remaining <= 0:
            return plan
        period = next_period(period)
    raise ValidationFailed(
        _("The deduction would run for more than %(months)d months; check the amount.")
        % {"months": MAX_MONTHS},
        errors={
            "amount": [_("The deduction would run for more than %(months)d months.") % {"months": MAX_MONTHS}]
        },
    )


def record_penalty(
    actor, *, person, kind, reason, amount=0, monthly_bonus=None, start_period, complaint=None
):
    """Record a warning, demerit or bonus deduction for ``person`` (R-CO-8, optional).

    Needs ``penalties.change`` (only the penalty officer role holds it) and the feature switched
    on. A bonus deduction gets its monthly instalments at once: at most the cap % of the
    monthly bonus per month for the person (counting their other penalties), the rest carried
    over. Returns the penalty.
    """
    require_perm(actor, "penalties.change")
    _require_enabled()
    amount, bonus = _validate(kind, reason, amount, monthly_bonus, start_period)
    User = get_user_model()
    person_id = getattr(person, "pk", person)
    with audit_context(actor=actor, reason=reason), transaction.atomic():
        # Lock the person: two penalties recorded at once must share the same monthly cap.
        person = User.objects.select_for_update().filter(pk=person_id).first()
        if person is None:
            raise ValidationFailed(_("Choose the person."), errors={"person": [_("Choose the person.")]})
        penalty = Penalty.objects.create(
            complaint=complaint,
            person=person,
            kind=kind,
            amount=amount,
            monthly_bonus=bonus,
            start_period=start_period,
            reason=reason.strip(),
            recorded_by=actor,
        )
        if kind == PenaltyKind.BONUS_DEDUCTION:
            plan = plan_instalments(amount, bonus, start_period, _already_deducted(person, penalty))
            for period, take, carried in plan:  # a few rows, each in the audit trail
                PenaltyInstalment.objects.create(
                    penalty=penalty, period=period, amount=take, carried_over=carried
                )
    return penalty


def penalty_schedule(penalty):
    """The months of a bonus deduction: ``[{period, amount, carried_over}]`` and totals.

    Returns ``{"rows": [...], "total": Decimal, "months": n, "last_period": "YYYY-MM" | None}``.
    """
    rows = [
        {"period": i.period, "amount": i.amount, "carried_over": i.carried_over}
        for i in penalty.instalments.order_by("period", "pk")
    ]
    return {
        "rows": rows,
        "total": sum((r["amount"] for r in rows), Decimal("0")),
        "months": len(rows),
        "last_period": rows[-1]["period"] if rows else None,
    }


def penalties_for(user):
    """The penalties ``user`` may view (``penalties.view``), newest first; none while switched off."""
    if not penalties_enabled():
        return Penalty.objects.none()
    return (
        Penalty.objects.restrict(user, "view").select_related("person", "complaint").order_by("-created_at")
    )
