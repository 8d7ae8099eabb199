"""Read-side helpers of the customer file: what a user may see (R-CU-6) and the 360 page (R-CU-7)."""

from django.db.models import Count, Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.accounts.permissions import has_perm, scope_for
from qcare.core.errors import NotFound, NotPermitted
from qcare.customers.choices import ActionStatus
from qcare.customers.models import (
    Communication,
    Contact,
    Customer,
    CustomerAnonymisation,
    CustomerProperty,
    FollowUpAction,
    Licence,
)

FULL, SERVICE = "full", "service"

#: The customer fields a technician (customers.view_service) may see.
SERVICE_FIELDS = ("code", "name", "short_name", "region", "address", "preferred_language")
#: Contact fields shown at the service level (name and office phone only).
SERVICE_CONTACT_FIELDS = ("name", "phone")
CONTACT_DISPLAY_FIELDS = (
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
    "is_active",
)
#: How many log entries the 360 page shows (the rest behind "all entries").
TIMELINE_LENGTH = 50
#: Sections later modules fill (orders, complaints, service calls, surveys, requirements).
FUTURE_SECTIONS = (
    ("orders", _("Orders")),
    ("complaints", _("Complaints")),
    ("service_calls", _("Service calls")),
    ("surveys", _("Satisfaction surveys")),
    ("requirements", _("Customer requirements")),
)


def visible_customers(user):
    """``(queryset, level)``: level "full" (customers.view) or "service" (customers.view_service).

    Raises NotPermitted when the user has neither.
    """
    if scope_for(user, "customers.view") is not None:
        return Customer.objects.restrict(user, "view"), FULL
    if scope_for(user, "customers.view_service") is not None:
        return Customer.objects.restrict(user, "view_service"), SERVICE
    raise NotPermitted()


def can_see_personal_data(user):
    """True if ``user`` may see contacts' mobile, personal e-mail and ID number unmasked."""
    return has_perm(user, "customers.view_personal_data")


def _keep(value, head, tail):
    if len(value) <= head + tail:
        return value[:1] + "****"
    return f"{value[:head]}****{value[-tail:] if tail else ''}"


def masked(value, kind=None):
    """A masked display of a personal value: '138****5678', 'z***@example.com', '4401****1234'.

    ``kind`` is "phone", "email" or "id"; without it the kind is guessed from the value
    (an "@" is an e-mail, 15 or 18 characters of digits with an optional final X an ID number).
    Empty stays empty.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if kind is None:
        compact = value.upper()
        if "@" in value:
            kind = "email"
        elif (
            len(compact) in (15, 18)
            and compact[:-1].isdigit()
            and (compact[-1].isdigit() or compact[-1] == "X")
        ):
            kind = "id"
        else:
            kind = "phone"
    if kind == "email":
        local, _at, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "id":
        return _keep(value, 4, 4)
    return _keep(value, 3, 4)


PERSONAL_KINDS = {"mobile": "phone", "personal_email": "email", "id_number": "id"}


def contact_display(contact, user, *, level=FULL, personal=None):
    """A dict of the contact's displayed fields: personal data masked unless the user may see it.

    At the "service" level only the name and office phone are included. Pass ``personal``
    (the result of :func:`can_see_personal_data`) when rendering many contacts.
    """
    if level == SERVICE:
        return {"id": contact.pk, **{name: getattr(contact, name) for name in SERVICE_CONTACT_FIELDS}}
    if personal is None:
        personal = can_see_personal_data(user)
    row = {"id": contact.pk, **{name: getattr(contact, name) for name in CONTACT_DISPLAY_FIELDS}}
    if not personal:
        for name in Contact.personal_fields:
            row[name] = masked(row[name], PERSONAL_KINDS.get(name))
    row["masked"] = not personal
    return row


def customer_display(customer, level=FULL):
    """The customer's fields for the level: everything, or SERVICE_FIELDS only."""
    if level == SERVICE:
        return {"id": customer.pk, **{name: getattr(customer, name) for name in SERVICE_FIELDS}}
    return {
        "id": customer.pk,
        **{f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields},
    }


def customer_360(user, customer):
    """Everything the 360 page shows, in a bounded number of queries (R-CU-7).

    Reloads ``customer`` within the user's scope (NotFound otherwise). At the "service" level
    only the service fields and contacts are returned.
    """
    queryset, level = visible_customers(user)
    customer = (
        queryset.select_related("customer_type", "relationship", "value_class", "owner", "department")
        .filter(pk=getattr(customer, "pk", customer))
        .first()
    )
    if customer is None:
        raise NotFound()
    contacts = list(customer.contacts.all())
    if level == SERVICE:
        return {
            "customer": customer,
            "level": level,
            "fields": customer_display(customer, SERVICE),
            "contacts": [contact_display(c, user, level=SERVICE) for c in contacts if c.is_active],
        }
    return {
        "customer": customer,
        "level": level,
        "contacts": [contact_display(c, user, personal=can_see_personal_data(user)) for c in contacts],
        **_licence_section(customer),
        **_history_sections(customer),
        "future_sections": [
            {"key": key, "title": title, "items": [], "note": _("Available when the module is installed.")}
            for key, title in FUTURE_SECTIONS
        ],
    }


def _licence_section(customer):
    from qcare.customers.services import customer_licence_status, expiry_window_end, licence_status

    today = timezone.localdate()
    window_end = expiry_window_end(today)
    licences = list(Licence.objects.filter(customer=customer).prefetch_related("categories"))
    customer._prefetched_objects_cache = {
        **getattr(customer, "_prefetched_objects_cache", {}),
        "licences": licences,
    }
    return {
        "licences": [
            {"licence": lic, "status": licence_status(lic, today, window_end=window_end)} for lic in licences
        ],
        "licence_status": customer_licence_status(customer, today),
    }


def _history_sections(customer):
    communications = list(
        Communication.objects.filter(customer=customer)
        .select_related("contact", "recorded_by")
        .prefetch_related("notified_departments")
        .order_by("-occurred_at", "-id")[:TIMELINE_LENGTH]
    )
    actions = FollowUpAction.objects.filter(customer=customer, status=ActionStatus.OPEN).select_related(
        "owner", "communication"
    )
    properties = CustomerProperty.objects.filter(customer=customer).annotate(
        incident_count=Count("incidents")
    )
    anonymisations = CustomerAnonymisation.objects.filter(customer=customer).select_related("performed_by")
    return {
        "communications": communications,
        "communication_count": Communication.objects.filter(customer=customer).count(),
        "open_actions": list(actions),
        "properties": list(properties),
        "anonymisations": list(anonymisations),
    }


def customers_with_licences(queryset):
    """``queryset`` with the licences prefetched, for lists that show the licence badge."""
    return queryset.select_related("customer_type").prefetch_related(
        Prefetch("licences", queryset=Licence.objects.order_by("-valid_until"))
    )
