"""Enumerations of orders and contract review (合同/订单评审) with translated labels.

The Chinese labels in the .po files use the seeds' terms (合同评审表, 订单确认表, 生产通知单 …).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderSource(models.TextChoices):
    """The form the customer's order arrived in (R-OR-1)."""

    CONTRACT = "contract", _("Formal contract")
    PURCHASE_ORDER = "purchase_order", _("Purchase order")
    TENDER = "tender", _("Tender")
    TECHNICAL_AGREEMENT = "technical_agreement", _("Technical agreement")
    WRITTEN_NOTE = "written_note", _("Fax / e-mail / note")
    ORAL = "oral", _("Phone / oral order")


class OrderStatus(models.TextChoices):
    """States of an order (DESIGN rule 2: see ``ORDER_TRANSITIONS``)."""

    DRAFT = "draft", _("Draft")
    UNDER_REVIEW = "under_review", _("Under review")
    CLARIFICATION = "clarification", _("Clarification with the customer")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


#: Allowed transitions (from → set of to). Services check them with ``require_transition``.
ORDER_TRANSITIONS = {
    OrderStatus.DRAFT: {OrderStatus.UNDER_REVIEW, OrderStatus.CANCELLED},
    OrderStatus.UNDER_REVIEW: {
        OrderStatus.CLARIFICATION,
        OrderStatus.AWAITING_APPROVAL,
        OrderStatus.CANCELLED,
    },
    OrderStatus.CLARIFICATION: {OrderStatus.UNDER_REVIEW, OrderStatus.CANCELLED},
    OrderStatus.AWAITING_APPROVAL: {
        OrderStatus.APPROVED,
        OrderStatus.REJECTED,
        OrderStatus.CLARIFICATION,
        OrderStatus.UNDER_REVIEW,
        OrderStatus.CANCELLED,
    },
    OrderStatus.APPROVED: {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.PARTIALLY_SHIPPED: {OrderStatus.SHIPPED, OrderStatus.CLOSED},
    OrderStatus.SHIPPED: {OrderStatus.CLOSED, OrderStatus.PARTIALLY_SHIPPED},
    OrderStatus.REJECTED: set(),
    OrderStatus.CLOSED: set(),
    OrderStatus.CANCELLED: set(),
}

#: States in which the order's content may be edited directly (not through change control).
EDITABLE_STATUSES = (OrderStatus.DRAFT, OrderStatus.CLARIFICATION)
#: States in which reviewers may sign.
REVIEWABLE_STATUSES = (OrderStatus.UNDER_REVIEW, OrderStatus.CLARIFICATION)
#: States of an approved order (change control, production notice and shipments apply).
APPROVED_STATUSES = (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)


class OrderClass(models.TextChoices):
    """Classification of R-OR-4."""

    REGULAR_IN_STOCK = "regular_in_stock", _("Regular, in stock")
    REGULAR_NO_STOCK = "regular_no_stock", _("Regular, not in stock")
    SPECIAL = "special", _("Special")


class ClassReason(models.TextChoices):
    """Why an order was classified as it was (stored as codes with parameters, shown translated)."""

    AMOUNT = "amount", _("Amount at or above the threshold")
    FIRST_ORDER = "first_order", _("First order of this customer")
    NOT_STANDARD = "not_standard", _("Product is new or modified")
    OEM = "oem", _("OEM customer")
    EXPORT = "export", _("Export order")
    SPECIAL_DELIVERY = "special_delivery", _("Special delivery or lead-time demands")
    ALL_IN_STOCK = "all_in_stock", _("Standard products, all lines in stock")
    NOT_IN_STOCK = "not_in_stock", _("Standard products, not all in stock")
    OVERRIDDEN = "overridden", _("Overridden")


class ConfirmationKind(models.TextChoices):
    """Written confirmation of an oral order (订单确认表, R-OR-3)."""

    EMAIL = "email", _("E-mail")
    FAX = "fax", _("Fax")
    SIGNED_FORM = "signed_form", _("Signed order confirmation form")
    SIGNED_CONTRACT = "signed_contract", _("Signed formal contract")


class ReviewAspect(models.TextChoices):
    """What a department reviews (R-OR-5)."""

    STOCK = "stock", _("Stock: name, model and quantity against stock")
    CAPACITY = "capacity", _("Production capacity and lead time")
    MATERIAL = "material", _("Material lead time")
    TERMS = "terms", _("Contract terms: suitability, completeness, clarity")
    TECHNICAL = "technical", _("Design capability, technical, environmental and statutory requirements")
    ACCEPTANCE = "acceptance", _("Acceptance standard and test capability")
    TRANSPORT = "transport", _("Transport")
    STAFFING = "staffing", _("Staffing")
    CREDIT = "credit", _("Credit and payment terms")


class Subject(models.TextChoices):
    """Parts of an order's content. A review signs the subjects its department reviews; a change to a
    subject restarts exactly the reviews that signed it (R-OR-5 clarification, R-OR-8 change control)."""

    PRODUCT = "product", _("Products")
    SPECIFICATION = "specification", _("Model / specification")
    QUANTITY = "quantity", _("Quantities")
    DELIVERY_DATE = "delivery_date", _("Delivery dates")
    DELIVERY_MODE = "delivery_mode", _("Delivery mode and address")
    PACKAGING = "packaging", _("Packaging")
    ACCEPTANCE = "acceptance", _("Acceptance criteria")
    PRICE = "price", _("Prices and currency")
    PAYMENT_TERMS = "payment_terms", _("Payment terms")
    REQUIREMENTS = "requirements", _("Requirements")


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    SIGNED = "signed", _("Signed")
    SUPERSEDED = "superseded", _("Superseded")


class Opinion(models.TextChoices):
    """A reviewer's conclusion (评审意见)."""

    CAN_MEET = "can_meet", _("Can meet")
    CONDITIONAL = "conditional", _("Can meet with conditions")
    CANNOT_MEET = "cannot_meet", _("Cannot meet")


class QuestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")


class TenderBand(models.TextChoices):
    """How an approval rule treats tenders (R-OR-6)."""

    ANY = "any", _("Any order")
    NOT_TENDER = "not_tender", _("Not a tender")
    TENDER_BELOW = "tender_below", _("Tender below the department limit")
    TENDER_AT_OR_ABOVE = "tender_at_or_above", _("Tender at or above the department limit")


class ChangeStatus(models.TextChoices):
    """States of a change request (合同变更, R-OR-8)."""

    DRAFT = "draft", _("Draft")
    UNDER_REVIEW = "under_review", _("Under review")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPLIED = "applied", _("Approved and applied")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_CHANGE_STATUSES = (ChangeStatus.DRAFT, ChangeStatus.UNDER_REVIEW, ChangeStatus.AWAITING_APPROVAL)


class NoticeStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by production")
    CANCELLED = "cancelled", _("Cancelled")


# --- requirement capture (R-OR-2) -------------------------------------------------------
class RequirementCategory(models.TextChoices):
    """The four ISO 9001 8.2.2 categories of customer requirements."""

    EXPLICIT = "explicit", _("Stated by the customer")
    IMPLIED = "implied", _("Not stated but needed for the intended use")
    STATUTORY = "statutory", _("Statutory and regulatory")
    COMPANY = "company", _("Additional, set by the company")


#: The checklist items of each category (code → label). "none" means "reviewed, nothing applies".
REQUIREMENT_ITEMS = {
    RequirementCategory.EXPLICIT: {
        "quality": _("Quality"),
        "availability": _("Availability"),
        "delivery": _("Delivery"),
        "transport": _("Transport"),
        "warranty": _("Warranty"),
        "training": _("Training"),
        "installation": _("Installation"),
        "price": _("Price"),
    },
    RequirementCategory.IMPLIED: {
        "intended_use": _("Intended use and environment"),
        "storage": _("Storage and shelf life"),
        "compatibility": _("Compatibility with the customer's equipment"),
        "none": _("None beyond the stated requirements"),
    },
    RequirementCategory.STATUTORY: {
        "registration": _("Registration certificate / filing"),
        "labelling": _("Medical device labelling and instructions"),
        "rohs": _("RoHS / lead-free"),
        "export": _("Export and destination-country rules"),
        "none": _("None applicable"),
    },
    RequirementCategory.COMPANY: {
        "payment_terms": _("Payment terms"),
        "credit": _("Credit limit"),
        "packaging": _("Company packaging standard"),
        "none": _("None"),
    },
}
