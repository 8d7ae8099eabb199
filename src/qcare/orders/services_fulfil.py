"""After approval (SPEC R-OR-9, R-OR-10): production notices, shipments, sales records, closing.

* :func:`issue_production_notice` — 生产通知单 ``SC-…`` to planning/production with the lines to
  make and their planned dates; the planned date becomes the line's delivery plan (交货计划).
* :func:`acknowledge_production_notice` — production confirms it has planned the notice.
* :func:`create_shipment` — 出货单 ``CH-…`` with lot or serial numbers, production date and
  expiry per line; partial shipments; the order becomes partially shipped or shipped; every
  shipped line of a regulated product writes a frozen medical-device sales record (销售记录).
* :func:`close_order` — a shipped (or short-closed partially shipped) order is closed.

Every function follows DESIGN rule 1: permission, state, translated errors (field errors of
lines keyed ``lines.<index>.<field>``), one transaction with the actor bound for the audit
trail, notifications queued in the outbox.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.models import Department
from qcare.accounts.permissions import require_perm
from qcare.catalog.models import Product
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.numbering import next_number
from qcare.customers.choices import TRADING_LICENCE_KINDS
from qcare.customers.services import check_can_sell
from qcare.notifications.services import notify
from qcare.orders import services
from qcare.orders.choices import APPROVED_STATUSES, NoticeStatus, OrderStatus
from qcare.orders.models import (
    Order,
    OrderLine,
    ProductionNotice,
    ProductionNoticeLine,
    SalesRecord,
    Shipment,
    ShipmentLine,
)
from qcare.orders.services_change import open_change_request
from qcare.orders.values import as_date, as_decimal

PRODUCTION_DEPARTMENT = "production"
#: States in which a production notice may be issued: approved and not yet fully shipped.
NOTICE_STATUSES = (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED)


# --- helpers ----------------------------------------------------------------------------------
def _fail(errors):
    raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _required():
    return [_("This field is required.")]


def _locked_order(order):
    """Lock the order row: shipments and notices of the same order run one after the other, so
    open quantities and the order status are computed from committed data."""
    locked = Order.objects.select_for_update(of=("self",)).select_related("customer__customer_type")
    return locked.get(pk=order.pk)


def _order_lines(order):
    """The order's lines by primary key, locked with the order (shipped quantities change)."""
    lines = OrderLine.objects.select_for_update(of=("self",)).filter(order=order)
    return {line.pk: line for line in lines.select_related("product__category")}


def _line_of(value, lines):
    """Resolve an order line given as object or id; it must belong to the order."""
    pk = getattr(value, "pk", value)
    try:
        return lines.get(int(pk))
    except (TypeError, ValueError):
        return None


def _text(item, name, limit):
    value = (item.get(name) or "").strip()
    return value, len(value) > limit


# --- production notice (R-OR-9) ----------------------------------------------------------------
def _notice_lines(data, lines, today):
    """Validate the notice lines; returns ``(rows, errors)``, rows as (order line, qty, date)."""
    errors, rows, seen = {}, [], set()
    if not data:
        errors["lines"] = [_("Add at least one line to the production notice.")]
    for index, item in enumerate(data):
        key = f"lines.{index}"
        line = _line_of(item.get("order_line"), lines)
        quantity = as_decimal(item.get("quantity"))
        planned = as_date(item.get("planned_date"))
        if line is None:
            errors[f"{key}.order_line"] = [_("Select a line of this order.")]
        elif line.pk in seen:
            errors[f"{key}.order_line"] = [_("This order line is already on the notice.")]
        else:
            seen.add(line.pk)
        if quantity is None:
            errors[f"{key}.quantity"] = [_("Enter a number.")]
        elif quantity <= 0:
            errors[f"{key}.quantity"] = [_("The quantity must be greater than zero.")]
        elif line is not None and quantity > line.open_quantity:
            errors[f"{key}.quantity"] = [
                _("At most %(open)s are still to be delivered on this line.")
                % {"open": _quantity_text(line.open_quantity)}
            ]
        if planned is None:
            errors[f"{key}.planned_date"] = (
                _required() if not item.get("planned_date") else [_("Enter a valid date.")]
            )
        elif planned < today:
            errors[f"{key}.planned_date"] = [_("The planned date cannot be in the past.")]
        rows.append((line, quantity, planned))
    return rows, errors


def _quantity_text(value):
    """A quantity without trailing zeros (10.000 → 10, 2.500 → 2.5)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def issue_production_notice(actor, order, *, lines, notes=""):
    """Issue a production notice (生产通知单 ``SC-…``) for an approved order and notify production.

    ``lines``: dicts with ``order_line`` (object or id), ``quantity`` (> 0, at most the line's
    open quantity) and ``planned_date`` (not in the past). Each planned date becomes the order
    line's ``planned_date`` — the delivery plan (交货计划) sales quotes to the customer. Planned
    dates and shipped quantities are fulfilment progress, not order content: they change no
    signature and need no change request. Needs ``orders.issue_notice`` on the order.
    """
    require_perm(actor, "orders.issue_notice", order)
    with transaction.atomic(), audit_context(actor=actor):
        order = _locked_order(order)
        if order.status not in NOTICE_STATUSES:
            raise Conflict(
                _("A production notice can only be issued for an approved order that is not fully shipped.")
            )
        order_lines = _order_lines(order)
        rows, errors = _notice_lines(list(lines), order_lines, timezone.localdate())
        notes = (notes or "").strip()
        if errors:
            _fail(errors)
        production = Department.objects.filter(code=PRODUCTION_DEPARTMENT).first()
        notice = ProductionNotice.objects.create(
            number=next_number("production_notice"),
            order=order,
            department=production,
            issued_by=actor,
            notes=notes,
        )
        for line, quantity, planned in rows:
            ProductionNoticeLine.objects.create(
                notice=notice, order_line=line, quantity=quantity, planned_date=planned
            )
            if line.planned_date != planned:
                line.planned_date = planned
                line.save(update_fields=["planned_date"])
        if production is not None:
            notify(
                production,
                template="orders/notice_issued",
                context={
                    "notice": notice,
                    "order": order,
                    "customer": order.customer,
                    "lines": [
                        {
                            "line_no": line.line_no,
                            "product": str(line.product),
                            "quantity": qty,
                            "planned": day,
                        }
                        for line, qty, day in sorted(rows, key=lambda r: r[0].line_no)
                    ],
                },
                obj=notice,
            )
    return notice


def acknowledge_production_notice(actor, notice, *, comment=""):
    """Production confirms it has received and planned the notice (生产部签收).

    Needs ``orders.acknowledge`` and a user of the production department; the notice must be
    issued (not yet acknowledged or cancelled). The issuer is told.
    """
    require_perm(actor, "orders.acknowledge", notice)
    receiving = (
        notice.department_id
        or Department.objects.filter(code=PRODUCTION_DEPARTMENT).values_list("pk", flat=True).first()
    )
    if actor.department_id is None or actor.department_id != receiving:
        raise NotPermitted(_("Only the production department acknowledges production notices."))
    with transaction.atomic(), audit_context(actor=actor):
        notice = ProductionNotice.objects.select_for_update().select_related("order").get(pk=notice.pk)
        if notice.status != NoticeStatus.ISSUED:
            raise Conflict(_("This production notice has already been acknowledged or was cancelled."))
        notice.status = NoticeStatus.ACKNOWLEDGED
        notice.acknowledged_by = actor
        notice.acknowledged_at = timezone.now()
        comment = (comment or "").strip()
        if comment:
            notice.notes = f"{notice.notes}\n{comment}".strip()
        notice.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "notes"])
        if notice.issued_by_id != actor.pk:
            notify(
                [notice.issued_by],
                template="orders/notice_acknowledged",
                context={"notice": notice, "order": notice.order, "by": actor, "comment": comment},
                obj=notice,
            )
    return notice


# --- shipments (R-OR-9) and sales records (R-OR-10) ------------------------------------------
SHIPMENT_TEXT_LIMITS = {"delivery_note_number": 60, "carrier": 100, "waybill_number": 100}
LINE_TEXT_LIMITS = {"lot_number": 60, "serial_number": 80}


def _shipment_line_errors(index, item, line, shipped_on, errors):
    """Field errors of one shipment line that need no other line; returns the cleaned values."""
    key = f"lines.{index}"
    values = {"order_line": line, "quantity": as_decimal(item.get("quantity"))}
    for name, limit in LINE_TEXT_LIMITS.items():
        values[name], too_long = _text(item, name, limit)
        if too_long:
            errors[f"{key}.{name}"] = [_("At most %(limit)d characters.") % {"limit": limit}]
    for name in ("production_date", "expiry_date"):
        values[name] = as_date(item.get(name))
        if values[name] is None and item.get(name) not in (None, ""):
            errors[f"{key}.{name}"] = [_("Enter a valid date.")]
    if line is None:
        errors[f"{key}.order_line"] = [_("Select a line of this order.")]
    quantity = values["quantity"]
    if quantity is None:
        errors[f"{key}.quantity"] = [_("Enter a number.")]
    elif quantity <= 0:
        errors[f"{key}.quantity"] = [_("The quantity must be greater than zero.")]
    elif values["serial_number"] and quantity != 1:
        errors[f"{key}.quantity"] = [_("A line with a serial number ships exactly one unit.")]
    if (
        line is not None
        and line.product.is_regulated
        and not (values["lot_number"] or values["serial_number"])
    ):
        errors[f"{key}.lot_number"] = [_("A medical device needs a lot or serial number for traceability.")]
    if shipped_on and values["expiry_date"] and values["expiry_date"] < shipped_on:
        errors[f"{key}.expiry_date"] = [_("The product expires before the shipping date.")]
    production = values["production_date"]
    if production and shipped_on and production > shipped_on:
        errors[f"{key}.production_date"] = [_("The production date is after the shipping date.")]
    elif production and values["expiry_date"] and production > values["expiry_date"]:
        errors[f"{key}.production_date"] = [_("The production date is after the expiry date.")]
    return values


def _check_open_quantities(rows, errors):
    """The quantities of one order line in this shipment may not exceed what is still open."""
    totals = {}
    for index, values in enumerate(rows):
        line = values["order_line"]
        if line is not None and values["quantity"] is not None and values["quantity"] > 0:
            totals.setdefault(line.pk, []).append(index)
    for indexes in totals.values():
        line = rows[indexes[0]]["order_line"]
        total = sum(rows[i]["quantity"] for i in indexes)
        if total > line.open_quantity:
            message = _("Line %(line)s has %(open)s still to ship; this shipment has %(qty)s.") % {
                "line": line.line_no,
                "open": _quantity_text(line.open_quantity),
                "qty": _quantity_text(total),
            }
            for i in indexes:
                errors.setdefault(f"lines.{i}.quantity", []).append(message)


def _check_serials(rows, errors):
    """A serial number identifies one unit of a product: never twice in a shipment, never shipped again."""
    seen = {}
    for index, values in enumerate(rows):
        line, serial = values["order_line"], values["serial_number"]
        if line is None or not serial:
            continue
        pair = (line.product_id, serial)
        if pair in seen:
            errors.setdefault(f"lines.{index}.serial_number", []).append(
                _("Serial number %(serial)s appears twice in this shipment.") % {"serial": serial}
            )
        seen.setdefault(pair, index)
    if not seen:
        return
    # Lock the products (in a fixed order): two shipments of one serial on different orders
    # would otherwise both pass the check below.
    products = sorted({product for product, _serial in seen})
    list(Product.objects.select_for_update().filter(pk__in=products).order_by("pk").values_list("pk"))
    shipped = set(
        ShipmentLine.objects.filter(
            serial_number__in={serial for _product, serial in seen},
            product_id__in={product for product, _serial in seen},
        ).values_list("product_id", "serial_number")
    )
    for pair, index in seen.items():
        if pair in shipped:
            errors.setdefault(f"lines.{index}.serial_number", []).append(
                _("Serial number %(serial)s of this product has already been shipped.") % {"serial": pair[1]}
            )


def _buyer_licence(customer, check, on_date):
    """The buyer's licence number for the sales record: the licence that allows the sale, else the
    customer's active licence valid on the date (trading licences first; e.g. a hospital's own)."""
    if check.licence is not None:
        return check.licence.number
    licences = [
        lic
        for lic in customer.licences.filter(is_active=True)
        if (lic.valid_from is None or lic.valid_from <= on_date)
        and (lic.valid_until is None or on_date <= lic.valid_until)
    ]
    licences.sort(key=lambda lic: (lic.kind not in TRADING_LICENCE_KINDS, -(lic.pk or 0)))
    return licences[0].number if licences else ""


def _buyer(order, check, on_date):
    """Buyer fields of the sales record, frozen as they are on the sale date."""
    customer = order.customer
    contact = customer.contacts.filter(is_active=True).order_by("-is_primary", "pk").first()
    return {
        "buyer_name": customer.name,
        "buyer_licence": _buyer_licence(customer, check, on_date),
        "contact_name": contact.name if contact else "",
        "contact_phone": (contact.phone or contact.mobile) if contact else "",
        "address": (customer.address or order.delivery_address)[:300],
    }


def _sales_record(shipment_line, order_line, order, buyer):
    """The sales record (销售记录) of one shipped line of a regulated product (R-OR-10)."""
    product = order_line.product
    quantity = shipment_line.quantity
    return SalesRecord.objects.create(
        shipment_line=shipment_line,
        order=order,
        shipment=shipment_line.shipment,
        customer=order.customer,
        product=product,
        sale_date=shipment_line.shipped_on,
        device_name=product.name,
        specification=order_line.specification or product.model,
        registration_number=product.registration_number,
        quantity=quantity,
        unit=order_line.unit or product.unit,
        unit_price=order_line.unit_price,
        amount=(quantity * order_line.unit_price).quantize(Decimal("0.01")),
        currency=order.currency,
        lot_number=shipment_line.lot_number,
        serial_number=shipment_line.serial_number,
        expiry_date=shipment_line.expiry_date,
        manufacturer=product.manufacturer,
        manufacturer_licence=product.manufacturer_licence,
        **buyer,
    )


def _status_after_shipping(order_lines):
    if all(line.shipped_quantity >= line.quantity for line in order_lines):
        return OrderStatus.SHIPPED
    return OrderStatus.PARTIALLY_SHIPPED


def _validate_shipment(order, order_lines, raw_shipped_on, lines, header):
    """All checks of :func:`create_shipment`; returns the shipping date and the cleaned lines."""
    errors = {}
    today = timezone.localdate()
    shipped_on = as_date(raw_shipped_on)
    if raw_shipped_on in (None, ""):
        errors["shipped_on"] = _required()
    elif shipped_on is None:
        errors["shipped_on"] = [_("Enter a valid date.")]
    elif shipped_on > today:
        errors["shipped_on"] = [_("The shipping date cannot be in the future.")]
    elif order.approved_at and shipped_on < timezone.localdate(order.approved_at):
        errors["shipped_on"] = [_("The shipping date cannot be before the order was approved.")]
    for name, limit in SHIPMENT_TEXT_LIMITS.items():
        if len(header[name]) > limit:
            errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
    if not lines:
        errors["lines"] = [_("Add at least one line to the shipment.")]
    rows = [
        _shipment_line_errors(index, item, _line_of(item.get("order_line"), order_lines), shipped_on, errors)
        for index, item in enumerate(lines)
    ]
    _check_open_quantities(rows, errors)
    _check_serials(rows, errors)
    if errors:
        _fail(errors)
    return shipped_on, rows


def create_shipment(
    actor,
    order,
    *,
    shipped_on,
    lines,
    delivery_note_number="",
    carrier="",
    waybill_number="",
    notes="",
):
    """Record a shipment (出货单 ``CH-…``) of an approved order; partial shipments are normal.

    ``lines``: dicts with ``order_line`` (object or id), ``quantity``, ``lot_number``,
    ``serial_number``, ``production_date`` and ``expiry_date``. Refused, with a field error on
    the line: a quantity above what is still open on the order line; a serial number on a line
    of more than one unit, twice in the shipment or already shipped for the same product; a
    medical device without lot or serial number; an expiry date before the shipping date. The
    shipping date may not be in the future nor before the approval. A regulated product is
    shipped only to a customer whose licence covers it on the shipping date (R-CU-3).

    The order must be approved (approved, partially shipped or shipped with quantity still
    open). A change request that is still open (draft, under review or awaiting approval)
    does **not** block shipping: until a change is approved and applied, the approved
    version is the binding contract, and the change service refuses to reduce a quantity
    below what has been shipped meanwhile. Rows are locked (order, then its lines) so that
    concurrent shipments of one order never ship more than ordered.

    Effects: the order lines' shipped quantities grow, the order becomes partially shipped
    or shipped (a transition row via ``services.set_status``), and every line of a regulated
    product writes a frozen sales record (销售记录, R-OR-10). The sales person is notified.
    Needs ``orders.ship`` on the order. Returns the shipment.
    """
    require_perm(actor, "orders.ship", order)
    header = {
        "delivery_note_number": (delivery_note_number or "").strip(),
        "carrier": (carrier or "").strip(),
        "waybill_number": (waybill_number or "").strip(),
    }
    lines = list(lines)
    with transaction.atomic(), audit_context(actor=actor):
        order = _locked_order(order)
        if order.status not in APPROVED_STATUSES:
            raise Conflict(_("Only an approved order can be shipped."))
        order_lines = _order_lines(order)
        if not any(line.open_quantity > 0 for line in order_lines.values()):
            raise Conflict(_("Everything on this order has been shipped."))
        shipped_on, rows = _validate_shipment(order, order_lines, shipped_on, lines, header)
        regulated = {
            v["order_line"].product.category_id for v in rows if v["order_line"].product.is_regulated
        }
        check = check_can_sell(order.customer, regulated, shipped_on) if regulated else None
        if check is not None and not check.allowed:
            raise Conflict(
                _("The customer may not receive these medical devices: %(reasons)s")
                % {"reasons": "; ".join(check.reasons)}
            )
        shipment = Shipment.objects.create(
            number=next_number("shipment"),
            order=order,
            customer=order.customer,
            shipped_on=shipped_on,
            shipped_by=actor,
            notes=(notes or "").strip(),
            **header,
        )
        buyer = _buyer(order, check, shipped_on) if regulated else None
        for values in rows:
            line = values["order_line"]
            shipped = ShipmentLine.objects.create(
                shipment=shipment,
                order=order,
                product=line.product,
                customer=order.customer,
                shipped_on=shipped_on,
                **{k: v for k, v in values.items() if k != "order_line"},
                order_line=line,
            )
            line.shipped_quantity += values["quantity"]
            line.save(update_fields=["shipped_quantity"])
            if line.product.is_regulated:
                _sales_record(shipped, line, order, buyer)
        status = _status_after_shipping(order_lines.values())
        if status != order.status:
            services.set_status(order, status, actor, reason=shipment.number)
        if order.owner_id != actor.pk:
            notify(
                [order.owner],
                template="orders/shipment_recorded",
                context={"shipment": shipment, "order": order, "customer": order.customer, "status": status},
                obj=shipment,
            )
    return shipment


# --- closing --------------------------------------------------------------------------------------
def _require_change_or_approve(actor, order):
    """Closing needs ``orders.change`` or ``orders.approve`` on the order (sales or the approver)."""
    try:
        require_perm(actor, "orders.change", order)
    except (NotPermitted, NotFound) as first:
        try:
            require_perm(actor, "orders.approve", order)
        except (NotPermitted, NotFound):
            raise first from None


def close_order(actor, order, *, reason=""):
    """Close an order (结案): normally once everything is shipped.

    A partially shipped order may be closed short (the customer no longer wants the rest);
    that needs a reason, which the transition records. Needs ``orders.change`` or
    ``orders.approve`` on the order. Returns the order.
    """
    _require_change_or_approve(actor, order)
    reason = (reason or "").strip()
    with transaction.atomic(), audit_context(actor=actor, reason=reason or None):
        order = _locked_order(order)
        if order.status not in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED):
            raise Conflict(_("Only a shipped or partially shipped order can be closed."))
        if order.status == OrderStatus.PARTIALLY_SHIPPED and not reason:
            raise ReasonRequired(_("Give a reason for closing an order that is not fully shipped."))
        if open_change_request(order) is not None:
            raise Conflict(_("Decide or withdraw the open change request before closing the order."))
        services.set_status(order, OrderStatus.CLOSED, actor, reason=reason)
        order.closed_at = timezone.now()
        order.save(update_fields=["closed_at"])
    return order
