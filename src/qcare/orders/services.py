"""Services of orders and contract review (合同/订单评审, SPEC R-OR-1…7, R-CU-3).

The life of an order: entered by sales (:func:`create_order`, R-OR-1) with its requirement
checklist (:func:`set_requirements`, R-OR-2) and, for oral orders or new customers, the
written confirmation or contract (:func:`record_confirmation`, R-OR-3); submitted
(:func:`submit_order`: licence gate R-CU-3, classification R-OR-4, review record number
``HP-…`` R-OR-7, parallel department reviews R-OR-5); each department signs its review
(:func:`sign_review`); a "cannot meet" or a question sends the order to clarification
(:func:`raise_question`, :func:`answer_question`, :func:`resubmit_order`), after which only
the reviews whose signature became invalid (or that could not meet) restart; finally the
approver named by the approval rules signs approve or reject (:func:`approve_order`,
:func:`reject_order`, R-OR-6).

Every function checks permission and state, raises a translated DomainError, works in one
transaction inside ``audit_context`` and queues its notifications in that transaction. The
decisions that race (submit, resubmit, approve, reject, cancel, signing) lock the order row
(``select_for_update`` on PostgreSQL; SQLite transactions are IMMEDIATE and already
serialise writers) and re-read it, so two concurrent decisions cannot both win.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.numbering import next_number
from qcare.notifications.services import notify
from qcare.orders import authority
from qcare.orders.choices import (
    EDITABLE_STATUSES,
    OPEN_CHANGE_STATUSES,
    ORDER_TRANSITIONS,
    REQUIREMENT_ITEMS,
    REVIEWABLE_STATUSES,
    ChangeStatus,
    ClassReason,
    ConfirmationKind,
    Opinion,
    OrderClass,
    OrderSource,
    OrderStatus,
    QuestionStatus,
    RequirementCategory,
    ReviewStatus,
)
from qcare.orders.content import order_content, order_data
from qcare.orders.models import Order, OrderLine, OrderQuestion, OrderReview, OrderTransition, OrderVersion

#: Header fields of an order that create_order / update_order accept.
HEADER_FIELDS = (
    "customer_reference",
    "order_date",
    "currency",
    "exchange_rate",
    "payment_terms",
    "delivery_address",
    "is_export",
    "special_delivery",
    "notes",
)
#: Keys of a line dict.
LINE_FIELDS = (
    "line_no",
    "product",
    "specification",
    "quantity",
    "unit",
    "unit_price",
    "requested_date",
    "delivery_mode",
    "packaging",
    "acceptance_criteria",
    "in_stock",
)
LINE_TEXT_FIELDS = ("specification", "unit", "delivery_mode", "packaging", "acceptance_criteria")
#: Opinions that let an order go on to approval.
POSITIVE_OPINIONS = (Opinion.CAN_MEET, Opinion.CONDITIONAL)
CENT = Decimal("0.01")
#: Amounts are stored in MONEY columns (18 digits, 2 decimals): everything must stay below this.
MONEY_LIMIT = Decimal(10) ** 16
#: States after which nothing about the order is decided any more.
FINAL_STATUSES = (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.CLOSED)


# --- helpers ----------------------------------------------------------------------------------
def _required():
    return [_("This field is required.")]


def _fail(errors, message=None):
    raise ValidationFailed(message or _("Please correct the errors below."), errors=errors)


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired()
    return reason.strip()


def _status_label(status):
    return str(OrderStatus(status).label)


def _lock(order, expected_version=None):
    """Lock the order row until commit and reload ``order`` from it; check the client's version.

    Reloading after the lock means state checks see what the previous writer committed, so of
    two concurrent decisions the second one is refused (stale version or wrong state).
    """
    order.refresh_from_db(from_queryset=Order.objects.select_for_update())
    order.check_version(expected_version)
    return order


def _decimal(value, errors, name, *, digits, places):
    """``value`` as a Decimal that fits a column of ``digits`` digits, ``places`` of them decimals."""
    if value in (None, ""):
        errors[name] = _required()
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors[name] = [_("Enter a number.")]
        return None
    if number.as_tuple().exponent < -places:
        errors[name] = [_("Enter at most %(places)s decimal places.") % {"places": places}]
        return None
    if abs(number) >= Decimal(10) ** (digits - places):
        errors[name] = [_("This number is too large.")]
        return None
    return number


def _date(value, errors, name):
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[name] = [_("Enter a valid date.")]
        return None


def reviewers_of(department):
    """Active users of ``department`` who may sign its reviews (hold orders.review)."""
    User = get_user_model()
    if department is None:
        return []
    return list(
        User.objects.filter(
            department=department,
            is_active=True,
            roles__grants__permission__in=("orders.review", "orders.*"),
        ).distinct()
    )


def approvers_for(order):
    """Active users who may approve ``order``: the roles of its approval rule, within their scope."""
    User = get_user_model()
    try:
        rule = authority.rule_for(order)
    except Conflict:  # no rule covers it: nobody to ask; approve_order explains it
        return []
    users = User.objects.filter(is_active=True, roles__in=rule.approver_roles.all()).distinct()
    return [u for u in users if Order.objects.restrict(u, "approve").filter(pk=order.pk).exists()]


def _others(users, actor):
    return [u for u in users if u.pk != actor.pk]


# --- state ------------------------------------------------------------------------------------
def set_status(order, to_status, actor, reason="", *, fields=()):
    """Move ``order`` to ``to_status`` if ``ORDER_TRANSITIONS`` allows it and record the
    transition row (DESIGN rule 2). Runs in the caller's transaction; saves the status and the
    other changed ``fields`` named (one UPDATE, one audit entry)."""
    from_status = order.status
    if to_status not in ORDER_TRANSITIONS.get(from_status, set()):
        raise Conflict(
            _("An order cannot go from “%(from)s” to “%(to)s”.")
            % {"from": _status_label(from_status), "to": _status_label(to_status)}
        )
    order.status = to_status
    order.save(update_fields=["status", "updated_at", *fields])
    OrderTransition.objects.create(
        order=order, from_status=from_status, to_status=to_status, actor=actor, reason=reason or ""
    )
    return order


def current_reviews(order):
    """The reviews in force: not superseded, of the order itself or of an applied change."""
    return (
        order.reviews.exclude(status=ReviewStatus.SUPERSEDED)
        .filter(Q(change_request__isnull=True) | Q(change_request__status=ChangeStatus.APPLIED))
        .select_related("department", "signature", "reviewer")
    )


def review_signature_valid(review, order=None):
    """True when the review is signed and its signature still matches the reviewed content
    (the opinion plus the order subjects of the department, see content.review_content)."""
    if review.signature_id is None:
        return False
    if order is not None:
        review.order = order  # the freshly locked order, not a stale cached copy
    return review.signature.content_hash == signatures.content_hash(review)


def departments_that_received(order):
    """Departments that have received the order: its reviewers, the department of each
    production notice (production when none is recorded), the warehouse once something was
    shipped (change control notifies all of them)."""
    from qcare.accounts.models import Department

    ids = set(current_reviews(order).values_list("department_id", flat=True))
    codes = []
    for department_id in order.production_notices.exclude(status="cancelled").values_list(
        "department_id", flat=True
    ):
        if department_id:
            ids.add(department_id)
        else:  # a notice without a recorded department went to production
            codes.append("production")
    if order.shipments.exists():
        codes.append("warehouse")
    return list(Department.objects.filter(Q(pk__in=ids) | Q(code__in=codes)).order_by("code"))


# --- intake (R-OR-1) --------------------------------------------------------------------------
def _clean_header(values, errors):
    """Validate header values in place (currency, exchange rate, texts)."""
    for name in ("customer_reference", "payment_terms", "delivery_address", "special_delivery", "notes"):
        if name in values:
            values[name] = (values[name] or "").strip()
    if "currency" in values:
        values["currency"] = (values["currency"] or "CNY").strip().upper()
        if len(values["currency"]) != 3 or not values["currency"].isalpha():
            errors["currency"] = [_("Enter a three-letter currency code (ISO 4217), e.g. CNY, USD.")]
    if "exchange_rate" in values:
        rate = _decimal(values["exchange_rate"], errors, "exchange_rate", digits=12, places=6)
        if rate is not None and rate <= 0:
            errors["exchange_rate"] = [_("The exchange rate must be greater than zero.")]
        values["exchange_rate"] = rate
    if values.get("currency") == "CNY":
        values["exchange_rate"] = Decimal("1")
    if "order_date" in values:
        values["order_date"] = _date(values["order_date"], errors, "order_date") or timezone.localdate()
    if "is_export" in values:
        values["is_export"] = bool(values["is_export"])


def _clean_line(raw, index, errors):
    """One line dict → validated values (product resolved, amount computed)."""
    from qcare.catalog.models import Product

    prefix = f"lines.{index}."
    unknown = sorted(set(raw) - set(LINE_FIELDS))
    for name in unknown:
        errors[prefix + name] = [_("This field cannot be changed.")]
    values = {}
    product = raw.get("product")
    if product in (None, ""):
        errors[prefix + "product"] = _required()
    else:
        pk = product.pk if isinstance(product, Product) else product
        product = Product.objects.filter(pk=pk).first() if str(pk).isdigit() else None
        if product is None:
            errors[prefix + "product"] = [_("Select a valid product.")]
        elif not product.is_active:
            errors[prefix + "product"] = [_("This product is no longer sold.")]
    values["product"] = product
    local = {}
    quantity = _decimal(raw.get("quantity"), local, "quantity", digits=14, places=3)
    if quantity is not None and quantity <= 0:
        local["quantity"] = [_("The quantity must be greater than zero.")]
    price = _decimal(raw.get("unit_price"), local, "unit_price", digits=18, places=2)
    if price is not None and price < 0:
        local["unit_price"] = [_("The unit price cannot be negative.")]
    if quantity is not None and price is not None and not local:
        amount = quantity * price
        if amount >= MONEY_LIMIT:  # checked before quantize(), which fails on huge values
            local["quantity"] = [_("The amount of this line is too large.")]
        else:
            values["amount"] = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    values["requested_date"] = _date(raw.get("requested_date"), local, "requested_date")
    errors.update({prefix + k: v for k, v in local.items()})
    values["quantity"], values["unit_price"] = quantity, price
    for name in LINE_TEXT_FIELDS:
        values[name] = (raw.get(name) or "").strip()
    if product is not None:
        values["specification"] = values["specification"] or product.model
        values["unit"] = values["unit"] or product.unit
    in_stock = raw.get("in_stock")
    values["in_stock"] = None if in_stock in (None, "") else bool(in_stock)
    line_no = raw.get("line_no")
    if line_no not in (None, ""):
        try:
            values["line_no"] = int(line_no)
            if values["line_no"] < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors[prefix + "line_no"] = [_("Enter a positive whole number.")]
    return values


def _clean_lines(lines, errors):
    cleaned = [_clean_line(dict(raw), index, errors) for index, raw in enumerate(lines)]
    numbers = [v["line_no"] for v in cleaned if "line_no" in v]
    if len(numbers) != len(set(numbers)):
        errors["lines"] = [_("Each line number may appear only once.")]
    next_no = max(numbers, default=0)
    for values in cleaned:  # lines without a number are appended
        if "line_no" not in values:
            next_no += 1
            values["line_no"] = next_no
    return cleaned


def _check_total(amounts, rate, errors):
    """The order total, and the total in CNY, must fit the MONEY columns."""
    if errors or rate is None:
        return
    total = sum(amounts, Decimal("0"))
    if total >= MONEY_LIMIT or total * rate >= MONEY_LIMIT:
        errors["lines"] = [_("The total amount of the order is too large.")]


def _recompute_totals(order):
    amounts = order.lines.values_list("amount", flat=True)
    order.total_amount = sum(amounts, Decimal("0"))
    order.total_amount_cny = (order.total_amount * order.exchange_rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _customer_in_scope(actor, customer, errors):
    from qcare.customers.models import Customer

    if customer is None or not Customer.objects.restrict(actor, "view").filter(pk=customer.pk).exists():
        errors["customer"] = [_("Select a customer you are responsible for.")]
    elif not customer.is_active:
        errors["customer"] = [_("This customer is inactive.")]


def create_order(actor, *, customer, source, lines, **header):
    """Enter an order (``SO-…``) in DRAFT with its lines (R-OR-1); the actor owns it.

    ``lines``: dicts of LINE_FIELDS (amount = quantity × unit price). ``header``: HEADER_FIELDS
    plus optionally ``requirements`` / ``special_requirements`` (see :func:`set_requirements`).
    ``is_export`` defaults to the customer being foreign.
    """
    require_perm(actor, "orders.add")
    header = dict(header)
    requirements = header.pop("requirements", None)
    special = header.pop("special_requirements", None)
    errors = {}
    for name in sorted(set(header) - set(HEADER_FIELDS)):
        errors[name] = [_("This field cannot be changed.")]
    _customer_in_scope(actor, customer, errors)
    if source not in OrderSource.values:
        errors["source"] = [_("Select a valid choice.")]
    values = {"currency": "CNY", "exchange_rate": Decimal("1"), "order_date": None} | header
    values.setdefault("is_export", bool(getattr(customer, "is_foreign", False)))
    _clean_header(values, errors)
    if not lines:
        errors["lines"] = [_("An order needs at least one line.")]
    cleaned = _clean_lines(lines or [], errors)
    _check_total([line.get("amount", 0) for line in cleaned], values.get("exchange_rate"), errors)
    requirements, special = _clean_requirements(requirements or {}, special or [], errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        order = Order(
            number=next_number("order"),
            source=source,
            customer=customer,
            owner=actor,
            department=actor.department,
            requirements=requirements,
            special_requirements=special,
            **values,
        )
        order.save(force_insert=True)
        for line in cleaned:
            OrderLine.objects.create(order=order, **line)
        _recompute_totals(order)
        order.save(update_fields=["total_amount", "total_amount_cny"])
        OrderTransition.objects.create(order=order, from_status="", to_status=OrderStatus.DRAFT, actor=actor)
    return order


def _require_editable(order):
    if order.status in EDITABLE_STATUSES:
        return
    if order.status in (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED):
        raise Conflict(_("An approved order cannot be edited. Request a change instead (change control)."))
    raise Conflict(
        _("The order cannot be edited while it is “%(status)s”.") % {"status": _status_label(order.status)}
    )


def update_order(actor, order, *, data, lines=None, expected_version=None):
    """Edit a DRAFT order, or one in CLARIFICATION (the customer's answer changed it).

    ``data``: header fields (and ``source``; ``customer`` only in DRAFT; ``requirements`` /
    ``special_requirements``). ``lines`` (optional) is the complete new set: lines are matched
    by ``line_no`` (updated), new numbers are added, missing ones removed. Edits in
    clarification invalidate exactly the review signatures over the changed subjects.
    """
    require_perm(actor, "orders.change", order)
    data = dict(data or {})
    with transaction.atomic(), audit_context(actor=actor):
        _lock(order, expected_version)
        _require_editable(order)
        errors = {}
        allowed = (*HEADER_FIELDS, "source", "requirements", "special_requirements")
        if order.status == OrderStatus.DRAFT:
            allowed = (*allowed, "customer")
        for name in sorted(set(data) - set(allowed)):
            errors[name] = [_("This field cannot be changed.")]
        if "customer" in data:
            _customer_in_scope(actor, data["customer"], errors)
        if "source" in data and data["source"] not in OrderSource.values:
            errors["source"] = [_("Select a valid choice.")]
        if "requirements" in data or "special_requirements" in data:
            data["requirements"], data["special_requirements"] = _clean_requirements(
                data.get("requirements", order.requirements),
                data.get("special_requirements", order.special_requirements),
                errors,
            )
        values = {name: data[name] for name in HEADER_FIELDS if name in data}
        if "currency" in values and "exchange_rate" not in values:
            values["exchange_rate"] = order.exchange_rate
        if "exchange_rate" in values and "currency" not in values:
            values["currency"] = order.currency  # a CNY order keeps the rate 1
        _clean_header(values, errors)
        cleaned = None
        if lines is not None:
            if not lines:
                errors["lines"] = [_("An order needs at least one line.")]
            cleaned = _clean_lines(lines, errors)
        if cleaned is not None or "exchange_rate" in values:
            amounts = (
                [line.get("amount", 0) for line in cleaned]
                if cleaned is not None
                else list(order.lines.values_list("amount", flat=True))
            )
            _check_total(amounts, values.get("exchange_rate", order.exchange_rate), errors)
        if errors:
            _fail(errors)
        for name, value in {**data, **values}.items():
            setattr(order, name, value)
        if cleaned is not None:
            _replace_lines(order, cleaned)
        _recompute_totals(order)
        order.save()
    return order


def _replace_lines(order, cleaned):
    existing = {line.line_no: line for line in order.lines.all()}
    for values in cleaned:
        line = existing.pop(values["line_no"], None)
        if line is None:
            OrderLine.objects.create(order=order, **values)
            continue
        changed = [name for name, value in values.items() if getattr(line, name) != value]
        if changed:
            for name in changed:
                setattr(line, name, values[name])
            line.save()
    for line in existing.values():
        line.delete()


# --- requirement capture (R-OR-2) -------------------------------------------------------------
def _clean_requirements(requirements, special, errors):
    """Validate the checklist ``{category: {"items": [...], "text": ""}}`` and the special
    requirements ``[{"text", "confirmed"}]``; returns their normalised forms."""
    cleaned = {}
    if not isinstance(requirements, dict):
        errors["requirements"] = [_("Select valid requirement items.")]
        requirements = {}
    for category, entry in requirements.items():
        if category not in RequirementCategory.values:
            errors[f"requirements.{category}"] = [_("Unknown requirement category.")]
            continue
        entry = entry or {}
        items = list(dict.fromkeys(entry.get("items") or []))
        unknown = [code for code in items if code not in REQUIREMENT_ITEMS[category]]
        if unknown:
            errors[f"requirements.{category}"] = [
                _("Unknown requirement items: %(items)s") % {"items": ", ".join(map(str, unknown))}
            ]
        elif "none" in items and len(items) > 1:
            errors[f"requirements.{category}"] = [_("“None” cannot be combined with other items.")]
        cleaned[category] = {"items": items, "text": (entry.get("text") or "").strip()}
    special_cleaned = []
    for index, item in enumerate(special or []):
        text = (item.get("text") or "").strip()
        if not text:
            errors[f"special_requirements.{index}.text"] = _required()
        special_cleaned.append({"text": text, "confirmed": bool(item.get("confirmed"))})
    return cleaned, special_cleaned


def set_requirements(actor, order, requirements, special_requirements=None, expected_version=None):
    """Record the requirement checklist of the four ISO categories and, optionally, the
    customer's special requirements with their confirmation flags (R-OR-2)."""
    require_perm(actor, "orders.change", order)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(order, expected_version)
        _require_editable(order)
        errors = {}
        if special_requirements is None:
            special_requirements = order.special_requirements
        cleaned, special = _clean_requirements(requirements, special_requirements, errors)
        if errors:
            _fail(errors)
        order.requirements = cleaned
        order.special_requirements = special
        order.save()
    return order


def requirement_problems(order):
    """What is missing in the requirement capture: uncaptured categories (neither an item nor
    a text) and special requirements not confirmed."""
    problems = []
    for category in RequirementCategory:
        entry = (order.requirements or {}).get(category.value) or {}
        if not entry.get("items") and not (entry.get("text") or "").strip():
            problems.append(
                _("Requirements not captured: %(category)s (tick “none” if nothing applies).")
                % {"category": category.label}
            )
    for item in order.special_requirements or []:
        if not item.get("confirmed"):
            problems.append(_("Special requirement not confirmed: %(text)s") % {"text": item.get("text", "")})
    return problems


# --- written confirmation and contract (R-OR-3) -----------------------------------------------
def has_earlier_approved_order(order):
    """True when the customer has another order that was approved (a known customer)."""
    return (
        Order.objects.filter(customer_id=order.customer_id, approved_at__isnull=False)
        .exclude(pk=order.pk)
        .exists()
    )


def _confirmation_attached(order):
    from qcare.attachments.models import Attachment

    return (
        order.confirmation_attachment_id is not None
        and Attachment.objects.filter(pk=order.confirmation_attachment_id, removed_at__isnull=True).exists()
    )


def confirmation_problems(order):
    """R-OR-3: an oral order needs the customer's written confirmation recorded with its
    document; a new customer (no earlier approved order) needs a formal contract."""
    problems = []
    if order.is_oral and not (order.confirmation_kind and _confirmation_attached(order)):
        problems.append(
            _(
                "An oral order needs the customer's written confirmation (order confirmation form, "
                "e-mail or fax), attached and recorded."
            )
        )
    if (
        order.source != OrderSource.CONTRACT
        and order.confirmation_kind != ConfirmationKind.SIGNED_CONTRACT
        and not has_earlier_approved_order(order)
    ):
        problems.append(
            _("A new customer needs a formal contract: record the signed contract as the confirmation.")
        )
    return problems


def record_confirmation(actor, order, *, kind, received_on, attachment):
    """Record the customer's written confirmation (订单确认表) or signed contract (R-OR-3).

    ``attachment`` (an Attachment or its id) must be attached to this order. When every review
    is already signed and positive, the order goes on to approval.
    """
    from qcare.attachments.models import Attachment

    require_perm(actor, "orders.change", order)
    errors = {}
    if kind not in ConfirmationKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    received_on = _date(received_on, errors, "received_on")
    if received_on is None and "received_on" not in errors:
        errors["received_on"] = _required()
    elif received_on is not None and received_on > timezone.localdate():
        errors["received_on"] = [_("The date cannot be in the future.")]
    pk = getattr(attachment, "pk", attachment)
    found = Attachment.objects.filter(
        pk=pk if str(pk).isdigit() else None,
        content_type=ContentType.objects.get_for_model(Order),
        object_pk=str(order.pk),
        removed_at__isnull=True,
    ).first()
    if found is None:
        errors["attachment"] = [_("Attach the confirmation document to this order first.")]
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(order)
        if order.status in FINAL_STATUSES or order.approved_at is not None:
            raise Conflict(
                _("The confirmation cannot be recorded while the order is “%(status)s”.")
                % {"status": _status_label(order.status)}
            )
        order.confirmation_kind = kind
        order.confirmation_received_on = received_on
        order.confirmation_attachment = found
        order.confirmation_recorded_by = actor
        order.save()
        _finish_review_if_complete(order, actor)
    return order


# --- classification (R-OR-4) ------------------------------------------------------------------
def _money(value):
    return f"{Decimal(value):,.2f}"


def classify(order):
    """Compute the class of ``order`` and why: ``(order_class, [{"code", "params"}, ...])``.

    Special when any of: amount (CNY) ≥ policy orders.special_amount_threshold; first order of
    the customer (policy orders.first_order_is_special); a product that is not standard; an
    OEM customer; export; special delivery demands. Otherwise regular, in stock only when
    every line is flagged in stock. Pure: reads, never writes.
    """
    reasons = []
    threshold = policies.get("orders.special_amount_threshold").amount
    if order.total_amount_cny >= threshold:
        reasons.append(
            {
                "code": ClassReason.AMOUNT.value,
                "params": {"amount": str(order.total_amount_cny), "threshold": str(threshold)},
            }
        )
    if policies.get("orders.first_order_is_special") and not has_earlier_approved_order(order):
        reasons.append({"code": ClassReason.FIRST_ORDER.value, "params": {}})
    lines = list(order.lines.select_related("product").order_by("line_no"))
    seen = set()
    for line in lines:
        if not line.product.is_standard and line.product_id not in seen:
            seen.add(line.product_id)
            reasons.append({"code": ClassReason.NOT_STANDARD.value, "params": {"product": str(line.product)}})
    if order.customer.customer_type.code == "oem":
        reasons.append({"code": ClassReason.OEM.value, "params": {}})
    if order.is_export:
        reasons.append({"code": ClassReason.EXPORT.value, "params": {}})
    if (order.special_delivery or "").strip():
        reasons.append(
            {"code": ClassReason.SPECIAL_DELIVERY.value, "params": {"text": order.special_delivery.strip()}}
        )
    if reasons:
        return OrderClass.SPECIAL.value, reasons
    if lines and all(line.in_stock is True for line in lines):
        return OrderClass.REGULAR_IN_STOCK.value, [{"code": ClassReason.ALL_IN_STOCK.value, "params": {}}]
    return OrderClass.REGULAR_NO_STOCK.value, [{"code": ClassReason.NOT_IN_STOCK.value, "params": {}}]


def reason_texts(reasons):
    """The classification reasons as translated sentences (e.g. "Amount 260,000.00 ≥ 200,000.00")."""
    texts = []
    for reason in reasons or []:
        code, params = reason.get("code"), reason.get("params") or {}
        if code == ClassReason.AMOUNT:
            texts.append(
                _("Amount %(amount)s ≥ %(threshold)s")
                % {"amount": _money(params["amount"]), "threshold": _money(params["threshold"])}
            )
        elif code == ClassReason.NOT_STANDARD:
            texts.append(_("Product %(product)s is not standard (new or modified)") % params)
        elif code == ClassReason.SPECIAL_DELIVERY:
            texts.append(_("Special delivery demands: %(text)s") % params)
        elif code == ClassReason.OVERRIDDEN:
            texts.append(
                _("Class overridden to “%(class)s”: %(reason)s")
                % {"class": authority.order_class_label(params.get("class")), "reason": params.get("reason")}
            )
        elif code in ClassReason.values:
            texts.append(str(ClassReason(code).label))
    return texts


#: Order fields written by ``_apply_classification``.
CLASSIFICATION_FIELDS = ("computed_class", "is_first_order", "order_class", "class_reasons")


class ReasonTexts:
    """Classification reasons for a notification, translated when the template is rendered:
    ``notify`` renders once per recipient language, so each reads them in their own."""

    def __init__(self, reasons):
        self.reasons = list(reasons or [])

    def __iter__(self):
        return iter(reason_texts(self.reasons))

    def __bool__(self):
        return bool(self.reasons)

    def __str__(self):
        return "; ".join(self)


def _apply_classification(order):
    """Store the computed class and reasons; an override (class_overridden_by) stands."""
    computed, reasons = classify(order)
    order.computed_class = computed
    order.is_first_order = any(r["code"] == ClassReason.FIRST_ORDER for r in reasons)
    if order.class_overridden_by_id:
        reasons.append(
            {
                "code": ClassReason.OVERRIDDEN.value,
                "params": {"class": order.order_class, "reason": order.class_override_reason},
            }
        )
    else:
        order.order_class = computed
    order.class_reasons = reasons


# --- submission (R-OR-5, R-CU-3, R-OR-7) ------------------------------------------------------
def licence_problems(order):
    """The licence gate (R-CU-3): the customer's licence must cover every regulated product."""
    from qcare.customers.services import check_can_sell

    categories = set(
        order.lines.filter(product__is_regulated=True).values_list("product__category_id", flat=True)
    )
    if not categories:
        return []
    check = check_can_sell(order.customer, sorted(categories), timezone.localdate())
    if check.allowed:
        return []
    return [
        _("Regulated devices cannot be sold to this customer: %(reason)s") % {"reason": reason}
        for reason in check.reasons
    ]


def submission_problems(order):
    """Why the order cannot be submitted (or resubmitted) now, translated; empty when it can."""
    problems = []
    if not order.customer.is_active:
        problems.append(_("The customer is inactive."))
    if not order.lines.exists():
        problems.append(_("The order has no lines."))
    problems += requirement_problems(order)
    problems += licence_problems(order)
    return problems


def _raise_problems(problems):
    raise ValidationFailed(
        problems[0] if len(problems) == 1 else _("The order is not complete."), errors={"__all__": problems}
    )


def _due_dates(start):
    from qcare.workcalendar.calendar import add_duration

    due = add_duration(start, policies.get("orders.review_due"))
    # The reviewer is reminded when the review falls due; it is escalated if still open
    # ``orders.review_escalate_after`` later.
    return {
        "due_at": due,
        "remind_at": due,
        "escalate_at": add_duration(due, policies.get("orders.review_escalate_after")),
    }


def _open_review(order, *, department, aspects, subjects, round_no, now):
    return OrderReview.objects.create(
        order=order,
        department=department,
        aspects=list(aspects),
        subjects=list(subjects),
        round=round_no,
        started_at=now,
        **_due_dates(now),
    )


def _notify_review_requested(order, reviews, actor):
    for review in reviews:
        notify(
            _others(reviewers_of(review.department), actor),
            template="orders/review_requested",
            context={"order": order, "review": review, "reasons": ReasonTexts(order.class_reasons)},
            obj=order,
        )


def submit_order(actor, order, *, optional_departments=(), expected_version=None):
    """Submit a DRAFT order for review.

    Checks the licence gate and completeness, classifies (R-OR-4), assigns the review record
    number ``HP-…`` on the first submission (R-OR-7), opens one review per department of the
    routing matrix (plus the ``optional_departments`` asked for, when the class has them as
    optional routes) with due dates from the policies, notifies the reviewers, and moves the
    order to UNDER_REVIEW.
    """
    require_perm(actor, "orders.change", order)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(order, expected_version)
        if order.status != OrderStatus.DRAFT:
            raise Conflict(
                _("Only a draft order can be submitted; this one is “%(status)s”.")
                % {"status": _status_label(order.status)}
            )
        problems = submission_problems(order)
        if problems:
            _raise_problems(problems)
        _apply_classification(order)
        routes = authority.routes_for(order.order_class, optional_departments=optional_departments)
        if not routes:
            raise Conflict(
                _("No reviewing department is configured for “%(class)s” orders. Ask an administrator.")
                % {"class": authority.order_class_label(order.order_class)}
            )
        now = timezone.now()
        if not order.review_number:
            order.review_number = next_number("contract_review")
        order.review_round = 1
        order.submitted_at = now
        reviews = [
            _open_review(
                order,
                department=route.department,
                aspects=route.aspects,
                subjects=route.subjects,
                round_no=1,
                now=now,
            )
            for route in routes
        ]
        fields = [*CLASSIFICATION_FIELDS, "review_number", "review_round", "submitted_at"]
        set_status(order, OrderStatus.UNDER_REVIEW, actor, fields=fields)
        _notify_review_requested(order, reviews, actor)
    return order


def _reroute(order, actor, now):
    """Make the order's current reviews match the routes of its (new) class.

    Departments no longer routed are superseded; departments newly routed get a PENDING review;
    a department whose route reviews other aspects or subjects in the new class starts over.
    Optional departments already asked for the same aspects stay asked. Returns the new reviews.
    """
    current = {r.department_id: r for r in current_reviews(order).filter(change_request__isnull=True)}

    def same(route, review):
        return sorted(route.subjects) == sorted(review.subjects) and sorted(route.aspects) == sorted(
            review.aspects
        )

    routes = authority.routes_for(order.order_class, optional_departments=list(current))
    # An optional route stays only for a department that was already asked exactly that.
    wanted = {
        route.department_id: route
        for route in routes
        if not route.is_optional or same(route, current[route.department_id])
    }
    opened = []
    for department_id, review in current.items():
        route = wanted.get(department_id)
        if route is not None and same(route, review):
            continue
        new = None
        if route is not None:
            new = _open_review(
                order,
                department=route.department,
                aspects=route.aspects,
                subjects=route.subjects,
                round_no=order.review_round,
                now=now,
            )
            opened.append(new)
        _supersede(review, new)
    for department_id, route in wanted.items():
        if department_id not in current:
            opened.append(
                _open_review(
                    order,
                    department=route.department,
                    aspects=route.aspects,
                    subjects=route.subjects,
                    round_no=order.review_round,
                    now=now,
                )
            )
    return opened


def _supersede(review, new):
    review.status = ReviewStatus.SUPERSEDED
    review.superseded_by = new
    review.save(update_fields=["status", "superseded_by", "updated_at"])


def override_class(actor, order, *, order_class, reason):
    """Set the order's class by hand (sales manager, orders.classify), with a reason (audited).

    Before approval only. The reviews follow the new class's routes (see ``_reroute``); an
    order awaiting approval that gets new reviews goes back to UNDER_REVIEW.
    """
    require_perm(actor, "orders.classify", order)
    reason = _require_reason(reason)
    if order_class not in OrderClass.values:
        _fail({"order_class": [_("Select a valid choice.")]})
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(order)
        allowed = (*EDITABLE_STATUSES, OrderStatus.UNDER_REVIEW, OrderStatus.AWAITING_APPROVAL)
        if order.status not in allowed:
            raise Conflict(
                _("The class cannot be changed while the order is “%(status)s”.")
                % {"status": _status_label(order.status)}
            )
        if order.order_class == order_class:
            _fail({"order_class": [_("The order already has this class.")]})
        order.order_class = order_class
        order.class_override_reason = reason
        order.class_overridden_by = actor
        reasons = [r for r in order.class_reasons or [] if r.get("code") != ClassReason.OVERRIDDEN]
        reasons.append(
            {"code": ClassReason.OVERRIDDEN.value, "params": {"class": order_class, "reason": reason}}
        )
        order.class_reasons = reasons
        order.save()
        if order.status == OrderStatus.DRAFT:
            return order
        opened = _reroute(order, actor, timezone.now())
        if opened and order.status == OrderStatus.AWAITING_APPROVAL:
            order.reviews_completed_at = None
            set_status(order, OrderStatus.UNDER_REVIEW, actor, reason, fields=["reviews_completed_at"])
        _notify_review_requested(order, opened, actor)
        _finish_review_if_complete(order, actor)
    return order


# --- reviews (R-OR-5) -------------------------------------------------------------------------
def _check_reviewer(actor, review):
    """Permission and department of a reviewer acting on ``review``."""
    require_perm(actor, "orders.review", review)
    if actor.department_id != review.department_id:
        raise NotPermitted(
            _("You can sign only for your own department; this review belongs to %(department)s.")
            % {"department": review.department}
        )


def _require_reviewable(order):
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("This order has been cancelled; it can no longer be reviewed."))
    if order.status not in REVIEWABLE_STATUSES:
        raise Conflict(
            _("The order is not under review (status: %(status)s).") % {"status": _status_label(order.status)}
        )


def _require_pending(review):
    if review.status == ReviewStatus.SUPERSEDED:
        raise Conflict(_("This review has been superseded by a newer round; sign the current one."))
    if review.status != ReviewStatus.PENDING:
        raise Conflict(_("This review has already been signed."))


def review_problems(order):
    """Why the current reviews do not yet allow approval: missing, negative or invalid."""
    problems = []
    reviews = list(current_reviews(order))
    if not reviews:
        problems.append(_("No department has reviewed this order."))
    for review in reviews:
        name = {"department": review.department}
        if review.status != ReviewStatus.SIGNED:
            problems.append(_("%(department)s has not signed its review yet.") % name)
        elif review.opinion not in POSITIVE_OPINIONS:
            problems.append(_("%(department)s cannot meet the requirements.") % name)
        elif not review_signature_valid(review, order):
            problems.append(
                _("The signature of %(department)s is no longer valid: the order changed after it signed.")
                % name
            )
    return problems


def _open_questions(order):
    return order.questions.filter(status=QuestionStatus.OPEN, change_request__isnull=True)


def approval_problems(order):
    """Everything that stands between ``order`` and its approval (translated), empty when none:
    the state, every current review signed, positive and still valid, no open question, and
    the written confirmation / contract rule of R-OR-3."""
    problems = []
    if order.status != OrderStatus.AWAITING_APPROVAL:
        problems.append(
            _("The order is not awaiting approval (status: %(status)s).")
            % {"status": _status_label(order.status)}
        )
    problems += review_problems(order)
    if _open_questions(order).exists():
        problems.append(_("Open points with the customer are not answered yet."))
    problems += confirmation_problems(order)
    return problems


def _finish_review_if_complete(order, actor):
    """UNDER_REVIEW → AWAITING_APPROVAL once every current review is signed, positive and valid,
    nothing is open and the confirmation rule is met; the approvers are notified."""
    if order.status != OrderStatus.UNDER_REVIEW:
        return False
    if review_problems(order) or _open_questions(order).exists() or confirmation_problems(order):
        return False
    order.reviews_completed_at = timezone.now()
    try:
        order.approval_rule = authority.rule_for(order)
    except Conflict:
        order.approval_rule = None
    set_status(order, OrderStatus.AWAITING_APPROVAL, actor, fields=["reviews_completed_at", "approval_rule"])
    notify(
        _others(approvers_for(order), actor),
        template="orders/approval_requested",
        context={"order": order, "reasons": ReasonTexts(order.class_reasons)},
        obj=order,
    )
    return True


def sign_review(actor, review, *, opinion, comments="", proposed_date=None, password, username=None):
    """A reviewer records the department's opinion and signs it (meaning "reviewed").

    Only for the reviewer's own department, on a pending review of an order under review (or
    in clarification). "Can meet with conditions" and "cannot meet" need comments. "Cannot
    meet" opens an open point and sends the order to clarification; the last positive
    signature sends the order on to approval. A wrong password signs and changes nothing.
    Reviews of a change request are completed by services_change.on_change_review_signed.
    """
    _check_reviewer(actor, review)
    errors = {}
    if opinion not in Opinion.values:
        errors["opinion"] = [_("Select a valid choice.")]
    comments = (comments or "").strip()
    if opinion in (Opinion.CONDITIONAL, Opinion.CANNOT_MEET) and not comments:
        errors["comments"] = [_("Explain the conditions or why the requirement cannot be met.")]
    proposed_date = _date(proposed_date, errors, "proposed_date")
    if errors:
        _fail(errors)
    order = review.order
    with signatures.signing_atomic(), audit_context(actor=actor):
        if review.change_request_id:
            from qcare.orders import services_change

            review.refresh_from_db()
            services_change.require_change_reviewable(review)
        else:
            _lock(order)
            review.refresh_from_db()
            _require_reviewable(order)
        _require_pending(review)
        review.opinion = opinion
        review.comments = comments
        review.proposed_date = proposed_date
        review.reviewer = actor
        review.save(update_fields=["opinion", "comments", "proposed_date", "reviewer", "updated_at"])
        signature = signatures.sign(review, actor, password, "reviewed", comments, username=username)
        review.signature = signature
        review.status = ReviewStatus.SIGNED
        review.signed_at = signature.signed_at
        review.save(update_fields=["signature", "status", "signed_at", "updated_at"])
        if review.change_request_id:
            from qcare.orders import services_change

            services_change.on_change_review_signed(review)
            return review
        if opinion == Opinion.CANNOT_MEET:
            _open_question(order, review, actor, comments)
        else:
            _finish_review_if_complete(order, actor)
    return review


def _open_question(order, review, actor, text):
    """Open a point for sales to clarify; an order under review goes to CLARIFICATION."""
    question = OrderQuestion.objects.create(
        order=order,
        review=review,
        change_request=review.change_request,
        department=review.department,
        text=text,
        raised_by=actor,
    )
    if review.change_request_id is None and order.status == OrderStatus.UNDER_REVIEW:
        set_status(order, OrderStatus.CLARIFICATION, actor, text)
    notify(
        _others([order.owner], actor),
        template="orders/clarification_needed",
        context={"order": order, "question": question, "review": review},
        obj=order,
    )
    return question


def raise_question(actor, review, *, text):
    """A reviewer asks sales to clarify a point with the customer before signing; the order
    goes to CLARIFICATION (its pending review stays pending)."""
    _check_reviewer(actor, review)
    text = (text or "").strip()
    if not text:
        _fail({"text": _required()})
    order = review.order
    with transaction.atomic(), audit_context(actor=actor):
        if review.change_request_id:
            review.refresh_from_db()
            if review.change_request.status != ChangeStatus.UNDER_REVIEW:
                raise Conflict(_("The change request is not under review."))
        else:
            _lock(order)
            review.refresh_from_db()
            _require_reviewable(order)
        _require_pending(review)
        return _open_question(order, review, actor, text)


def answer_question(actor, question, *, answer):
    """Sales records the customer's written answer to an open point (the document is
    attached to the question separately). The order is resubmitted with resubmit_order."""
    require_perm(actor, "orders.change", question)
    answer = (answer or "").strip()
    if not answer:
        _fail({"answer": _required()})
    with transaction.atomic(), audit_context(actor=actor):
        question.refresh_from_db()
        if question.status != QuestionStatus.OPEN:
            raise Conflict(_("This open point has already been answered."))
        if question.change_request_id is None and question.order.status in FINAL_STATUSES:
            raise Conflict(
                _("The order is “%(status)s”; its open points can no longer be answered.")
                % {"status": _status_label(question.order.status)}
            )
        question.answer = answer
        question.status = QuestionStatus.ANSWERED
        question.answered_by = actor
        question.answered_at = timezone.now()
        question.save()
        notify(
            _others([question.raised_by], actor),
            template="orders/question_answered",
            context={"order": question.order, "question": question},
            obj=question.order,
        )
    return question


def resubmit_order(actor, order, *, expected_version=None):
    """Send a clarified order back to review.

    Every open point must be answered. The class is recomputed (an override stands) and the
    reviews follow it; then each signed review whose signature became invalid (its subjects
    changed) or whose opinion was "cannot meet" is superseded by a new PENDING review of the
    next round; the other reviews stand. The order is UNDER_REVIEW, or AWAITING_APPROVAL when
    nothing needs signing again.
    """
    require_perm(actor, "orders.change", order)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(order, expected_version)
        if order.status != OrderStatus.CLARIFICATION:
            raise Conflict(
                _("Only an order in clarification can be resubmitted; this one is “%(status)s”.")
                % {"status": _status_label(order.status)}
            )
        problems = []
        if _open_questions(order).exists():
            problems.append(_("Answer every open point before resubmitting."))
        problems += submission_problems(order)
        if problems:
            _raise_problems(problems)
        now = timezone.now()
        order.review_round += 1
        _apply_classification(order)
        opened = _reroute(order, actor, now)
        for review in current_reviews(order).filter(change_request__isnull=True, status=ReviewStatus.SIGNED):
            if review.opinion == Opinion.CANNOT_MEET or not review_signature_valid(review, order):
                new = _open_review(
                    order,
                    department=review.department,
                    aspects=review.aspects,
                    subjects=review.subjects,
                    round_no=order.review_round,
                    now=now,
                )
                _supersede(review, new)
                opened.append(new)
        set_status(order, OrderStatus.UNDER_REVIEW, actor, fields=[*CLASSIFICATION_FIELDS, "review_round"])
        _notify_review_requested(order, opened, actor)
        _finish_review_if_complete(order, actor)
    return order


# --- decision (R-OR-6) ------------------------------------------------------------------------
def _require_decidable(order):
    if order.status == OrderStatus.APPROVED or order.approved_at is not None:
        raise Conflict(_("This order has already been approved."))
    if order.status == OrderStatus.REJECTED:
        raise Conflict(_("This order has already been rejected."))
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(_("This order has been cancelled."))


def approve_order(actor, order, *, password, comment="", username=None, expected_version=None):
    """The approver named by the approval rules signs the order "approved" (R-OR-6).

    Refused while any current review is missing, negative or has an invalid signature, while
    a point is open, or while the R-OR-3 confirmation is missing. Freezes version 1 of the
    content and notifies the owner and the reviewing departments.
    """
    require_perm(actor, "orders.approve", order)
    with signatures.signing_atomic(), audit_context(actor=actor):
        _lock(order, expected_version)
        _require_decidable(order)
        problems = approval_problems(order)
        if problems:
            raise Conflict(
                problems[0] if len(problems) == 1 else _("The order cannot be approved yet."),
                errors={"__all__": problems},
            )
        rule = authority.rule_for(order)
        authority.require_approver(actor, rule)
        comment = (comment or "").strip()
        signatures.sign(order, actor, password, "approved", comment, username=username)
        order.approval_rule = rule
        order.approved_at = timezone.now()
        order.approved_by = actor
        order.decision_comment = comment
        decision = ["approval_rule", "approved_at", "approved_by", "decision_comment"]
        set_status(order, OrderStatus.APPROVED, actor, comment, fields=decision)
        # Same shape as the versions change control writes: the data and the signed content.
        OrderVersion.objects.create(
            order=order,
            number=1,
            content={"data": order_data(order), "content": order_content(order)},
            created_by=actor,
        )
        recipients = [order.owner, *departments_that_received(order)]
        notify(
            _others(_users(recipients), actor),
            template="orders/order_approved",
            context={"order": order, "approver": actor, "comment": comment},
            obj=order,
        )
    return order


def _users(recipients):
    """Users and departments → the users (active ones of the departments), without duplicates."""
    from qcare.accounts.models import Department

    User = get_user_model()
    users = {}
    for item in recipients:
        if isinstance(item, Department):
            users.update({u.pk: u for u in User.objects.filter(department=item, is_active=True)})
        elif item is not None:
            users[item.pk] = item
    return list(users.values())


def reject_order(actor, order, *, password, reason, username=None, expected_version=None):
    """The approver signs the rejection of an order awaiting approval, with the reason."""
    require_perm(actor, "orders.approve", order)
    reason = _require_reason(reason)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=reason):
        _lock(order, expected_version)
        _require_decidable(order)
        if order.status != OrderStatus.AWAITING_APPROVAL:
            raise Conflict(
                _("The order is not awaiting approval (status: %(status)s).")
                % {"status": _status_label(order.status)}
            )
        rule = authority.rule_for(order)
        authority.require_approver(actor, rule)
        signatures.sign(order, actor, password, "rejected", reason, username=username)
        order.approval_rule = rule
        order.decision_comment = reason
        set_status(order, OrderStatus.REJECTED, actor, reason, fields=["approval_rule", "decision_comment"])
        notify(
            _others([order.owner], actor),
            template="orders/order_rejected",
            context={"order": order, "approver": actor, "reason": reason},
            obj=order,
        )
    return order


def cancel_order(actor, order, *, reason, expected_version=None):
    """Cancel an order with a reason: before approval, or after it while nothing has shipped
    and no change request is open. Everyone who received the order is told."""
    require_perm(actor, "orders.cancel", order)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(order, expected_version)
        if order.status == OrderStatus.CANCELLED:
            raise Conflict(_("This order has already been cancelled."))
        if order.shipments.exists():
            raise Conflict(_("Goods have been shipped on this order; it cannot be cancelled."))
        if order.change_requests.filter(status__in=OPEN_CHANGE_STATUSES).exists():
            raise Conflict(_("A change request of this order is open; withdraw it first."))
        if OrderStatus.CANCELLED not in ORDER_TRANSITIONS.get(order.status, set()):
            raise Conflict(
                _("The order cannot be cancelled while it is “%(status)s”.")
                % {"status": _status_label(order.status)}
            )
        recipients = [order.owner, *departments_that_received(order)] if order.submitted_at else [order.owner]
        order.cancelled_reason = reason
        set_status(order, OrderStatus.CANCELLED, actor, reason, fields=["cancelled_reason"])
        notify(
            _others(_users(recipients), actor),
            template="orders/order_cancelled",
            context={"order": order, "actor": actor, "reason": reason},
            obj=order,
        )
    return order
