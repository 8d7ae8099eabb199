"""Advisory notices and recalls (忠告性通知/召回 ``AN-…``, SPEC R-CO-10).

* :func:`draft_notice` / :func:`update_notice` / :func:`cancel_notice` — the draft: reason, risk,
  the action required of customers and the affected products with their lots or serials.
* :func:`affected_customers` — every customer who received an affected unit, with its shipments
  and quantities, from shipment traceability (R-OR-11): one query over ``ShipmentLine``.
* :func:`issue_notice` — the management representative signs ("approved"); one
  :class:`NoticeRecipient` per affected customer is written in bulk and every customer's
  contacts are e-mailed the notice letter in their language (the sales owners are told too).
* :func:`record_acknowledgement` — each customer's acknowledgement and action (returned /
  corrected / destroyed / none) with the quantity accounted for; complete recipients are no
  longer reminded. :func:`remind_recipients` (called by the job) reminds the others every
  ``notices.reminder_interval``, claiming each reminder with a conditional UPDATE so two workers
  never remind twice for the same due time.
* :func:`record_authority_notification`, :func:`close_notice`, :func:`effectiveness` (share of
  units accounted for).
"""

from collections import OrderedDict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.audit.services import record_bulk_create
from qcare.catalog.models import Product
from qcare.complaints.choices import NoticeKind, NoticeStatus, RecipientAction, Risk
from qcare.complaints.models import AdvisoryNotice, Capa, Complaint, NoticeItem, NoticeRecipient
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ReasonRequired
from qcare.core.numbering import next_number
from qcare.core.service_helpers import fail as _fail
from qcare.customers.models import Contact, Customer
from qcare.notifications.services import notify
from qcare.orders.models import ShipmentLine
from qcare.orders.values import as_decimal
from qcare.workcalendar.calendar import add_duration

#: Fields of a notice that draft_notice / update_notice set.
NOTICE_FIELDS = (
    "kind",
    "title",
    "reason",
    "risk",
    "risk_description",
    "action_required",
    "complaint",
    "capa",
)
TEXT_LIMITS = {"title": 200}
REQUIRED_TEXT = ("title", "reason", "action_required")
ITEM_LIMITS = {"lot_number": 60, "serial_number": 80}
ZERO = Decimal("0")


# --- helpers ----------------------------------------------------------------------------------
def _text(value):
    return (value or "").strip()


def _pk(value):
    return getattr(value, "pk", value)


def _lock(notice, expected_version=None):
    notice.refresh_from_db(from_queryset=AdvisoryNotice.objects.select_for_update(of=("self",)))
    notice.check_version(expected_version)
    return notice


def _require_draft(notice):
    if notice.status != NoticeStatus.DRAFT:
        raise Conflict(_("Only a draft notice can be changed."))


def _require_issued(notice):
    if notice.status != NoticeStatus.ISSUED:
        raise Conflict(_("This notice is not issued (it is a draft, closed or cancelled)."))


def _record(model, value, errors, name):
    """An optional related record given as object or id; a field error when it does not exist."""
    if value in (None, ""):
        return None
    record = model.objects.filter(pk=_pk(value)).first() if str(_pk(value)).isdigit() else None
    if record is None:
        errors[name] = [_("Select a valid record.")]
    return record


def _clean_notice(values, errors):
    """Validate the merged notice values in place."""
    for name in ("title", "reason", "risk_description", "action_required"):
        values[name] = _text(values.get(name))
    for name in REQUIRED_TEXT:
        if not values[name]:
            errors[name] = [_("This field is required.")]
    for name, limit in TEXT_LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
    if values.get("kind") not in NoticeKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    if values.get("risk") not in Risk.values:
        errors["risk"] = [_("Select a valid choice.")]
    values["complaint"] = _record(Complaint, values.get("complaint"), errors, "complaint")
    values["capa"] = _record(Capa, values.get("capa"), errors, "capa")


def _clean_items(items, errors):
    """The affected units: ``[{product, lot_number, serial_number}]`` → validated rows."""
    rows, seen = [], set()
    for index, item in enumerate(items):
        key = f"items.{index}"
        product_id = _pk(item.get("product"))
        product = Product.objects.filter(pk=product_id).first() if str(product_id or "").isdigit() else None
        values = {name: _text(item.get(name)) for name in ITEM_LIMITS}
        if product is None:
            errors[f"{key}.product"] = [_("Select a product.")]
        for name, limit in ITEM_LIMITS.items():
            if len(values[name]) > limit:
                errors[f"{key}.{name}"] = [_("At most %(limit)d characters.") % {"limit": limit}]
        identity = (product_id, values["lot_number"], values["serial_number"])
        if product is not None and identity in seen:
            errors[f"{key}.product"] = [_("This product, lot and serial are already on the notice.")]
        seen.add(identity)
        rows.append({"product": product, **values})
    return rows


def _save_items(notice, rows):
    notice.items.all().delete()
    NoticeItem.objects.bulk_create(NoticeItem(notice=notice, **row) for row in rows)


# --- drafts -------------------------------------------------------------------------------------
def draft_notice(
    actor,
    *,
    kind,
    title,
    reason,
    risk,
    action_required,
    items=(),
    risk_description="",
    complaint=None,
    capa=None,
):
    """Draft an advisory notice or recall (``AN-YYYY-NNN``) with its affected products and lots.

    ``items``: dicts with ``product`` (object or id) and optionally ``lot_number`` and
    ``serial_number`` (both blank: every unit of the product). Title, reason and the action
    required of customers are required; ``risk`` from ``Risk``. Needs ``notices.add``.
    """
    require_perm(actor, "notices.add")
    errors = {}
    values = {
        "kind": kind,
        "title": title,
        "reason": reason,
        "risk": risk,
        "risk_description": risk_description,
        "action_required": action_required,
        "complaint": complaint,
        "capa": capa,
    }
    _clean_notice(values, errors)
    rows = _clean_items(list(items or ()), errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        notice = AdvisoryNotice.objects.create(
            number=next_number("advisory_notice"), created_by=actor, **values
        )
        _save_items(notice, rows)
    return notice


def update_notice(actor, notice, *, data, items=None, expected_version=None):
    """Change a draft notice: the fields of ``NOTICE_FIELDS`` in ``data``; ``items`` (when given)
    replace the affected units. Needs ``notices.add``; refused once the notice is issued."""
    require_perm(actor, "notices.add", notice)
    unknown = set(data) - set(NOTICE_FIELDS)
    if unknown:
        _fail({name: [_("Unknown field.")] for name in sorted(unknown)})
    with transaction.atomic(), audit_context(actor=actor, reason=_("Draft notice edited")):
        _lock(notice, expected_version)
        _require_draft(notice)
        errors = {}
        values = {name: getattr(notice, name) for name in NOTICE_FIELDS} | dict(data)
        _clean_notice(values, errors)
        rows = _clean_items(list(items), errors) if items is not None else None
        if errors:
            _fail(errors)
        for name in NOTICE_FIELDS:
            setattr(notice, name, values[name])
        notice.save()
        if rows is not None:
            _save_items(notice, rows)
    return notice


def cancel_notice(actor, notice, *, reason, expected_version=None):
    """Cancel a draft notice (an issued one is closed instead). Needs ``notices.add`` and a reason."""
    require_perm(actor, "notices.add", notice)
    reason = _text(reason)
    if not reason:
        raise ReasonRequired()
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(notice, expected_version)
        if notice.status != NoticeStatus.DRAFT:
            raise Conflict(_("Only a draft notice can be cancelled; close an issued notice."))
        notice.status = NoticeStatus.CANCELLED
        notice.close_comment = reason
        notice.save(update_fields=["status", "close_comment", "updated_at"])
    return notice


# --- affected customers ---------------------------------------------------------------------------
def _item_condition(items):
    """ShipmentLine filter of the affected units (a blank lot and serial means the whole product)."""
    condition = Q(pk__in=[])
    for item in items:
        match = Q(product_id=item.product_id)
        if item.lot_number:
            match &= Q(lot_number=item.lot_number)
        if item.serial_number:
            match &= Q(serial_number=item.serial_number)
        condition |= match
    return condition


def affected_customers(notice):
    """Every customer who received an affected unit of ``notice``, with what it received.

    One query over the shipment lines (the lot / serial indexes of traceability) joined to the
    customer, shipment and product of the hits, read as plain rows and grouped here: a lot
    shipped to 5,000 customers costs one query and no model instances. Returns a list ordered
    by customer code of dicts ``customer_id``, ``customer_code``, ``customer_name``,
    ``shipments`` (``number``, ``product``, ``lot``, ``serial``, ``quantity``, ``shipped_on``)
    and ``quantity`` (total received).
    """
    items = list(notice.items.all())
    if not items:
        return []
    rows = (
        ShipmentLine.objects.filter(_item_condition(items))
        .order_by("customer__code", "shipped_on", "id")
        .values_list(
            "customer_id",
            "customer__code",
            "customer__name",
            "shipment__number",
            "product__code",
            "lot_number",
            "serial_number",
            "quantity",
            "shipped_on",
        )
    )
    customers = OrderedDict()
    for customer_id, code, name, number, product, lot, serial, quantity, shipped_on in rows:
        entry = customers.get(customer_id)
        if entry is None:
            entry = customers[customer_id] = {
                "customer_id": customer_id,
                "customer_code": code,
                "customer_name": name,
                "shipments": [],
                "quantity": ZERO,
            }
        entry["shipments"].append(
            {
                "number": number,
                "product": product,
                "lot": lot,
                "serial": serial,
                "quantity": quantity,
                "shipped_on": shipped_on,
            }
        )
        entry["quantity"] += quantity
    return list(customers.values())


def _json_shipments(shipments):
    return [
        {**s, "quantity": _quantity_text(s["quantity"]), "shipped_on": s["shipped_on"].isoformat()}
        for s in shipments
    ]


def _quantity_text(value):
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- issuing ---------------------------------------------------------------------------------------
def company_name():
    """The company's name for letters to customers (settings ``QCARE_COMPANY_NAME``)."""
    return getattr(settings, "QCARE_COMPANY_NAME", "") or ""


def letter_context(notice, **extra):
    """What the notice letter (e-mail and printout) shows: company, notice, affected units, issuer."""
    return {
        "company": company_name(),
        "notice": notice,
        "items": [
            {
                "product_code": i.product.code,
                "product_name": i.product.name,
                "product_model": i.product.model,
                "lot": i.lot_number,
                "serial": i.serial_number,
            }
            for i in notice.items.select_related("product").order_by("pk")
        ],
        "issued_on": timezone.localdate(notice.issued_at) if notice.issued_at else timezone.localdate(),
        "issuer": notice.issued_by.get_full_name() if notice.issued_by_id else "",
        **extra,
    }


def _contacts_of(customer_ids_query):
    """E-mail targets ``{customer_id: [(email, language, name)]}`` of the customers' active
    contacts with a work e-mail; a contact without its own language gets the customer's."""
    rows = (
        Contact.objects.filter(customer_id__in=customer_ids_query, is_active=True)
        .exclude(email="")
        .order_by("customer_id", "-is_primary", "pk")
        .values_list("customer_id", "email", "preferred_language", "customer__preferred_language", "name")
    )
    targets = {}
    for customer_id, email, language, customer_language, name in rows:
        targets.setdefault(customer_id, []).append((email, language or customer_language, name))
    return targets


def _reminder_at(start):
    return add_duration(start, policies.get("notices.reminder_interval"))


def issue_notice(actor, notice, *, password, username=None, expected_version=None):
    """The management representative issues the notice and signs it ("approved").

    Refused (Conflict) without affected units or when no customer received any of them. One
    recipient row per affected customer is written in bulk (shipments, quantity received, first
    reminder after ``notices.reminder_interval``); the letter is e-mailed to every active contact
    with a work e-mail, in the contact's language or else the customer's (``sent_at`` marks the
    customers reached); the customers' sales owners are told, so those without e-mail get the
    printed letter. Needs ``notices.issue``. Returns the notice.
    """
    require_perm(actor, "notices.issue", notice)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=_("Notice issued")):
        _lock(notice, expected_version)
        if notice.status != NoticeStatus.DRAFT:
            raise Conflict(_("This notice has already been issued, closed or cancelled."))
        if not notice.items.exists():
            raise Conflict(_("Add the affected products and lots or serial numbers before issuing."))
        affected = affected_customers(notice)
        if not affected:
            raise Conflict(_("No customer received the affected products; there is nobody to notify."))
        signature = signatures.sign(notice, actor, password, "approved", username=username)
        now = timezone.now()
        notice.status = NoticeStatus.ISSUED
        notice.issued_by, notice.issued_at, notice.signature = actor, now, signature
        notice.save(update_fields=["status", "issued_by", "issued_at", "signature", "updated_at"])
        remind_at = _reminder_at(now)
        recipients = NoticeRecipient.objects.bulk_create(
            NoticeRecipient(
                notice=notice,
                customer_id=entry["customer_id"],
                shipments=_json_shipments(entry["shipments"]),
                quantity_shipped=entry["quantity"],
                remind_at=remind_at,
            )
            for entry in affected
        )
        record_bulk_create(recipients, actor=actor)
        _send_letters(notice, now)
    return notice


def _send_letters(notice, now):
    """E-mail the letter to the recipients' contacts (rendered once per language) and tell the
    sales owners of the affected customers; mark the customers reached as sent."""
    customer_ids = NoticeRecipient.objects.filter(notice=notice).values("customer_id")
    targets = _contacts_of(customer_ids)
    context = letter_context(notice)
    notify(
        [target for contacts in targets.values() for target in contacts],
        template="complaints/notice_issued",
        context=context,
        dedupe_key=f"advisory-notice:{notice.pk}",
        channels=("email",),
        obj=notice,
    )
    NoticeRecipient.objects.filter(notice=notice, customer_id__in=list(targets)).update(sent_at=now)
    total = NoticeRecipient.objects.filter(notice=notice).count()
    owners = get_user_model().objects.filter(
        is_active=True, pk__in=Customer.objects.filter(pk__in=customer_ids).values("owner_id")
    )
    notify(
        list(owners),
        template="complaints/notice_customers",
        context=context | {"customers": total, "without_email": total - len(targets)},
        dedupe_key=f"advisory-notice-owners:{notice.pk}",
        obj=notice,
    )


# --- tracking ----------------------------------------------------------------------------------------
def _moment(value, errors, name, *, required):
    """A datetime from a datetime or an ISO string, not in the future."""
    if value in (None, ""):
        if required:
            errors[name] = [_("This field is required.")]
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value).strip())
    if moment is None:
        errors[name] = [_("Enter a valid date and time.")]
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        errors[name] = [_("The time cannot be in the future.")]
        return None
    return moment


def record_acknowledgement(
    actor,
    recipient,
    *,
    acknowledged_by_name="",
    acknowledged_at=None,
    action="",
    quantity_accounted=None,
    comment="",
    expected_version=None,
):
    """Record a customer's acknowledgement of the notice and / or the action it took.

    The first call needs the name of the person who acknowledged (``acknowledged_at`` defaults
    to now); ``action`` from ``RecipientAction`` (returned, corrected, destroyed, none) with the
    quantity accounted for (0 … the quantity the customer received). A recipient with both an
    acknowledgement and an action is complete and no longer reminded. Needs ``notices.track``;
    the notice must be issued.
    """
    require_perm(actor, "notices.track", recipient)
    errors = {}
    name = _text(acknowledged_by_name)
    moment = _moment(acknowledged_at, errors, "acknowledged_at", required=False)
    if action not in ("", None, *RecipientAction.values):
        errors["action"] = [_("Select a valid choice.")]
    quantity = None
    if quantity_accounted not in (None, ""):
        quantity = as_decimal(quantity_accounted)
        if quantity is None:
            errors["quantity_accounted"] = [_("Enter a number.")]
        elif quantity < 0:
            errors["quantity_accounted"] = [_("The value cannot be negative.")]
    if len(name) > 100:
        errors["acknowledged_by_name"] = [_("At most %(limit)d characters.") % {"limit": 100}]
    with transaction.atomic(), audit_context(actor=actor):
        recipient.refresh_from_db(from_queryset=NoticeRecipient.objects.select_for_update(of=("self",)))
        recipient.check_version(expected_version)
        _require_issued(recipient.notice)
        if not name and recipient.acknowledged_at is None:
            errors["acknowledged_by_name"] = [_("Enter who acknowledged the notice at the customer.")]
        if quantity is not None and quantity > recipient.quantity_shipped:
            errors["quantity_accounted"] = [
                _("At most %(quantity)s: the quantity the customer received.")
                % {"quantity": _quantity_text(recipient.quantity_shipped)}
            ]
        if errors:
            _fail(errors)
        now = timezone.now()
        if name:
            recipient.acknowledged_by_name = name
            recipient.acknowledged_at = moment or recipient.acknowledged_at or now
        if action:
            recipient.action = action
            recipient.action_at = now
        if quantity is not None:
            recipient.quantity_accounted = quantity
        if _text(comment):
            recipient.action_comment = _text(comment)
        recipient.recorded_by = actor
        if recipient.is_complete:
            recipient.remind_at = None  # complete: no more reminders
        recipient.save()
    return recipient


def record_authority_notification(actor, notice, *, authority_name, notified_at, reference=""):
    """Record that the authority (e.g. the provincial medical products administration) was
    notified of the notice or recall. Needs ``notices.track``; the notice must be issued or closed."""
    require_perm(actor, "notices.track", notice)
    errors = {}
    authority_name, reference = _text(authority_name), _text(reference)
    moment = _moment(notified_at, errors, "notified_at", required=True)
    if not authority_name:
        errors["authority_name"] = [_("This field is required.")]
    elif len(authority_name) > 200:
        errors["authority_name"] = [_("At most %(limit)d characters.") % {"limit": 200}]
    if len(reference) > 100:
        errors["reference"] = [_("At most %(limit)d characters.") % {"limit": 100}]
    with transaction.atomic(), audit_context(actor=actor, reason=_("Authority notified")):
        _lock(notice)
        if notice.status not in (NoticeStatus.ISSUED, NoticeStatus.CLOSED):
            raise Conflict(_("The authority is notified of an issued notice."))
        if errors:
            _fail(errors)
        notice.authority_name = authority_name
        notice.authority_notified_at = moment
        notice.authority_reference = reference
        notice.save(
            update_fields=["authority_name", "authority_notified_at", "authority_reference", "updated_at"]
        )
    return notice


def incomplete_recipients(notice):
    """Recipients without an acknowledgement or without an action."""
    return notice.recipients.filter(Q(acknowledged_at__isnull=True) | Q(action=""))


def close_notice(actor, notice, *, comment="", expected_version=None):
    """Close an issued notice. While some customers have not acknowledged and acted, a comment
    explaining why it is closed anyway is required. Reminders stop. Needs ``notices.issue``."""
    require_perm(actor, "notices.issue", notice)
    comment = _text(comment)
    with transaction.atomic(), audit_context(actor=actor, reason=comment or _("Notice closed")):
        _lock(notice, expected_version)
        _require_issued(notice)
        open_count = incomplete_recipients(notice).count()
        if open_count and not comment:
            _fail(
                {
                    "comment": [
                        _(
                            "%(count)s customers have not acknowledged or acted yet; explain why the notice "
                            "is closed anyway."
                        )
                        % {"count": open_count}
                    ]
                }
            )
        notice.status = NoticeStatus.CLOSED
        notice.closed_at = timezone.now()
        notice.close_comment = comment
        notice.save(update_fields=["status", "closed_at", "close_comment", "updated_at"])
        notice.recipients.filter(remind_at__isnull=False).update(remind_at=None)
    return notice


def effectiveness(notice):
    """How far the notice reached: customers, acknowledged, completed (acknowledged and acted),
    units shipped and accounted for, and the share of units accounted for (0–100, one decimal)."""
    totals = notice.recipients.aggregate(
        customers=Count("pk"),
        acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        completed=Count("pk", filter=Q(acknowledged_at__isnull=False) & ~Q(action="")),
        units_shipped=Sum("quantity_shipped"),
        units_accounted=Sum("quantity_accounted"),
    )
    shipped = totals["units_shipped"] or ZERO
    accounted = totals["units_accounted"] or ZERO
    share = (accounted * 100 / shipped) if shipped else ZERO
    return {
        "customers": totals["customers"],
        "acknowledged": totals["acknowledged"],
        "completed": totals["completed"],
        "units_shipped": shipped,
        "units_accounted": accounted,
        "share_accounted": Decimal(share).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
    }


# --- reminders (called by the job) ------------------------------------------------------------------
def due_reminders(now):
    """Incomplete recipients of issued notices whose reminder time has come."""
    return (
        NoticeRecipient.objects.filter(notice__status=NoticeStatus.ISSUED, remind_at__lte=now)
        .filter(Q(acknowledged_at__isnull=True) | Q(action=""))
        .select_related("notice", "customer", "customer__owner")
        .order_by("remind_at", "pk")
    )


def remind_recipients(now=None):
    """Remind every incomplete recipient whose reminder time has come; returns how many.

    Each recipient is claimed with a conditional UPDATE on the ``remind_at`` that was read (and
    still incomplete), which moves it one ``notices.reminder_interval`` on: of two workers that
    see the same recipient exactly one reminds, and the same due time is never reminded twice
    (the e-mails carry a deduplication key of recipient and due time as well). The customer's
    contacts get the reminder e-mail; a customer without an e-mail contact is chased by its sales
    owner, who is told in the inbox.
    """
    now = now or timezone.now()
    due = list(due_reminders(now))
    if not due:
        return 0
    targets = _contacts_of([r.customer_id for r in due])
    next_at = _reminder_at(now)
    sent = 0
    for recipient in due:
        with transaction.atomic():
            claimed = (
                NoticeRecipient.objects.filter(pk=recipient.pk, remind_at=recipient.remind_at)
                .filter(Q(acknowledged_at__isnull=True) | Q(action=""))
                .update(remind_at=next_at, last_reminded_at=now, reminder_count=F("reminder_count") + 1)
            )
            if not claimed:
                continue  # another worker reminded it, or it was completed meanwhile
            context = letter_context(
                recipient.notice,
                customer=recipient.customer,
                shipments=recipient.shipments,
                quantity=_quantity_text(recipient.quantity_shipped),
                reminder=recipient.reminder_count + 1,
            )
            key = f"advisory-notice-reminder:{recipient.pk}:{recipient.remind_at.isoformat()}"
            contacts = targets.get(recipient.customer_id)
            if contacts:
                notify(
                    contacts,
                    template="complaints/notice_reminder",
                    context=context,
                    dedupe_key=key,
                    channels=("email",),
                    obj=recipient.notice,
                )
            else:  # nobody to e-mail: the sales owner chases the customer by phone or letter
                notify(
                    [recipient.customer.owner],
                    template="complaints/notice_chase",
                    context=context,
                    dedupe_key=key,
                    obj=recipient.notice,
                )
            sent += 1
    return sent
