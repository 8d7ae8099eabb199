"""Returns, allowances and compensations from an approved disposition (退货, 折让, 赔款; SPEC R-CO-7).

* :func:`issue_return` — return note (退货单 ``TH-…``) with the approved quantity, reason, the
  disposition of the goods and its basis; never more than the disposition approved.
* :func:`receive_return` — the warehouse records the quantity actually received and signs it.
* :func:`inspect_return` — quality inspects and writes the quality abnormality report (品质异常处理报告).
* :func:`post_return` — accounting posts the return when the received quantity equals the
  approved one within the tolerance (:func:`tolerance_for`: the customer's over-delivery
  tolerance, else policy ``returns.quantity_tolerance``); otherwise the note is escalated to
  the management representative and the sales managers, and :func:`resolve_escalated_return`
  posts or cancels it with a reason.
* :func:`record_settlement` / :func:`settle` / :func:`cancel_settlement` — allowance (销货折让证明单)
  and compensation (赔款) records for finance; together never more than the approved loss.

Every function follows DESIGN rule 1: permission, state, translated errors, one transaction
inside ``audit_context`` (the step name is the reason the controlled records need), the
notifications queued in the same transaction. The complaint row is locked while quantities or
amounts are checked against it, so two concurrent returns cannot together exceed the disposition.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.complaints.choices import (
    RETURN_TRANSITIONS,
    ComplaintStatus,
    Disposition,
    ReturnDisposition,
    ReturnStatus,
    SettlementKind,
    SettlementStatus,
)
from qcare.complaints.models import Complaint, ReturnNote, Settlement
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted
from qcare.core.numbering import next_number
from qcare.core.service_helpers import fail as _fail
from qcare.core.service_helpers import require_reason as _require_reason
from qcare.notifications.services import notify
from qcare.orders.values import as_decimal

#: A disposition counts as approved in these complaint states (approved, replied, closed).
APPROVED_STATES = (ComplaintStatus.APPROVED, ComplaintStatus.REPLIED, ComplaintStatus.CLOSED)
#: Dispositions that bring goods back (return notes).
RETURN_DISPOSITIONS = (Disposition.RETURN, Disposition.REPLACE, Disposition.REWORK)
#: Dispositions that pay the customer (allowance / compensation records).
SETTLEMENT_DISPOSITIONS = (Disposition.ALLOWANCE, Disposition.COMPENSATION)
CURRENCY = "CNY"
QUANTITY_PLACES, QUANTITY_DIGITS = 3, 14
MONEY_PLACES, MONEY_DIGITS = 2, 18
HUNDRED = Decimal("100")


# --- helpers ----------------------------------------------------------------------------------
def _text(value):
    return (value or "").strip()


def _number(value, errors, name, *, places, digits, positive=True):
    """``value`` as a Decimal > 0 (or >= 0) fitting a column; a field error otherwise."""
    if value in (None, ""):
        errors[name] = [_("This field is required.")]
        return None
    number = as_decimal(value)
    if number is None:
        errors[name] = [_("Enter a number.")]
    elif number.as_tuple().exponent < -places:
        errors[name] = [_("Enter at most %(places)s decimal places.") % {"places": places}]
    elif abs(number) >= Decimal(10) ** (digits - places):
        errors[name] = [_("This number is too large.")]
    elif positive and number <= 0:
        errors[name] = [_("The quantity must be greater than zero.")]
    elif number < 0:
        errors[name] = [_("The value cannot be negative.")]
    else:
        return number
    return None


def quantity_text(value):
    """A quantity without trailing zeros (10.000 → 10, 2.500 → 2.5)."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def holders(perm):
    """Active users whose roles grant ``perm`` (or the module's wildcard): who is told to act."""
    module = perm.split(".", 1)[0]
    User = get_user_model()
    return list(
        User.objects.filter(is_active=True, roles__grants__permission__in=(perm, f"{module}.*")).distinct()
    )


def _others(users, actor):
    return [u for u in users if u is not None and u.pk != actor.pk]


def _visible_complaint(actor, complaint):
    """The actor must see the complaint (404 otherwise, as for any record outside the scope)."""
    if not Complaint.objects.restrict(actor, "view").filter(pk=complaint.pk).exists():
        raise NotFound()


def _locked_complaint(complaint):
    return Complaint.objects.select_for_update(of=("self",)).select_related("customer").get(pk=complaint.pk)


def _require_approved(complaint, allowed, message):
    if complaint.status not in APPROVED_STATES:
        raise Conflict(_("Only an approved disposition can be carried out."))
    if complaint.disposition not in allowed:
        raise Conflict(message)


def _lock_note(note, expected_version=None):
    note.refresh_from_db(from_queryset=ReturnNote.objects.select_for_update(of=("self",)))
    note.check_version(expected_version)
    return note


def _move(note, to_status, fields=()):
    """Change the note's status if ``RETURN_TRANSITIONS`` allows it; saves ``fields`` with it."""
    if to_status not in RETURN_TRANSITIONS.get(note.status, set()):
        raise Conflict(
            _("A return note cannot go from “%(from)s” to “%(to)s”.")
            % {"from": ReturnStatus(note.status).label, "to": ReturnStatus(to_status).label}
        )
    note.status = to_status
    note.save(update_fields=["status", "updated_at", *fields])


def _note_context(note, **extra):
    return {
        "note": note,
        "complaint": note.complaint,
        "customer": note.customer,
        "product": note.product,
        "approved": quantity_text(note.approved_quantity),
        "received": quantity_text(note.received_quantity),
        **extra,
    }


# --- return notes ------------------------------------------------------------------------------
def returned_quantity(complaint):
    """Quantity of the complaint's return notes that are not cancelled."""
    total = (
        ReturnNote.objects.filter(complaint=complaint)
        .exclude(status=ReturnStatus.CANCELLED)
        .aggregate(total=Sum("approved_quantity"))["total"]
    )
    return total or Decimal("0")


def return_limit(complaint):
    """The quantity a complaint's returns may add up to: the disposition's quantity, else the
    defective quantity, else the quantity delivered (None when none of them is known)."""
    for value in (complaint.disposition_quantity, complaint.defective_quantity, complaint.quantity):
        if value is not None:
            return value
    return None


def issue_return(actor, complaint, *, approved_quantity, reason, disposition, basis=""):
    """Issue a return note (退货单 ``TH-…``) from the complaint's approved disposition.

    The disposition must be approved (complaint approved, replied or closed) and one that brings
    goods back (return, replace, rework). ``approved_quantity`` > 0; with the complaint's other
    return notes that are not cancelled it may not exceed the approved quantity (the
    disposition's quantity, else the defective or delivered quantity). ``disposition`` is what
    happens to the goods (``ReturnDisposition``). The warehouse (``returns.receive``) is told.
    Needs ``returns.add`` and the complaint in the actor's view. Returns the note.
    """
    require_perm(actor, "returns.add")
    _visible_complaint(actor, complaint)
    errors = {}
    quantity = _number(
        approved_quantity, errors, "approved_quantity", places=QUANTITY_PLACES, digits=QUANTITY_DIGITS
    )
    reason, basis = _text(reason), _text(basis)
    if not reason:
        errors["reason"] = [_("This field is required.")]
    if disposition not in ReturnDisposition.values:
        errors["disposition"] = [_("Select a valid choice.")]
    with transaction.atomic(), audit_context(actor=actor):
        complaint = _locked_complaint(complaint)
        _require_approved(
            complaint,
            RETURN_DISPOSITIONS,
            _("Return notes are issued for a disposition of return, replacement or rework."),
        )
        limit = return_limit(complaint)
        if limit is None:
            raise Conflict(_("The approved disposition has no quantity; record the quantity first."))
        already = returned_quantity(complaint)
        if quantity is not None and already + quantity > limit:
            errors["approved_quantity"] = [
                _(
                    "Over the approved quantity: %(limit)s approved, %(already)s already on return notes, "
                    "at most %(left)s more."
                )
                % {
                    "limit": quantity_text(limit),
                    "already": quantity_text(already),
                    "left": quantity_text(max(limit - already, Decimal("0"))),
                }
            ]
        if errors:
            _fail(errors)
        note = ReturnNote.objects.create(
            number=next_number("return"),
            complaint=complaint,
            customer=complaint.customer,
            product=complaint.product,
            lot_number=complaint.lot_number,
            approved_quantity=quantity,
            reason=reason,
            disposition=disposition,
            basis=basis,
            created_by=actor,
        )
        notify(
            _others(holders("returns.receive"), actor),
            template="complaints/return_issued",
            context=_note_context(note),
            obj=note,
        )
    return note


def receive_return(actor, note, *, received_quantity, password, username=None, expected_version=None):
    """The warehouse records the quantity actually received and signs it ("acknowledged").

    Only on an approved note awaiting goods; ``received_quantity`` > 0. Quality
    (``returns.inspect``) is told to inspect. Needs ``returns.receive``. Returns the note.
    """
    require_perm(actor, "returns.receive", note)
    errors = {}
    quantity = _number(
        received_quantity, errors, "received_quantity", places=QUANTITY_PLACES, digits=QUANTITY_DIGITS
    )
    with signatures.signing_atomic(), audit_context(actor=actor, reason=_("Goods received")):
        _lock_note(note, expected_version)
        if note.status != ReturnStatus.APPROVED:
            raise Conflict(
                _("The goods of this return note have already been received, or it was cancelled.")
            )
        if errors:
            _fail(errors)
        note.received_quantity = quantity
        note.received_by = actor
        note.received_at = timezone.now()
        _move(note, ReturnStatus.RECEIVED, ["received_quantity", "received_by", "received_at"])
        # The signature binds the stored number and the approved and received quantities.
        note.receipt_signature = signatures.sign(note, actor, password, "acknowledged", username=username)
        note.save(update_fields=["receipt_signature"])
        notify(
            _others(holders("returns.inspect"), actor),
            template="complaints/return_received",
            context=_note_context(note, by=actor),
            obj=note,
        )
    return note


def inspect_return(actor, note, *, report, expected_version=None):
    """Quality inspects the received goods and writes the quality abnormality report.

    Only on a received note; the report is required. Accounting (``returns.post``) is told.
    Needs ``returns.inspect``. Returns the note.
    """
    require_perm(actor, "returns.inspect", note)
    report = _text(report)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Returned goods inspected")):
        _lock_note(note, expected_version)
        if note.status != ReturnStatus.RECEIVED:
            raise Conflict(_("Only returned goods that have been received can be inspected."))
        if not report:
            _fail({"report": [_("Write the quality abnormality report.")]})
        note.inspection_report = report
        note.inspected_by = actor
        note.inspected_at = timezone.now()
        _move(note, ReturnStatus.INSPECTED, ["inspection_report", "inspected_by", "inspected_at"])
        notify(
            _others(holders("returns.post"), actor),
            template="complaints/return_inspected",
            context=_note_context(note, by=actor),
            obj=note,
        )
    return note


def tolerance_for(note):
    """The quantity tolerance of ``note`` in percent: the customer's over-delivery tolerance when
    the customer file has one, else the policy ``returns.quantity_tolerance``."""
    customer_tolerance = note.customer.over_delivery_tolerance
    if customer_tolerance is not None:
        return Decimal(customer_tolerance)
    return Decimal(str(policies.get("returns.quantity_tolerance")))


def within_tolerance(approved, received, tolerance):
    """True when ``received`` differs from ``approved`` by at most ``tolerance`` % of ``approved``."""
    return abs(received - approved) * HUNDRED <= approved * tolerance


def _difference_percent(approved, received):
    return (abs(received - approved) * HUNDRED / approved).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def post_return(actor, note, *, comment="", expected_version=None):
    """Accounting posts an inspected return, or it is escalated when the quantities differ.

    Within the tolerance (:func:`tolerance_for`) the note is POSTED and its creator is told;
    otherwise it is ESCALATED with the reason written on the note, and the management
    representative and the sales managers of the customer's department are told. Either way
    the tolerance applied is stored. Needs ``returns.post``. Returns the note (its status says
    which happened).
    """
    from qcare.customers.services import sales_managers_of

    require_perm(actor, "returns.post", note)
    comment = _text(comment)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Posting of the return")):
        _lock_note(note, expected_version)
        if note.status != ReturnStatus.INSPECTED:
            raise Conflict(_("Only an inspected return can be posted."))
        note = ReturnNote.objects.select_related("customer", "complaint").get(pk=note.pk)
        tolerance = tolerance_for(note)
        note.tolerance_percent = tolerance
        note.post_comment = comment
        if within_tolerance(note.approved_quantity, note.received_quantity, tolerance):
            note.posted_by = actor
            note.posted_at = timezone.now()
            _move(
                note,
                ReturnStatus.POSTED,
                ["tolerance_percent", "post_comment", "posted_by", "posted_at"],
            )
            notify(
                _others([note.created_by], actor),
                template="complaints/return_posted",
                context=_note_context(note, by=actor),
                obj=note,
            )
            return note
        note.escalation_reason = _(
            "Received %(received)s, approved %(approved)s: the difference of %(percent)s %% "
            "is more than the tolerance of %(tolerance)s %%."
        ) % {
            "received": quantity_text(note.received_quantity),
            "approved": quantity_text(note.approved_quantity),
            "percent": _difference_percent(note.approved_quantity, note.received_quantity),
            "tolerance": quantity_text(tolerance),
        }
        _move(note, ReturnStatus.ESCALATED, ["tolerance_percent", "post_comment", "escalation_reason"])
        recipients = _management_reps() + sales_managers_of(note.customer.department_id)
        notify(
            _others(recipients, actor),
            template="complaints/return_escalated",
            context=_note_context(note, by=actor),
            obj=note,
        )
    return note


def _management_reps():
    """Active management representatives (escalations of returns)."""
    User = get_user_model()
    return list(User.objects.filter(roles__code="management_rep", is_active=True).distinct())


def resolve_escalated_return(actor, note, *, post, reason, expected_version=None):
    """Decide an escalated return: post it anyway (``post=True``) or cancel it, with a reason.

    Needs ``returns.post``; the reason is recorded on the note and the note's creator is told.
    """
    require_perm(actor, "returns.post", note)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock_note(note, expected_version)
        if note.status != ReturnStatus.ESCALATED:
            raise Conflict(_("Only an escalated return can be resolved."))
        note.post_comment = reason
        if post:
            note.posted_by = actor
            note.posted_at = timezone.now()
            _move(note, ReturnStatus.POSTED, ["post_comment", "posted_by", "posted_at"])
        else:
            _move(note, ReturnStatus.CANCELLED, ["post_comment"])
        notify(
            _others([note.created_by], actor),
            template="complaints/return_resolved",
            context=_note_context(note, by=actor, reason=reason, posted=bool(post)),
            obj=note,
        )
    return note


def cancel_return(actor, note, *, reason, expected_version=None):
    """Cancel a return note whose goods have not arrived (e.g. the customer kept them).

    Needs ``returns.add``; a reason is required. The quantity becomes available again.
    """
    require_perm(actor, "returns.add", note)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock_note(note, expected_version)
        if note.status != ReturnStatus.APPROVED:
            raise Conflict(_("Only a return note whose goods have not been received can be cancelled."))
        note.post_comment = reason
        _move(note, ReturnStatus.CANCELLED, ["post_comment"])
    return note


# --- allowances and compensations ----------------------------------------------------------------
def settled_amount(complaint):
    """Sum of the complaint's allowance and compensation records that are not cancelled."""
    total = (
        Settlement.objects.filter(complaint=complaint)
        .exclude(status=SettlementStatus.CANCELLED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or Decimal("0")


def record_settlement(actor, complaint, *, kind, amount, currency=CURRENCY, description=""):
    """Record an allowance (销货折让证明单) or compensation (赔款) for finance.

    The complaint's disposition must be an approved allowance or compensation; ``amount`` > 0
    and, with the complaint's other records that are not cancelled, at most the approved loss
    amount. Amounts are in CNY (the loss is). Finance (``returns.post``) is told. Needs
    ``returns.add`` and the complaint in the actor's view. Returns the settlement.
    """
    require_perm(actor, "returns.add")
    _visible_complaint(actor, complaint)
    errors = {}
    value = _number(amount, errors, "amount", places=MONEY_PLACES, digits=MONEY_DIGITS, positive=False)
    if value is not None and value <= 0:
        errors["amount"] = [_("The amount must be greater than zero.")]
    if kind not in SettlementKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    if _text(currency).upper() != CURRENCY:
        errors["currency"] = [_("Allowances and compensations are recorded in CNY.")]
    with transaction.atomic(), audit_context(actor=actor):
        complaint = _locked_complaint(complaint)
        _require_approved(
            complaint,
            SETTLEMENT_DISPOSITIONS,
            _("Allowances and compensations are recorded for a disposition of allowance or compensation."),
        )
        already = settled_amount(complaint)
        if not errors and already + value > complaint.loss_amount:
            errors["amount"] = [
                _(
                    "More than the approved loss: %(loss)s CNY approved, %(already)s CNY already recorded, "
                    "at most %(left)s CNY more."
                )
                % {
                    "loss": complaint.loss_amount,
                    "already": already,
                    "left": max(complaint.loss_amount - already, Decimal("0")),
                }
            ]
        if errors:
            _fail(errors)
        settlement = Settlement.objects.create(
            complaint=complaint,
            customer=complaint.customer,
            kind=kind,
            amount=value,
            currency=CURRENCY,
            description=_text(description),
            created_by=actor,
        )
        notify(
            _others(holders("returns.post"), actor),
            template="complaints/settlement_recorded",
            context={"settlement": settlement, "complaint": complaint, "customer": complaint.customer},
            obj=complaint,
        )
    return settlement


def _lock_settlement(settlement, expected_version=None):
    settlement.refresh_from_db(from_queryset=Settlement.objects.select_for_update(of=("self",)))
    settlement.check_version(expected_version)
    return settlement


def settle(actor, settlement, *, finance_reference, expected_version=None):
    """Finance records that an open allowance or compensation was paid or credited, with the
    voucher or credit-note reference. Needs ``returns.post``; the recorder is told."""
    require_perm(actor, "returns.post", settlement)
    reference = _text(finance_reference)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Settled by finance")):
        _lock_settlement(settlement, expected_version)
        if settlement.status != SettlementStatus.OPEN:
            raise Conflict(_("This allowance or compensation has already been settled or was cancelled."))
        if not reference:
            _fail({"finance_reference": [_("Enter the voucher or credit-note reference.")]})
        if len(reference) > 100:
            _fail({"finance_reference": [_("At most %(limit)d characters.") % {"limit": 100}]})
        settlement.status = SettlementStatus.SETTLED
        settlement.finance_reference = reference
        settlement.settled_by = actor
        settlement.settled_at = timezone.now()
        settlement.save(
            update_fields=["status", "finance_reference", "settled_by", "settled_at", "updated_at"]
        )
        notify(
            _others([settlement.created_by], actor),
            template="complaints/settlement_settled",
            context={"settlement": settlement, "complaint": settlement.complaint, "by": actor},
            obj=settlement.complaint,
        )
    return settlement


def cancel_settlement(actor, settlement, *, reason, expected_version=None):
    """Cancel an open allowance or compensation (recorded in error); a reason is required.

    Needs ``returns.add`` or ``returns.post``. The amount becomes available again.
    """
    try:
        require_perm(actor, "returns.add", settlement)
    except (NotPermitted, NotFound):
        require_perm(actor, "returns.post", settlement)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock_settlement(settlement, expected_version)
        if settlement.status != SettlementStatus.OPEN:
            raise Conflict(_("Only an allowance or compensation not yet settled can be cancelled."))
        settlement.status = SettlementStatus.CANCELLED
        settlement.save(update_fields=["status", "updated_at"])
    return settlement
