"""REST endpoints of orders and contract review (R-IF-2 for R-OR-1…12).

Mounted automatically by :mod:`qcare.api.router`. Every record is read through
``Model.objects.restrict(user, "view")`` (outside the caller's scope → 404; no orders
permission at all → 403 on lists); every write calls the services —
:mod:`qcare.orders.services` (orders, reviews, approval), :mod:`~qcare.orders.services_change`
(change requests) and :mod:`~qcare.orders.services_fulfil` (production notices, shipments) —
which check the permission of the action (403) and the state (409). Traceability and the
sales record read through :mod:`qcare.orders.selectors`. See docs/api-orders.md.

Signatures (reviews, approval, rejection, change decisions) take the password in the body,
like the screens; a wrong password answers 400 ``signature_refused`` and nothing changes.
"""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import F, Q
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema

from qcare.accounts.models import Department
from qcare.accounts.permissions import has_perm
from qcare.api.crud import (
    READ_ERRORS,
    WRITE_ERRORS,
    Resource,
    expected_version,
    json_response,
    row_of,
)
from qcare.api.helpers import action_version as _action_version
from qcare.api.helpers import created as _created
from qcare.api.helpers import describe as _describe
from qcare.api.helpers import invalid as _invalid
from qcare.api.helpers import page as _page
from qcare.api.helpers import signature_row as _signature_row
from qcare.api.helpers import signatures as _signatures
from qcare.api.helpers import user_name as _name
from qcare.api.helpers import versioned_call as _versioned_call
from qcare.api.schemas import (
    MAX_ID,
    ClientInput,
    ErrorOut,
    ListQuery,
    Money,
    Page,
    PageQuery,
    Password,
    Quantity,
    RecordId,
    Username,
    money_input,
)
from qcare.catalog.models import Product
from qcare.core.errors import NotFound, NotPermitted, ValidationFailed
from qcare.customers.api import NoNul
from qcare.customers.models import Customer
from qcare.orders import selectors, services, services_change, services_fulfil
from qcare.orders.choices import (
    EDITABLE_STATUSES,
    ChangeStatus,
    ConfirmationKind,
    NoticeStatus,
    Opinion,
    OrderClass,
    OrderSource,
    OrderStatus,
    QuestionStatus,
    RequirementCategory,
    ReviewStatus,
    TenderBand,
)
from qcare.orders.models import (
    ApprovalRule,
    ChangeAcknowledgement,
    ChangeRequest,
    Order,
    OrderQuestion,
    OrderReview,
    OrderVersion,
    ProductionNotice,
    ReviewRoute,
    Shipment,
)

TAGS = ["orders"]

Rate = money_input(12, 6)


# --- output schemas -------------------------------------------------------------------------
class OrderSignatureOut(Schema):
    """An e-signature as shown wherever the record is shown (P4)."""

    signer: int
    signer_name: str = Field(description="printed name at the time of signing")
    meaning: str
    meaning_display: str
    signed_at: datetime.datetime = Field(description="in the company's time zone")
    comment: str
    is_valid: bool = Field(description="false once the signed content changed")


class OrderOut(Schema):
    """One order as listed."""

    id: int
    number: str
    source: OrderSource
    customer: int
    customer_name: str
    customer_reference: str
    order_date: datetime.date
    owner: int
    department: int | None
    currency: str
    total_amount: Decimal
    total_amount_cny: Decimal
    is_export: bool
    status: OrderStatus
    order_class: OrderClass | Literal[""]
    review_number: str | None = Field(description="the review record 合同评审表 (HP-…), from submission")
    submitted_at: datetime.datetime | None
    approved_at: datetime.datetime | None
    change_count: int
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class OrderLineOut(Schema):
    """An order line with its delivery plan and shipping progress."""

    id: int
    line_no: int
    product: int
    product_code: str
    product_name: str
    specification: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    requested_date: datetime.date | None
    delivery_mode: str
    packaging: str
    acceptance_criteria: str
    in_stock: bool | None
    planned_date: datetime.date | None
    shipped_quantity: Decimal
    open_quantity: Decimal


class ClassReasonOut(Schema):
    """Why the order got its class (R-OR-4): a code, its parameters and the sentence."""

    code: str
    params: dict[str, Any]
    text: str


class OrderReviewOut(Schema):
    """One department's review (评审意见) with its signature."""

    id: int
    order: int
    change_request: int | None
    department: int
    department_code: str
    department_name: str
    aspects: list[str] = Field(description="what the department reviews (capacity, material, terms …)")
    subjects: list[str] = Field(description="the order content its signature covers")
    round: int
    status: ReviewStatus
    is_current: bool = Field(description="part of the order's (or change's) current review")
    opinion: Opinion | Literal[""]
    comments: str
    proposed_date: datetime.date | None
    reviewer: int | None
    reviewer_name: str
    signed_at: datetime.datetime | None
    started_at: datetime.datetime
    due_at: datetime.datetime | None
    superseded_by: int | None
    signature: OrderSignatureOut | None
    version: int


class OrderDetail(OrderOut):
    """One order with its lines, requirements, classification, current reviews and signatures."""

    status_display: str
    order_class_display: str
    computed_class: OrderClass | Literal[""]
    class_reasons: list[ClassReasonOut]
    class_override_reason: str
    exchange_rate: Decimal
    payment_terms: str
    delivery_address: str
    special_delivery: str
    notes: str
    requirements: dict[str, Any] = Field(description="{category: {items: [codes], text}} (R-OR-2)")
    special_requirements: list[dict[str, Any]] = Field(description="[{text, confirmed}]")
    requirement_problems: list[str]
    is_editable: bool = Field(description="draft or in clarification: PATCH allowed")
    review_round: int
    reviews_completed_at: datetime.datetime | None
    approval_rule: int | None
    approved_by: int | None
    decision_comment: str
    cancelled_reason: str
    closed_at: datetime.datetime | None
    confirmation_kind: ConfirmationKind | Literal[""]
    confirmation_received_on: datetime.date | None
    confirmation_attachment: int | None
    open_questions: int
    lines: list[OrderLineOut]
    reviews: list[OrderReviewOut] = Field(description="the current reviews")
    signatures: list[OrderSignatureOut] = Field(description="approval / rejection signatures")


class OrderClassificationOut(Schema):
    """The classification the order would get now, with its reasons (R-OR-4)."""

    order_class: OrderClass
    order_class_display: str
    reasons: list[ClassReasonOut]
    current_class: OrderClass | Literal[""] = Field(description="the class stored on the order")
    overridden: bool
    submission_problems: list[str] = Field(description="what prevents submitting (licence gate …)")


class OrderQuestionOut(Schema):
    """An open point raised by a reviewer and the customer's answer recorded by sales."""

    id: int
    order: int
    review: int | None
    change_request: int | None
    department: int
    department_code: str
    text: str
    raised_by: int
    raised_by_name: str
    raised_at: datetime.datetime
    status: QuestionStatus
    answer: str
    answered_by: int | None
    answered_at: datetime.datetime | None
    version: int


class OrderVersionOut(Schema):
    """A frozen copy of the order content: at approval (1) and after each applied change."""

    id: int
    order: int
    number: int
    content: dict[str, Any]
    change_request: int | None
    created_by: int
    created_by_name: str
    created_at: datetime.datetime


class ChangeOut(Schema):
    """A change request (合同变更) as listed."""

    id: int
    number: str
    order: int
    order_number: str
    status: ChangeStatus
    reason: str
    subjects: list[str]
    base_version: int
    customer_agreed: bool
    requested_by: int
    submitted_at: datetime.datetime | None
    decided_by: int | None
    decided_at: datetime.datetime | None
    applied_at: datetime.datetime | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ChangeDiffOut(Schema):
    """One changed field: header field (``line_no`` null) or line field; ``field`` "line" for a
    line added or removed."""

    subject: str
    field: str
    line_no: int | None
    old: Any
    new: Any


class ChangeAcknowledgementOut(Schema):
    """A department's acknowledgement of an applied change."""

    id: int
    change_request: int
    order: int
    department: int
    department_code: str
    department_name: str
    due_at: datetime.datetime | None
    acknowledged_by: int | None
    acknowledged_by_name: str
    acknowledged_at: datetime.datetime | None
    comment: str
    version: int


class ChangeDetail(ChangeOut):
    """A change request with its proposal, diff, reviews, signatures and acknowledgements."""

    status_display: str
    proposed: dict[str, Any] = Field(description="the complete proposed content {header, lines}")
    diff: list[ChangeDiffOut]
    customer_agreement: str
    decision_comment: str
    reviews: list[OrderReviewOut]
    signatures: list[OrderSignatureOut]
    acknowledgements: list[ChangeAcknowledgementOut]


class ProductionNoticeLineOut(Schema):
    id: int
    order_line: int
    line_no: int
    product: int
    quantity: Decimal
    planned_date: datetime.date


class ProductionNoticeOut(Schema):
    """A production notice (生产通知单) as listed."""

    id: int
    number: str
    order: int
    status: NoticeStatus
    issued_by: int
    issued_at: datetime.datetime
    acknowledged_by: int | None
    acknowledged_at: datetime.datetime | None
    notes: str
    version: int
    created_at: datetime.datetime


class ProductionNoticeDetail(ProductionNoticeOut):
    """A production notice with its lines (交货计划)."""

    order_number: str
    lines: list[ProductionNoticeLineOut]


class ShipmentOut(Schema):
    """A shipment (出货单) as listed."""

    id: int
    number: str
    order: int
    customer: int
    shipped_on: datetime.date
    delivery_note_number: str
    carrier: str
    waybill_number: str
    shipped_by: int
    notes: str
    version: int
    created_at: datetime.datetime


class ShipmentLineOut(Schema):
    id: int
    order_line: int
    line_no: int
    product: int
    product_code: str
    product_name: str
    quantity: Decimal
    lot_number: str
    serial_number: str
    production_date: datetime.date | None
    expiry_date: datetime.date | None


class ShipmentDetail(ShipmentOut):
    """A shipment with its lines (lot/serial numbers and expiry)."""

    order_number: str
    customer_name: str
    lines: list[ShipmentLineOut]


class SalesRecordOut(Schema):
    """A row of the medical-device sales record (销售记录, R-OR-10)."""

    id: int
    order: int
    shipment: int
    shipment_line: int
    customer: int
    product: int
    sale_date: datetime.date
    device_name: str
    specification: str
    registration_number: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    currency: str
    lot_number: str
    serial_number: str
    expiry_date: datetime.date | None
    manufacturer: str
    manufacturer_licence: str
    buyer_name: str
    buyer_licence: str
    contact_name: str
    contact_phone: str
    address: str


class LotTraceOut(Schema):
    """One shipped lot/serial line and its path: shipment → delivery note → order/contract →
    customer, product and manufacturer (R-OR-11)."""

    id: int = Field(description="the shipment line")
    lot_number: str
    serial_number: str
    quantity: Decimal
    shipped_on: datetime.date
    production_date: datetime.date | None
    expiry_date: datetime.date | None
    shipment_id: int
    shipment_number: str
    delivery_note_number: str
    order_id: int
    order_number: str
    contract_reference: str = Field(description="the customer's order / contract number")
    customer_id: int
    customer_code: str
    customer_name: str
    product_id: int
    product_code: str
    product_name: str
    product_model: str
    manufacturer: str


class CustomerLotOut(Schema):
    """A lot (or a serial-numbered unit) the customer received, with totals (R-OR-11)."""

    product_id: int
    product_code: str
    product_name: str
    product_model: str
    lot_number: str
    serial_number: str
    total_quantity: Decimal
    shipments: int
    first_shipped_on: datetime.date
    last_shipped_on: datetime.date
    latest_expiry_date: datetime.date | None


class ReviewRouteOut(Schema):
    """A row of the review routing matrix (R-OR-5)."""

    id: int
    order_class: OrderClass
    department: int
    aspects: list[str]
    subjects: list[str]
    is_optional: bool
    sort_order: int
    is_active: bool
    version: int


class ApprovalRuleOut(Schema):
    """An approval rule of the authority matrix (核决权限, R-OR-6)."""

    id: int
    priority: int
    name: str
    order_class: OrderClass | Literal[""]
    tender: TenderBand
    is_export: bool | None
    amount_from: Decimal | None
    amount_below: Decimal | None
    approver_roles: list[str] = Field(description="role codes that may approve")
    is_active: bool
    version: int


# --- input schemas --------------------------------------------------------------------------
class OrderRequirementIn(NoNul, ClientInput):
    items: list[str] = Field([], max_length=30, description="checklist codes of the category")
    text: str = Field("", max_length=4000)


class SpecialRequirementIn(NoNul, ClientInput):
    text: str = Field(..., min_length=1, max_length=1000)
    confirmed: bool = False


class OrderLineIn(NoNul, ClientInput):
    """An order line; ``amount`` is computed (quantity × unit price)."""

    line_no: int | None = Field(None, ge=1, le=999, description="kept on update; default: position")
    product: RecordId
    specification: str = Field("", max_length=200)
    quantity: Quantity = Field(..., description="> 0")
    unit: str = Field("", max_length=20)
    unit_price: Money
    requested_date: datetime.date | None = None
    delivery_mode: str = Field("", max_length=100)
    packaging: str = Field("", max_length=200)
    acceptance_criteria: str = Field("", max_length=300)
    in_stock: bool | None = Field(None, description="sales/warehouse stock check (R-OR-4)")


class OrderCreate(NoNul, ClientInput):
    """A new order (draft); number, owner, department, totals and class are set by the system."""

    customer: RecordId
    source: OrderSource
    customer_reference: str = Field("", max_length=100)
    order_date: datetime.date | None = Field(None, description="default: today")
    currency: str = Field("CNY", min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
    exchange_rate: Rate = Decimal("1")
    payment_terms: str = Field("", max_length=200)
    delivery_address: str = Field("", max_length=300)
    is_export: bool | None = Field(None, description="default: the customer is foreign")
    special_delivery: str = Field("", max_length=4000)
    notes: str = Field("", max_length=4000)
    lines: list[OrderLineIn] = Field(..., min_length=1, max_length=200)
    requirements: dict[RequirementCategory, OrderRequirementIn] = Field(
        None, description="the requirement checklist (R-OR-2); or later with PUT …/requirements/"
    )
    special_requirements: list[SpecialRequirementIn] = Field(None, max_length=50)


class OrderUpdate(NoNul, ClientInput):
    """Change a draft (or an order in clarification); omitted fields stay, ``lines`` replaces all."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")
    customer: RecordId = Field(None, description="only while the order is a draft")
    source: OrderSource = None
    customer_reference: str = Field(None, max_length=100)
    order_date: datetime.date = None
    currency: str = Field(None, min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
    exchange_rate: Rate = None
    payment_terms: str = Field(None, max_length=200)
    delivery_address: str = Field(None, max_length=300)
    is_export: bool = None
    special_delivery: str = Field(None, max_length=4000)
    notes: str = Field(None, max_length=4000)
    lines: list[OrderLineIn] = Field(None, min_length=1, max_length=200)


class OrderRequirementsIn(NoNul, ClientInput):
    """The requirement checklist (R-OR-2); replaces what was captured."""

    version: int | None = Field(None, ge=1, description="the order version you loaded; or If-Match")
    requirements: dict[RequirementCategory, OrderRequirementIn]
    special_requirements: list[SpecialRequirementIn] | None = Field(None, max_length=50)


class OrderConfirmationIn(NoNul, ClientInput):
    """The written confirmation of an oral order (订单确认表) or a new customer's contract."""

    kind: ConfirmationKind
    received_on: datetime.date
    attachment: RecordId = Field(..., description="id of the document attached to this order")


class OrderActionIn(ClientInput):
    version: int | None = Field(None, ge=1, description="the order version you loaded (optional)")


class OrderSubmitIn(OrderActionIn):
    optional_departments: list[str] = Field(
        [], max_length=20, description="codes of optional reviewing departments to include"
    )


class OrderClassifyIn(NoNul, ClientInput):
    order_class: OrderClass
    reason: str = Field(..., min_length=1, max_length=1000)


class ReviewSignIn(NoNul, ClientInput):
    """The reviewer's opinion, signed with the password (P4)."""

    opinion: Opinion
    comments: str = Field("", max_length=4000, description="required unless the opinion is can_meet")
    proposed_date: datetime.date | None = None
    password: str = Password
    username: str | None = Username


class OrderQuestionIn(NoNul, ClientInput):
    text: str = Field(..., min_length=1, max_length=4000)


class OrderAnswerIn(NoNul, ClientInput):
    answer: str = Field(..., min_length=1, max_length=4000)


class OrderApproveIn(NoNul, OrderActionIn):
    password: str = Password
    comment: str = Field("", max_length=2000)
    username: str | None = Username


class OrderRejectIn(NoNul, OrderActionIn):
    password: str = Password
    reason: str = Field(..., min_length=1, max_length=2000)
    username: str | None = Username


class OrderCancelIn(NoNul, OrderActionIn):
    reason: str = Field(..., min_length=1, max_length=2000)


class ProposedLineIn(NoNul, ClientInput):
    """A line after the change: an existing ``line_no`` keeps the values not given; a line
    without ``line_no`` is added (product, quantity and unit price needed)."""

    line_no: int | None = Field(None, ge=1, le=32767)
    product: RecordId = None
    specification: str = Field(None, max_length=200)
    quantity: Quantity = None
    unit: str = Field(None, max_length=20)
    in_stock: bool | None = None
    unit_price: Money = None
    requested_date: datetime.date | None = None
    delivery_mode: str = Field(None, max_length=100)
    packaging: str = Field(None, max_length=200)
    acceptance_criteria: str = Field(None, max_length=300)


class ProposedHeaderIn(NoNul, ClientInput):
    """Header fields after the change; the ones not given keep their values."""

    customer_reference: str = Field(None, max_length=100)
    source: OrderSource = None
    currency: str = Field(None, min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
    exchange_rate: Rate = None
    payment_terms: str = Field(None, max_length=200)
    delivery_address: str = Field(None, max_length=300)
    special_delivery: str = Field(None, max_length=4000)
    is_export: bool = None
    requirements: dict[RequirementCategory, OrderRequirementIn] = Field(
        None, description="replaces the checklist"
    )
    special_requirements: list[SpecialRequirementIn] = Field(None, max_length=50)


class ProposalIn(NoNul, ClientInput):
    """The order as it should be, relative to the approved order: header fields given replace
    the current ones; ``lines``, when given, is the complete list of lines after the change (an
    existing line not listed is removed); amounts are computed."""

    header: ProposedHeaderIn = None
    lines: list[ProposedLineIn] = Field(None, min_length=1, max_length=200)


class ChangeCreate(NoNul, ClientInput):
    """A change request on an approved order (R-OR-8)."""

    order: RecordId
    order_version: int | None = Field(None, ge=1, description="the order version you loaded")
    proposed: ProposalIn
    reason: str = Field(..., min_length=1, max_length=4000)
    customer_agreed: bool = False
    customer_agreement: str = Field("", max_length=4000)


class ChangeUpdate(NoNul, ClientInput):
    """Change a draft change request; omitted fields stay."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")
    proposed: ProposalIn = None
    reason: str = Field(None, min_length=1, max_length=4000)
    customer_agreed: bool = None
    customer_agreement: str = Field(None, max_length=4000)


class ChangeApproveIn(NoNul, ClientInput):
    password: str = Password
    comment: str = Field("", max_length=2000)
    username: str | None = Username


class ChangeRejectIn(NoNul, ClientInput):
    password: str = Password
    reason: str = Field(..., min_length=1, max_length=2000)
    username: str | None = Username


class ChangeWithdrawIn(NoNul, ClientInput):
    reason: str = Field(..., min_length=1, max_length=2000)


class OrderAcknowledgeIn(NoNul, ClientInput):
    comment: str = Field("", max_length=2000)


class ProductionNoticeLineIn(ClientInput):
    order_line: RecordId
    quantity: Quantity
    planned_date: datetime.date


class ProductionNoticeCreate(NoNul, ClientInput):
    """A production notice for an approved order, with the planned date per line (交货计划)."""

    order: RecordId
    lines: list[ProductionNoticeLineIn] = Field(..., min_length=1, max_length=200)
    notes: str = Field("", max_length=4000)


class ShipmentLineIn(NoNul, ClientInput):
    order_line: RecordId
    quantity: Quantity
    lot_number: str = Field("", max_length=60)
    serial_number: str = Field("", max_length=80)
    production_date: datetime.date | None = None
    expiry_date: datetime.date | None = None


class ShipmentCreate(NoNul, ClientInput):
    """A shipment of an approved order; lines carry lot or serial numbers (R-OR-9)."""

    order: RecordId
    shipped_on: datetime.date
    lines: list[ShipmentLineIn] = Field(..., min_length=1, max_length=1000)
    delivery_note_number: str = Field("", max_length=60)
    carrier: str = Field("", max_length=100)
    waybill_number: str = Field("", max_length=100)
    notes: str = Field("", max_length=4000)


# --- list queries ---------------------------------------------------------------------------
ORDER_ORDERINGS = (
    "order_date",
    "-order_date",
    "number",
    "-number",
    "total_amount_cny",
    "-total_amount_cny",
    "created_at",
    "-created_at",
)


class OrderListQuery(NoNul, ListQuery):
    """Filters of the order list; ``q`` (or ``search``) finds order numbers, the customer's
    order/contract number and customers (name, short name, code)."""

    q: str | None = Field(None, max_length=200, description="order number or customer")
    status: OrderStatus | None = None
    order_class: OrderClass | None = None
    customer: RecordId | None = None
    owner: RecordId | None = None
    department: RecordId | None = None
    is_export: bool | None = None
    date_from: datetime.date | None = Field(None, description="order date on or after")
    date_to: datetime.date | None = Field(None, description="order date on or before")
    ordering: Literal[ORDER_ORDERINGS] | None = None


class OrderReviewListQuery(PageQuery):
    current: bool | None = Field(None, description="only current (true) or only past (false) reviews")
    status: ReviewStatus | None = None


class OrderQuestionListQuery(PageQuery):
    status: QuestionStatus | None = None


class ChangeListQuery(NoNul, ListQuery):
    order: RecordId | None = None
    status: ChangeStatus | None = None


class ProductionNoticeListQuery(NoNul, ListQuery):
    order: RecordId | None = None
    status: NoticeStatus | None = None


class ShipmentListQuery(NoNul, ListQuery):
    order: RecordId | None = None
    customer: RecordId | None = None
    date_from: datetime.date | None = Field(None, description="shipped on or after")
    date_to: datetime.date | None = Field(None, description="shipped on or before")


class SalesRecordQuery(NoNul, PageQuery):
    """Filters of the sales record (R-OR-10)."""

    customer: RecordId | None = None
    product: RecordId | None = None
    order: RecordId | None = None
    date_from: datetime.date | None = Field(None, description="sale date on or after")
    date_to: datetime.date | None = Field(None, description="sale date on or before")
    lot: str | None = Field(None, max_length=60, description="lot number (exact)")
    serial: str | None = Field(None, max_length=80, description="serial number (exact)")
    q: str | None = Field(None, max_length=200, description="device name, buyer or registration number")


class TraceQuery(NoNul, PageQuery):
    product: RecordId | None = Field(None, description="only this product (lot numbers repeat)")


class ReviewRouteListQuery(ListQuery):
    order_class: OrderClass | None = None
    is_active: bool | None = None


# --- helpers --------------------------------------------------------------------------------
def _require_list_permission(user):
    """No orders permission at all is 403 (an empty list would hide a misconfigured role)."""
    if not has_perm(user, "orders.view"):
        raise NotPermitted()


def _visible(model, request, pk, **lookup):
    """``model`` row ``pk`` if within the caller's orders.view scope (404 otherwise)."""
    if not 0 < pk <= MAX_ID:
        raise NotFound()
    obj = model.objects.restrict(request.auth, "view").filter(pk=pk, **lookup).first()
    if obj is None:
        raise NotFound()
    return obj


def _departments(codes, field="optional_departments"):
    codes = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    found = {d.code: d for d in Department.objects.filter(code__in=codes)}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise _invalid(field, _("Unknown department: %(codes)s.") % {"codes": ", ".join(unknown)})
    return [found[c] for c in codes]


#: Amounts are stored with 16 digits before the decimal point (MONEY in orders.models).
AMOUNT_LIMIT = Decimal(10) ** 16


def _check_amounts(lines, exchange_rate=None, field="lines"):
    """Refuse line amounts (quantity × unit price) and totals the database cannot store: the
    schema bounds each number, not their product."""
    errors, total = {}, Decimal(0)
    for index, line in enumerate(lines or []):
        quantity, price = line.get("quantity"), line.get("unit_price")
        if quantity is None or price is None:
            continue
        amount = abs(quantity * price)
        total += amount
        if amount >= AMOUNT_LIMIT:
            errors[f"{field}.{index}.quantity"] = [_("The amount of this line is too large.")]
    if not errors and total * (exchange_rate or Decimal(1)) >= AMOUNT_LIMIT:
        errors[field] = [_("The total amount of the order is too large.")]
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _requirements_input(data):
    """Requirement categories (enum keys) as the plain codes the services store."""
    if data.get("requirements") is not None:
        data["requirements"] = {str(k): v for k, v in data["requirements"].items()}
    for name in ("requirements", "special_requirements"):
        if name in data and data[name] is None:
            del data[name]
    return data


def _order_input(request, pk, field="order"):
    """The order named in a request body, within the caller's view scope (else a 400 on ``field``)."""
    order = Order.objects.restrict(request.auth, "view").filter(pk=pk).first()
    if order is None:
        raise _invalid(field, _("Select a valid choice. That choice is not one of the available choices."))
    return order


# --- rows -----------------------------------------------------------------------------------
LIST_FIELDS = (
    "id",
    "number",
    "source",
    "customer",
    "customer_reference",
    "order_date",
    "owner",
    "department",
    "currency",
    "total_amount",
    "total_amount_cny",
    "is_export",
    "status",
    "order_class",
    "review_number",
    "submitted_at",
    "approved_at",
    "change_count",
    "version",
    "created_at",
    "updated_at",
)
DETAIL_FIELDS = LIST_FIELDS + (
    "computed_class",
    "class_override_reason",
    "exchange_rate",
    "payment_terms",
    "delivery_address",
    "special_delivery",
    "notes",
    "requirements",
    "special_requirements",
    "review_round",
    "reviews_completed_at",
    "approval_rule",
    "approved_by",
    "decision_comment",
    "cancelled_reason",
    "closed_at",
    "confirmation_kind",
    "confirmation_received_on",
    "confirmation_attachment",
)
LINE_ROW_FIELDS = (
    "id",
    "line_no",
    "product",
    "specification",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "requested_date",
    "delivery_mode",
    "packaging",
    "acceptance_criteria",
    "in_stock",
    "planned_date",
    "shipped_quantity",
)


def _reason_rows(reasons):
    texts = services.reason_texts(reasons)
    return [
        {"code": r.get("code", ""), "params": r.get("params") or {}, "text": str(text)}
        for r, text in zip(reasons, texts, strict=False)
    ]


def line_row(line):
    row = row_of(line, LINE_ROW_FIELDS)
    row.update(
        product_code=line.product.code, product_name=line.product.name, open_quantity=line.open_quantity
    )
    return row


def _current_review_ids(order):
    return set(services.current_reviews(order).values_list("pk", flat=True))


def review_row(review, current_ids=None):
    """A review as clients see it; ``current_ids`` saves a query per row in lists."""
    row = row_of(
        review,
        ("id", "order", "change_request", "department", "round", "status", "opinion", "comments"),
    )
    if current_ids is None:
        current_ids = _current_review_ids(review.order)
    signature = review.signature
    row.update(
        department_code=review.department.code,
        department_name=review.department.display_name,
        aspects=list(review.aspects or []),
        subjects=list(review.subjects or []),
        is_current=review.pk in current_ids,
        proposed_date=review.proposed_date,
        reviewer=review.reviewer_id,
        reviewer_name=_name(review.reviewer),
        signed_at=review.signed_at,
        started_at=review.started_at,
        due_at=review.due_at,
        superseded_by=review.superseded_by_id,
        signature=_signature_row(signature) if signature is not None else None,
        version=review.version,
    )
    return row


def _reviews(queryset):
    return queryset.select_related("department", "reviewer", "signature", "order", "change_request")


def order_detail(order):
    """One order for retrieve/create/update/action answers."""
    order = Order.objects.select_related("customer").get(pk=order.pk)
    data = row_of(order, DETAIL_FIELDS)
    lines = order.lines.select_related("product").order_by("line_no")
    current = _reviews(services.current_reviews(order))
    current_ids = {r.pk for r in current}
    data.update(
        customer_name=order.customer.name,
        status_display=str(order.get_status_display()),
        order_class_display=str(order.get_order_class_display()) if order.order_class else "",
        class_reasons=_reason_rows(order.class_reasons or []),
        requirement_problems=[str(p) for p in services.requirement_problems(order)],
        is_editable=order.status in EDITABLE_STATUSES,
        open_questions=order.questions.filter(status=QuestionStatus.OPEN).count(),
        lines=[line_row(line) for line in lines],
        reviews=[review_row(r, current_ids) for r in current],
        signatures=_signatures(order),
    )
    return data


def question_row(question):
    row = row_of(question, ("id", "order", "review", "change_request", "department", "text", "raised_by"))
    row.update(
        department_code=question.department.code,
        raised_by_name=_name(question.raised_by),
        raised_at=question.raised_at,
        status=question.status,
        answer=question.answer,
        answered_by=question.answered_by_id,
        answered_at=question.answered_at,
        version=question.version,
    )
    return row


def _questions(queryset):
    return queryset.select_related("department", "raised_by")


def ack_row(ack):
    row = row_of(ack, ("id", "change_request", "order", "department", "due_at", "acknowledged_by"))
    row.update(
        department_code=ack.department.code,
        department_name=ack.department.display_name,
        acknowledged_by_name=_name(ack.acknowledged_by),
        acknowledged_at=ack.acknowledged_at,
        comment=ack.comment,
        version=ack.version,
    )
    return row


CHANGE_FIELDS = (
    "id",
    "number",
    "order",
    "status",
    "reason",
    "subjects",
    "base_version",
    "customer_agreed",
    "requested_by",
    "submitted_at",
    "decided_by",
    "decided_at",
    "applied_at",
    "version",
    "created_at",
    "updated_at",
)


def change_detail(change):
    change = ChangeRequest.objects.select_related("order").get(pk=change.pk)
    data = row_of(change, CHANGE_FIELDS)
    reviews = _reviews(change.reviews.all())
    current_ids = {r.pk for r in reviews if r.status != ReviewStatus.SUPERSEDED}
    acks = change.acknowledgements.select_related("department", "acknowledged_by")
    data.update(
        order_number=change.order.number,
        status_display=str(change.get_status_display()),
        proposed=change.proposed,
        diff=change.diff,
        customer_agreement=change.customer_agreement,
        decision_comment=change.decision_comment,
        reviews=[review_row(r, current_ids) for r in reviews],
        signatures=_signatures(change),
        acknowledgements=[ack_row(a) for a in acks],
    )
    return data


NOTICE_FIELDS = (
    "id",
    "number",
    "order",
    "status",
    "issued_by",
    "issued_at",
    "acknowledged_by",
    "acknowledged_at",
    "notes",
    "version",
    "created_at",
)


def notice_detail(notice):
    notice = ProductionNotice.objects.select_related("order").get(pk=notice.pk)
    data = row_of(notice, NOTICE_FIELDS)
    data["order_number"] = notice.order.number
    data["lines"] = [
        {
            "id": line.pk,
            "order_line": line.order_line_id,
            "line_no": line.order_line.line_no,
            "product": line.order_line.product_id,
            "quantity": line.quantity,
            "planned_date": line.planned_date,
        }
        for line in notice.lines.select_related("order_line")
    ]
    return data


SHIPMENT_FIELDS = (
    "id",
    "number",
    "order",
    "customer",
    "shipped_on",
    "delivery_note_number",
    "carrier",
    "waybill_number",
    "shipped_by",
    "notes",
    "version",
    "created_at",
)
SHIPMENT_LINE_FIELDS = (
    "id",
    "order_line",
    "product",
    "quantity",
    "lot_number",
    "serial_number",
    "production_date",
    "expiry_date",
)


def shipment_detail(shipment):
    shipment = Shipment.objects.select_related("order", "customer").get(pk=shipment.pk)
    data = row_of(shipment, SHIPMENT_FIELDS)
    data.update(order_number=shipment.order.number, customer_name=shipment.customer.name)
    data["lines"] = [
        {
            **row_of(line, SHIPMENT_LINE_FIELDS),
            "line_no": line.order_line.line_no,
            "product_code": line.product.code,
            "product_name": line.product.name,
        }
        for line in shipment.lines.select_related("order_line", "product")
    ]
    return data


# --- orders -----------------------------------------------------------------------------------
def _search_orders(queryset, term):
    return selectors.search_orders(queryset, term)


def _filter_orders(queryset, query):
    for param, lookup in (
        ("status", "status"),
        ("order_class", "order_class"),
        ("customer", "customer_id"),
        ("owner", "owner_id"),
        ("department", "department_id"),
        ("is_export", "is_export"),
        ("date_from", "order_date__gte"),
        ("date_to", "order_date__lte"),
    ):
        value = getattr(query, param)
        if value is not None:
            queryset = queryset.filter(**{lookup: value})
    return queryset


class OrderResource(Resource):
    """The order resource: a custom list (search and filters) and the order detail."""

    def _add_list(self):
        @self.router.get(
            "/orders/",
            response={200: Page[OrderOut], 400: ErrorOut, **READ_ERRORS},
            url_name="orders-list",
            operation_id="orders_list",
            summary="List orders",
        )
        def list_orders(request, query: Query[OrderListQuery]):
            """Orders in your scope (clerks: their own; managers: their department's; reviewing
            departments: the orders they review), newest first, paginated. Filters: ``status``,
            ``order_class``, ``customer``, ``owner``, ``department``, ``is_export``, order date
            range ``date_from``/``date_to``; ``q`` finds order numbers and customers."""
            _require_list_permission(request.auth)
            queryset = Order.objects.restrict(request.auth, "view")
            queryset = _filter_orders(_search_orders(queryset, query.q or query.search), query)
            if query.ordering:
                queryset = queryset.order_by(query.ordering, "-id")
            fields = LIST_FIELDS + ("customer_name",)

            def rows(page_qs):
                # Annotated after slicing, so the COUNT of the whole list does not join customers
                # (78–119 ms instead of 2–6 ms on 200,000 orders, docs/benchmarks-orders.md).
                return list(page_qs.annotate(customer_name=F("customer__name")).values(*fields))

            page = _page(request, queryset, query.page, query.page_size, rows)
            return json_response(page)

    def _add_retrieve(self):
        @self.router.get(
            "/orders/{int:pk}/",
            response={200: OrderDetail, **READ_ERRORS},
            url_name="orders-detail",
            operation_id="orders_retrieve",
            summary="Retrieve an order",
        )
        def retrieve(request, pk: int):
            """The order with lines, requirement checklist, classification and its reasons, the
            current department reviews with their signatures, and the approval signature."""
            obj = self.get(request, pk)
            return json_response(order_detail(obj), obj=obj)


orders = OrderResource(
    Order,
    "orders",
    out=OrderOut,
    detail_out=OrderDetail,
    list_fields=LIST_FIELDS,
    detail=order_detail,
    tags=TAGS,
)
router = orders.router


def _answer(order, status=200, request=None):
    order = Order.objects.get(pk=order.pk)
    if status == 201:
        return _created(request, order_detail(order), order)
    return json_response(order_detail(order), obj=order)


@router.post(
    "/orders/",
    response={201: OrderDetail, **WRITE_ERRORS},
    url_name="orders-create",
    operation_id="orders_create",
    summary="Enter an order",
)
def create_order(request, payload: OrderCreate):
    """Enter an order (orders.add) with its lines, as a draft: numbered ``SO-{YYYY}{MM}-{NNNN}``,
    owned by you; the customer must be within your customer scope. The requirement checklist
    may come with it or later (``PUT …/requirements/``); submit with ``POST …/submit/``."""
    data = _requirements_input(payload.model_dump(exclude_unset=True))
    _check_amounts(data["lines"], data.get("exchange_rate"))
    # The service refuses a customer outside your scope (or unknown: None) as a field error.
    customer = Customer.objects.filter(pk=data.pop("customer")).first()
    if data.get("is_export", False) is None:
        del data["is_export"]  # null: the default (the customer is foreign)
    order = services.create_order(
        request.auth, customer=customer, source=data.pop("source"), lines=data.pop("lines"), **data
    )
    return _answer(order, 201, request)


@router.patch(
    "/orders/{int:pk}/",
    response={200: OrderDetail, 412: ErrorOut, **WRITE_ERRORS},
    url_name="orders-update",
    operation_id="orders_update",
    summary="Change a draft order",
)
def update_order(request, pk: int, payload: OrderUpdate):
    """Change the order while it is a draft or in clarification (orders.change); an approved
    order changes only through ``/api/order-changes/``. Send ``version`` (or If-Match);
    ``lines`` replaces the lines (matched by ``line_no``)."""
    order = orders.get(request, pk)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(request, order, data.pop("version", None))
    lines = data.pop("lines", None)
    if lines is not None or "exchange_rate" in data:
        current = order.lines.values("quantity", "unit_price")
        _check_amounts(
            lines if lines is not None else current, data.get("exchange_rate") or order.exchange_rate
        )
    if "customer" in data:
        data["customer"] = Customer.objects.filter(pk=data["customer"]).first()
    _versioned_call(
        request,
        lambda: services.update_order(request.auth, order, data=data, lines=lines, expected_version=version),
    )
    return _answer(order)


@router.put(
    "/orders/{int:pk}/requirements/",
    response={200: OrderDetail, 412: ErrorOut, **WRITE_ERRORS},
    url_name="orders-requirements",
    operation_id="orders_requirements",
    summary="Capture the requirements",
)
def put_requirements(request, pk: int, payload: OrderRequirementsIn):
    """Record the requirement checklist of the four ISO categories (R-OR-2): ``{category: {items,
    text}}`` and the customer's special requirements to confirm. Replaces what was captured."""
    order = orders.get(request, pk)
    version = _action_version(request, order, payload.version)
    requirements = {str(k): v.model_dump() for k, v in payload.requirements.items()}
    special = None
    if payload.special_requirements is not None:
        special = [s.model_dump() for s in payload.special_requirements]
    _versioned_call(
        request,
        lambda: services.set_requirements(
            request.auth, order, requirements, special_requirements=special, expected_version=version
        ),
    )
    return _answer(order)


@orders.action("confirmation", OrderConfirmationIn, summary="Record the written confirmation")
def record_confirmation(request, order, payload):
    """Record the customer's written confirmation of an oral order (订单确认表: e-mail, fax, signed
    form) or a new customer's signed contract (R-OR-3). Upload the document to the order first;
    ``attachment`` is its id."""
    return services.record_confirmation(
        request.auth, order, kind=payload.kind, received_on=payload.received_on, attachment=payload.attachment
    )


@router.get(
    "/orders/{int:pk}/classification/",
    response={200: OrderClassificationOut, **READ_ERRORS},
    url_name="orders-classification",
    operation_id="orders_classification",
    summary="Preview the classification",
)
def classification(request, pk: int):
    """The class the order would get if submitted now (regular in stock / not in stock /
    special) with the reasons (R-OR-4), and what still prevents submitting it."""
    order = orders.get(request, pk)
    order_class, reasons = services.classify(order)
    problems = services.submission_problems(order) if order.status in EDITABLE_STATUSES else []
    return json_response(
        {
            "order_class": order_class,
            "order_class_display": str(OrderClass(order_class).label),
            "reasons": _reason_rows(reasons),
            "current_class": order.order_class,
            "overridden": bool(order.class_overridden_by_id),
            "submission_problems": [str(p) for p in problems],
        }
    )


@orders.action("submit", OrderSubmitIn, summary="Submit for review")
def submit(request, order, payload):
    """Submit the order (orders.change): it is classified, numbered ``HP-{YYYY}-{NNNN}`` and
    routed to the reviewing departments (R-OR-5); ``optional_departments`` (codes) adds optional
    routes. Refused with the reasons when something is missing (licence, requirements …)."""
    departments = _departments(payload.optional_departments)
    version = _action_version(request, order, payload.version)
    return _versioned_call(
        request,
        lambda: services.submit_order(
            request.auth, order, optional_departments=departments, expected_version=version
        ),
    )


@orders.action("classify", OrderClassifyIn, summary="Override the class")
def classify(request, order, payload):
    """Override the computed class (orders.classify, e.g. the sales manager) with a reason; the
    reviews are re-routed to the departments of the new class."""
    return services.override_class(
        request.auth, order, order_class=payload.order_class, reason=payload.reason
    )


@orders.action("resubmit", OrderActionIn, summary="Resubmit after clarification")
def resubmit(request, order, payload):
    """After every open point is answered: the reviews whose subject changed (or that could not
    meet) restart, the others stand."""
    version = _action_version(request, order, payload.version)
    return _versioned_call(
        request, lambda: services.resubmit_order(request.auth, order, expected_version=version)
    )


@orders.action("approve", OrderApproveIn, summary="Approve the order (e-signature)")
def approve(request, order, payload):
    """Approve with your password (P4), within the approval authority (R-OR-6). Refused while a
    review is missing, negative or its signature is invalid."""
    version = _action_version(request, order, payload.version)
    return _versioned_call(
        request,
        lambda: services.approve_order(
            request.auth,
            order,
            password=payload.password,
            comment=payload.comment,
            username=payload.username,
            expected_version=version,
        ),
    )


@orders.action("reject", OrderRejectIn, summary="Reject the order (e-signature)")
def reject(request, order, payload):
    """Reject with your password and the reason (R-OR-6)."""
    version = _action_version(request, order, payload.version)
    return _versioned_call(
        request,
        lambda: services.reject_order(
            request.auth,
            order,
            password=payload.password,
            reason=payload.reason,
            username=payload.username,
            expected_version=version,
        ),
    )


@orders.action("cancel", OrderCancelIn, summary="Cancel the order")
def cancel(request, order, payload):
    """Cancel the order with a reason (orders.cancel); not once something was shipped."""
    version = _action_version(request, order, payload.version)
    return _versioned_call(
        request,
        lambda: services.cancel_order(request.auth, order, reason=payload.reason, expected_version=version),
    )


# reviews and open points
@router.get(
    "/orders/{int:pk}/reviews/",
    response={200: Page[OrderReviewOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="orders_reviews_list",
    summary="The order's department reviews",
)
def list_reviews(request, pk: int, query: Query[OrderReviewListQuery]):
    """Every review of the order and of its change requests, all rounds (``is_current`` marks the
    ones that count), with opinion, comments, proposed date and signature."""
    order = orders.get(request, pk)
    current_ids = _current_review_ids(order)
    queryset = OrderReview.objects.filter(order=order).order_by(
        "change_request_id", "department__code", "round", "id"
    )
    if query.status:
        queryset = queryset.filter(status=query.status)
    if query.current is not None:
        lookup = {"pk__in": current_ids}
        queryset = queryset.filter(**lookup) if query.current else queryset.exclude(**lookup)
    page = _page(
        request,
        queryset,
        query.page,
        query.page_size,
        lambda qs: [review_row(r, current_ids) for r in _reviews(qs)],
    )
    return json_response(page)


def _review_of(request, pk, rid):
    order = orders.get(request, pk)
    return _visible(OrderReview, request, rid, order=order)


@router.post(
    "/orders/{int:pk}/reviews/{int:rid}/sign/",
    response={200: OrderReviewOut, **WRITE_ERRORS},
    operation_id="orders_reviews_sign",
    summary="Sign a department review (e-signature)",
)
def sign_review(request, pk: int, rid: int, payload: ReviewSignIn):
    """Record your department's opinion (can meet / with conditions / cannot meet), comments and
    proposed date, signed with your password (orders.review, your department's review only).
    "Cannot meet" returns the order to sales for clarification. A wrong password answers 400
    ``signature_refused`` and nothing is recorded."""
    review = _review_of(request, pk, rid)
    services.sign_review(
        request.auth,
        review,
        opinion=payload.opinion,
        comments=payload.comments,
        proposed_date=payload.proposed_date,
        password=payload.password,
        username=payload.username,
    )
    review = _reviews(OrderReview.objects.filter(pk=review.pk)).get()
    return json_response(review_row(review), obj=review)


@router.post(
    "/orders/{int:pk}/reviews/{int:rid}/questions/",
    response={201: OrderQuestionOut, **WRITE_ERRORS},
    operation_id="orders_reviews_ask",
    summary="Raise a question to clarify with the customer",
)
def raise_question(request, pk: int, rid: int, payload: OrderQuestionIn):
    """A reviewer asks an open point (orders.review); the order goes back to sales for
    clarification with the customer."""
    review = _review_of(request, pk, rid)
    question = services.raise_question(request.auth, review, text=payload.text)
    question = _questions(OrderQuestion.objects.filter(pk=question.pk)).get()
    return _created(request, question_row(question), question, path=f"/api/orders/{pk}/questions/")


@router.get(
    "/orders/{int:pk}/questions/",
    response={200: Page[OrderQuestionOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="orders_questions_list",
    summary="The order's open points",
)
def list_questions(request, pk: int, query: Query[OrderQuestionListQuery]):
    """Questions raised by reviewers and the customer's answers, oldest first."""
    order = orders.get(request, pk)
    queryset = OrderQuestion.objects.filter(order=order).order_by("raised_at", "id")
    if query.status:
        queryset = queryset.filter(status=query.status)
    page = _page(
        request, queryset, query.page, query.page_size, lambda qs: [question_row(q) for q in _questions(qs)]
    )
    return json_response(page)


@router.post(
    "/orders/{int:pk}/questions/{int:qid}/answer/",
    response={200: OrderQuestionOut, **WRITE_ERRORS},
    operation_id="orders_questions_answer",
    summary="Record the customer's answer",
)
def answer_question(request, pk: int, qid: int, payload: OrderAnswerIn):
    """Sales records the customer's written answer (orders.change); attach the document to the
    question in the UI. Resubmit the order once every point is answered."""
    order = orders.get(request, pk)
    question = _visible(OrderQuestion, request, qid, order=order)
    services.answer_question(request.auth, question, answer=payload.answer)
    question = _questions(OrderQuestion.objects.filter(pk=question.pk)).get()
    return json_response(question_row(question), obj=question)


@router.get(
    "/orders/{int:pk}/versions/",
    response={200: Page[OrderVersionOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="orders_versions_list",
    summary="The order's approved versions",
)
def list_versions(request, pk: int, query: Query[PageQuery]):
    """The content as approved (version 1) and after each applied change (R-OR-8)."""
    order = orders.get(request, pk)
    queryset = OrderVersion.objects.filter(order=order).select_related("created_by").order_by("number")

    def rows(qs):
        return [
            {
                **row_of(v, ("id", "order", "number", "content", "change_request", "created_by")),
                "created_by_name": _name(v.created_by),
                "created_at": v.created_at,
            }
            for v in qs
        ]

    return json_response(_page(request, queryset, query.page, query.page_size, rows))


# --- change requests ------------------------------------------------------------------------------
def _proposal(proposal):
    """The client's proposal in the shape ``services_change.build_proposal`` reads."""
    data = proposal.model_dump(exclude_unset=True)
    _check_amounts(data.get("lines"), field="proposed.lines")
    if data.get("header") is not None:
        data["header"] = _requirements_input(data["header"])
    return data


class ChangeResource(Resource):
    """Change requests: list rows carry the order number."""

    def filtered(self, request, query):
        return super().filtered(request, query).annotate(order_number=F("order__number"))


change_resource = ChangeResource(
    ChangeRequest,
    "order-changes",
    out=ChangeOut,
    detail_out=ChangeDetail,
    list_fields=CHANGE_FIELDS + ("order_number",),
    detail=change_detail,
    list_query=ChangeListQuery,
    search_fields=("number", "order__number"),
    filters={"order": "order_id", "status": "status"},
    tags=TAGS,
)


@change_resource.router.post(
    "/order-changes/",
    response={201: ChangeDetail, **WRITE_ERRORS},
    url_name="order-changes-create",
    operation_id="order-changes_create",
    summary="Request a change to an approved order",
)
def create_change(request, payload: ChangeCreate):
    """Propose a change to an approved order (orders.change, R-OR-8) as a draft: ``proposed``
    gives the header fields that change and, if lines change, the complete list of lines (existing
    ones by ``line_no``, giving only what changes). The field-level diff is computed. Submit it for
    re-review once the customer's agreement is recorded."""
    order = _order_input(request, payload.order)
    proposed = _proposal(payload.proposed)
    change = services_change.create_change_request(
        request.auth,
        order,
        proposed=proposed,
        reason=payload.reason,
        customer_agreed=payload.customer_agreed,
        customer_agreement=payload.customer_agreement,
        expected_version=payload.order_version,
    )
    change = ChangeRequest.objects.get(pk=change.pk)
    return _created(request, change_detail(change), change)


@change_resource.router.patch(
    "/order-changes/{int:pk}/",
    response={200: ChangeDetail, 412: ErrorOut, **WRITE_ERRORS},
    url_name="order-changes-update",
    operation_id="order-changes_update",
    summary="Change a draft change request",
)
def update_change(request, pk: int, payload: ChangeUpdate):
    """Change the proposal, reason or customer agreement while the request is a draft; send
    ``version`` (or If-Match). ``proposed`` replaces the proposal (relative to the order, as on
    create) and the diff is recomputed."""
    change = change_resource.get(request, pk)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(request, change, data.pop("version", None))
    proposed = None
    if payload.proposed is not None:
        proposed = _proposal(payload.proposed)
    _versioned_call(
        request,
        lambda: services_change.update_change_request(
            request.auth,
            change,
            proposed=proposed,
            reason=data.get("reason"),
            customer_agreed=data.get("customer_agreed"),
            customer_agreement=data.get("customer_agreement"),
            expected_version=version,
        ),
    )
    change = ChangeRequest.objects.get(pk=change.pk)
    return json_response(change_detail(change), obj=change)


@change_resource.action("submit", summary="Submit the change for re-review")
def submit_change(request, change, payload):
    """Submit (customer agreement required): the departments whose subjects the change touches
    re-review it (special orders: always); without any, it awaits approval directly."""
    return services_change.submit_change_request(request.auth, change)


@change_resource.action("approve", ChangeApproveIn, summary="Approve and apply the change (e-signature)")
def approve_change(request, change, payload):
    """Approve with your password within the approval authority: the change is applied to the
    order (new version), affected reviews are replaced and every department that received the
    order is asked to acknowledge it."""
    return services_change.approve_change_request(
        request.auth, change, password=payload.password, comment=payload.comment, username=payload.username
    )


@change_resource.action("reject", ChangeRejectIn, summary="Reject the change (e-signature)")
def reject_change(request, change, payload):
    """Reject with your password and the reason; the order stays as it was."""
    return services_change.reject_change_request(
        request.auth, change, password=payload.password, reason=payload.reason, username=payload.username
    )


@change_resource.action("withdraw", ChangeWithdrawIn, summary="Withdraw the change")
def withdraw_change(request, change, payload):
    """Withdraw an open change request with a reason."""
    return services_change.withdraw_change_request(request.auth, change, reason=payload.reason)


@change_resource.router.get(
    "/order-changes/{int:pk}/acknowledgements/",
    response={200: Page[ChangeAcknowledgementOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="order-changes_acknowledgements_list",
    summary="Acknowledgements of an applied change",
)
def list_acknowledgements(request, pk: int, query: Query[PageQuery]):
    """Each department that had received the order and whether it acknowledged the change."""
    change = change_resource.get(request, pk)
    queryset = change.acknowledgements.select_related("department", "acknowledged_by").order_by(
        "department__code", "id"
    )
    page = _page(request, queryset, query.page, query.page_size, lambda qs: [ack_row(a) for a in qs])
    return json_response(page)


@change_resource.router.post(
    "/order-changes/{int:pk}/acknowledgements/{int:aid}/acknowledge/",
    response={200: ChangeAcknowledgementOut, **WRITE_ERRORS},
    operation_id="order-changes_acknowledgements_acknowledge",
    summary="Acknowledge the change for your department",
)
def acknowledge_change(request, pk: int, aid: int, payload: OrderAcknowledgeIn):
    """Confirm that your department has taken note of the applied change (orders.acknowledge)."""
    change = change_resource.get(request, pk)
    ack = _visible(ChangeAcknowledgement, request, aid, change_request=change)
    services_change.acknowledge_change(request.auth, ack, comment=payload.comment)
    ack = ChangeAcknowledgement.objects.select_related("department", "acknowledged_by").get(pk=ack.pk)
    return json_response(ack_row(ack), obj=ack)


router.add_router("", change_resource.router)


# --- production notices and shipments ------------------------------------------------------------
notices = Resource(
    ProductionNotice,
    "production-notices",
    out=ProductionNoticeOut,
    detail_out=ProductionNoticeDetail,
    list_fields=NOTICE_FIELDS,
    detail=notice_detail,
    list_query=ProductionNoticeListQuery,
    search_fields=("number", "order__number"),
    filters={"order": "order_id", "status": "status"},
    tags=TAGS,
)


@notices.router.post(
    "/production-notices/",
    response={201: ProductionNoticeDetail, **WRITE_ERRORS},
    url_name="production-notices-create",
    operation_id="production-notices_create",
    summary="Issue a production notice",
)
def create_notice(request, payload: ProductionNoticeCreate):
    """Issue a production notice (生产通知单, orders.issue_notice) for an approved order with the
    quantity and planned date per order line; production is notified."""
    order = _order_input(request, payload.order)
    lines = [line.model_dump() for line in payload.lines]
    notice = services_fulfil.issue_production_notice(request.auth, order, lines=lines, notes=payload.notes)
    return _created(request, notice_detail(notice), ProductionNotice.objects.get(pk=notice.pk))


@notices.action("acknowledge", OrderAcknowledgeIn, summary="Acknowledge the production notice")
def acknowledge_notice(request, notice, payload):
    """Production confirms it received and planned the notice (orders.acknowledge, production
    department only); the issuer is told."""
    return services_fulfil.acknowledge_production_notice(request.auth, notice, comment=payload.comment)


router.add_router("", notices.router)

shipments = Resource(
    Shipment,
    "shipments",
    out=ShipmentOut,
    detail_out=ShipmentDetail,
    list_fields=SHIPMENT_FIELDS,
    detail=shipment_detail,
    list_query=ShipmentListQuery,
    search_fields=("number", "order__number", "delivery_note_number", "waybill_number"),
    filters={
        "order": "order_id",
        "customer": "customer_id",
        "date_from": "shipped_on__gte",
        "date_to": "shipped_on__lte",
    },
    tags=TAGS,
)


@shipments.router.post(
    "/shipments/",
    response={201: ShipmentDetail, **WRITE_ERRORS},
    url_name="shipments-create",
    operation_id="shipments_create",
    summary="Record a shipment",
)
def create_shipment(request, payload: ShipmentCreate):
    """Record a shipment (出货单, orders.ship) of an approved order: per line the quantity and the
    lot or serial number with production and expiry dates. Updates the order's status and
    writes the sales record for medical devices (R-OR-10)."""
    order = _order_input(request, payload.order)
    data = payload.model_dump()
    data.pop("order")
    lines = data.pop("lines")
    shipment = services_fulfil.create_shipment(request.auth, order, lines=lines, **data)
    return _created(request, shipment_detail(shipment), Shipment.objects.get(pk=shipment.pk))


router.add_router("", shipments.router)


# --- sales record and traceability -----------------------------------------------------------------
SALES_FIELDS = tuple(SalesRecordOut.model_fields)


def _product_param(pk, field="product"):
    if pk is None:
        return None
    product = Product.objects.filter(pk=pk).first()
    if product is None:
        raise _invalid(field, _("Unknown product."))
    return product


@router.get(
    "/sales-records/",
    response={200: Page[SalesRecordOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="sales-records_list",
    summary="The medical-device sales record",
)
def list_sales_records(request, query: Query[SalesRecordQuery]):
    """Rows of the sales record (销售记录, R-OR-10), newest sale first, with every field the
    regulation asks for. Filters: ``customer``, ``product``, ``order``, sale date range
    ``date_from``/``date_to``, exact ``lot`` / ``serial``, ``q`` (device, buyer, registration)."""
    _require_list_permission(request.auth)
    queryset = selectors.sales_records(
        request.auth,
        date_from=query.date_from,
        date_to=query.date_to,
        customer=query.customer,
        product=query.product,
        lot=query.lot,
        serial=query.serial,
    )
    if query.order is not None:
        queryset = queryset.filter(order_id=query.order)
    term = (query.q or "").strip()
    if term:
        queryset = queryset.filter(
            Q(device_name__icontains=term)
            | Q(buyer_name__icontains=term)
            | Q(registration_number__icontains=term)
        )
    page = _page(request, queryset, query.page, query.page_size, lambda qs: list(qs.values(*SALES_FIELDS)))
    return json_response(page)


@router.get(
    "/trace/lots/{lot}/",
    response={200: Page[LotTraceOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="trace_lot",
    summary="Trace a lot number",
)
def trace_lot(request, lot: str, query: Query[TraceQuery]):
    """Every shipment and customer that received the lot (R-OR-11), oldest shipment first, with
    the delivery note, the order and the customer's contract number, and the manufacturer;
    ``product`` narrows it when lot numbers repeat across products."""
    _require_list_permission(request.auth)
    product = _product_param(query.product)
    rows = selectors.trace_lot(request.auth, lot, product=product)
    count = selectors.count_trace(request.auth, lot=lot, product=product)
    return json_response(_page(request, rows, query.page, query.page_size, list, count=count))


@router.get(
    "/trace/serials/{serial}/",
    response={200: Page[LotTraceOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="trace_serial",
    summary="Trace a serial number",
)
def trace_serial(request, serial: str, query: Query[TraceQuery]):
    """The shipment(s) and customer that received the serial number (R-OR-11)."""
    _require_list_permission(request.auth)
    product = _product_param(query.product)
    rows = selectors.trace_serial(request.auth, serial, product=product)
    count = selectors.count_trace(request.auth, serial=serial, product=product)
    return json_response(_page(request, rows, query.page, query.page_size, list, count=count))


@router.get(
    "/customers/{int:pk}/lots/",
    response={200: Page[CustomerLotOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="customers_lots",
    summary="Lots and serials the customer received",
    tags=["customers", *TAGS],
)
def customer_lots(request, pk: int, query: Query[PageQuery]):
    """Every lot and serial-numbered unit shipped to the customer (R-OR-11) with the quantity,
    the number of shipments, the first and last shipping date and the latest expiry. Needs
    orders.view; a customer you can see neither in the customer file nor in your shipments is 404."""
    _require_list_permission(request.auth)
    customer = Customer.objects.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if customer is None:
        raise NotFound()
    rows = selectors.customer_lots(request.auth, customer)
    visible = Customer.objects.restrict(request.auth, "view").filter(pk=pk).exists()
    if not visible and not rows.exists():
        raise NotFound()
    return json_response(_page(request, rows, query.page, query.page_size, list))


# --- configuration (read-only) -----------------------------------------------------------------------
routes = Resource(
    ReviewRoute,
    "review-routes",
    out=ReviewRouteOut,
    list_fields=tuple(ReviewRouteOut.model_fields),
    list_query=ReviewRouteListQuery,
    filters={"order_class": "order_class", "is_active": "is_active"},
    tags=TAGS,
)
router.add_router("", routes.router)

RULE_FIELDS = tuple(f for f in ApprovalRuleOut.model_fields if f != "approver_roles")


def rule_row(rule):
    return {**row_of(rule, RULE_FIELDS), "approver_roles": sorted(r.code for r in rule.approver_roles.all())}


class RuleResource(Resource):
    """Approval rules: rows carry their approver role codes (a many-to-many, so no ``.values()``)."""

    def _add_list(self):
        @self.router.get(
            "/approval-rules/",
            response={200: Page[ApprovalRuleOut], 400: ErrorOut, **READ_ERRORS},
            url_name="approval-rules-list",
            operation_id="approval-rules_list",
            summary="List the approval rules",
        )
        def list_rules(request, query: Query[ListQuery]):
            """The approval authority (核决权限): the active rule with the lowest priority whose
            conditions match an order decides which roles may approve it."""
            queryset = self.filtered(request, query).prefetch_related("approver_roles")
            page = _page(request, queryset, query.page, query.page_size, lambda qs: [rule_row(r) for r in qs])
            return json_response(page)


rules = RuleResource(
    ApprovalRule,
    "approval-rules",
    out=ApprovalRuleOut,
    list_fields=RULE_FIELDS,
    detail=rule_row,
    search_fields=("name",),
    tags=TAGS,
)
router.add_router("", rules.router)


# --- documentation of the generated operations ---------------------------------------------------------
HISTORY = "The record's audit trail (who changed what, when and why), newest first, paginated."
_describe(orders, {"orders_history": ("History of an order", HISTORY)})
_describe(
    change_resource,
    {
        "order-changes_list": (
            "List change requests",
            "Change requests (合同变更) of the orders in your scope, newest first; filters ``order``, "
            "``status``; ``search`` finds change and order numbers.",
        ),
        "order-changes_retrieve": (
            "Retrieve a change request",
            "The proposal, the field-level diff with the subject of each change, the re-reviews, the "
            "approval signature and the departments' acknowledgements.",
        ),
        "order-changes_history": ("History of a change request", HISTORY),
    },
)
_describe(
    notices,
    {
        "production-notices_list": (
            "List production notices",
            "Production notices (生产通知单) of the orders in your scope, newest first; filters "
            "``order``, ``status``.",
        ),
        "production-notices_retrieve": (
            "Retrieve a production notice",
            "The notice with its lines: order line, quantity and planned date (交货计划).",
        ),
        "production-notices_history": ("History of a production notice", HISTORY),
    },
)
_describe(
    shipments,
    {
        "shipments_list": (
            "List shipments",
            "Shipments (出货单) of the orders in your scope, newest first; filters ``order``, "
            "``customer``, shipping date range ``date_from``/``date_to``; ``search`` finds shipment, "
            "order, delivery note and waybill numbers.",
        ),
        "shipments_retrieve": (
            "Retrieve a shipment",
            "The shipment with its lines: quantity, lot or serial number, production and expiry date.",
        ),
        "shipments_history": ("History of a shipment", HISTORY),
    },
)
_describe(
    routes,
    {
        "review-routes_list": (
            "List the review routing matrix",
            "Which departments review orders of each class, what they review (aspects) and which "
            "order content their signature covers (subjects) (R-OR-5). Read-only here; maintained "
            "in the configuration screens.",
        ),
        "review-routes_retrieve": ("Retrieve a review route", "One row of the review routing matrix."),
        "review-routes_history": ("History of a review route", HISTORY),
    },
)
_describe(
    rules,
    {
        "approval-rules_retrieve": (
            "Retrieve an approval rule",
            "One rule of the approval authority with the roles that may approve (R-OR-6).",
        ),
        "approval-rules_history": ("History of an approval rule", HISTORY),
    },
)
