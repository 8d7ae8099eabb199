"""Change control of approved orders (合同变更, SPEC R-OR-8).

A change request ``BG-…`` holds the complete proposed content of the order (the *data* shape of
:mod:`qcare.orders.content`) and its field-level diff against the approved order:

1. :func:`create_change_request` / :func:`update_change_request` — sales drafts the proposal
   and records the customer's agreement (text and/or a document attached to the change);
2. :func:`submit_change_request` — re-review by the departments whose current review signs a
   changed subject (a change to a special order is always re-reviewed: by sales when no
   reviewing department is concerned, docs/decisions/4010); no review needed → straight to
   approval;
3. reviewers sign with ``services.sign_review``, which calls :func:`on_change_review_signed`:
   all positive → awaiting approval; "cannot meet" → back to sales (draft) with an open point;
4. :func:`approve_change_request` — the approver named by the approval authority for the order
   *as it will be* signs "approved"; in the same transaction the change is applied (new header
   and lines, superseded reviews, order version n+1) and every department that had received the
   order is asked to acknowledge it (:func:`acknowledge_change`, reminders by
   :func:`send_ack_reminders`); or :func:`reject_change_request` / :func:`withdraw_change_request`.

Only one change of an order is open at a time, and the order row is locked by every service
that creates or applies one, so concurrent requests and approvals cannot both win.
"""

import json
from decimal import ROUND_HALF_UP, Decimal

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qcare.accounts.models import Department
from qcare.accounts.permissions import require_perm
from qcare.catalog.models import Product
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.numbering import next_number
from qcare.notifications.services import notify
from qcare.orders import authority, services
from qcare.orders.choices import (
    APPROVED_STATUSES,
    OPEN_CHANGE_STATUSES,
    ChangeStatus,
    ClassReason,
    Opinion,
    OrderClass,
    OrderSource,
    OrderStatus,
    QuestionStatus,
    ReviewAspect,
    ReviewStatus,
    Subject,
)
from qcare.orders.content import (
    HEADER_FIELDS,
    LINE_FIELDS,
    changed_subjects,
    diff_data,
    normalise,
    normalise_data,
    order_content,
    order_data,
)
from qcare.orders.models import (
    ChangeAcknowledgement,
    ChangeRequest,
    Order,
    OrderLine,
    OrderQuestion,
    OrderReview,
    OrderVersion,
    ProductionNoticeLine,
    ReviewRoute,
)
from qcare.orders.values import as_date, as_decimal
from qcare.workcalendar.calendar import add_duration

#: The department that re-reviews a change to a special order no reviewing department is
#: concerned with (docs/decisions/4010-change-rereview-routing.md).
SALES_DEPARTMENT = "sales"
#: Opinions that let a change go on to approval.
POSITIVE_OPINIONS = (Opinion.CAN_MEET, Opinion.CONDITIONAL)
CENT = Decimal("0.01")
#: Largest values the columns hold (OrderLine.quantity 14,3; money 18,2; exchange rate 12,6).
QUANTITY_LIMIT = Decimal(10) ** 11
MONEY_LIMIT = Decimal(10) ** 16
RATE_LIMIT = Decimal(10) ** 6
#: Line fields whose values are dates / decimals in the data shape (ISO / fixed-point strings).
DATE_FIELDS = ("requested_date",)
DECIMAL_FIELDS = ("quantity", "unit_price", "amount")
TEXT_HEADER_FIELDS = ("customer_reference", "payment_terms", "delivery_address", "special_delivery")
TEXT_LINE_FIELDS = ("specification", "unit", "delivery_mode", "packaging", "acceptance_criteria")

LINE_ADDED = gettext_lazy("line added")
LINE_REMOVED = gettext_lazy("line removed")


# --- helpers ----------------------------------------------------------------------------------
def _fail(errors):
    raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired(_("Give the reason for the change."))
    return reason.strip()


def _locked_order(order):
    return Order.objects.select_for_update().get(pk=order.pk)


def _locked_change(change):
    return ChangeRequest.objects.select_for_update().select_related("order").get(pk=change.pk)


def _due(policy_key, start):
    return add_duration(start, policies.get(policy_key))


def open_change_request(order):
    """The change request of ``order`` that is not decided yet (draft, under review, awaiting approval)."""
    return order.change_requests.filter(status__in=OPEN_CHANGE_STATUSES).first()


def change_reviews(change):
    """The reviews of a change that count (not superseded by a later round)."""
    return change.reviews.exclude(status=ReviewStatus.SUPERSEDED).select_related("department")


# --- the proposal -----------------------------------------------------------------------------
def _field_max_length(model, name):
    return getattr(model._meta.get_field(name), "max_length", None)


def _merge_header(current, given, errors):
    """The current header with the proposed values; unknown names are field errors."""
    header = dict(current)
    for name, value in (given or {}).items():
        if name not in HEADER_FIELDS:
            errors[f"header.{name}"] = [_("This field cannot be changed.")]
            continue
        if name in TEXT_HEADER_FIELDS:
            value = (value or "").strip()
        header[name] = value
    return header


def _check_header(header, errors):
    """Validate the proposed header values (types and lengths as the order model requires)."""
    if header.get("source") not in OrderSource.values:
        errors["header.source"] = [_("Select a valid choice.")]
    currency = header.get("currency") or ""
    if not isinstance(currency, str) or len(currency.strip()) != 3:
        errors["header.currency"] = [_("Enter a three-letter currency code.")]
    rate = as_decimal(header.get("exchange_rate"))
    if rate is None or rate <= 0:
        errors["header.exchange_rate"] = [_("Enter an exchange rate greater than zero.")]
    elif rate >= RATE_LIMIT:
        errors["header.exchange_rate"] = [_("This number is too large.")]
    if not isinstance(header.get("is_export"), bool):
        errors["header.is_export"] = [_("Select yes or no.")]
    if not isinstance(header.get("requirements"), dict):
        errors["header.requirements"] = [_("Enter the requirement checklist.")]
    if not isinstance(header.get("special_requirements"), list):
        errors["header.special_requirements"] = [_("Enter the special requirements as a list.")]
    for name in TEXT_HEADER_FIELDS:
        limit = _field_max_length(Order, name)
        if limit and len(header.get(name) or "") > limit:
            errors[f"header.{name}"] = [_("At most %(limit)d characters.") % {"limit": limit}]


def _merge_line(index, given, current_lines, errors):
    """One proposed line: the current line's values (if it exists) overlaid by the given ones."""
    key = f"lines.{index}"
    unknown = sorted(set(given) - set(LINE_FIELDS) - {"line_no"})
    for name in unknown:
        errors[f"{key}.{name}"] = [_("This field cannot be changed.")]
    line_no = given.get("line_no")
    if line_no not in (None, ""):
        try:
            line_no = int(line_no)
        except (TypeError, ValueError):
            line_no = 0
        if line_no < 1:
            errors[f"{key}.line_no"] = [_("Enter a line number of 1 or more.")]
            line_no = None
    else:
        line_no = None
    base = dict(current_lines.get(line_no, {}))
    row = base | {name: value for name, value in given.items() if name in LINE_FIELDS}
    for name in TEXT_LINE_FIELDS:
        row[name] = (row.get(name) or "").strip()
    row["line_no"] = line_no
    return row


def _check_line(index, row, current, products, errors):
    """Validate one merged line; computes its amount (quantity × unit price) when either changed."""
    key = f"lines.{index}"
    quantity, price = as_decimal(row.get("quantity")), as_decimal(row.get("unit_price"))
    product = products.get(normalise("product", row.get("product"))) if row.get("product") else None
    if product is None:
        errors[f"{key}.product"] = [_("Select a valid product.")]
    elif not product.is_active and (current is None or current["product"] != product.pk):
        errors[f"{key}.product"] = [_("This product is no longer sold.")]
    else:
        row["product"] = product.pk  # an id given as text compares equal to the stored one
    _check_number(errors, f"{key}.quantity", quantity, limit=QUANTITY_LIMIT, places=3, positive=True)
    _check_number(errors, f"{key}.unit_price", price, limit=MONEY_LIMIT, places=2)
    if row.get("requested_date") not in (None, "") and as_date(row["requested_date"]) is None:
        errors[f"{key}.requested_date"] = [_("Enter a valid date.")]
    if row.get("in_stock") not in (None, True, False):
        errors[f"{key}.in_stock"] = [_("Select yes or no.")]
    for name in TEXT_LINE_FIELDS:
        limit = _field_max_length(OrderLine, name)
        if limit and len(row[name]) > limit:
            errors[f"{key}.{name}"] = [_("At most %(limit)d characters.") % {"limit": limit}]
    if f"{key}.quantity" in errors or f"{key}.unit_price" in errors:
        return
    if quantity * price >= MONEY_LIMIT:
        errors[f"{key}.quantity"] = [_("The amount of this line is too large.")]
        return
    unchanged = (
        current is not None
        and normalise("quantity", quantity) == current["quantity"]
        and normalise("unit_price", price) == current["unit_price"]
    )
    # An unchanged line keeps its stored amount, so rounding never shows up as a change.
    row["amount"] = (
        current["amount"] if unchanged else (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
    )


def _check_number(errors, key, value, *, limit, places, positive=False):
    """A quantity or price: a number, within the column's size and decimal places."""
    if value is None:
        errors[key] = [_("Enter a number.")]
    elif positive and value <= 0:
        errors[key] = [_("The quantity must be greater than zero.")]
    elif value < 0:
        errors[key] = [_("The unit price cannot be negative.")]
    elif value >= limit:
        errors[key] = [_("This number is too large.")]
    elif value != value.quantize(Decimal(1).scaleb(-places)):
        errors[key] = [_("Enter at most %(places)d decimal places.") % {"places": places}]


def _check_against_fulfilment(order, data, errors):
    """Quantities never below what was shipped; a line is removed only if nothing happened on it."""
    proposed = {line["line_no"]: (index, line) for index, line in enumerate(data["lines"])}
    lines = list(order.lines.all())
    noticed = set(
        ProductionNoticeLine.objects.filter(order_line__order=order).values_list("order_line_id", flat=True)
    )
    for line in lines:
        if line.line_no not in proposed:
            if line.shipped_quantity > 0:
                errors.setdefault("lines", []).append(
                    _("Line %(line)d has been shipped (in part) and cannot be removed.")
                    % {"line": line.line_no}
                )
            elif line.pk in noticed:
                errors.setdefault("lines", []).append(
                    _("Line %(line)d is on a production notice and cannot be removed.")
                    % {"line": line.line_no}
                )
            continue
        index, row = proposed[line.line_no]
        quantity = as_decimal(row["quantity"])
        if quantity is not None and quantity < line.shipped_quantity:
            errors[f"lines.{index}.quantity"] = [
                _("Line %(line)d: the quantity cannot be below the %(shipped)s already shipped.")
                % {"line": line.line_no, "shipped": _quantity_text(line.shipped_quantity)}
            ]
        if line.shipped_quantity > 0 and row["product"] != line.product_id:
            errors[f"lines.{index}.product"] = [
                _("Line %(line)d has been shipped (in part): its product cannot be replaced.")
                % {"line": line.line_no}
            ]


def _quantity_text(value):
    return format(value.normalize(), "f")


def build_proposal(order, proposed):
    """The complete proposed content (data shape) from ``proposed``, validated.

    ``proposed`` is ``{"header": {...}, "lines": [{...}, ...]}``. Header fields not given keep
    their current values. ``lines``, when given, is the complete list of lines after the change:
    a line with the ``line_no`` of an existing line changes it (fields not given keep their
    values), a line without ``line_no`` is added with the next free number, an existing line
    that is not listed is removed. Amounts are computed (quantity × unit price).
    Raises ValidationFailed with errors keyed ``header.<field>`` / ``lines.<index>.<field>``.
    """
    if not isinstance(proposed, dict):
        _fail({"proposed": [_("Enter the proposed order content.")]})
    errors = {}
    for name in sorted(set(proposed) - {"header", "lines"}):
        errors[name] = [_("This field cannot be changed.")]
    current = order_data(order)
    current_lines = {line["line_no"]: line for line in current["lines"]}
    header = _merge_header(current["header"], proposed.get("header"), errors)
    _check_header(header, errors)
    given_lines = proposed.get("lines")
    if given_lines is None:
        given_lines = [{"line_no": n} for n in current_lines]
    rows = [_merge_line(i, dict(line or {}), current_lines, errors) for i, line in enumerate(given_lines)]
    if not rows:
        errors["lines"] = [_("An order needs at least one line.")]
    numbers = [row["line_no"] for row in rows if row["line_no"] is not None]
    if len(numbers) != len(set(numbers)):
        errors["lines"] = [_("Each line number may appear only once.")]
    product_ids = {normalise("product", row.get("product")) for row in rows}
    product_ids = {pk for pk in product_ids if isinstance(pk, int) or str(pk).isdigit()}
    products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids)}
    products.update({str(pk): p for pk, p in list(products.items())})
    # New lines get the numbers after every number the order ever used (versions included), so a
    # removed line's number is never given to another product in the order's history.
    next_no = max([*current_lines, *numbers, _highest_line_no_in_versions(order), 0]) + 1
    for index, row in enumerate(rows):
        if row["line_no"] is None:
            row["line_no"], next_no = next_no, next_no + 1
        _check_line(index, row, current_lines.get(row["line_no"]), products, errors)
    if not errors:
        total = sum((Decimal(row["amount"]) for row in rows), Decimal("0"))
        if total >= MONEY_LIMIT or total * Decimal(header["exchange_rate"]) >= MONEY_LIMIT:
            errors["lines"] = [_("The order total is too large.")]
    if errors:
        _fail(errors)
    data = normalise_data({"header": header, "lines": rows})
    _check_against_fulfilment(order, data, errors)
    if errors:
        _fail(errors)
    return data


def _highest_line_no_in_versions(order):
    highest = 0
    for content in OrderVersion.objects.filter(order=order).values_list("content", flat=True):
        for line in (content or {}).get("data", {}).get("lines", []):
            highest = max(highest, int(line.get("line_no") or 0))
    return highest


def proposal_totals(data):
    """(amount, amount in CNY) of a proposal, as the order computes them."""
    total = sum((Decimal(line["amount"]) for line in data["lines"]), Decimal("0"))
    rate = Decimal(data["header"]["exchange_rate"])
    return total, (total * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def order_as_changed(order, data):
    """An unsaved copy of ``order`` carrying the proposed header, totals and class (for the
    approval authority and the re-review routing); it has the order's primary key.

    The class never becomes milder through a change; it becomes special when the change itself
    meets a criterion of R-OR-4 (see :func:`special_reasons_of_change`).
    """
    changed = Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields})
    for name in HEADER_FIELDS:
        value = data["header"][name]
        setattr(changed, name, Decimal(value) if name == "exchange_rate" else value)
    changed.total_amount, changed.total_amount_cny = proposal_totals(data)
    if order.order_class != OrderClass.SPECIAL and special_reasons_of_change(changed, data):
        changed.order_class = OrderClass.SPECIAL
    return changed


def special_reasons_of_change(changed, data):
    """The R-OR-4 "special" criteria a change can bring about: amount at or above the threshold,
    export, special delivery demands, a product that is not standard. (First order and OEM
    customer do not depend on the order's content.) Reasons in the shape of ``Order.class_reasons``."""
    reasons = []
    threshold = policies.get("orders.special_amount_threshold").amount
    if changed.total_amount_cny >= threshold:
        reasons.append(
            {
                "code": ClassReason.AMOUNT.value,
                "params": {"amount": str(changed.total_amount_cny), "threshold": str(threshold)},
            }
        )
    ids = {line["product"] for line in data["lines"]}
    for product in Product.objects.filter(pk__in=ids, is_standard=False).order_by("code"):
        reasons.append({"code": ClassReason.NOT_STANDARD.value, "params": {"product": str(product)}})
    if changed.is_export:
        reasons.append({"code": ClassReason.EXPORT.value, "params": {}})
    if (changed.special_delivery or "").strip():
        reasons.append(
            {"code": ClassReason.SPECIAL_DELIVERY.value, "params": {"text": changed.special_delivery.strip()}}
        )
    return reasons


# --- diff as rows for screens and notifications -------------------------------------------------
def _field_label(name, line_no):
    if name == "line":
        return None
    model = Order if line_no is None else OrderLine
    return model._meta.get_field(name).verbose_name


def _display(name, value, products):
    """A value of the diff as a short text (products by code and name, lists as JSON)."""
    if value is None or value == "":
        return "—"
    if name == "product":
        product = products.get(value)
        return f"{product.code} {product.name}" if product else str(value)
    if isinstance(value, bool):
        return gettext_lazy("Yes") if value else gettext_lazy("No")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def diff_rows(change):
    """The change's diff for display: one row per changed field, labels translated lazily.

    Each row: ``subject`` (label), ``field`` (label), ``line_no``, ``old`` and ``new`` (texts);
    an added or removed line is one row (not one per subject) with field "line added/removed".
    """
    ids = set()
    for item in change.diff:
        for value in (item["old"], item["new"]):
            if item["field"] == "product":
                ids.add(value)
            elif item["field"] == "line" and value:
                ids.add(value.get("product"))
    products = {p.pk: p for p in Product.objects.filter(pk__in=[i for i in ids if i is not None])}
    rows, lines_seen = [], set()
    for item in change.diff:
        if item["field"] == "line":
            if item["line_no"] in lines_seen:
                continue
            lines_seen.add(item["line_no"])
            line = item["new"] or item["old"]
            text = f"{_display('product', line.get('product'), products)} × {line.get('quantity')}"
            rows.append(
                {
                    "subject": "",
                    "field": LINE_ADDED if item["old"] is None else LINE_REMOVED,
                    "line_no": item["line_no"],
                    "old": "—" if item["old"] is None else text,
                    "new": text if item["old"] is None else "—",
                }
            )
            continue
        subject = item["subject"]
        rows.append(
            {
                "subject": Subject(subject).label if subject in Subject.values else "",
                "field": _field_label(item["field"], item["line_no"]),
                "line_no": item["line_no"],
                "old": _display(item["field"], item["old"], products),
                "new": _display(item["field"], item["new"], products),
            }
        )
    return rows


# --- create / edit ------------------------------------------------------------------------------
def _diff_or_fail(order, data):
    diff = diff_data(order_data(order), data)
    if not diff:
        _fail({"proposed": [_("The proposal is the same as the approved order: nothing would change.")]})
    return diff


def create_change_request(
    actor,
    order,
    *,
    proposed,
    reason,
    customer_agreed=False,
    customer_agreement="",
    expected_version=None,
):
    """Draft a change request ``BG-…`` to an approved order (R-OR-8).

    ``proposed``: see :func:`build_proposal`. Refused: an order that is not approved (or partially
    shipped / shipped), a second open change of the same order, a proposal that changes nothing,
    a quantity below what was shipped. Needs ``orders.change`` on the order. The order row is
    locked, so two concurrent requests cannot both be created. Returns the change request.
    """
    require_perm(actor, "orders.change", order)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        order = _locked_order(order)
        order.check_version(expected_version)
        if order.status not in APPROVED_STATUSES:
            raise Conflict(_("Only an approved order can be changed through a change request."))
        current = open_change_request(order)
        if current is not None:
            raise Conflict(
                _("Change request %(number)s of this order is still open: finish or withdraw it first.")
                % {"number": current.number}
            )
        data = build_proposal(order, proposed)
        diff = _diff_or_fail(order, data)
        change = ChangeRequest.objects.create(
            number=next_number("change_request"),
            order=order,
            reason=reason,
            proposed=data,
            diff=diff,
            subjects=changed_subjects(diff),
            base_version=order.version,
            customer_agreed=bool(customer_agreed),
            customer_agreement=(customer_agreement or "").strip(),
            requested_by=actor,
        )
    return change


def _agreement_attachment(change, attachment):
    """The attachment must be a live file of this change request."""
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(ChangeRequest)
    if (
        attachment.content_type_id != ct.pk
        or attachment.object_pk != str(change.pk)
        or attachment.removed_at is not None
    ):
        _fail({"customer_agreement_attachment": [_("Attach the document to this change request first.")]})
    return attachment


_UNSET = object()


def update_change_request(
    actor,
    change,
    *,
    proposed=None,
    reason=None,
    customer_agreed=None,
    customer_agreement=None,
    customer_agreement_attachment=_UNSET,
    expected_version=None,
):
    """Edit a draft change: the proposal (diff recomputed against the order as it is now), the
    reason, the customer's agreement (text and/or a document attached to the change request).

    Only in DRAFT (a change returned by "cannot meet" is a draft again). Needs ``orders.change``.
    """
    require_perm(actor, "orders.change", change)
    with transaction.atomic(), audit_context(actor=actor, reason=(reason or "").strip() or None):
        order = _locked_order(change.order)
        change = _locked_change(change)
        change.check_version(expected_version)
        if change.status != ChangeStatus.DRAFT:
            raise Conflict(_("Only a draft change request can be edited."))
        if proposed is not None:
            data = build_proposal(order, proposed)
            change.diff = _diff_or_fail(order, data)
            change.proposed, change.subjects = data, changed_subjects(change.diff)
            change.base_version = order.version
        if reason is not None:
            change.reason = _require_reason(reason)
        if customer_agreed is not None:
            change.customer_agreed = bool(customer_agreed)
        if customer_agreement is not None:
            change.customer_agreement = customer_agreement.strip()
        if customer_agreement_attachment is not _UNSET:
            change.customer_agreement_attachment = (
                None
                if customer_agreement_attachment is None
                else _agreement_attachment(change, customer_agreement_attachment)
            )
        change.save()
    return change


# --- submission and re-review ---------------------------------------------------------------------
def agreement_problems(change):
    """What is missing of the customer's agreement (translated), empty when it is recorded."""
    problems = []
    if not change.customer_agreed:
        problems.append(_("Record that the customer agreed to the change."))
    if not change.customer_agreement.strip() and change.customer_agreement_attachment_id is None:
        problems.append(_("Record the customer's agreement: its text or the document (e-mail, fax, letter)."))
    return problems


def rereview_plan(order, subjects, order_class=None):
    """Which departments re-review a change of ``subjects``: ``[(department, aspects, subjects, round)]``.

    Every department whose current review of the order signs one of the changed subjects; for a
    special order (``order_class``: the class as changed) with none, the sales department (its
    current review's or route's subjects plus the changed ones). See
    docs/decisions/4010-change-rereview-routing.md.
    """
    order_class = order_class or order.order_class
    changed = set(subjects)
    plan, by_department = [], {}
    for review in services.current_reviews(order).select_related("department"):
        by_department[review.department.code] = review
        if changed & set(review.subjects):
            plan.append((review.department, list(review.aspects), list(review.subjects), review.round + 1))
    if plan or order_class != OrderClass.SPECIAL:
        return plan
    current = by_department.get(SALES_DEPARTMENT)
    if current is not None:
        return [
            (current.department, list(current.aspects), _union(current.subjects, changed), current.round + 1)
        ]
    department = Department.objects.filter(code=SALES_DEPARTMENT).first() or order.department
    if department is None:
        raise Conflict(_("There is no sales department to review this change."))
    route = ReviewRoute.objects.filter(order_class=OrderClass.SPECIAL, department=department).first()
    aspects = list(route.aspects) if route else [str(ReviewAspect.TERMS)]
    return [(department, aspects, _union(route.subjects if route else [], changed), 1)]


def _union(first, second):
    wanted = set(first) | set(second)
    return [str(s) for s in Subject if str(s) in wanted]


def _review_kept(review, subjects):
    """A review of an earlier submission stands when it is pending, or signed positively over the
    same subjects with a signature still valid for the (possibly revised) proposal."""
    if review.status == ReviewStatus.PENDING:
        return review.subjects == subjects
    return (
        review.opinion in POSITIVE_OPINIONS
        and review.subjects == subjects
        and services.review_signature_valid(review)
    )


def _create_change_review(change, department, aspects, subjects, round_, now):
    due_at = _due("orders.review_due", now)
    return OrderReview.objects.create(
        order=change.order,
        change_request=change,
        department=department,
        aspects=aspects,
        subjects=subjects,
        round=round_,
        started_at=now,
        due_at=due_at,
        remind_at=due_at,
        escalate_at=_due("orders.review_escalate_after", due_at),
    )


def _route_reviews(change, order, now):
    """Create the reviews the change needs; keep those of an earlier round that still stand.

    Returns the departments asked to (re-)review now.
    """
    existing = {r.department_id: r for r in change_reviews(change)}
    asked = []
    order_class = order_as_changed(order, change.proposed).order_class
    for department, aspects, subjects, round_ in rereview_plan(order, change.subjects, order_class):
        previous = existing.pop(department.pk, None)
        if previous is not None and _review_kept(previous, subjects):
            continue
        review = _create_change_review(
            change, department, aspects, subjects, max(round_, previous.round + 1 if previous else 0), now
        )
        if previous is not None:
            previous.status, previous.superseded_by = ReviewStatus.SUPERSEDED, review
            previous.save(update_fields=["status", "superseded_by"])
        asked.append(department)
    for review in existing.values():  # no longer concerned by the revised proposal
        review.status = ReviewStatus.SUPERSEDED
        review.save(update_fields=["status"])
    return asked


def submit_change_request(actor, change):
    """Submit a draft change for re-review (or straight for approval when nobody must review it).

    Refused without the customer's agreement (R-OR-8: agreed with the customer first), with
    open points of the change still unanswered, or when the order is no longer approved. The
    proposal is re-based on the order as it is now (only fulfilment progress can have changed
    an approved order meanwhile; its content changes only through change requests). Needs
    ``orders.change``. Notifies the reviewing departments, or the approvers.
    """
    require_perm(actor, "orders.change", change)
    with transaction.atomic(), audit_context(actor=actor):
        order = _locked_order(change.order)
        change = _locked_change(change)
        if change.status != ChangeStatus.DRAFT:
            raise Conflict(_("Only a draft change request can be submitted."))
        if order.status not in APPROVED_STATUSES:
            raise Conflict(_("Only an approved order can be changed through a change request."))
        problems = agreement_problems(change)
        if change.questions.filter(status=QuestionStatus.OPEN).exists():
            problems.append(_("Answer the open points of this change first."))
        if problems:
            raise ValidationFailed(" ".join(problems), errors={"customer_agreement": problems})
        data = build_proposal(order, change.proposed)  # re-checked against today's shipments
        change.diff = _diff_or_fail(order, data)
        change.proposed, change.subjects, change.base_version = (
            data,
            changed_subjects(change.diff),
            order.version,
        )
        now = timezone.now()
        change.submitted_at = now
        change.status = ChangeStatus.UNDER_REVIEW
        change.save()
        asked = _route_reviews(change, order, now)
        context = {"change": change, "order": order, "customer": order.customer, "rows": diff_rows(change)}
        for department in asked:
            notify(
                _others(services.reviewers_of(department), actor),
                template="orders/change_review_requested",
                context=context,
                obj=change,
            )
        if not change_reviews(change).exclude(status=ReviewStatus.SIGNED).exists() and not _negative(change):
            _await_approval(change, order, actor)
    return change


def _negative(change):
    return change_reviews(change).exclude(opinion__in=POSITIVE_OPINIONS).exists()


def _others(users, actor):
    return [u for u in users if u.pk != actor.pk]


def _await_approval(change, order, actor):
    """The change awaits approval; the approvers of the order as changed are notified (within
    their scope; nobody when no rule covers it — approval then says so)."""
    change.status = ChangeStatus.AWAITING_APPROVAL
    change.save(update_fields=["status"])
    approvers = _others(services.approvers_for(order_as_changed(order, change.proposed)), actor)
    if approvers:
        notify(
            approvers,
            template="orders/change_awaiting_approval",
            context={"change": change, "order": order, "customer": order.customer, "rows": diff_rows(change)},
            obj=change,
        )


def require_change_reviewable(review):
    """For ``services.sign_review``: a review of a change is signed only while the change is under
    review and the review is pending (raises Conflict otherwise)."""
    change = review.change_request
    if change is None:
        return
    if change.status != ChangeStatus.UNDER_REVIEW:
        raise Conflict(
            _("Change request %(number)s is not under review (status: %(status)s).")
            % {"number": change.number, "status": change.get_status_display()}
        )
    if review.status != ReviewStatus.PENDING:
        raise Conflict(_("This review has already been signed."))


def on_change_review_signed(review):
    """Called by ``services.sign_review`` (same transaction) after a review of a change was signed.

    "Cannot meet" returns the change to sales (DRAFT) with an open point so the proposal can be
    revised with the customer and submitted again; when every review of the change is signed,
    positive and valid, the change awaits approval and the approvers are notified.
    The change row is locked so two last signatures at once move it exactly once.
    """
    change = _locked_change(review.change_request)
    if change.status != ChangeStatus.UNDER_REVIEW:
        return change
    order = change.order
    if review.opinion == Opinion.CANNOT_MEET:
        OrderQuestion.objects.create(
            order=order,
            review=review,
            change_request=change,
            department=review.department,
            text=review.comments or _("Cannot meet the proposed change."),
            raised_by=review.reviewer or change.requested_by,
        )
        change.status = ChangeStatus.DRAFT
        change.save(update_fields=["status"])
        notify(
            [change.requested_by],
            template="orders/change_returned",
            context={"change": change, "order": order, "review": review, "department": review.department},
            obj=change,
        )
        return change
    reviews = list(change_reviews(change).select_related("signature"))
    complete = all(
        r.status == ReviewStatus.SIGNED
        and r.opinion in POSITIVE_OPINIONS
        and services.review_signature_valid(r)
        for r in reviews
    )
    if complete:
        _await_approval(change, order, review.reviewer or change.requested_by)
    return change


# --- decision -----------------------------------------------------------------------------------
def approval_problems(change):
    """Why the change cannot be approved now (translated), empty when it can."""
    problems = []
    if change.status != ChangeStatus.AWAITING_APPROVAL:
        problems.append(
            _("The change request is “%(status)s”, not awaiting approval.")
            % {"status": change.get_status_display()}
        )
    for review in change_reviews(change).select_related("signature"):
        if review.status != ReviewStatus.SIGNED:
            problems.append(
                _("%(department)s has not reviewed the change.") % {"department": review.department}
            )
        elif review.opinion not in POSITIVE_OPINIONS:
            problems.append(_("%(department)s cannot meet the change.") % {"department": review.department})
        elif not services.review_signature_valid(review):
            problems.append(
                _("The signature of %(department)s is no longer valid.") % {"department": review.department}
            )
    return problems


def _check_base(order, change):
    """The change applies to the order content it was reviewed on.

    ``order.version`` equal to ``change.base_version`` proves it. A different version with the
    same content (a shipment or production notice moved the status or progress meanwhile) is
    accepted; a different content is a Conflict — see docs/decisions/4010.
    """
    if order.version == change.base_version:
        return
    if diff_data(order_data(order), change.proposed) != change.diff:
        raise Conflict(
            _(
                "The order changed since change request %(number)s was drafted. "
                "Withdraw it and request the change again on the current order."
            )
            % {"number": change.number}
        )


def approve_change_request(actor, change, *, password, comment="", username=None):
    """Approve a change (signature "approved" on the change request) and apply it to the order.

    The approver must be named by the approval rule for the order *as it will be* (a change can
    move the order into another amount band or class). In the same transaction, with the order row
    locked: the base is checked (the order's content is what the change was reviewed on), the new
    header and lines are written, the affected current reviews are superseded by the change's
    reviews, order version n+1 keeps the new content, the departments that had received the order
    are asked to acknowledge (due per policy ``orders.change_ack_due``) and notified.
    Needs ``orders.approve``. Returns the change request.
    """
    require_perm(actor, "orders.approve", change)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=(comment or "").strip() or None):
        order = _locked_order(change.order)
        change = _locked_change(change)
        problems = approval_problems(change)
        if change.status != ChangeStatus.AWAITING_APPROVAL:
            raise Conflict(problems[0])
        if order.status not in APPROVED_STATUSES:
            raise Conflict(
                _("The order is no longer approved (status: %(status)s).")
                % {"status": order.get_status_display()}
            )
        if problems:
            raise Conflict(" ".join(problems), errors={"__all__": problems})
        _check_base(order, change)
        errors = {}
        _check_against_fulfilment(order, change.proposed, errors)  # shipped meanwhile?
        if errors:
            raise Conflict(" ".join(str(m) for messages in errors.values() for m in messages))
        rule = authority.rule_for(order_as_changed(order, change.proposed))
        authority.require_approver(actor, rule)
        signatures.sign(change, actor, password, "approved", comment, username=username)
        now = timezone.now()
        change.status = ChangeStatus.APPLIED
        change.approval_rule = rule
        change.decided_by, change.decided_at, change.applied_at = actor, now, now
        change.decision_comment = (comment or "").strip()
        change.save()
        _apply(actor, order, change, now)
    return change


def _version_content(order):
    """What an order version keeps: the editable data and the signed content, by subject."""
    return {"data": order_data(order), "content": order_content(order)}


def _write_lines(order, data):
    lines = {line.line_no: line for line in OrderLine.objects.select_for_update().filter(order=order)}
    wanted = {row["line_no"]: row for row in data["lines"]}
    for line_no, line in lines.items():
        if line_no not in wanted:
            line.delete()
    for line_no, row in wanted.items():
        values = {
            "product_id": row["product"],
            "specification": row["specification"] or "",
            "quantity": Decimal(row["quantity"]),
            "unit": row["unit"] or "",
            "in_stock": row["in_stock"],
            "unit_price": Decimal(row["unit_price"]),
            "amount": Decimal(row["amount"]),
            "requested_date": as_date(row["requested_date"]),
            "delivery_mode": row["delivery_mode"] or "",
            "packaging": row["packaging"] or "",
            "acceptance_criteria": row["acceptance_criteria"] or "",
        }
        line = lines.get(line_no)
        if line is None:
            OrderLine.objects.create(order=order, line_no=line_no, **values)
        elif any(getattr(line, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(line, name, value)
            line.save()


def _status_after_change(order):
    """Shipping status from the new quantities (more ordered → partially shipped again)."""
    lines = list(order.lines.all())
    shipped = any(line.shipped_quantity > 0 for line in lines)
    if not shipped:
        return order.status
    if all(line.open_quantity <= 0 for line in lines):
        return OrderStatus.SHIPPED
    return OrderStatus.PARTIALLY_SHIPPED


def _apply(actor, order, change, now):
    """Write the approved change into the order (inside the approval's transaction)."""
    if not order.versions.exists():  # approve_order writes version 1; older orders get it here
        OrderVersion.objects.create(
            order=order, number=1, content=_version_content(order), created_by=order.approved_by or actor
        )
    affected = {r.department_id: r for r in change_reviews(change)}
    superseded = list(
        services.current_reviews(order)
        .exclude(change_request=change)
        .filter(department_id__in=list(affected))
    )
    data = change.proposed
    for name in HEADER_FIELDS:
        value = data["header"][name]
        setattr(order, name, Decimal(value) if name == "exchange_rate" else value)
    _write_lines(order, data)
    order.total_amount, order.total_amount_cny = proposal_totals(data)
    if order.order_class != OrderClass.SPECIAL:  # the change made it special (never milder)
        reasons = special_reasons_of_change(order, data)
        if reasons:
            order.order_class = OrderClass.SPECIAL
            order.class_reasons = [*order.class_reasons, *reasons]
            if not order.class_overridden_by_id:
                order.computed_class = OrderClass.SPECIAL
    order.change_count += 1
    order.save()
    status = _status_after_change(order)
    if status != order.status:
        services.set_status(order, status, actor, reason=change.number)
    number = (order.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    OrderVersion.objects.create(
        order=order, number=number, content=_version_content(order), change_request=change, created_by=actor
    )
    for review in superseded:
        review.status, review.superseded_by = ReviewStatus.SUPERSEDED, affected[review.department_id]
        review.save(update_fields=["status", "superseded_by"])
    departments = list(services.departments_that_received(order))
    due_at = _due("orders.change_ack_due", now)
    for department in departments:
        ChangeAcknowledgement.objects.create(
            change_request=change, order=order, department=department, due_at=due_at, remind_at=due_at
        )
    context = {"change": change, "order": order, "customer": order.customer, "rows": diff_rows(change)}
    if departments:
        notify(departments, template="orders/change_applied", context=context, obj=change)
    notify(
        _others([change.requested_by], actor), template="orders/change_decided", context=context, obj=change
    )


def reject_change_request(actor, change, *, password, reason, username=None):
    """Reject a change awaiting approval (signature "rejected" with the reason); the order stays
    as approved. Only an approver the authority names may reject. Needs ``orders.approve``."""
    require_perm(actor, "orders.approve", change)
    reason = _require_reason(reason)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=reason):
        order = _locked_order(change.order)
        change = _locked_change(change)
        if change.status != ChangeStatus.AWAITING_APPROVAL:
            raise Conflict(
                _("The change request is “%(status)s”, not awaiting approval.")
                % {"status": change.get_status_display()}
            )
        rule = authority.rule_for(order_as_changed(order, change.proposed))
        authority.require_approver(actor, rule)
        signatures.sign(change, actor, password, "rejected", reason, username=username)
        change.status = ChangeStatus.REJECTED
        change.approval_rule = rule
        change.decided_by, change.decided_at, change.decision_comment = actor, timezone.now(), reason
        change.save()
        _close_pending_reviews(change)
        notify(
            [change.requested_by],
            template="orders/change_decided",
            context={"change": change, "order": order, "customer": order.customer, "rows": diff_rows(change)},
            obj=change,
        )
    return change


def _close_pending_reviews(change):
    """Reviews nobody needs to sign any more (the change was decided or withdrawn)."""
    pending = list(change.reviews.filter(status=ReviewStatus.PENDING).select_related("department"))
    for review in pending:
        review.status = ReviewStatus.SUPERSEDED
        review.save(update_fields=["status"])
    return [review.department for review in pending]


def withdraw_change_request(actor, change, *, reason):
    """Withdraw an open change (draft, under review, awaiting approval) with a reason; departments
    still asked to review it are told. Needs ``orders.change``."""
    require_perm(actor, "orders.change", change)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        order = _locked_order(change.order)
        change = _locked_change(change)
        if change.status not in OPEN_CHANGE_STATUSES:
            raise Conflict(_("This change request has already been decided."))
        change.status = ChangeStatus.WITHDRAWN
        change.decided_by, change.decided_at, change.decision_comment = actor, timezone.now(), reason
        change.save()
        departments = _close_pending_reviews(change)
        if departments:
            notify(
                departments,
                template="orders/change_withdrawn",
                context={"change": change, "order": order, "reason": reason},
                obj=change,
            )
    return change


# --- acknowledgements ------------------------------------------------------------------------------
def acknowledge_change(actor, ack, *, comment=""):
    """A department that had received the order confirms it has taken note of the applied change.

    Only a member of that department with ``orders.acknowledge``, and only once.
    """
    require_perm(actor, "orders.acknowledge")
    if actor.department_id != ack.department_id:
        raise NotPermitted(
            _("Only %(department)s can acknowledge this change for its department.")
            % {"department": ack.department}
        )
    with transaction.atomic(), audit_context(actor=actor):
        ack = ChangeAcknowledgement.objects.select_for_update().get(pk=ack.pk)
        if ack.acknowledged_at is not None:
            raise Conflict(_("Your department has already acknowledged this change."))
        ack.acknowledged_by, ack.acknowledged_at = actor, timezone.now()
        ack.comment = (comment or "").strip()
        ack.save()
    return ack


def pending_acknowledgements(department):
    """Applied changes the department has not acknowledged yet (dashboard task list)."""
    return (
        ChangeAcknowledgement.objects.filter(department=department, acknowledged_at__isnull=True)
        .select_related("change_request", "order")
        .order_by("due_at", "pk")
    )


def send_ack_reminders(now=None):
    """Remind departments of acknowledgements past their reminder time; returns how many were sent.

    Each row is claimed with a conditional update on its ``remind_at`` (two workers never remind
    twice) and gets its next reminder one ``orders.change_ack_due`` period later, until acknowledged.
    """
    now = now or timezone.now()
    due = (
        ChangeAcknowledgement.objects.filter(acknowledged_at__isnull=True, remind_at__lte=now)
        .select_related("change_request", "order", "department")
        .order_by("remind_at", "pk")
    )
    sent = 0
    for ack in due:
        next_at = _due("orders.change_ack_due", now)
        with transaction.atomic():
            claimed = ChangeAcknowledgement.objects.filter(
                pk=ack.pk, acknowledged_at__isnull=True, remind_at=ack.remind_at
            ).update(remind_at=next_at, reminded_at=now, version=models.F("version") + 1)
            if not claimed:
                continue
            notify(
                [ack.department],
                template="orders/change_ack_reminder",
                context={
                    "ack": ack,
                    "change": ack.change_request,
                    "order": ack.order,
                    "department": ack.department,
                },
                dedupe_key=f"change-ack-reminder:{ack.pk}:{ack.remind_at.isoformat()}",
                obj=ack.change_request,
            )
            sent += 1
    return sent
