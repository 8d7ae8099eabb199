"""REST endpoints of the customer file 顾客档案 (R-IF-2 for R-CU-1…7).

Mounted automatically by :mod:`qcare.api.router`. Reads go through
:func:`qcare.customers.selectors.visible_customers` (the same scope as the UI): a user with
``customers.view`` gets the full record, a user with only ``customers.view_service``
(technicians) gets the service fields (:class:`CustomerServiceOut`), anyone else 403; a
customer outside the caller's scope is 404. Personal data of contacts is masked unless
:func:`~qcare.customers.selectors.can_see_personal_data`. Every write calls
:mod:`qcare.customers.services`, which checks the permission of the action. See
docs/api-customers.md.
"""

import datetime
from decimal import Decimal
from importlib.util import find_spec
from typing import Literal

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from pydantic import field_validator

from qcare.api.crud import (
    READ_ERRORS,
    WRITE_ERRORS,
    Resource,
    expected_version,
    json_response,
    reason_from_body,
    require_reason,
    row_of,
)
from qcare.api.schemas import (
    MAX_ID,
    ClientInput,
    ControlledUpdate,
    ErrorOut,
    ListQuery,
    Page,
    PageQuery,
    RecordId,
    money_input,
)
from qcare.core.context import get_actor
from qcare.core.errors import NotFound, NotPermitted, ValidationFailed
from qcare.customers import search, selectors, services
from qcare.customers.choices import (
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
from qcare.customers.filters import annotate_licence_status
from qcare.customers.models import (
    Classification,
    Communication,
    Contact,
    Customer,
    CustomerProperty,
    FollowUpAction,
    Licence,
)

FULL, SERVICE = "full", "service"
TAGS = ["customers"]

# --- output schemas -----------------------------------------------------------------------
#: Model fields of a list row (full level); the annotations below are added by name.
LIST_FIELDS = (
    "id",
    "code",
    "name",
    "short_name",
    "customer_type",
    "is_foreign",
    "country",
    "region",
    "tax_id",
    "owner",
    "department",
    "relationship",
    "value_class",
    "preferred_language",
    "preferred_channel",
    "is_active",
    "anonymised_at",
    "version",
    "created_at",
    "updated_at",
)
LIST_ANNOTATIONS = (
    "customer_type_code",
    "relationship_code",
    "value_class_code",
    "licence_required",
    "licence_status",
)
#: What a technician (customers.view_service) may see of a customer.
SERVICE_FIELDS = ("id", "code", "name", "short_name", "region", "address", "country", "preferred_language")
DETAIL_FIELDS = LIST_FIELDS + ("address", "payment_terms", "credit_notes", "over_delivery_tolerance", "notes")


class CustomerOut(Schema):
    """One customer as listed (level "full")."""

    id: int
    code: str
    name: str
    short_name: str
    customer_type: int
    customer_type_code: str
    is_foreign: bool
    country: str
    region: str
    tax_id: str | None
    owner: int
    department: int | None
    relationship: int | None
    relationship_code: str | None
    value_class: int | None
    value_class_code: str | None
    preferred_language: Language
    preferred_channel: Channel
    is_active: bool
    licence_required: bool = Field(
        description="the customer type needs a trading licence (distributors, agents …)"
    )
    licence_status: LicenceStatus | None = Field(
        description="best status of the customer's trading licences; 'missing' when the type needs "
        "one and there is none; null when the type needs none and there is none (e.g. hospitals)"
    )
    anonymised_at: datetime.datetime | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class CustomerServiceOut(Schema):
    """One customer as a service technician sees it (level "service": no commercial data)."""

    id: int
    code: str
    name: str
    short_name: str
    region: str
    address: str
    country: str
    preferred_language: Language


class ServiceContactOut(Schema):
    """A contact as a service technician sees it: name, position and office phone."""

    id: int
    name: str
    title: str
    department_name: str
    phone: str
    preferred_language: str
    is_primary: bool


class ContactOut(ServiceContactOut):
    """A contact; ``mobile``, ``personal_email`` and ``id_number`` are masked without
    customers.view_personal_data (``personal_data_masked`` says so)."""

    customer: int
    mobile: str
    email: str
    personal_email: str
    id_number: str
    is_active: bool
    notes: str
    version: int
    personal_data_masked: bool


class LicenceOut(Schema):
    """A licence or qualification with its status today and its scope as category codes."""

    id: int
    customer: int
    kind: LicenceKind
    kind_display: str
    number: str
    categories: list[str] = Field(description="product category codes (医疗器械分类目录)")
    scope_text: str
    authority: str
    valid_from: datetime.date | None
    valid_until: datetime.date | None
    is_active: bool
    status: LicenceStatus
    version: int


class CustomerCounts(Schema):
    contacts: int
    licences: int
    communications: int
    open_actions: int
    property: int


class CustomerDetail(CustomerOut):
    """One customer with its contacts, licences (with status) and record counts."""

    address: str
    payment_terms: str
    credit_notes: str
    over_delivery_tolerance: Decimal | None = Field(
        description="agreed quantity tolerance in percent for deliveries and returns; null: the company default"
    )
    notes: str
    customer_type_name: str
    owner_name: str
    contacts: list[ContactOut]
    licences: list[LicenceOut]
    counts: CustomerCounts


class CustomerServiceDetail(CustomerServiceOut):
    """One customer at the service level, with its active contacts' service fields."""

    contacts: list[ServiceContactOut]


class FollowUpOut(Schema):
    """A follow-up action 跟进措施."""

    id: int
    customer: int
    communication: int | None
    description: str
    owner: int
    owner_name: str
    due_date: datetime.date
    status: ActionStatus
    done_at: datetime.datetime | None
    result: str
    version: int


class CommunicationOut(Schema):
    """An entry of the communication log 沟通记录; visits carry the notice, attendees, opinions."""

    id: int
    customer: int
    kind: CommunicationKind
    direction: Direction
    occurred_at: datetime.datetime
    contact: int | None
    subject: str
    summary: str
    recorded_by: int
    recorded_by_name: str
    notified_departments: list[str] = Field(description="department codes that got the visit notice")
    attendees: str
    customer_opinions: str
    converted_to_type: str
    converted_to_id: str
    follow_ups: list[FollowUpOut]
    version: int
    created_at: datetime.datetime


class IncidentOut(Schema):
    """A report of loss, damage or unsuitability of customer property."""

    id: int
    property: int
    kind: IncidentKind
    occurred_on: datetime.date
    description: str
    reported_by: int
    notified_contact: int | None
    customer_notified_at: datetime.datetime | None


class PropertyOut(Schema):
    """An item of customer property 顾客财产 with its incident reports."""

    id: int
    customer: int
    kind: PropertyKind
    name: str
    identification: str
    quantity: Decimal
    location: str
    condition: str
    received_on: datetime.date | None
    status: PropertyStatus
    notes: str
    incidents: list[IncidentOut]
    version: int


class SaleCheckOut(Schema):
    """The sales gate of R-CU-3: may these categories be sold to the customer on that date?"""

    allowed: bool
    reasons: list[str] = Field(description="translated reasons when not allowed")
    licence: int | None = Field(description="a licence that allows the sale, if one alone does")


# --- input schemas ------------------------------------------------------------------------
def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class NoNul(Schema):
    """Refuses text containing NUL characters as a field error: PostgreSQL cannot store them
    (and a query with one would be a 500); SQLite would store them silently."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if _has_nul(value):
            raise ValueError("NUL character")
        return value


Quantity = money_input(12, 2)
#: Percent with two decimals (the service accepts 0–100).
Tolerance = money_input(5, 2)


class ContactIn(NoNul, ClientInput):
    name: str = Field(..., min_length=1, max_length=100)
    title: str = Field("", max_length=100)
    department_name: str = Field("", max_length=100)
    phone: str = Field("", max_length=40)
    mobile: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    personal_email: str = Field("", max_length=254)
    id_number: str = Field("", max_length=40)
    preferred_language: Literal["", "zh-hans", "en"] = ""
    is_primary: bool = False
    notes: str = ""


class ContactUpdate(NoNul, ControlledUpdate):
    """Fields may be omitted (unchanged) but not null."""

    name: str = Field(None, min_length=1, max_length=100)
    title: str = Field(None, max_length=100)
    department_name: str = Field(None, max_length=100)
    phone: str = Field(None, max_length=40)
    mobile: str = Field(None, max_length=40)
    email: str = Field(None, max_length=254)
    personal_email: str = Field(None, max_length=254)
    id_number: str = Field(None, max_length=40)
    preferred_language: Literal["", "zh-hans", "en"] = None
    is_primary: bool = None
    notes: str = None


class CustomerCreate(NoNul, ClientInput):
    """A new customer; the owner is you (reassign afterwards), the code is assigned (C{NNNNN})."""

    name: str = Field(..., min_length=1, max_length=200)
    short_name: str = Field("", max_length=100)
    customer_type: RecordId = Field(..., description="id of a classification of the list 'type'")
    is_foreign: bool = False
    country: str = Field("CN", min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    region: str = Field("", max_length=100)
    address: str = Field("", max_length=300)
    tax_id: str | None = Field(None, max_length=40, description="unified social credit code")
    payment_terms: str = Field("", max_length=200)
    credit_notes: str = ""
    relationship: RecordId | None = None
    value_class: RecordId | None = None
    preferred_language: Language = Language.ZH_HANS
    preferred_channel: Channel = Channel.EMAIL
    over_delivery_tolerance: Tolerance | None = Field(
        None, description="percent, 0–100, for deliveries and returns; null: the company default"
    )
    notes: str = ""
    contacts: list[ContactIn] = Field([], max_length=50, description="created with the customer")


class CustomerUpdate(NoNul, ControlledUpdate):
    """Fields may be omitted (unchanged); only the nullable ones accept null."""

    name: str = Field(None, min_length=1, max_length=200)
    short_name: str = Field(None, max_length=100)
    customer_type: RecordId = None
    is_foreign: bool = None
    country: str = Field(None, min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    region: str = Field(None, max_length=100)
    address: str = Field(None, max_length=300)
    tax_id: str | None = Field(None, max_length=40)
    payment_terms: str = Field(None, max_length=200)
    credit_notes: str = None
    relationship: RecordId | None = None
    value_class: RecordId | None = None
    preferred_language: Language = None
    preferred_channel: Channel = None
    over_delivery_tolerance: Tolerance | None = Field(
        None, description="percent, 0–100; null: the company default"
    )
    notes: str = None


class ReassignIn(NoNul, ClientInput):
    owner: RecordId = Field(..., description="id of the new owner (sales person)")
    reason: str = Field(..., min_length=1, max_length=1000)


class DeactivateIn(NoNul, ClientInput):
    reason: str = Field(..., min_length=1, max_length=1000)


class AnonymiseIn(NoNul, ClientInput):
    password: str = Field(..., max_length=256, json_schema_extra={"format": "password"})
    username: str | None = Field(None, max_length=150, description="needed on the first signature")
    request_reference: str = Field(..., min_length=1, max_length=200)
    reason: str = Field(..., min_length=1, max_length=1000)


class LicenceIn(NoNul, ClientInput):
    kind: LicenceKind
    number: str = Field(..., min_length=1, max_length=80)
    categories: list[str] = Field([], max_length=100, description="product category codes, e.g. ['07', '22']")
    scope_text: str = ""
    authority: str = Field("", max_length=200)
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None


class LicenceUpdate(NoNul, ControlledUpdate):
    kind: LicenceKind = None
    number: str = Field(None, min_length=1, max_length=80)
    categories: list[str] = Field(None, max_length=100, description="replaces the scope when given")
    scope_text: str = None
    authority: str = Field(None, max_length=200)
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    is_active: bool = None


class FollowUpIn(NoNul, ClientInput):
    description: str = Field(..., min_length=1, max_length=2000)
    owner: RecordId = Field(..., description="id of the responsible user")
    due_date: datetime.date


class ActionIn(FollowUpIn):
    communication: RecordId | None = Field(None, description="the log entry it comes from")


class CommunicationIn(NoNul, ClientInput):
    kind: CommunicationKind
    direction: Direction = Direction.INCOMING
    occurred_at: datetime.datetime
    contact: RecordId | None = Field(None, description="id of a contact of this customer")
    subject: str = Field(..., min_length=1, max_length=200)
    summary: str = ""
    attendees: str = ""
    customer_opinions: str = ""
    notified_departments: list[str] = Field([], max_length=50, description="department codes (visit notice)")
    follow_ups: list[FollowUpIn] = Field([], max_length=50)


class CompleteIn(NoNul, ClientInput):
    result: str = Field("", max_length=4000)


class PropertyIn(NoNul, ClientInput):
    kind: PropertyKind
    name: str = Field(..., min_length=1, max_length=200)
    identification: str = Field("", max_length=100)
    quantity: Quantity = Decimal("1")
    location: str = Field("", max_length=200)
    condition: str = Field("", max_length=200)
    received_on: datetime.date | None = None
    notes: str = ""


class PropertyUpdate(NoNul, ControlledUpdate):
    kind: PropertyKind = None
    name: str = Field(None, min_length=1, max_length=200)
    identification: str = Field(None, max_length=100)
    quantity: Quantity = None
    location: str = Field(None, max_length=200)
    condition: str = Field(None, max_length=200)
    received_on: datetime.date | None = None
    status: Literal[PropertyStatus.IN_CUSTODY, PropertyStatus.RETURNED] = Field(
        None, description="losses etc. are reported as incidents"
    )
    notes: str = None


class IncidentIn(NoNul, ClientInput):
    kind: IncidentKind
    occurred_on: datetime.date
    description: str = Field(..., min_length=1, max_length=4000)
    notify_contact: RecordId | None = Field(None, description="id of the customer contact to inform")


ORDERINGS = ("code", "-code", "name", "-name", "region", "-region", "created_at", "-created_at")
ORDERINGS += ("updated_at", "-updated_at")


class CustomerListQuery(NoNul, ListQuery):
    """Search (Chinese or Latin: name, short name, code, tax id, contact names and phones) and filters."""

    type: str | None = Field(None, max_length=40, description="customer type code, e.g. distributor")
    is_foreign: bool | None = None
    region: str | None = Field(None, max_length=100, description="part of the region, e.g. 浙江")
    relationship: str | None = Field(None, max_length=40, description="relationship class code")
    value_class: str | None = Field(None, max_length=40, description="value class code")
    owner: RecordId | None = None
    licence_status: LicenceStatus | None = None
    is_active: bool | None = None
    ordering: Literal[ORDERINGS] | None = None


class CanSellQuery(NoNul, Schema):
    categories: str = Field(..., min_length=1, max_length=400, description="category codes, e.g. 07,22")
    date: datetime.date | None = Field(None, description="default: today")


# --- reading helpers ----------------------------------------------------------------------
def _visible(user):
    """``(queryset, level)`` of the customers ``user`` may see (403 when none at all)."""
    return selectors.visible_customers(user)


def _level_required(level, wanted=FULL):
    if level != wanted:
        raise NotPermitted()


def _search(queryset, term):
    """Narrow by the search term (Chinese or Latin words; index-backed, see customers.search)."""
    term = (term or "").strip()
    return search.search_customers(queryset, term) if term else queryset


def _classification(kind, code, param):
    """The classification with ``code`` in list ``kind``; an unknown code is a 400 on ``param``."""
    found = Classification.objects.filter(kind=kind, code=code).first()
    if found is None:
        message = _("Unknown code: %(code)s.") % {"code": code}
        raise ValidationFailed(_("Please correct the errors below."), errors={param: [message]})
    return found


def _filter(queryset, query):
    """Apply the list filters of ``query`` (classification codes are checked: unknown → 400)."""
    for param, kind, field in (
        ("type", ClassificationKind.TYPE, "customer_type"),
        ("relationship", ClassificationKind.RELATIONSHIP, "relationship"),
        ("value_class", ClassificationKind.VALUE, "value_class"),
    ):
        code = getattr(query, param)
        if code is not None:
            queryset = queryset.filter(**{field: _classification(kind, code, param)})
    if query.is_foreign is not None:
        queryset = queryset.filter(is_foreign=query.is_foreign)
    if query.is_active is not None:
        queryset = queryset.filter(is_active=query.is_active)
    if query.region:
        queryset = queryset.filter(region__icontains=query.region.strip())
    if query.owner is not None:
        queryset = queryset.filter(owner_id=query.owner)
    if query.licence_status is not None:
        queryset = queryset.filter(licence_status=query.licence_status)
    return queryset


def _annotated(queryset):
    return annotate_licence_status(queryset).annotate(
        customer_type_code=F("customer_type__code"),
        relationship_code=F("relationship__code"),
        value_class_code=F("value_class__code"),
        licence_required=F("customer_type__requires_licence"),
    )


def _page_url(request, page):
    params = request.GET.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def _page(request, queryset, page, page_size, rows):
    """A page dict; ``rows(slice)`` turns the sliced queryset into the list of result dicts."""
    count = queryset.count()
    start = (page - 1) * page_size
    results = rows(queryset[start : start + page_size]) if start < count else []
    return {
        "count": count,
        "page": page,
        "page_size": page_size,
        "next": _page_url(request, page + 1) if start + page_size < count else None,
        "previous": _page_url(request, page - 1) if page > 1 and count else None,
        "results": results,
    }


def licence_row(licence, today=None, horizon=None):
    """A licence as clients get it (categories must be prefetched for lists)."""
    today = today or timezone.localdate()
    horizon = horizon or services.expiry_window_end(today)
    row = row_of(licence, ("id", "customer", "kind", "number", "scope_text", "authority"))
    row.update(
        kind_display=str(licence.get_kind_display()),
        categories=sorted(c.code for c in licence.categories.all()),
        valid_from=licence.valid_from,
        valid_until=licence.valid_until,
        is_active=licence.is_active,
        status=services.licence_status(licence, today, window_end=horizon),
        version=licence.version,
    )
    return row


CONTACT_SERVICE_FIELDS = (
    "id",
    "name",
    "title",
    "department_name",
    "phone",
    "preferred_language",
    "is_primary",
)
CONTACT_FIELDS = CONTACT_SERVICE_FIELDS + ("customer", "email", "is_active", "notes", "version")


def contact_row(contact, user, level=FULL):
    """A contact as ``user`` may see it: service fields only, or everything with personal data masked."""
    if level != FULL:
        return row_of(contact, CONTACT_SERVICE_FIELDS)
    row = row_of(contact, CONTACT_FIELDS)
    hide = not selectors.can_see_personal_data(user)
    for name in Contact.personal_fields:
        value = getattr(contact, name)
        row[name] = selectors.masked(value) if hide else value
    row["personal_data_masked"] = hide
    return row


def action_row(action):
    row = row_of(action, ("id", "customer", "communication", "description", "owner", "due_date", "status"))
    row.update(
        owner_name=action.owner.get_full_name() or action.owner.username,
        done_at=action.done_at,
        result=action.result,
        version=action.version,
    )
    return row


COMMUNICATION_FIELDS = (
    "id",
    "customer",
    "kind",
    "direction",
    "occurred_at",
    "contact",
    "subject",
    "summary",
    "recorded_by",
    "attendees",
    "customer_opinions",
    "converted_to_type",
    "converted_to_id",
    "version",
    "created_at",
)


def communication_row(entry):
    """A log entry (departments, actions and recorder must be prefetched for lists)."""
    row = row_of(entry, COMMUNICATION_FIELDS)
    row.update(
        recorded_by_name=entry.recorded_by.get_full_name() or entry.recorded_by.username,
        notified_departments=sorted(d.code for d in entry.notified_departments.all()),
        follow_ups=[action_row(a) for a in entry.actions.all()],
    )
    return row


PROPERTY_FIELDS = ("id", "customer", "kind", "name", "identification", "quantity", "location", "condition")
INCIDENT_FIELDS = ("id", "property", "kind", "occurred_on", "description", "reported_by", "notified_contact")


def property_row(prop):
    row = row_of(prop, PROPERTY_FIELDS)
    row.update(received_on=prop.received_on, status=prop.status, notes=prop.notes, version=prop.version)
    row["incidents"] = [
        {**row_of(i, INCIDENT_FIELDS), "customer_notified_at": i.customer_notified_at}
        for i in prop.incidents.all()
    ]
    return row


def customer_detail(customer, user=None, level=FULL):
    """One customer for retrieve/create/update/action answers, at the caller's level."""
    user = user or get_actor()
    contacts = customer.contacts.filter(is_active=True).order_by("-is_primary", "name", "id")
    if level != FULL:
        data = row_of(customer, SERVICE_FIELDS)
        data["contacts"] = [contact_row(c, user, level) for c in contacts]
        return data
    annotated = _annotated(Customer.objects.filter(pk=customer.pk)).values(*LIST_ANNOTATIONS).get()
    data = {**row_of(customer, DETAIL_FIELDS), **annotated}
    today = timezone.localdate()
    horizon = services.expiry_window_end(today)
    licences = customer.licences.prefetch_related("categories")
    contact_rows = [contact_row(c, user) for c in contacts]
    data.update(
        customer_type_name=str(customer.customer_type),
        owner_name=customer.owner.get_full_name() or customer.owner.username,
        contacts=contact_rows,
        licences=[licence_row(lic, today, horizon) for lic in licences],
        counts={
            "contacts": len(contact_rows),
            "licences": customer.licences.count(),
            "communications": customer.communications.count(),
            "open_actions": customer.actions.filter(status=ActionStatus.OPEN).count(),
            "property": customer.properties.count(),
        },
    )
    return data


class CustomerResource(Resource):
    """The customer resource: reads by ``visible_customers`` (full or service level)."""

    def visible(self, request, pk):
        """``(customer, level)`` if the caller may see the customer at any level; 404 otherwise."""
        if not 0 < pk <= MAX_ID:
            raise NotFound()
        queryset, level = _visible(request.auth)
        obj = queryset.select_related("customer_type", "owner").filter(pk=pk).first()
        if obj is None:
            raise NotFound()
        return obj, level

    def get(self, request, pk, action="view"):
        """The customer for full-level use (update, actions, history, can-sell): 404 outside the
        scope, 403 at the service level (a technician must not read the history or change it)."""
        obj, level = self.visible(request, pk)
        _level_required(level)
        return obj

    def _add_list(self):
        @self.router.get(
            "/customers/",
            response={200: Page[CustomerOut | CustomerServiceOut], 400: ErrorOut, **READ_ERRORS},
            url_name="customers-list",
            operation_id="customers_list",
            summary="List customers",
        )
        def list_customers(request, query: Query[CustomerListQuery]):
            """Customers in your scope. Technicians (customers.view_service) get only the service
            fields (CustomerServiceOut). ``licence_status`` is the best status of the trading licences."""
            queryset, level = _visible(request.auth)
            queryset = _filter(_annotated(_search(queryset, query.search)), query)
            if query.ordering:
                queryset = queryset.order_by(query.ordering, "-id")
            fields = LIST_FIELDS + LIST_ANNOTATIONS if level == FULL else SERVICE_FIELDS
            page = _page(request, queryset, query.page, query.page_size, lambda qs: list(qs.values(*fields)))
            return json_response(page)

    def _add_retrieve(self):
        @self.router.get(
            "/customers/{int:pk}/",
            response={200: CustomerDetail | CustomerServiceDetail, **READ_ERRORS},
            url_name="customers-detail",
            operation_id="customers_retrieve",
            summary="Retrieve a customer",
        )
        def retrieve(request, pk: int):
            """The customer with contacts, licences (with status) and counts; at the service level
            only the service fields and the contacts' names and office phones."""
            obj, level = self.visible(request, pk)
            return json_response(customer_detail(obj, request.auth, level), obj=obj)


def _create_customer(actor, **data):
    contacts = data.pop("contacts", None) or ()
    return services.create_customer(actor, data=data, contacts=list(contacts))


customers = CustomerResource(
    Customer,
    "customers",
    out=CustomerOut,
    detail_out=CustomerDetail,
    list_fields=LIST_FIELDS,
    detail=customer_detail,
    create_in=CustomerCreate,
    create=_create_customer,
    update_in=CustomerUpdate,
    update=services.update_customer,
    tags=TAGS,
)
router = customers.router


# --- customer actions ---------------------------------------------------------------------
def _user(pk, field):
    from qcare.accounts.models import User

    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationFailed(_("Please correct the errors below."), errors={field: [_("Unknown user.")]})
    return user


@customers.action("reassign", ReassignIn, summary="Reassign the customer")
def reassign(request, customer, payload):
    """Give the customer to another sales person (customers.reassign); the reason is recorded."""
    new_owner = _user(payload.owner, "owner")
    return services.reassign_customer(request.auth, customer, new_owner=new_owner, reason=payload.reason)


@customers.action("deactivate", DeactivateIn, summary="Deactivate the customer")
def deactivate(request, customer, payload):
    """Deactivate the customer (customers.delete); its records stay and keep working."""
    return services.deactivate_customer(request.auth, customer, reason=payload.reason)


@customers.action("anonymise", AnonymiseIn, summary="Anonymise the customer (e-signature)")
def anonymise(request, customer, payload):
    """Replace the customer's personal data on request (customers.anonymise), signed with your
    password (P4). A wrong password answers 400 ``signature_refused``; records keep working."""
    services.anonymise_customer(
        request.auth,
        customer,
        password=payload.password,
        request_reference=payload.request_reference,
        reason=payload.reason,
        username=payload.username,
    )
    return customer


def _categories(codes, field="categories"):
    """ProductCategory objects for ``codes`` (in that order); unknown codes are a 400 on ``field``."""
    from qcare.catalog.models import ProductCategory

    codes = [c.strip() for c in codes if c and c.strip()]
    found = {c.code: c for c in ProductCategory.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in found]
    if unknown:
        message = _("Unknown product category: %(codes)s.") % {"codes": ", ".join(unknown)}
        raise ValidationFailed(_("Please correct the errors below."), errors={field: [message]})
    return [found[c] for c in dict.fromkeys(codes)]


@router.get(
    "/customers/{int:pk}/can-sell/",
    response={200: SaleCheckOut, 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_can_sell",
    summary="May these product categories be sold to the customer?",
)
def can_sell(request, pk: int, query: Query[CanSellQuery]):
    """The licence check of R-CU-3 (``categories=07,22``, ``date`` default today): allowed, or
    the exact reasons (no licence, expired on …, scope does not cover …)."""
    customer = customers.get(request, pk)
    categories = _categories(query.categories.split(","))
    if not categories:
        raise ValidationFailed(
            _("Please correct the errors below."), errors={"categories": [_("This field is required.")]}
        )
    check = services.check_can_sell(customer, categories, query.date)
    licence = getattr(check, "licence", None)
    return {
        "allowed": bool(check.allowed),
        "reasons": [str(r) for r in check.reasons],
        "licence": licence.pk if licence is not None else None,
    }


# --- nested resources ---------------------------------------------------------------------
def _parent(request, pk, level=FULL):
    """The customer ``pk`` (404 outside scope) and the caller's level; 403 below ``level``."""
    customer, actual = customers.visible(request, pk)
    if level == FULL:
        _level_required(actual)
    return customer, actual


def _child(model, customer, pk, **lookup):
    if not 0 < pk <= MAX_ID:
        raise NotFound()
    obj = model.objects.filter(pk=pk, **lookup).first()
    if obj is None or (customer is not None and obj.customer_id != customer.pk):
        raise NotFound()
    return obj


def _created(request, data, obj):
    response = json_response(data, status=201, obj=obj)
    response["Location"] = f"{request.path}{obj.pk}/"
    return response


def _versioned(request, model, obj, data):
    """Pop and check ``version`` and ``reason`` of an update body (412/409/400 like the shell)."""
    version = expected_version(request, obj, data.pop("version", None))
    reason = require_reason(model, data.pop("reason", None))
    return version, reason


# contacts
@router.get(
    "/customers/{int:pk}/contacts/",
    response={200: Page[ContactOut | ServiceContactOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_contacts_list",
    summary="List the customer's contacts",
)
def list_contacts(request, pk: int, query: Query[PageQuery], include_inactive: bool = False):
    """Contacts, primary first; personal data masked without customers.view_personal_data;
    service level: names, positions and office phones of active contacts only."""
    customer, level = _parent(request, pk, level=SERVICE)
    queryset = customer.contacts.order_by("-is_primary", "name", "id")
    if not include_inactive or level != FULL:
        queryset = queryset.filter(is_active=True)
    page = _page(
        request,
        queryset,
        query.page,
        query.page_size,
        lambda qs: [contact_row(c, request.auth, level) for c in qs],
    )
    return json_response(page)


@router.post(
    "/customers/{int:pk}/contacts/",
    response={201: ContactOut, **WRITE_ERRORS},
    operation_id="customers_contacts_create",
    summary="Add a contact",
)
def create_contact(request, pk: int, payload: ContactIn):
    """Add a contact (customers.change); ``is_primary`` moves the primary flag to it."""
    customer, _level = _parent(request, pk)
    contact = services.add_contact(request.auth, customer, data=payload.model_dump())
    contact = Contact.objects.get(pk=contact.pk)
    return _created(request, contact_row(contact, request.auth), contact)


@router.patch(
    "/customers/{int:pk}/contacts/{int:cid}/",
    response={200: ContactOut, 412: ErrorOut, **WRITE_ERRORS},
    operation_id="customers_contacts_update",
    summary="Change a contact",
)
def update_contact(request, pk: int, cid: int, payload: ContactUpdate):
    """Change a contact (customers.change): send ``version`` (or If-Match) and ``reason``."""
    customer, _level = _parent(request, pk)
    contact = _child(Contact, customer, cid)
    data = payload.model_dump(exclude_unset=True)
    version, reason = _versioned(request, Contact, contact, data)
    services.update_contact(request.auth, contact, data=data, reason=reason, expected_version=version)
    contact = Contact.objects.get(pk=contact.pk)
    return json_response(contact_row(contact, request.auth), obj=contact)


@router.delete(
    "/customers/{int:pk}/contacts/{int:cid}/",
    response={204: None, **WRITE_ERRORS},
    operation_id="customers_contacts_deactivate",
    summary="Deactivate a contact",
)
def delete_contact(request, pk: int, cid: int, reason: str | None = None):
    """Deactivate the contact (kept for the records that reference it); ``reason`` required,
    as ``?reason=…`` or a JSON body."""
    from django.http import HttpResponse

    customer, _level = _parent(request, pk)
    contact = _child(Contact, customer, cid)
    reason = reason or reason_from_body(request)
    if _has_nul(reason):
        message = _("Enter a valid value.")
        raise ValidationFailed(_("Please correct the errors below."), errors={"reason": [message]})
    reason = require_reason(Contact, reason)
    services.deactivate_contact(request.auth, contact, reason=reason)
    return HttpResponse(status=204)


# licences
@router.get(
    "/customers/{int:pk}/licences/",
    response={200: Page[LicenceOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_licences_list",
    summary="List the customer's licences",
)
def list_licences(request, pk: int, query: Query[PageQuery]):
    """Licences and qualifications with their status today (valid / expiring / expired / …)."""
    customer, _level = _parent(request, pk)
    today = timezone.localdate()
    horizon = services.expiry_window_end(today)
    queryset = customer.licences.prefetch_related("categories").order_by("-valid_until", "-id")
    page = _page(
        request,
        queryset,
        query.page,
        query.page_size,
        lambda qs: [licence_row(lic, today, horizon) for lic in qs],
    )
    return json_response(page)


@router.post(
    "/customers/{int:pk}/licences/",
    response={201: LicenceOut, **WRITE_ERRORS},
    operation_id="customers_licences_create",
    summary="Add a licence",
)
def create_licence(request, pk: int, payload: LicenceIn):
    """Add a licence (customers.change); the scope is given as product category codes. The
    scanned copy is attached in the UI (attachments)."""
    customer, _level = _parent(request, pk)
    data = payload.model_dump()
    categories = _categories(data.pop("categories"))
    licence = services.add_licence(request.auth, customer, data=data, categories=categories)
    licence = Licence.objects.get(pk=licence.pk)
    return _created(request, licence_row(licence), licence)


@router.patch(
    "/customers/{int:pk}/licences/{int:lid}/",
    response={200: LicenceOut, 412: ErrorOut, **WRITE_ERRORS},
    operation_id="customers_licences_update",
    summary="Change a licence",
)
def update_licence(request, pk: int, lid: int, payload: LicenceUpdate):
    """Change a licence (customers.change): ``version`` (or If-Match) and ``reason`` required;
    ``categories`` (codes) replaces the scope when given."""
    customer, _level = _parent(request, pk)
    licence = _child(Licence, customer, lid)
    data = payload.model_dump(exclude_unset=True)
    version, reason = _versioned(request, Licence, licence, data)
    categories = data.pop("categories", None)
    if categories is not None:
        categories = _categories(categories)
    services.update_licence(
        request.auth, licence, data=data, reason=reason, categories=categories, expected_version=version
    )
    licence = Licence.objects.get(pk=licence.pk)
    return json_response(licence_row(licence), obj=licence)


# communications
def _communications(queryset):
    return queryset.select_related("recorded_by").prefetch_related(
        "notified_departments", "actions", "actions__owner"
    )


@router.get(
    "/customers/{int:pk}/communications/",
    response={200: Page[CommunicationOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_communications_list",
    summary="The customer's communication log",
)
def list_communications(request, pk: int, query: Query[PageQuery], kind: CommunicationKind | None = None):
    """Log entries, newest first, paginated; optionally one ``kind`` (e.g. plant_visit)."""
    customer, _level = _parent(request, pk)
    queryset = customer.communications.order_by("-occurred_at", "-id")
    if kind:
        queryset = queryset.filter(kind=kind)
    page = _page(
        request,
        queryset,
        query.page,
        query.page_size,
        lambda qs: [communication_row(e) for e in _communications(qs)],
    )
    return json_response(page)


def _departments(codes):
    from qcare.accounts.models import Department

    codes = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    found = {d.code: d for d in Department.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in found]
    if unknown:
        message = _("Unknown department: %(codes)s.") % {"codes": ", ".join(unknown)}
        raise ValidationFailed(
            _("Please correct the errors below."), errors={"notified_departments": [message]}
        )
    return [found[c] for c in codes]


@router.post(
    "/customers/{int:pk}/communications/",
    response={201: CommunicationOut, **WRITE_ERRORS},
    operation_id="customers_communications_create",
    summary="Log a communication or visit",
)
def create_communication(request, pk: int, payload: CommunicationIn):
    """Log an inquiry, call, letter, fax, e-mail or visit (customers.change). A plant visit may
    send the visit notice 访厂通知 to ``notified_departments`` (codes) and create ``follow_ups``."""
    customer, _level = _parent(request, pk)
    data = payload.model_dump()
    departments = _departments(data.pop("notified_departments"))
    follow_ups = [{**f, "owner": _user(f["owner"], "follow_ups")} for f in data.pop("follow_ups")]
    if data.get("contact") is not None:
        data["contact"] = _contact_of(customer, data["contact"], "contact")
    entry = services.log_communication(
        request.auth, customer, data=data, notified_departments=departments, follow_ups=follow_ups
    )
    entry = _communications(Communication.objects.filter(pk=entry.pk)).get()
    return _created(request, communication_row(entry), entry)


def _contact_of(customer, pk, field):
    contact = Contact.objects.filter(pk=pk, customer=customer).first()
    if contact is None:
        message = _("Select a contact of this customer.")
        raise ValidationFailed(_("Please correct the errors below."), errors={field: [message]})
    return contact


# follow-up actions
@router.get(
    "/customers/{int:pk}/actions/",
    response={200: Page[FollowUpOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_actions_list",
    summary="The customer's follow-up actions",
)
def list_actions(request, pk: int, query: Query[PageQuery], status: ActionStatus | None = None):
    """Follow-up actions by due date; optionally one ``status`` (open / done / cancelled)."""
    customer, _level = _parent(request, pk)
    queryset = customer.actions.select_related("owner").order_by("due_date", "id")
    if status:
        queryset = queryset.filter(status=status)
    page = _page(request, queryset, query.page, query.page_size, lambda qs: [action_row(a) for a in qs])
    return json_response(page)


@router.post(
    "/customers/{int:pk}/actions/",
    response={201: FollowUpOut, **WRITE_ERRORS},
    operation_id="customers_actions_create",
    summary="Add a follow-up action",
)
def create_action(request, pk: int, payload: ActionIn):
    """Add a follow-up action (customers.change), optionally from a log entry of this customer."""
    customer, _level = _parent(request, pk)
    communication = None
    if payload.communication is not None:
        communication = Communication.objects.filter(pk=payload.communication, customer=customer).first()
        if communication is None:
            message = _("Select a log entry of this customer.")
            raise ValidationFailed(_("Please correct the errors below."), errors={"communication": [message]})
    action = services.add_follow_up(
        request.auth,
        customer,
        description=payload.description,
        owner=_user(payload.owner, "owner"),
        due_date=payload.due_date,
        communication=communication,
    )
    action = FollowUpAction.objects.select_related("owner").get(pk=action.pk)
    return _created(request, action_row(action), action)


def _action_endpoint(name, summary):
    def register(func):
        router.post(
            f"/customers/{{int:pk}}/actions/{{int:aid}}/{name}/",
            response={200: FollowUpOut, **WRITE_ERRORS},
            operation_id=f"customers_actions_{name}",
            summary=summary,
        )(func)
        return func

    return register


def _action_of(request, pk, aid):
    customer, _level = _parent(request, pk)
    return _child(FollowUpAction, customer, aid)


def _action_answer(action):
    action = FollowUpAction.objects.select_related("owner").get(pk=action.pk)
    return json_response(action_row(action), obj=action)


@_action_endpoint("complete", "Complete a follow-up action")
def complete_action(request, pk: int, aid: int, payload: CompleteIn):
    """Mark the action done with its ``result`` (customers.change)."""
    action = _action_of(request, pk, aid)
    services.complete_follow_up(request.auth, action, result=payload.result)
    return _action_answer(action)


@_action_endpoint("cancel", "Cancel a follow-up action")
def cancel_action(request, pk: int, aid: int, payload: DeactivateIn):
    """Cancel the action; the ``reason`` is required and recorded."""
    action = _action_of(request, pk, aid)
    services.cancel_follow_up(request.auth, action, reason=payload.reason)
    return _action_answer(action)


# customer property
def _property_answer(prop, status=200, request=None):
    prop = CustomerProperty.objects.prefetch_related("incidents").get(pk=prop.pk)
    if status == 201:
        return _created(request, property_row(prop), prop)
    return json_response(property_row(prop), obj=prop)


@router.get(
    "/customers/{int:pk}/property/",
    response={200: Page[PropertyOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_property_list",
    summary="The customer's property held by us",
)
def list_property(request, pk: int, query: Query[PageQuery], status: PropertyStatus | None = None):
    """Customer property 顾客财产 with incident reports; optionally one ``status``."""
    customer, _level = _parent(request, pk)
    queryset = customer.properties.prefetch_related("incidents").order_by("name", "id")
    if status:
        queryset = queryset.filter(status=status)
    page = _page(request, queryset, query.page, query.page_size, lambda qs: [property_row(p) for p in qs])
    return json_response(page)


@router.post(
    "/customers/{int:pk}/property/",
    response={201: PropertyOut, **WRITE_ERRORS},
    operation_id="customers_property_create",
    summary="Register customer property",
)
def create_property(request, pk: int, payload: PropertyIn):
    """Register an item held for the customer (customers.change)."""
    customer, _level = _parent(request, pk)
    prop = services.register_property(request.auth, customer, data=payload.model_dump())
    return _property_answer(prop, 201, request)


@router.patch(
    "/customers/{int:pk}/property/{int:pid}/",
    response={200: PropertyOut, 412: ErrorOut, **WRITE_ERRORS},
    operation_id="customers_property_update",
    summary="Change customer property",
)
def update_property(request, pk: int, pid: int, payload: PropertyUpdate):
    """Change an item (customers.change): ``version`` (or If-Match) and ``reason`` required.
    Loss, damage and unsuitability are reported as incidents, not set here."""
    customer, _level = _parent(request, pk)
    prop = _child(CustomerProperty, customer, pid)
    data = payload.model_dump(exclude_unset=True)
    version, reason = _versioned(request, CustomerProperty, prop, data)
    services.update_property(request.auth, prop, data=data, reason=reason, expected_version=version)
    return _property_answer(prop)


@router.post(
    "/customers/{int:pk}/property/{int:pid}/incidents/",
    response={201: PropertyOut, **WRITE_ERRORS},
    operation_id="customers_property_report_incident",
    summary="Report loss, damage or unsuitability",
)
def report_incident(request, pk: int, pid: int, payload: IncidentIn):
    """Report an incident (customers.change): the item's status changes, the report is kept and
    the chosen customer contact is informed. Answers the item with its incidents."""
    customer, _level = _parent(request, pk)
    prop = _child(CustomerProperty, customer, pid)
    contact = None
    if payload.notify_contact is not None:
        contact = _contact_of(customer, payload.notify_contact, "notify_contact")
    services.report_property_incident(
        request.auth,
        prop,
        kind=payload.kind,
        occurred_on=payload.occurred_on,
        description=payload.description,
        notify_contact=contact,
    )
    return _property_answer(prop, 201, request)


# Import / export (custio's module) live under the same /api/customers/ prefix: mount them here,
# since the API router discovers only ``<app>.api``.
if find_spec("qcare.customers.api_io") is not None:
    from qcare.customers import api_io

    if getattr(api_io, "router", None) is not None:
        router.add_router("", api_io.router)
