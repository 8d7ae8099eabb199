"""Services of the complaint workflow (客户投诉处理, SPEC R-CO-2 … R-CO-5, R-CO-8, R-CO-9).

The life of a complaint (``KS-YYMM-NNN``): registered by anyone in the company, linked to the
customer's shipment where known (:func:`register_complaint`, R-CO-2); triaged by quality —
severity, category, owner, the major-complaint rule that tells the deputy GM at once
(:func:`triage_complaint`, R-CO-5); investigated with findings of the departments asked
(:func:`start_investigation`, :func:`request_findings`, :func:`add_finding`,
:func:`submit_investigation_report`); root cause and responsibility shares summing to 100 %
(:func:`set_responsibility`); a disposition with its loss amount allocated by the shares
(:func:`propose_disposition`), signed by the approver of its loss band
(:func:`approve_disposition` / :func:`reject_disposition`); replies to the customer
(:func:`record_reply`); the customer's answer — accepted closes the case, rejected ends it and
opens a linked follow-up (:func:`record_customer_response`, :func:`open_follow_up`); or closed
as not substantiated (:func:`close_not_substantiated`). Regulated products need the signed
reportability decision before closure (:func:`decide_reportability`,
:func:`record_authority_report`, R-CO-9). Deadlines: :mod:`qcare.complaints.deadlines`.

Every function checks permission and state, raises a translated DomainError, works in one
transaction inside ``audit_context`` (with the step as the reason: the complaint is a
controlled record) and queues its notifications in that transaction. Decisions that race lock
the complaint row and re-read it, so of two concurrent decisions only one wins.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.permissions import has_perm, require_perm, scope_for
from qcare.complaints import authority, deadlines
from qcare.complaints.choices import (
    COMPLAINT_TRANSITIONS,
    FINAL_STATUSES,
    INVESTIGATING_STATUSES,
    Category,
    CauseCategory,
    Channel,
    ComplaintStatus,
    DeadlineKind,
    Demand,
    Disposition,
    PartyKind,
    ReplyChannel,
    ReplyKind,
    ReportBasis,
    ReportOutcome,
    ReportQuestion,
    Severity,
)
from qcare.complaints.models import (
    Complaint,
    ComplaintFinding,
    ComplaintReply,
    ComplaintTransition,
    ReportabilityDecision,
    ResponsibleParty,
    period_of,
)
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, ValidationFailed
from qcare.core.models import Scope
from qcare.core.numbering import next_number
from qcare.core.service_helpers import date_value as _date
from qcare.core.service_helpers import decimal_value as _decimal
from qcare.core.service_helpers import fail as _fail
from qcare.core.service_helpers import lock as _lock
from qcare.core.service_helpers import require_reason as _require_reason
from qcare.core.service_helpers import required as _required
from qcare.notifications.services import notify
from qcare.workcalendar import calendar

S = ComplaintStatus
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
#: Severity order (the major rule compares "at or above").
SEVERITY_RANK = {Severity.MINOR: 0, Severity.SERIOUS: 1, Severity.MAJOR: 2}
#: Registration fields that update_complaint may correct (not the customer or the receipt time:
#: they decide the number's period and the deadlines).
REGISTRATION_FIELDS = (
    "contact",
    "contact_name",
    "contact_phone",
    "channel",
    "order",
    "order_reference",
    "shipment_line",
    "product",
    "part_number",
    "lot_number",
    "serial_number",
    "shipped_on",
    "quantity",
    "defective_quantity",
    "quantity_pending",
    "description",
    "demands",
    "demand_details",
    "claimed_amount",
)
TEXT_FIELDS = (
    "contact_name",
    "contact_phone",
    "order_reference",
    "part_number",
    "lot_number",
    "serial_number",
    "demand_details",
)
#: Major-complaint reason codes (stored in Complaint.major_reasons).
MAJOR_SEVERITY, MAJOR_AMOUNT, MAJOR_REGULATED, MAJOR_LOSS = "severity", "amount", "regulated", "loss"


# --- helpers ----------------------------------------------------------------------------------
def _status_label(status):
    return str(ComplaintStatus(status).label)


def _require_status(complaint, *statuses, message=None):
    if complaint.status not in statuses:
        raise Conflict(
            message
            or _("This cannot be done while the complaint is “%(status)s”.")
            % {"status": _status_label(complaint.status)}
        )


def _require_open(complaint):
    if complaint.status in FINAL_STATUSES:
        raise Conflict(
            _("Complaint %(number)s is finished (“%(status)s”); it can no longer be changed.")
            % {"number": complaint.number, "status": _status_label(complaint.status)}
        )


def _datetime(value, errors, name):
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            errors[name] = [_("Enter a valid date and time.")]
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(12))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _instance(model, value):
    """A model instance from an instance or a primary key (None when it does not exist)."""
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    pk = getattr(value, "pk", value)
    return model._base_manager.filter(pk=pk).first() if str(pk).isdigit() else None


def _department(value):
    """A Department from an instance, a primary key or a code."""
    from qcare.accounts.models import Department

    if isinstance(value, Department):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return Department.objects.filter(pk=value).first()
    if isinstance(value, str) and value:
        return Department.objects.filter(code=value).first()
    return None


def users_with_perm(perm, complaint=None, *, department=None):
    """Active users holding ``perm`` (or the module's wildcard), optionally only those of
    ``department`` and those who have ``complaint`` within their scope for that action."""
    module, _dot, action = perm.partition(".")
    users = get_user_model().objects.filter(
        is_active=True, roles__grants__permission__in=(perm, f"{module}.*")
    )
    if department is not None:
        users = users.filter(department=department)
    users = list(users.distinct().order_by("pk"))
    if complaint is not None:
        users = [u for u in users if Complaint.objects.restrict(u, action).filter(pk=complaint.pk).exists()]
    return users


def _others(users, actor):
    seen, result = set(), []
    for user in users:
        if user is not None and user.pk != actor.pk and user.pk not in seen:
            seen.add(user.pk)
            result.append(user)
    return result


def _refresh_search(complaint):
    """Store the complaint's search text (derived data: a queryset update, not audited)."""
    from qcare.complaints.search import refresh_search_text

    refresh_search_text(complaint)


def _flag_repeats(complaint):
    """Flag the repeat group of the complaint's product and cause category (R-CO-6)."""
    from qcare.complaints.services_capa import flag_repeats

    return flag_repeats(complaint)


def _now():
    return timezone.now()


def _money(value):
    return f"{Decimal(value):,.2f}"


def _plain(value):
    """90.00 → "90", 12.50 → "12.5" (shares and quantities in messages)."""
    return format(Decimal(value).normalize(), "f")


# --- state ------------------------------------------------------------------------------------
def set_status(complaint, to_status, actor, reason="", *, fields=()):
    """Move ``complaint`` to ``to_status`` if ``COMPLAINT_TRANSITIONS`` allows it and record the
    transition row (DESIGN rule 2). Runs in the caller's transaction and audit context; saves
    the status and the other changed ``fields`` named (one UPDATE, one audit entry)."""
    from_status = complaint.status
    if to_status not in COMPLAINT_TRANSITIONS.get(from_status, set()):
        raise Conflict(
            _("A complaint cannot go from “%(from)s” to “%(to)s”.")
            % {"from": _status_label(from_status), "to": _status_label(to_status)}
        )
    complaint.status = to_status
    complaint.save(update_fields=["status", "updated_at", *fields])
    ComplaintTransition.objects.create(
        complaint=complaint, from_status=from_status, to_status=to_status, actor=actor, reason=reason or ""
    )
    return complaint


# --- registration (R-CO-2) --------------------------------------------------------------------
def _customer_in_scope(actor, customer):
    """The customer must be one the actor may see (or the actor registers complaints for all)."""
    from qcare.customers.models import Customer

    if customer is None:
        _fail({"customer": _required()})
    if scope_for(actor, "complaints.add") == Scope.ALL:
        return
    if not Customer.objects.restrict(actor, "view").filter(pk=customer.pk).exists():
        raise NotFound()


def _clean_registration(customer, values, errors):
    """Validate registration values in place (links belong to the customer, quantities, demands)."""
    from qcare.catalog.models import Product
    from qcare.customers.models import Contact
    from qcare.orders.models import Order, ShipmentLine

    for name in TEXT_FIELDS:
        if name in values:
            values[name] = (values[name] or "").strip()
    if "channel" in values and values["channel"] not in Channel.values:
        errors["channel"] = [_("Select a valid choice.")]
    if "description" in values:
        # Stored as typed (HTML included): escaping is the screens' job, never the service's.
        values["description"] = (values["description"] or "").strip()
        if not values["description"]:
            errors["description"] = _required()
    for name, model in (("contact", Contact), ("order", Order), ("shipment_line", ShipmentLine)):
        if values.get(name) in (None, ""):
            values[name] = None
            continue
        obj = _instance(model, values[name])
        if obj is None or obj.customer_id != customer.pk:
            errors[name] = [_("Select one of this customer's records.")]
            obj = None
        values[name] = obj
    line = values.get("shipment_line")
    if line is not None:  # fill what the clerk left blank from the shipment (R-CO-2)
        for name, value in (
            ("order", line.order),
            ("product", line.product),
            ("lot_number", line.lot_number),
            ("serial_number", line.serial_number),
            ("shipped_on", line.shipped_on),
            ("quantity", line.quantity),
        ):
            if values.get(name) in (None, ""):
                values[name] = value
    if values.get("product") not in (None, ""):
        product = _instance(Product, values["product"])
        if product is None:
            errors["product"] = [_("Select a valid product.")]
        values["product"] = product
    else:
        values["product"] = None
    if values.get("product") is not None and not values.get("part_number"):
        values["part_number"] = values["product"].code
    values["shipped_on"] = _date(values.get("shipped_on"), errors, "shipped_on")
    quantity = _decimal(values.get("quantity"), errors, "quantity")
    defective = _decimal(values.get("defective_quantity"), errors, "defective_quantity")
    if quantity is not None and quantity < 0:
        errors["quantity"] = [_("The quantity cannot be negative.")]
    if defective is not None and defective < 0:
        errors["defective_quantity"] = [_("The quantity cannot be negative.")]
    elif defective is not None and quantity is not None and defective > quantity:
        errors["defective_quantity"] = [
            _("The defective quantity (%(defective)s) cannot exceed the quantity delivered (%(quantity)s).")
            % {"defective": _plain(defective), "quantity": _plain(quantity)}
        ]
    values["quantity"], values["defective_quantity"] = quantity, defective
    values["quantity_pending"] = bool(values.get("quantity_pending"))
    if not values["quantity_pending"] and quantity is None and defective is None:
        errors["quantity"] = [
            _("Enter the quantity, or tick “quantity not yet known” while the customer is still processing.")
        ]
    demands = values.get("demands") or []
    if isinstance(demands, str):
        demands = [demands]
    demands = list(dict.fromkeys(demands))
    if any(d not in Demand.values for d in demands):
        errors["demands"] = [_("Select valid demands.")]
    values["demands"] = demands
    claimed = _decimal(values.get("claimed_amount"), errors, "claimed_amount", digits=18, places=2)
    if claimed is not None and claimed < 0:
        errors["claimed_amount"] = [_("The amount cannot be negative.")]
    values["claimed_amount"] = claimed
    return values


def register_complaint(
    actor,
    *,
    customer,
    channel,
    description,
    received_at=None,
    contact=None,
    contact_name="",
    contact_phone="",
    order=None,
    order_reference="",
    shipment_line=None,
    product=None,
    part_number="",
    lot_number="",
    serial_number="",
    shipped_on=None,
    quantity=None,
    defective_quantity=None,
    quantity_pending=False,
    demands=(),
    demand_details="",
    claimed_amount=None,
    feedback=None,
    parent=None,
):
    """Register a complaint ``KS-…`` (客户投诉处理表, R-CO-2) in REGISTERED.

    Anyone holding complaints.add, for a customer within their ``customers.view`` scope (or
    with complaints.add for all). A ``shipment_line`` of the customer fills the order, product,
    lot/serial, shipping date and delivered quantity left blank. Either a quantity or
    ``quantity_pending`` ("quantity not yet known — the customer is still processing").
    Opens the three deadlines (R-CO-4) and tells quality (users holding complaints.triage).
    """
    require_perm(actor, "complaints.add")
    _customer_in_scope(actor, customer)
    errors = {}
    if not customer.is_active:
        errors["customer"] = [_("This customer is inactive.")]
    now = _now()
    received_at = _datetime(received_at, errors, "received_at") or now
    if received_at > now + dt.timedelta(minutes=5):
        errors["received_at"] = [_("The date cannot be in the future.")]
    values = _clean_registration(
        customer,
        {
            "contact": contact,
            "contact_name": contact_name,
            "contact_phone": contact_phone,
            "channel": channel,
            "order": order,
            "order_reference": order_reference,
            "shipment_line": shipment_line,
            "product": product,
            "part_number": part_number,
            "lot_number": lot_number,
            "serial_number": serial_number,
            "shipped_on": shipped_on,
            "quantity": quantity,
            "defective_quantity": defective_quantity,
            "quantity_pending": quantity_pending,
            "description": description,
            "demands": demands,
            "demand_details": demand_details,
            "claimed_amount": claimed_amount,
        },
        errors,
    )
    if parent is not None and parent.customer_id != customer.pk:
        errors["parent"] = [_("A follow-up belongs to the same customer as the original complaint.")]
    if errors:
        _fail(errors)
    if parent is not None and parent.status not in FINAL_STATUSES:
        raise Conflict(_open_parent_message(parent))
    if values["contact"] is not None and not values["contact_name"]:
        values["contact_name"] = values["contact"].name
    with transaction.atomic(), audit_context(actor=actor, reason=_("Complaint registered")):
        complaint = Complaint(
            number=next_number("complaint"),
            customer=customer,
            received_at=received_at,
            is_foreign=bool(customer.is_foreign),
            is_regulated=bool(values["product"] and values["product"].is_regulated),
            registered_by=actor,
            department=actor.department,
            feedback=feedback,
            parent=parent,
            period=period_of(received_at),
            due_at=deadlines.due_dates(received_at, is_foreign=bool(customer.is_foreign))[DeadlineKind.CLOSE],
            **values,
        )
        complaint.save(force_insert=True)
        ComplaintTransition.objects.create(
            complaint=complaint, from_status="", to_status=S.REGISTERED, actor=actor
        )
        deadlines.open_deadlines(complaint, received_at)
        _refresh_search(complaint)
        notify(
            _others(users_with_perm("complaints.triage", complaint), actor),
            template="complaints/registered",
            context={"complaint": complaint, "actor": actor},
            obj=complaint,
        )
    return complaint


def update_complaint(actor, complaint, *, data: dict, reason, expected_version=None):
    """Correct registration fields of an open complaint (controlled: a reason is required).

    ``data``: any of REGISTRATION_FIELDS; validated as at registration. The product decides
    ``is_regulated`` again. The search text is refreshed.
    """
    require_perm(actor, "complaints.change", complaint)
    reason = _require_reason(reason)
    data = dict(data or {})
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(complaint, expected_version)
        _require_open(complaint)
        errors = {
            name: [_("This field cannot be changed.")]
            for name in sorted(set(data) - set(REGISTRATION_FIELDS))
        }
        values = {name: getattr(complaint, name) for name in REGISTRATION_FIELDS} | data
        _clean_registration(complaint.customer, values, errors)
        if errors:
            _fail(errors)
        for name, value in values.items():
            setattr(complaint, name, value)
        complaint.is_regulated = bool(complaint.product and complaint.product.is_regulated)
        complaint.save()
        _refresh_search(complaint)
    return complaint


# --- triage and the major rule (R-CO-3, R-CO-5) -----------------------------------------------
def major_reasons_for(complaint, *, loss=None):
    """The codes that make ``complaint`` major under the current policies (R-CO-5)."""
    reasons = []
    rank = SEVERITY_RANK.get(complaint.severity, -1)
    if rank >= SEVERITY_RANK[policies.get("complaints.major_severity")]:
        reasons.append(MAJOR_SEVERITY)
    limit = policies.get("complaints.major_amount").amount
    if complaint.claimed_amount is not None and complaint.claimed_amount >= limit:
        reasons.append(MAJOR_AMOUNT)
    if (
        complaint.is_regulated
        and rank >= SEVERITY_RANK[Severity.SERIOUS]
        and policies.get("complaints.major_if_regulated")
    ):
        reasons.append(MAJOR_REGULATED)
    if loss is not None and loss >= limit:
        reasons.append(MAJOR_LOSS)
    return reasons


def major_reason_texts(complaint_or_reasons):
    """The major reasons (codes, or a complaint's stored ones) as translated sentences."""
    codes = getattr(complaint_or_reasons, "major_reasons", complaint_or_reasons) or []
    texts = {
        MAJOR_SEVERITY: _("Severity at or above the major-complaint level"),
        MAJOR_AMOUNT: _("Amount claimed at or above the major-complaint amount"),
        MAJOR_REGULATED: _("Serious complaint on a regulated medical device"),
        MAJOR_LOSS: _("Loss amount at or above the major-complaint amount"),
    }
    return [str(texts.get(code, code)) for code in codes]


class MajorReasonTexts:
    """Major reasons translated when a notification is rendered (once per recipient language)."""

    def __init__(self, codes):
        self.codes = list(codes or [])

    def __iter__(self):
        return iter(major_reason_texts(self.codes))

    def __str__(self):
        return "; ".join(self)


def _mark_major(complaint, actor, codes):
    """Add ``codes`` to the complaint's major reasons; tell the deputy GM(s) once per complaint."""
    new = [c for c in codes if c not in complaint.major_reasons]
    if not new:
        return []
    complaint.major_reasons = [*complaint.major_reasons, *new]
    complaint.is_major = True
    notify(
        _others(_deputy_gms(), actor),
        template="complaints/major",
        context={"complaint": complaint, "reasons": MajorReasonTexts(complaint.major_reasons)},
        dedupe_key=f"complaints:major:{complaint.pk}",
        obj=complaint,
    )
    return new


def _deputy_gms():
    return list(get_user_model().objects.filter(is_active=True, roles__code="deputy_gm").distinct())


def triage_complaint(
    actor, complaint, *, severity, category, owner, human_error=False, expected_version=None
):
    """Quality triages a REGISTERED complaint: severity, category, human-error flag and the
    owner who investigates (must hold complaints.investigate). A major complaint (R-CO-5) is
    flagged with its reasons and the deputy GM is told at once; the owner is told too."""
    require_perm(actor, "complaints.triage", complaint)
    errors = {}
    if severity not in Severity.values:
        errors["severity"] = [_("Select a valid choice.")]
    if category not in Category.values:
        errors["category"] = [_("Select a valid choice.")]
    owner = _instance(get_user_model(), owner)
    if owner is None:
        errors["owner"] = _required()
    elif not owner.is_active or not has_perm(owner, "complaints.investigate"):
        errors["owner"] = [_("The owner must be someone who investigates complaints.")]
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Complaint triaged")):
        _lock(complaint, expected_version)
        _require_status(complaint, S.REGISTERED)
        complaint.severity, complaint.category = severity, category
        complaint.human_error = bool(human_error)
        complaint.owner = owner
        _mark_major(complaint, actor, major_reasons_for(complaint))
        fields = ["severity", "category", "human_error", "owner", "is_major", "major_reasons"]
        set_status(complaint, S.TRIAGED, actor, fields=fields)
        notify(
            _others([owner], actor),
            template="complaints/assigned",
            context={"complaint": complaint, "actor": actor},
            obj=complaint,
        )
    return complaint


# --- investigation ----------------------------------------------------------------------------
def _clean_departments(departments):
    result, unknown = [], []
    for value in departments or ():
        department = _department(value)
        if department is None:
            unknown.append(str(value))
        elif department not in result:
            result.append(department)
    if unknown:
        _fail({"departments": [_("Select valid departments.")]})
    return result


def _request(complaint, actor, departments):
    """Open a requested finding for each department not already asked (and still to answer)."""
    now = _now()
    opened = []
    for department in departments:
        if complaint.findings.filter(department=department, text="").exists():
            continue
        opened.append(
            ComplaintFinding.objects.create(
                complaint=complaint, department=department, requested_by=actor, requested_at=now
            )
        )
    for finding in opened:
        notify(
            _others(users_with_perm("complaints.investigate", department=finding.department), actor),
            template="complaints/findings_requested",
            context={"complaint": complaint, "department": finding.department, "actor": actor},
            obj=complaint,
        )
    return opened


def start_investigation(actor, complaint, *, departments=()):
    """TRIAGED → INVESTIGATION; asks each of ``departments`` (production, R&D, purchasing …)
    for its findings: they see the complaint from then on and are notified."""
    require_perm(actor, "complaints.investigate", complaint)
    departments = _clean_departments(departments)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Investigation started")):
        _lock(complaint)
        _require_status(complaint, S.TRIAGED)
        set_status(complaint, S.INVESTIGATION, actor)
        _request(complaint, actor, departments)
    return complaint


def request_findings(actor, complaint, *, departments):
    """Ask further departments for findings while the complaint is investigated."""
    require_perm(actor, "complaints.investigate", complaint)
    departments = _clean_departments(departments)
    if not departments:
        _fail({"departments": _required()})
    with transaction.atomic(), audit_context(actor=actor, reason=_("Findings requested")):
        _lock(complaint)
        _require_status(complaint, S.INVESTIGATION, S.RESPONSIBILITY)
        _request(complaint, actor, departments)
    return complaint


def add_finding(actor, complaint, *, text):
    """A department's findings: fills the actor's department's requested finding, or adds one.
    Returns the :class:`ComplaintFinding`."""
    require_perm(actor, "complaints.investigate", complaint)
    text = (text or "").strip()
    if not text:
        _fail({"text": _required()})
    if actor.department_id is None:
        raise Conflict(_("Only members of a department can add findings."))
    with transaction.atomic(), audit_context(actor=actor, reason=_("Findings added")):
        _lock(complaint)
        _require_status(complaint, *INVESTIGATING_STATUSES)
        finding = complaint.findings.filter(department_id=actor.department_id, text="").order_by("pk").first()
        if finding is None:
            finding = ComplaintFinding(complaint=complaint, department_id=actor.department_id)
        finding.text, finding.author, finding.written_at = text, actor, _now()
        finding.save()
        if complaint.owner_id:
            notify(
                _others([complaint.owner], actor),
                template="complaints/finding_added",
                context={"complaint": complaint, "finding": finding, "actor": actor},
                obj=complaint,
            )
    return finding


def submit_investigation_report(actor, complaint, *, report):
    """Write the investigation report (may be rewritten while investigating); meets the
    investigation deadline the first time."""
    require_perm(actor, "complaints.investigate", complaint)
    report = (report or "").strip()
    if not report:
        _fail({"report": _required()})
    with transaction.atomic(), audit_context(actor=actor, reason=_("Investigation report")):
        _lock(complaint)
        _require_status(complaint, S.INVESTIGATION)
        now = _now()
        complaint.investigation_report = report
        complaint.investigation_reported_at = complaint.investigation_reported_at or now
        complaint.save(update_fields=["investigation_report", "investigation_reported_at", "updated_at"])
        deadlines.meet(complaint, DeadlineKind.INVESTIGATION, now)
    return complaint


# --- responsibility (R-CO-3, R-CO-8) ----------------------------------------------------------
def _clean_parties(parties, errors):
    from qcare.accounts.models import Department

    cleaned = []
    if not parties:
        errors["parties"] = [_("Name at least one responsible department, person or supplier.")]
        return cleaned
    for index, raw in enumerate(parties):
        raw = dict(raw or {})
        prefix = f"parties.{index}."
        kind = raw.get("kind")
        row = {"kind": kind, "department": None, "person": None, "supplier_name": ""}
        if kind not in PartyKind.values:
            errors[prefix + "kind"] = [_("Select a valid choice.")]
        elif kind == PartyKind.DEPARTMENT:
            row["department"] = _instance(Department, raw.get("department")) or _department(
                raw.get("department")
            )
            if row["department"] is None:
                errors[prefix + "department"] = [_("Select a department.")]
        elif kind == PartyKind.PERSON:
            row["person"] = _instance(get_user_model(), raw.get("person"))
            if row["person"] is None:
                errors[prefix + "person"] = [_("Select a person.")]
            else:
                row["department"] = row["person"].department
        else:
            row["supplier_name"] = (raw.get("supplier_name") or "").strip()
            if not row["supplier_name"]:
                errors[prefix + "supplier_name"] = [_("Enter the supplier.")]
        share = _decimal(raw.get("share"), errors, prefix + "share", digits=5, places=2, required=True)
        if share is not None and share <= 0:
            errors[prefix + "share"] = [_("A share must be greater than zero.")]
        row["share"] = share
        cleaned.append(row)
    shares = [row["share"] for row in cleaned if row["share"] is not None]
    if len(shares) == len(cleaned) and not any(k.startswith("parties.") for k in errors):
        total = sum(shares, Decimal("0"))
        if total != HUNDRED:
            errors["parties"] = [
                _("Responsibility shares add up to %(total)s %%; they must add up to 100 %%.")
                % {"total": _plain(total)}
            ]
    return cleaned


def set_responsibility(actor, complaint, *, root_cause, cause_category, parties: list, expected_version=None):
    """Record the root cause, its category and who is responsible with which share (the shares
    of departments, persons and/or a supplier add up to exactly 100 %). Needs the investigation
    report; INVESTIGATION → RESPONSIBILITY, or replaces the shares while in RESPONSIBILITY.
    Flags repeated complaints of the same product and cause category (R-CO-6)."""
    require_perm(actor, "complaints.investigate", complaint)
    errors = {}
    root_cause = (root_cause or "").strip()
    if not root_cause:
        errors["root_cause"] = _required()
    if cause_category not in CauseCategory.values:
        errors["cause_category"] = [_("Select a valid choice.")]
    cleaned = _clean_parties(parties, errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Root cause and responsibility")):
        _lock(complaint, expected_version)
        _require_status(complaint, S.INVESTIGATION, S.RESPONSIBILITY)
        if not complaint.investigation_report:
            raise Conflict(_("Write the investigation report before deciding the responsibility."))
        complaint.root_cause, complaint.cause_category = root_cause, cause_category
        complaint.responsible_parties.all().delete()
        for row in cleaned:
            ResponsibleParty.objects.create(complaint=complaint, **row)
        fields = ["root_cause", "cause_category"]
        if complaint.status == S.INVESTIGATION:
            set_status(complaint, S.RESPONSIBILITY, actor, fields=fields)
        else:
            complaint.save(update_fields=[*fields, "updated_at"])
        _flag_repeats(complaint)
    return complaint


# --- disposition and approval (R-CO-3) --------------------------------------------------------
def allocate(loss, shares):
    """Split ``loss`` by ``shares`` (percent) into cent amounts that add up exactly: each share
    rounded, the rounding remainder to the largest share (the first of equal ones)."""
    amounts = [(loss * share / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP) for share in shares]
    if amounts:
        largest = max(range(len(shares)), key=lambda i: (shares[i], -i))
        amounts[largest] += loss.quantize(CENT, rounding=ROUND_HALF_UP) - sum(amounts, Decimal("0"))
    return amounts


def propose_disposition(actor, complaint, *, disposition, details, loss_amount, quantity=None):
    """Propose the disposition (处理方案) with its loss amount: RESPONSIBILITY →
    AWAITING_APPROVAL. The loss is allocated to the responsible parties by their shares; the
    approval band (R-CO-3) is stored; a loss at or above the major amount makes the complaint
    major (deputy GM told once). The approvers of the band are notified."""
    require_perm(actor, "complaints.investigate", complaint)
    errors = {}
    if disposition not in Disposition.values:
        errors["disposition"] = [_("Select a valid choice.")]
    details = (details or "").strip()
    if not details:
        errors["details"] = _required()
    loss = _decimal(loss_amount, errors, "loss_amount", digits=18, places=2, required=True)
    if loss is not None and loss < 0:
        errors["loss_amount"] = [_("The loss amount cannot be negative.")]
    elif loss is not None and loss == 0 and disposition in (Disposition.ALLOWANCE, Disposition.COMPENSATION):
        errors["loss_amount"] = [_("An allowance or compensation needs its amount.")]
    quantity = _decimal(quantity, errors, "quantity")
    if quantity is not None and quantity <= 0:
        errors["quantity"] = [_("The quantity must be greater than zero.")]
    elif quantity is not None and complaint.quantity is not None and quantity > complaint.quantity:
        errors["quantity"] = [
            _("The quantity cannot exceed the quantity delivered (%(quantity)s).")
            % {"quantity": _plain(complaint.quantity)}
        ]
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Disposition proposed")):
        _lock(complaint)
        _require_status(complaint, S.RESPONSIBILITY)
        parties = list(complaint.responsible_parties.order_by("pk"))
        if not parties:
            raise Conflict(_("Decide the responsibility before proposing the disposition."))
        for party, amount in zip(parties, allocate(loss, [p.share for p in parties]), strict=True):
            if party.amount != amount:
                party.amount = amount
                party.save(update_fields=["amount"])
        complaint.disposition, complaint.disposition_details = disposition, details
        complaint.disposition_quantity, complaint.loss_amount = quantity, loss
        complaint.approval_band = authority.band_for(loss)
        complaint.proposed_by, complaint.proposed_at = actor, _now()
        complaint.approved_by, complaint.approved_at, complaint.approval_signature = None, None, None
        if loss >= policies.get("complaints.major_amount").amount:
            _mark_major(complaint, actor, [MAJOR_LOSS])
        fields = [
            "disposition",
            "disposition_details",
            "disposition_quantity",
            "loss_amount",
            "approval_band",
            "proposed_by",
            "proposed_at",
            "approved_by",
            "approved_at",
            "approval_signature",
            "is_major",
            "major_reasons",
        ]
        set_status(complaint, S.AWAITING_APPROVAL, actor, fields=fields)
        notify(
            _others(authority.approvers_for(complaint), actor),
            template="complaints/approval_requested",
            context={
                "complaint": complaint,
                "actor": actor,
                "band": authority.BAND_LABELS.get(complaint.approval_band, ""),
            },
            obj=complaint,
        )
    return complaint


def _approval_recipients(complaint):
    return [complaint.owner, complaint.registered_by, complaint.proposed_by]


def approve_disposition(actor, complaint, *, password, comment="", username=None):
    """The approver of the loss band (or a higher role) signs the disposition "approved":
    AWAITING_APPROVAL → APPROVED. Below the band: refused, nothing changes. The owner and the
    registering clerk are told."""
    require_perm(actor, "complaints.approve", complaint)
    comment = (comment or "").strip()
    with signatures.signing_atomic(), audit_context(actor=actor, reason=_("Disposition approved")):
        _lock(complaint)
        _require_status(
            complaint,
            S.AWAITING_APPROVAL,
            message=_("The disposition is not awaiting approval (status: %(status)s).")
            % {"status": _status_label(complaint.status)},
        )
        authority.require_approver(actor, complaint)
        signature = signatures.sign(complaint, actor, password, "approved", comment, username=username)
        complaint.approved_by, complaint.approved_at = actor, signature.signed_at
        complaint.approval_comment, complaint.approval_signature = comment, signature
        fields = ["approved_by", "approved_at", "approval_comment", "approval_signature"]
        set_status(complaint, S.APPROVED, actor, comment, fields=fields)
        notify(
            _others(_approval_recipients(complaint), actor),
            template="complaints/disposition_approved",
            context={"complaint": complaint, "approver": actor, "comment": comment},
            obj=complaint,
        )
    return complaint


def reject_disposition(actor, complaint, *, password, reason, username=None):
    """The approver signs the rejection of the proposed disposition with the reason:
    AWAITING_APPROVAL → RESPONSIBILITY (quality proposes again)."""
    require_perm(actor, "complaints.approve", complaint)
    reason = _require_reason(reason)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=reason):
        _lock(complaint)
        _require_status(
            complaint,
            S.AWAITING_APPROVAL,
            message=_("The disposition is not awaiting approval (status: %(status)s).")
            % {"status": _status_label(complaint.status)},
        )
        authority.require_approver(actor, complaint)
        signatures.sign(complaint, actor, password, "rejected", reason, username=username)
        complaint.approval_comment = reason
        set_status(complaint, S.RESPONSIBILITY, actor, reason, fields=["approval_comment"])
        notify(
            _others(_approval_recipients(complaint), actor),
            template="complaints/disposition_rejected",
            context={"complaint": complaint, "approver": actor, "reason": reason},
            obj=complaint,
        )
    return complaint


# --- replies and the customer's answer --------------------------------------------------------
def record_reply(actor, complaint, *, kind, channel, replied_on, text):
    """Record a reply to the customer (channel, date, text; the internal form is never sent).

    First written answers and other contacts in any open status; the reply with the disposition
    (FINAL) only once it is approved: APPROVED → REPLIED. The first first-answer or final reply
    meets the first-answer deadline. Returns the :class:`ComplaintReply`.
    """
    require_perm(actor, "complaints.change", complaint)
    errors = {}
    if kind not in ReplyKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    if channel not in ReplyChannel.values:
        errors["channel"] = [_("Select a valid choice.")]
    replied_on = _date(replied_on, errors, "replied_on")
    if replied_on is None and "replied_on" not in errors:
        errors["replied_on"] = _required()
    elif replied_on is not None and replied_on > timezone.localdate():
        errors["replied_on"] = [_("The date cannot be in the future.")]
    text = (text or "").strip()
    if not text:
        errors["text"] = _required()
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Reply to the customer")):
        _lock(complaint)
        _require_open(complaint)
        if kind == ReplyKind.FINAL and complaint.status != S.APPROVED:
            raise Conflict(
                _("The reply with the disposition can only be recorded once the disposition is approved.")
            )
        now = _now()
        reply = ComplaintReply.objects.create(
            complaint=complaint,
            kind=kind,
            channel=channel,
            replied_on=replied_on,
            text=text,
            recorded_by=actor,
        )
        if kind in (ReplyKind.FIRST_ANSWER, ReplyKind.FINAL) and complaint.first_answer_at is None:
            complaint.first_answer_at = now
            deadlines.meet(complaint, DeadlineKind.FIRST_ANSWER, now)
            if kind != ReplyKind.FINAL:
                complaint.save(update_fields=["first_answer_at", "updated_at"])
        if kind == ReplyKind.FINAL:
            complaint.replied_at = now
            set_status(complaint, S.REPLIED, actor, fields=["replied_at", "first_answer_at"])
    return reply


def closure_problems(complaint):
    """What stands between ``complaint`` and its closure (translated), empty when nothing:
    a reply recorded (the reply with the disposition once one was approved), and for a
    regulated product the signed reportability decision — and the report to the authority
    recorded as sent when the case is reportable (R-CO-9)."""
    problems = []
    replies = complaint.replies.all()
    if not replies.exists():
        problems.append(_("No reply to the customer has been recorded."))
    elif complaint.approved_at is not None and not replies.filter(kind=ReplyKind.FINAL).exists():
        problems.append(_("The reply with the approved disposition has not been recorded."))
    decision = ReportabilityDecision.objects.filter(complaint=complaint).select_related("signature").first()
    if complaint.is_regulated and decision is None:
        problems.append(
            _("A complaint on a regulated product needs the reportability decision before closing.")
        )
    if decision is not None:
        if decision.signature_id is None or decision.signature.content_hash != signatures.content_hash(
            decision
        ):
            problems.append(_("The reportability decision was changed after it was signed: decide it again."))
        if decision.outcome == ReportOutcome.REPORTABLE and decision.report_sent_at is None:
            problems.append(
                _("The case is reportable: record the report sent to the authority before closing.")
            )
    return problems


def _raise_problems(problems):
    raise Conflict(
        problems[0] if len(problems) == 1 else _("The complaint cannot be closed yet."),
        errors={"__all__": problems},
    )


def _finish(complaint, actor, to_status, *, overdue_reason, reason="", fields=()):
    """End the case in ``to_status``: timeliness recorded (R-CO-4; the reason for the delay is
    required when late), the month closed copied to the responsibility shares, deadlines met."""
    now = _now()
    on_time, days = deadlines.timeliness(complaint, now)
    overdue_reason = (overdue_reason or "").strip()
    if not on_time and not overdue_reason:
        message = _("The complaint is closed after its deadline: give the reason for the delay.")
        raise ValidationFailed(message, errors={"overdue_reason": [message]})
    complaint.closed_at, complaint.closed_by = now, actor
    complaint.closed_on_time, complaint.days_to_close = on_time, days
    complaint.overdue_reason = overdue_reason if not on_time else ""
    complaint.closed_period = period_of(now)
    finish_fields = [
        "closed_at",
        "closed_by",
        "closed_on_time",
        "days_to_close",
        "overdue_reason",
        "closed_period",
    ]
    set_status(complaint, to_status, actor, reason, fields=[*finish_fields, *fields])
    # Derived copy for the monthly report (groups on a column): no audit entry of its own.
    ResponsibleParty.objects.filter(complaint=complaint).update(closed_period=complaint.closed_period)
    deadlines.close_all(complaint, now)


def record_customer_response(actor, complaint, *, accepted: bool, response="", overdue_reason=""):
    """The customer's answer to the reply: accepted → CLOSED (nothing may be missing, see
    :func:`closure_problems`); rejected → REJECTED (final, timeliness recorded like a closure)
    and a linked follow-up complaint is opened with ``response`` as its description; the
    follow-up is returned then (the complaint otherwise)."""
    require_perm(actor, "complaints.change", complaint)
    response = (response or "").strip()
    if not accepted and not response:
        _fail({"response": [_("Record what the customer does not accept.")]})
    reason = _("Accepted by the customer") if accepted else _("Rejected by the customer")
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(complaint)
        _require_status(
            complaint,
            S.REPLIED,
            message=_(
                "The customer's answer is recorded after the reply with the disposition (status: %(status)s)."
            )
            % {"status": _status_label(complaint.status)},
        )
        problems = closure_problems(complaint)
        if problems:
            _raise_problems(problems)
        complaint.customer_accepted = bool(accepted)
        complaint.customer_response, complaint.customer_response_at = response, _now()
        fields = ["customer_accepted", "customer_response", "customer_response_at"]
        if accepted:
            _finish(complaint, actor, S.CLOSED, overdue_reason=overdue_reason, reason=response, fields=fields)
            return complaint
        _finish(complaint, actor, S.REJECTED, overdue_reason=overdue_reason, reason=response, fields=fields)
        return open_follow_up(actor, complaint, description=response)


def _open_parent_message(complaint):
    return _("Complaint %(number)s is still open; add to it instead of opening a follow-up.") % {
        "number": complaint.number
    }


def open_follow_up(actor, complaint, *, description, channel=None):
    """Open a follow-up complaint of a finished one (R-CO-3): ``parent`` = the original, the
    same customer, contact, order, shipment, product, lot/serial and quantities; fresh
    deadlines. Refused on an open complaint (add to it instead)."""
    require_perm(actor, "complaints.add")
    if not Complaint.objects.restrict(actor, "view").filter(pk=complaint.pk).exists():
        raise NotFound()
    if complaint.status not in FINAL_STATUSES:
        raise Conflict(_open_parent_message(complaint))
    with transaction.atomic(), audit_context(actor=actor, reason=_("Follow-up complaint")):
        follow_up = register_complaint(
            actor,
            customer=complaint.customer,
            channel=channel or complaint.channel,
            description=description,
            contact=complaint.contact,
            contact_name=complaint.contact_name,
            contact_phone=complaint.contact_phone,
            order=complaint.order,
            order_reference=complaint.order_reference,
            shipment_line=complaint.shipment_line,
            product=complaint.product,
            part_number=complaint.part_number,
            lot_number=complaint.lot_number,
            serial_number=complaint.serial_number,
            shipped_on=complaint.shipped_on,
            quantity=complaint.quantity,
            defective_quantity=complaint.defective_quantity,
            quantity_pending=complaint.quantity_pending,
            demands=complaint.demands,
            demand_details=complaint.demand_details,
            claimed_amount=complaint.claimed_amount,
            parent=complaint,
        )
        notify(
            _others([complaint.owner, *users_with_perm("complaints.triage", follow_up)], actor),
            template="complaints/follow_up_opened",
            context={"complaint": follow_up, "original": complaint, "actor": actor},
            obj=follow_up,
        )
    return follow_up


def close_not_substantiated(actor, complaint, *, reason, overdue_reason=""):
    """Close a complaint as not substantiated with the reason (from triage, investigation or
    responsibility). A reply must be recorded, and for a regulated product the reportability
    decision (R-CO-9)."""
    require_perm(actor, "complaints.close", complaint)
    if not (reason or "").strip():
        _fail({"reason": [_("Give the reason why the complaint is not substantiated.")]})
    reason = reason.strip()
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(complaint)
        _require_status(complaint, S.TRIAGED, S.INVESTIGATION, S.RESPONSIBILITY)
        problems = closure_problems(complaint)
        if problems:
            _raise_problems(problems)
        complaint.close_reason = reason
        _finish(
            complaint,
            actor,
            S.NOT_SUBSTANTIATED,
            overdue_reason=overdue_reason,
            reason=reason,
            fields=["close_reason"],
        )
    return complaint


# --- reportability (R-CO-9) -------------------------------------------------------------------
def _clean_answers(answers, errors):
    answers = dict(answers or {})
    cleaned, missing = {}, []
    for question in ReportQuestion:
        value = answers.pop(question.value, None)
        if not isinstance(value, bool):
            missing.append(question.value)
        else:
            cleaned[question.value] = value
    if answers:
        errors["answers"] = [_("Unknown questions: %(keys)s") % {"keys": ", ".join(map(str, answers))}]
    elif missing:
        errors["answers"] = [_("Answer every question (yes or no).")]
        for key in missing:
            errors[f"answers.{key}"] = _required()
    return cleaned


def decide_reportability(
    actor, complaint, *, answers: dict, outcome, rationale, basis="", authority="", password, username=None
):
    """Document and sign ("reviewed") the reportability decision of a complaint (R-CO-9): every
    question answered yes/no, the outcome with its rationale; a reportable event needs its basis
    (death / serious / cluster) and the authority, and gets its report deadline from the policy
    of the basis (counted from receipt). A second decision before closure replaces the first
    (new signature; the audit trail keeps the old). Returns the decision."""
    require_perm(actor, "complaints.close", complaint)
    errors = {}
    cleaned = _clean_answers(answers, errors)
    if outcome not in ReportOutcome.values:
        errors["outcome"] = [_("Select a valid choice.")]
    rationale = (rationale or "").strip()
    if not rationale:
        errors["rationale"] = _required()
    basis, authority = (basis or "").strip(), (authority or "").strip()
    if outcome == ReportOutcome.REPORTABLE:
        if basis not in ReportBasis.values:
            errors["basis"] = [_("Select the basis of the report.")]
        if not authority:
            errors["authority"] = [_("Name the authority the report goes to.")]
    else:
        basis, authority = "", ""
    if errors:
        _fail(errors)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=_("Reportability decision")):
        _lock(complaint)
        _require_open(complaint)
        decision = ReportabilityDecision.objects.filter(complaint=complaint).first() or ReportabilityDecision(
            complaint=complaint
        )
        decision.answers, decision.outcome, decision.rationale = cleaned, outcome, rationale
        decision.basis, decision.authority = basis, authority
        decision.report_due_at = (
            calendar.add_duration(complaint.received_at, policies.get(f"complaints.report_deadline.{basis}"))
            if basis
            else None
        )
        decision.decided_by, decision.decided_at = actor, _now()
        decision.save()
        decision.signature = signatures.sign(
            decision, actor, password, "reviewed", rationale, username=username
        )
        decision.save(update_fields=["signature", "updated_at"])
    return decision


def record_authority_report(actor, complaint, *, sent_at, reference):
    """Record the report sent to the authority (time and reference) of a reportable case."""
    require_perm(actor, "complaints.close", complaint)
    errors = {}
    sent_at = _datetime(sent_at, errors, "sent_at")
    if sent_at is None and "sent_at" not in errors:
        errors["sent_at"] = _required()
    elif sent_at is not None and sent_at > _now() + dt.timedelta(minutes=5):
        errors["sent_at"] = [_("The date cannot be in the future.")]
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = _required()
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Report to the authority")):
        _lock(complaint)
        _require_open(complaint)
        decision = ReportabilityDecision.objects.filter(complaint=complaint).first()
        if decision is None or decision.outcome != ReportOutcome.REPORTABLE:
            raise Conflict(_("Only a case decided as reportable has a report to the authority."))
        decision.report_sent_at, decision.report_reference = sent_at, reference
        decision.report_recorded_by = actor
        decision.save(
            update_fields=["report_sent_at", "report_reference", "report_recorded_by", "updated_at"]
        )
    return decision
