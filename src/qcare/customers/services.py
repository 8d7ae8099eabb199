"""Services of the customer file 顾客档案 (DESIGN rule 1, SPEC R-CU-1…7).

Every function checks the actor's permission (``require_perm``; an object outside the
actor's scope is NotFound), validates with translated ``ValidationFailed`` field errors,
works in one transaction with the actor and reason bound for the audit trail, queues its
notifications in the outbox, refreshes the customer's search text when searchable data
changed, and returns the record.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.permissions import has_perm, require_perm
from qcare.catalog.models import ProductCategory
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ReasonRequired, ValidationFailed
from qcare.core.numbering import next_number
from qcare.customers import search
from qcare.customers.choices import (
    TRADING_LICENCE_KINDS,
    ActionStatus,
    Channel,
    ClassificationKind,
    CommunicationKind,
    Direction,
    IncidentKind,
    Language,
    LicenceKind,
    LicenceStatus,
    PropertyKind,
    PropertyStatus,
)
from qcare.customers.models import (
    Classification,
    Communication,
    Contact,
    Customer,
    CustomerAnonymisation,
    CustomerPortalUser,
    CustomerProperty,
    FollowUpAction,
    Licence,
    PropertyIncident,
)
from qcare.notifications.services import notify

#: Customer fields a service may set (owner only through create / reassign).
CUSTOMER_FIELDS = (
    "name",
    "short_name",
    "customer_type",
    "is_foreign",
    "country",
    "region",
    "address",
    "tax_id",
    "payment_terms",
    "credit_notes",
    "relationship",
    "value_class",
    "preferred_language",
    "preferred_channel",
    "over_delivery_tolerance",
    "notes",
)
CONTACT_FIELDS = (
    "name",
    "title",
    "department_name",
    "phone",
    "mobile",
    "email",
    "personal_email",
    "id_number",
    "preferred_language",
    "is_primary",
    "notes",
)
LICENCE_FIELDS = ("kind", "number", "scope_text", "authority", "valid_from", "valid_until", "is_active")
COMMUNICATION_FIELDS = (
    "kind",
    "direction",
    "occurred_at",
    "contact",
    "subject",
    "summary",
    "attendees",
    "customer_opinions",
)
PROPERTY_FIELDS = (
    "kind",
    "name",
    "identification",
    "quantity",
    "location",
    "condition",
    "received_on",
    "status",
    "notes",
)
#: Visits may send a visit notice 访厂通知 to chosen departments (R-CU-4).
VISIT_KINDS = (CommunicationKind.PLANT_VISIT, CommunicationKind.SALES_VISIT)
INCIDENT_STATUS = {
    IncidentKind.LOSS: PropertyStatus.LOST,
    IncidentKind.DAMAGE: PropertyStatus.DAMAGED,
    IncidentKind.UNSUITABLE: PropertyStatus.UNSUITABLE,
}
ANONYMISED_CONTACT = "已匿名 #{pk}"
ANONYMISED_CUSTOMER = "已匿名客户 {code}"

# Digits, "+", "-", spaces and parentheses, then an optional extension ("ext 12", "x12", "转12").
PHONE_RE = re.compile(r"^\+?[\d\s\-()]+$")
PHONE_EXTENSION_RE = re.compile(r"\s*(?:ext\.?|x|#|转|分机)\s*\d{1,6}$", re.IGNORECASE)


# --- helpers ----------------------------------------------------------------------------------
def _required():
    return [_("This field is required.")]


def _fail(errors):
    raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired()
    return reason.strip()


def _reject_unknown(data, allowed):
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        _fail({name: [_("This field cannot be changed.")] for name in unknown})


def refresh_search(customer):
    """Recompute the customer's search text (R-CU-1 search covers names, contacts, phones)."""
    search.refresh_search_text(customer)


def _locked(customer):
    """Lock the customer row: contact changes keep "exactly one primary contact" race-free."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def sales_managers_of(department_id):
    """Active users with the sales_manager role in the department (escalation and copies)."""
    User = get_user_model()
    if not department_id:
        return []
    return list(User.objects.filter(roles__code="sales_manager", department_id=department_id, is_active=True))


def phone_is_valid(value):
    """Digits, +, -, spaces, parentheses and an optional extension; 6–20 digits."""
    main = PHONE_EXTENSION_RE.sub("", value.strip())
    if not PHONE_RE.match(main):
        return False
    return 6 <= sum(ch.isdigit() for ch in main) <= 20


def _classification(value, kind, errors, name, *, current_pk=None, required=False):
    """Resolve a Classification given as object or id; it must belong to ``kind`` and be in use
    (an entry taken out of use stays valid on the customers that already have it)."""
    if value in (None, ""):
        if required:
            errors[name] = _required()
        return None
    pk = value.pk if isinstance(value, Classification) else value
    item = Classification.objects.filter(pk=pk, kind=kind).first() if str(pk).isdigit() else None
    if item is None:
        errors[name] = [_("Select a valid entry of the list.")]
    elif not item.is_active and item.pk != current_pk:
        errors[name] = [_("This entry is no longer in use.")]
    return item


# --- customers (R-CU-1) -----------------------------------------------------------------------
def _clean_customer(values, errors, *, instance=None):
    """Validate the merged customer values in place (required fields by type, formats, tax id)."""
    values["name"] = (values.get("name") or "").strip()
    if not values["name"]:
        errors["name"] = _required()
    lists = (
        ("customer_type", ClassificationKind.TYPE),
        ("relationship", ClassificationKind.RELATIONSHIP),
        ("value_class", ClassificationKind.VALUE),
    )
    for name, kind in lists:
        current = getattr(instance, f"{name}_id", None)
        values[name] = _classification(
            values.get(name), kind, errors, name, current_pk=current, required=name == "customer_type"
        )
    ctype = values["customer_type"]
    values["country"] = (values.get("country") or "CN").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", values["country"]):
        errors["country"] = [_("Enter the two-letter country code (ISO 3166), e.g. CN, DE.")]
    elif values.get("is_foreign") and values["country"] == "CN":
        errors["country"] = [_("A foreign customer needs a country other than China (CN).")]
    elif not values.get("is_foreign") and values["country"] != "CN":
        errors["is_foreign"] = [_("A customer outside China must be marked as foreign.")]
    values["tax_id"] = (values.get("tax_id") or "").strip().upper() or None
    values["region"] = (values.get("region") or "").strip()
    # Types that trade devices (经销商/代理商/贸易公司: those needing a licence) must be identifiable.
    if ctype is not None and ctype.requires_licence:
        if not values["tax_id"] and not values.get("is_foreign"):
            errors["tax_id"] = [_("A tax id is required for this customer type.")]
        if not values["region"]:
            errors["region"] = [_("A region is required for this customer type.")]
    if (
        values["tax_id"]
        and Customer.objects.filter(tax_id=values["tax_id"])
        .exclude(pk=getattr(instance, "pk", None))
        .exists()
    ):
        errors["tax_id"] = [_("A customer with this tax id already exists.")]
    if values.get("preferred_language", Language.ZH_HANS) not in Language.values:
        errors["preferred_language"] = [_("Select a valid choice.")]
    if values.get("preferred_channel", Channel.EMAIL) not in Channel.values:
        errors["preferred_channel"] = [_("Select a valid choice.")]
    _clean_tolerance(values, errors)


def _clean_tolerance(values, errors):
    """The agreed over-delivery tolerance in percent (0–100, two decimals); empty: company default."""
    raw = values.get("over_delivery_tolerance")
    if raw in (None, ""):
        values["over_delivery_tolerance"] = None
        return
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite():
        errors["over_delivery_tolerance"] = [_("Enter a number.")]
    elif value.as_tuple().exponent < -2:
        errors["over_delivery_tolerance"] = [_("Enter at most %(places)s decimal places.") % {"places": 2}]
    elif not 0 <= value <= 100:
        errors["over_delivery_tolerance"] = [_("Enter a percentage between 0 and 100.")]
    else:
        values["over_delivery_tolerance"] = value


def _tax_id_taken():
    return ValidationFailed(
        _("Please correct the errors below."),
        errors={"tax_id": [_("A customer with this tax id already exists.")]},
    )


def create_customer(actor, *, data, contacts=()):
    """Create a customer numbered C{NNNNN} with its contacts (the first becomes primary).

    ``data`` holds Customer fields (foreign keys as objects or ids) and optionally ``owner``
    (default: the actor; another owner needs customers.reassign). The department is the
    owner's department.
    """
    require_perm(actor, "customers.add")
    data = dict(data)
    owner = data.pop("owner", None) or actor
    _reject_unknown(data, CUSTOMER_FIELDS)
    if owner != actor:
        require_perm(actor, "customers.reassign")
    errors = {}
    values = dict(data)
    _clean_customer(values, errors)
    contacts = [dict(c) for c in contacts]
    for index, contact in enumerate(contacts):
        for name, messages in _contact_errors(contact).items():
            errors[f"contacts.{index}.{name}"] = messages
    if sum(bool(c.get("is_primary")) for c in contacts) > 1:
        errors["contacts"] = [_("Only one contact can be the primary contact.")]
    if errors:
        _fail(errors)
    if contacts and not any(c.get("is_primary") for c in contacts):
        contacts[0]["is_primary"] = True
    try:
        with transaction.atomic(), audit_context(actor=actor):
            customer = Customer(
                code=next_number("customer"), owner=owner, department=owner.department, **values
            )
            customer.save(force_insert=True)
            for contact in contacts:
                Contact.objects.create(customer=customer, **_contact_values(contact))
            refresh_search(customer)
    except IntegrityError as exc:  # a concurrent create took the same tax id
        if values["tax_id"] and Customer.objects.filter(tax_id=values["tax_id"]).exists():
            raise _tax_id_taken() from exc
        raise
    return customer


def update_customer(actor, customer, *, data, reason, expected_version=None):
    """Change a customer's fields (controlled: a reason is required; optimistic locking)."""
    require_perm(actor, "customers.change", customer)
    customer.check_version(expected_version)
    _reject_unknown(data, CUSTOMER_FIELDS)
    reason = _require_reason(reason)
    values = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    values.update(data)
    errors = {}
    _clean_customer(values, errors, instance=customer)
    if errors:
        _fail(errors)
    try:
        with transaction.atomic(), audit_context(actor=actor, reason=reason):
            for name in data:
                setattr(customer, name, values[name])
            customer.save()
            refresh_search(customer)
    except IntegrityError as exc:
        raise _tax_id_taken() from exc
    return customer


def reassign_customer(actor, customer, *, new_owner, reason):
    """Give the customer to another sales person; notifies both owners and the new manager."""
    require_perm(actor, "customers.reassign", customer)
    reason = _require_reason(reason)
    if not new_owner.is_active or not has_perm(new_owner, "customers.view"):
        _fail({"new_owner": [_("This user cannot be responsible for customers.")]})
    if new_owner.pk == customer.owner_id:
        _fail({"new_owner": [_("This user is already responsible for the customer.")]})
    old_owner = customer.owner
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        customer.owner = new_owner
        customer.department = new_owner.department
        customer.save(update_fields=["owner", "department"])
        recipients = [old_owner, new_owner, *sales_managers_of(new_owner.department_id)]
        notify(
            [u for u in recipients if u.pk != actor.pk],
            template="customers/reassigned",
            context={"customer": customer, "old_owner": old_owner, "new_owner": new_owner, "reason": reason},
            obj=customer,
        )
    return customer


def deactivate_customer(actor, customer, *, reason):
    """Mark a customer inactive (kept with all its records; controlled: reason required)."""
    require_perm(actor, "customers.delete", customer)
    reason = _require_reason(reason)
    if not customer.is_active:
        raise Conflict(_("This customer is already inactive."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        customer.is_active = False
        customer.save(update_fields=["is_active"])
    return customer


# --- contacts (R-CU-2) ------------------------------------------------------------------------
def _contact_errors(values):
    errors = {}
    if not (values.get("name") or "").strip():
        errors["name"] = _required()
    for name in ("phone", "mobile"):
        if (values.get(name) or "").strip() and not phone_is_valid(values[name]):
            errors[name] = [_("Enter a phone number: digits, +, -, spaces and brackets, 6 to 20 digits.")]
    for name in ("email", "personal_email"):
        if (values.get(name) or "").strip():
            try:
                validate_email(values[name].strip())
            except ValidationError:
                errors[name] = [_("Enter a valid e-mail address.")]
    if values.get("preferred_language") not in ("", None, *Language.values):
        errors["preferred_language"] = [_("Select a valid choice.")]
    unknown = set(values) - set(CONTACT_FIELDS)
    errors.update({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    return errors


def _contact_values(values):
    cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    cleaned["preferred_language"] = cleaned.get("preferred_language") or ""
    return cleaned


def _clear_primary(customer, *, keep_pk=None):
    """Un-flag the current primary contact (before the new one is saved: partial unique index)."""
    for old in Contact.objects.filter(customer=customer, is_primary=True).exclude(pk=keep_pk):
        old.is_primary = False
        old.save(update_fields=["is_primary"])


def add_contact(actor, customer, *, data):
    """Add a contact; it becomes primary when asked or when the customer has no primary yet."""
    require_perm(actor, "customers.change", customer)
    errors = _contact_errors(data)
    if errors:
        _fail(errors)
    values = _contact_values(data)
    with transaction.atomic(), audit_context(actor=actor):
        customer = _locked(customer)
        has_primary = Contact.objects.filter(customer=customer, is_primary=True).exists()
        if values.get("is_primary") and has_primary:
            reason = _("Primary contact changed to %(name)s") % {"name": values["name"]}
            with audit_context(reason=reason):
                _clear_primary(customer)
        values["is_primary"] = bool(values.get("is_primary")) or not has_primary
        contact = Contact.objects.create(customer=customer, **values)
        refresh_search(customer)
    return contact


def update_contact(actor, contact, *, data, reason, expected_version=None):
    """Change a contact (controlled). ``is_primary=True`` moves the primary flag to it."""
    require_perm(actor, "customers.change", contact)
    contact.check_version(expected_version)
    reason = _require_reason(reason)
    merged = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    merged.update(data)
    errors = _contact_errors(merged)
    if errors:
        _fail(errors)
    if contact.is_primary and "is_primary" in data and not data["is_primary"]:
        _fail({"is_primary": [_("Make another contact the primary contact instead.")]})
    values = _contact_values(data)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        customer = _locked(contact.customer)
        if values.get("is_primary") and not contact.is_primary:
            _clear_primary(customer, keep_pk=contact.pk)
        for name, value in values.items():
            setattr(contact, name, value)
        contact.save()
        refresh_search(customer)
    return contact


def deactivate_contact(actor, contact, *, reason):
    """Mark a contact inactive; the primary flag moves to another active contact, if any."""
    require_perm(actor, "customers.change", contact)
    reason = _require_reason(reason)
    if not contact.is_active:
        raise Conflict(_("This contact is already inactive."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        customer = _locked(contact.customer)
        was_primary = contact.is_primary
        contact.is_active = False
        contact.is_primary = False
        contact.save(update_fields=["is_active", "is_primary"])
        if was_primary:
            successor = (
                Contact.objects.filter(customer=customer, is_active=True).order_by("name", "pk").first()
            )
            if successor is not None:
                successor.is_primary = True
                successor.save(update_fields=["is_primary"])
        refresh_search(customer)
    return contact


# --- licences (R-CU-3) ------------------------------------------------------------------------
def _categories(values):
    """ProductCategory objects for objects or ids."""
    items = list(values or ())
    ids = [c.pk if isinstance(c, ProductCategory) else c for c in items]
    found = list(ProductCategory.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        _fail({"categories": [_("Select valid product categories.")]})
    return found


def _licence_errors(values, customer, *, instance_pk=None):
    errors = {}
    if values.get("kind") not in LicenceKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    values["number"] = (values.get("number") or "").strip()
    if not values["number"]:
        errors["number"] = _required()
    start, end = values.get("valid_from"), values.get("valid_until")
    if start and end and end < start:
        errors["valid_until"] = [_("The end of validity cannot be before its start.")]
    duplicate = Licence.objects.filter(customer=customer, kind=values.get("kind"), number=values["number"])
    if values["number"] and duplicate.exclude(pk=instance_pk).exists():
        errors["number"] = [_("This customer already has a licence with this number.")]
    return errors


def add_licence(actor, customer, *, data, categories=()):
    """Register a licence or qualification with the product categories it covers."""
    require_perm(actor, "customers.change", customer)
    _reject_unknown(data, LICENCE_FIELDS)
    values = dict(data)
    errors = _licence_errors(values, customer)
    if errors:
        _fail(errors)
    categories = _categories(categories)
    with transaction.atomic(), audit_context(actor=actor):
        licence = Licence.objects.create(customer=customer, **values)
        # Setting the scope of a licence being registered is part of its creation, not a correction.
        with audit_context(reason=_("New licence")):
            licence.categories.set(categories)
    return licence


def update_licence(actor, licence, *, data, reason, categories=None, expected_version=None):
    """Correct a licence or record its renewal (controlled); ``categories`` replaces the scope."""
    require_perm(actor, "customers.change", licence)
    licence.check_version(expected_version)
    _reject_unknown(data, LICENCE_FIELDS)
    reason = _require_reason(reason)
    values = {name: getattr(licence, name) for name in LICENCE_FIELDS}
    values.update(data)
    errors = _licence_errors(values, licence.customer_id, instance_pk=licence.pk)
    if errors:
        _fail(errors)
    categories = _categories(categories) if categories is not None else None
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name in data:
            setattr(licence, name, values[name])
        licence.save()
        if categories is not None:
            licence.categories.set(categories)
    return licence


@dataclass
class SaleCheck:
    """The answer of :func:`check_can_sell`: allowed, the translated reasons if not, the licence used."""

    allowed: bool
    reasons: list[str] = field(default_factory=list)
    licence: Licence | None = None


def expiry_window_end(on_date):
    """The last date that counts as "expiring soon" (policy customers.licence_expiry_warning)."""
    from qcare.workcalendar.calendar import add_duration
    from qcare.workcalendar.durations import DurationUnit

    window = policies.get("customers.licence_expiry_warning")
    if window.unit == DurationUnit.CALENDAR_DAYS:
        return on_date + timedelta(days=int(window.amount))
    start = timezone.make_aware(datetime.combine(on_date, time(0, 0)))
    return timezone.localdate(add_duration(start, window))


def licence_status(licence, on_date=None, *, window_end=None):
    """The LicenceStatus of ``licence`` on ``on_date`` (an inactive licence counts as expired)."""
    on_date = on_date or timezone.localdate()
    if not licence.is_active or (licence.valid_until and licence.valid_until < on_date):
        return LicenceStatus.EXPIRED
    if licence.valid_from and licence.valid_from > on_date:
        return LicenceStatus.NOT_YET_VALID
    if licence.valid_until and licence.valid_until <= (window_end or expiry_window_end(on_date)):
        return LicenceStatus.EXPIRING
    return LicenceStatus.VALID


#: Best first: the badge of a customer shows the best status among its trading licences.
STATUS_RANK = [
    LicenceStatus.VALID,
    LicenceStatus.EXPIRING,
    LicenceStatus.NOT_YET_VALID,
    LicenceStatus.EXPIRED,
]


def customer_licence_status(customer, on_date=None):
    """Best status among the customer's trading licences; "missing" if none and its type needs one.

    None for a customer without trading licences whose type needs none (e.g. hospitals).
    Uses ``customer.licences.all()`` so a prefetch serves lists without extra queries.
    """
    on_date = on_date or timezone.localdate()
    window_end = expiry_window_end(on_date)
    statuses = {
        licence_status(lic, on_date, window_end=window_end)
        for lic in customer.licences.all()
        if lic.kind in TRADING_LICENCE_KINDS
    }
    for status in STATUS_RANK:
        if status in statuses:
            return status
    return LicenceStatus.MISSING if customer.customer_type.requires_licence else None


def _is_valid_on(licence, on_date):
    return (licence.valid_from is None or licence.valid_from <= on_date) and (
        licence.valid_until is None or on_date <= licence.valid_until
    )


def check_can_sell(customer, product_categories, on_date=None):
    """May ``customer`` buy devices of ``product_categories`` on ``on_date``? (R-CU-3, orders call it).

    Customers whose type needs no licence, and non-regulated categories, pass. Otherwise every
    regulated category must be covered by an active trading licence valid on the date (several
    licences may cover them together). The reasons name the licence and date or category.
    """
    on_date = on_date or timezone.localdate()
    if not customer.customer_type.requires_licence:
        return SaleCheck(allowed=True)
    regulated = [c for c in _categories(product_categories) if c.is_regulated]
    licences = list(
        customer.licences.filter(is_active=True, kind__in=TRADING_LICENCE_KINDS).prefetch_related(
            "categories"
        )
    )
    valid = [lic for lic in licences if _is_valid_on(lic, on_date)]
    best = max(
        valid,
        key=lambda lic: len({c.pk for c in lic.categories.all()} & {c.pk for c in regulated}),
        default=None,
    )
    if not regulated:
        return SaleCheck(allowed=True, licence=best)
    if not valid:
        return SaleCheck(allowed=False, reasons=[_invalid_reason(licences, on_date)])
    covered = {c.pk for lic in valid for c in lic.categories.all()}
    numbers = "、".join(lic.number for lic in valid)
    reasons = []
    for category in regulated:
        if category.pk in covered:
            continue
        # An expired licence that covered it explains more than "does not cover". Categories
        # are named as on the licence: code and official Chinese name (医疗器械分类目录).
        lapsed = [
            lic
            for lic in licences
            if lic.valid_until and lic.valid_until < on_date and category in lic.categories.all()
        ]
        if lapsed:
            reasons.append(_expired_reason(max(lapsed, key=lambda lic: lic.valid_until)))
        else:
            reasons.append(
                _("Licence %(number)s does not cover %(category)s")
                % {"number": numbers, "category": f"{category.code} {category.name}"}
            )
    return SaleCheck(allowed=not reasons, reasons=list(dict.fromkeys(reasons)), licence=best)


def _expired_reason(licence):
    return _("Licence %(number)s expired on %(date)s") % {
        "number": licence.number,
        "date": licence.valid_until.isoformat(),
    }


def _invalid_reason(licences, on_date):
    """Why none of the trading licences is valid on ``on_date``."""
    expired = [lic for lic in licences if lic.valid_until and lic.valid_until < on_date]
    if expired:
        return _expired_reason(max(expired, key=lambda lic: lic.valid_until))
    future = [lic for lic in licences if lic.valid_from and lic.valid_from > on_date]
    if future:
        first = min(future, key=lambda lic: lic.valid_from)
        return _("Licence %(number)s is valid only from %(date)s") % {
            "number": first.number,
            "date": first.valid_from.isoformat(),
        }
    return _("No valid licence on file")


# --- communication log and follow-up actions (R-CU-4) ----------------------------------------
def _communication_values(customer, data):
    _reject_unknown(data, COMMUNICATION_FIELDS)
    values = dict(data)
    errors = {}
    if values.get("kind") not in CommunicationKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    values.setdefault("direction", Direction.INCOMING)
    if values["direction"] not in Direction.values:
        errors["direction"] = [_("Select a valid choice.")]
    values["subject"] = (values.get("subject") or "").strip()
    if not values["subject"]:
        errors["subject"] = _required()
    values["occurred_at"] = values.get("occurred_at") or timezone.now()
    contact = values.get("contact")
    if contact not in (None, ""):
        pk = contact.pk if isinstance(contact, Contact) else contact
        values["contact"] = Contact.objects.filter(pk=pk, customer=customer).first()
        if values["contact"] is None:
            errors["contact"] = [_("Select a contact of this customer.")]
    else:
        values["contact"] = None
    return values, errors


def log_communication(actor, customer, *, data, notified_departments=(), follow_ups=()):
    """Record a log entry; a visit may send a visit notice 访厂通知 to ``notified_departments``.

    ``follow_ups``: dicts with description, owner and due_date; each becomes an open action
    whose owner is notified.
    """
    require_perm(actor, "customers.change", customer)
    values, errors = _communication_values(customer, data)
    departments = list(notified_departments)
    if departments and values.get("kind") not in VISIT_KINDS:
        errors["notified_departments"] = [_("Only a visit sends a visit notice to departments.")]
    for index, item in enumerate(follow_ups):
        for name, messages in _follow_up_errors(item).items():
            errors[f"follow_ups.{index}.{name}"] = messages
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        entry = Communication.objects.create(customer=customer, recorded_by=actor, **values)
        if departments:
            entry.notified_departments.set(departments)
            notify(
                departments,
                template="customers/visit_notice",
                context={"customer": customer, "communication": entry},
                obj=customer,
            )
        for item in follow_ups:
            add_follow_up(actor, customer, communication=entry, **item)
    return entry


def _follow_up_errors(item):
    errors = {}
    if not (item.get("description") or "").strip():
        errors["description"] = _required()
    owner = item.get("owner")
    if owner is None or not getattr(owner, "is_active", False):
        errors["owner"] = [_("Select an active user.")]
    if not item.get("due_date"):
        errors["due_date"] = _required()
    return errors


def add_follow_up(actor, customer, *, description, owner, due_date, communication=None):
    """Open a follow-up action with a responsible person and due date (notified if not the actor)."""
    require_perm(actor, "customers.change", customer)
    errors = _follow_up_errors({"description": description, "owner": owner, "due_date": due_date})
    if communication is not None and communication.customer_id != customer.pk:
        errors["communication"] = [_("Select a log entry of this customer.")]
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        action = FollowUpAction.objects.create(
            customer=customer,
            communication=communication,
            description=description.strip(),
            owner=owner,
            due_date=due_date,
        )
        if owner.pk != actor.pk:
            notify(
                [owner],
                template="customers/follow_up",
                context={"customer": customer, "action": action},
                obj=customer,
            )
    return action


def _may_work_on(actor, action):
    """The responsible person may close their action even without customers.change."""
    if action.owner_id != actor.pk:
        require_perm(actor, "customers.change", action)
    if action.status != ActionStatus.OPEN:
        raise Conflict(_("This action is already closed."))


def complete_follow_up(actor, action, *, result=""):
    """Close an open action as done, with its result."""
    _may_work_on(actor, action)
    with transaction.atomic(), audit_context(actor=actor):
        action.status = ActionStatus.DONE
        action.done_at = timezone.now()
        action.result = (result or "").strip()
        action.save(update_fields=["status", "done_at", "result"])
    return action


def cancel_follow_up(actor, action, *, reason):
    """Cancel an open action; the reason is kept as its result and in the audit trail."""
    _may_work_on(actor, action)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        action.status = ActionStatus.CANCELLED
        action.done_at = timezone.now()
        action.result = reason
        action.save(update_fields=["status", "done_at", "result"])
    return action


# --- customer property (R-CU-5) ---------------------------------------------------------------
def _property_errors(values):
    errors = {}
    if values.get("kind") not in PropertyKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    if not (values.get("name") or "").strip():
        errors["name"] = _required()
    if values.get("quantity") is not None and values["quantity"] < 0:
        errors["quantity"] = [_("The quantity cannot be negative.")]
    if values.get("status", PropertyStatus.IN_CUSTODY) not in PropertyStatus.values:
        errors["status"] = [_("Select a valid choice.")]
    return errors


def register_property(actor, customer, *, data):
    """Register something the company holds for the customer (tooling, drawings, data…)."""
    require_perm(actor, "customers.change", customer)
    _reject_unknown(data, PROPERTY_FIELDS)
    errors = _property_errors(data)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        return CustomerProperty.objects.create(customer=customer, **data)


def update_property(actor, prop, *, data, reason, expected_version=None):
    """Change a property record (controlled: reason required)."""
    require_perm(actor, "customers.change", prop)
    prop.check_version(expected_version)
    _reject_unknown(data, PROPERTY_FIELDS)
    reason = _require_reason(reason)
    errors = _property_errors({**{n: getattr(prop, n) for n in PROPERTY_FIELDS}, **data})
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name, value in data.items():
            setattr(prop, name, value)
        prop.save()
    return prop


def report_property_incident(actor, prop, *, kind, occurred_on, description, notify_contact=None):
    """Report loss, damage or unsuitability: the property's status follows, the report is kept,
    the chosen customer contact is e-mailed in their language and the owner is informed."""
    require_perm(actor, "customers.change", prop)
    errors = {}
    if kind not in IncidentKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    if not occurred_on:
        errors["occurred_on"] = _required()
    elif occurred_on > timezone.localdate():
        errors["occurred_on"] = [_("The date cannot be in the future.")]
    if not (description or "").strip():
        errors["description"] = _required()
    if notify_contact is not None:
        if notify_contact.customer_id != prop.customer_id:
            errors["notify_contact"] = [_("Select a contact of this customer.")]
        elif not notify_contact.email:
            errors["notify_contact"] = [_("This contact has no e-mail address.")]
    if errors:
        _fail(errors)
    customer = prop.customer
    with transaction.atomic(), audit_context(actor=actor):
        incident = PropertyIncident.objects.create(
            property=prop,
            kind=kind,
            occurred_on=occurred_on,
            description=description.strip(),
            reported_by=actor,
            notified_contact=notify_contact,
        )
        prop.status = INCIDENT_STATUS[kind]
        prop.save(update_fields=["status"])
        context = {"customer": customer, "property": prop, "incident": incident}
        if notify_contact is not None:
            language = notify_contact.preferred_language or customer.preferred_language
            notify(
                [(notify_contact.email, language, notify_contact.name)],
                template="customers/property_incident",
                context=context,
                channels=("email",),
                obj=customer,
            )
            incident.customer_notified_at = timezone.now()
            incident.save(update_fields=["customer_notified_at"])
        notify(
            [customer.owner], template="customers/property_incident_internal", context=context, obj=customer
        )
    return incident


# --- confidentiality (R-CU-6) and portal ------------------------------------------------------
def anonymise_customer(actor, customer, *, password, request_reference, reason, username=None):
    """Replace the customer's personal data on request; signed ("approved") and audited.

    The customer keeps its code, id and every referencing record (orders, complaints, log);
    only names, phones, e-mails, ID numbers, addresses, tax id and notes are replaced.
    """
    require_perm(actor, "customers.anonymise", customer)
    reason = _require_reason(reason)
    if not (request_reference or "").strip():
        _fail({"request_reference": _required()})
    if customer.anonymised_at is not None:
        raise Conflict(_("This customer has already been anonymised."))
    now = timezone.now()
    # signing_atomic: a wrong password is counted although everything else rolls back.
    with signatures.signing_atomic(), audit_context(actor=actor, reason=reason):
        record = CustomerAnonymisation.objects.create(
            customer=customer,
            request_reference=request_reference.strip(),
            reason=reason,
            performed_by=actor,
            performed_at=now,
        )
        signatures.sign(record, actor, password, "approved", reason, username=username)
        for contact in Contact.objects.filter(customer=customer):
            _anonymise_contact(contact)
        customer.name = customer.short_name = ANONYMISED_CUSTOMER.format(code=customer.code)
        customer.address = customer.notes = ""
        customer.tax_id = None
        customer.anonymised_at = now
        customer.save()
        refresh_search(customer)
        # The SQLite FTS index keeps replaced text in old segments until they merge: purge now.
        transaction.on_commit(search.purge_index)
    return record


def _anonymise_contact(contact):
    contact.name = ANONYMISED_CONTACT.format(pk=contact.pk)
    for name in ("phone", "mobile", "email", "personal_email", "id_number", "notes"):
        setattr(contact, name, "")
    contact.save()


def link_portal_user(actor, user, customer):
    """Let a portal user (role portal_customer) see ``customer``'s records (P7).

    Deciding who may see a customer's records belongs to those who assign customers: the
    permission is customers.reassign (sales managers, administrators).
    """
    require_perm(actor, "customers.reassign", customer)
    if not user.roles.filter(code="portal_customer").exists():
        _fail({"user": [_("Only users with the portal customer role can be linked to a customer.")]})
    with transaction.atomic(), audit_context(actor=actor):
        link, _created = CustomerPortalUser.objects.update_or_create(
            user=user, defaults={"customer": customer}
        )
    return link
