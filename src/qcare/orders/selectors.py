"""Read side of orders: traceability (R-OR-11), sales records (R-OR-10) and metrics (R-OR-12).

Everything is filtered by the one permission filter (``objects.restrict(user, action)``), so
pages, API, exports and reports show the same rows to the same user.

Traceability reads only ``ShipmentLine``: it carries copies of the customer, product and
shipping date, so "lot → customers" is one scan of the index ``shipline_lot`` (lot, product)
and "customer → lots" one scan of ``shipline_customer`` (customer, product, lot), each
joined to the shipment, order, customer and product rows of the hits only. The rows are
plain dicts (``values()``): a lot shipped to thousands of customers costs one query and no
model instances.
"""

from datetime import date, datetime
from statistics import fmean, median

from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import get_language

from qcare.core.dbfunctions import Epoch
from qcare.orders.choices import APPROVED_STATUSES, OrderClass, OrderStatus
from qcare.orders.models import Order, OrderLine, OrderReview, SalesRecord, ShipmentLine
from qcare.workcalendar.calendar import WorkingHoursCalculator, working_hours_between

#: The columns of a traceability row (the path shipment → delivery note → contract → supplier).
TRACE_FIELDS = {
    "id": "id",
    "lot_number": "lot_number",
    "serial_number": "serial_number",
    "quantity": "quantity",
    "shipped_on": "shipped_on",
    "production_date": "production_date",
    "expiry_date": "expiry_date",
    "shipment_id": "shipment_id",
    "shipment_number": "shipment__number",
    "delivery_note_number": "shipment__delivery_note_number",
    "order_id": "order_id",
    "order_number": "order__number",
    "contract_reference": "order__customer_reference",
    "customer_id": "customer_id",
    "customer_code": "customer__code",
    "customer_name": "customer__name",
    "product_id": "product_id",
    "product_code": "product__code",
    "product_name": "product__name",
    "product_model": "product__model",
    "manufacturer": "product__manufacturer",
}


def _pk(value):
    return getattr(value, "pk", value)


def _trace_rows(user, condition):
    """Restricted shipment lines matching ``condition`` as dict rows, oldest shipment first."""
    lines = ShipmentLine.objects.restrict(user, "view").filter(condition)
    plain = [key for key, path in TRACE_FIELDS.items() if key == path]
    joined = {key: F(path) for key, path in TRACE_FIELDS.items() if key != path}
    return lines.order_by("shipped_on", "id").values(*plain, **joined)


def trace_lot(user, lot, product=None):
    """Every shipment line of lot ``lot`` (optionally of one product) the user may see (R-OR-11).

    Returns a lazy queryset of dicts (:data:`TRACE_FIELDS`): slice it to paginate, ``count()``
    it for the total. Used by the trace pages, the API and the recall feature.
    """
    condition = Q(lot_number=(lot or "").strip())
    if product is not None:
        condition &= Q(product_id=_pk(product))
    return _trace_rows(user, condition)


def search_orders(queryset, term):
    """Orders whose number or customer's order/contract number contains ``term``, or whose
    customer the customer search index finds (the list page and the API search alike)."""
    from qcare.customers.models import Customer
    from qcare.customers.search import search_customers

    term = (term or "").strip()
    if not term:
        return queryset
    customers = search_customers(Customer.objects.all(), term).values("pk")
    return queryset.filter(
        Q(number__icontains=term) | Q(customer_reference__icontains=term) | Q(customer_id__in=customers)
    )


def count_trace(user, *, lot=None, serial=None, product=None):
    """How many rows :func:`trace_lot` / :func:`trace_serial` return, counted without their joins."""
    lines = ShipmentLine.objects.restrict(user, "view")
    if lot is not None:
        lines = lines.filter(lot_number=(lot or "").strip())
    if serial is not None:
        lines = lines.filter(serial_number=(serial or "").strip())
    if product is not None:
        lines = lines.filter(product_id=_pk(product))
    return lines.count()


def trace_serial(user, serial, product=None):
    """Every shipment line of serial number ``serial`` (optionally of one product), as trace rows."""
    condition = Q(serial_number=(serial or "").strip())
    if product is not None:
        condition &= Q(product_id=_pk(product))
    return _trace_rows(user, condition)


def customer_lots(user, customer):
    """Every lot / serial ``customer`` received, grouped by product, lot and serial (R-OR-11).

    Rows: product (id, code, name, model), ``lot_number``, ``serial_number``,
    ``total_quantity``, ``shipments`` (count), ``first_shipped_on``, ``last_shipped_on`` and
    ``latest_expiry_date``. A serial-numbered unit is its own row; a lot is one row.
    """
    lines = ShipmentLine.objects.restrict(user, "view").filter(customer_id=_pk(customer))
    return (
        lines.values("product_id", "lot_number", "serial_number")
        .annotate(
            product_code=F("product__code"),
            product_name=F("product__name"),
            product_model=F("product__model"),
            total_quantity=Sum("quantity"),
            shipments=Count("shipment_id", distinct=True),
            first_shipped_on=Min("shipped_on"),
            last_shipped_on=Max("shipped_on"),
            latest_expiry_date=Max("expiry_date"),
        )
        .order_by("product__code", "lot_number", "serial_number")
    )


# --- sales records (R-OR-10) ------------------------------------------------------------------------
def sales_records(
    user, *, date_from=None, date_to=None, customer=None, product=None, lot=None, serial=None, action="view"
):
    """The medical-device sales records (销售记录) the user may see, newest first, filtered.

    ``customer`` / ``product`` as objects or ids; ``lot`` / ``serial`` exact numbers; dates
    inclusive. ``action="export"`` gives the rows the user may export.
    """
    records = SalesRecord.objects.restrict(user, action)
    if date_from:
        records = records.filter(sale_date__gte=date_from)
    if date_to:
        records = records.filter(sale_date__lte=date_to)
    if customer not in (None, ""):
        records = records.filter(customer_id=_pk(customer))
    if product not in (None, ""):
        records = records.filter(product_id=_pk(product))
    if lot:
        records = records.filter(lot_number=lot.strip())
    if serial:
        records = records.filter(serial_number=serial.strip())
    return records.order_by("-sale_date", "-id")


# --- metrics (R-OR-12) -------------------------------------------------------------------------------
def _stats(values):
    """count / mean / median / max of working hours (None when there is nothing to measure)."""
    if not values:
        return {"count": 0, "mean": None, "median": None, "max": None}
    return {
        "count": len(values),
        "mean": round(fmean(values), 1),
        "median": round(median(values), 1),
        "max": round(max(values), 1),
    }


def _share(part, whole):
    return round(part / whole, 4) if whole else None


def _hours(start, end):
    # A signature can never precede its start; clamp clock skew of imported data to zero.
    return max(working_hours_between(start, end), 0.0)


def _calculator(timestamps):
    """``hours(start, end)`` for POSIX timestamps within ``timestamps``: one working-interval
    table per report (docs/benchmarks-orders.md)."""
    if not timestamps:
        return None
    return WorkingHoursCalculator.for_timestamps(timestamps).hours_between_timestamps


def _year_bounds(year):
    tz = timezone.get_current_timezone()
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def _class_rows(hours_by_class):
    return [
        {"key": str(value), "label": str(label), **_stats(hours_by_class.get(value, []))}
        for value, label in OrderClass.choices
    ]


def _review_cycle(user, action, start, end):
    """Review cycle (started → signed, working hours) by order class and by department: one query."""
    reviews = OrderReview.objects.restrict(user, action).filter(signed_at__gte=start, signed_at__lt=end)
    # No ORDER BY: the model's default ordering would join change requests and sort every row.
    # Instants as POSIX seconds from the database: no aware datetime built per value.
    rows = list(
        reviews.order_by()
        .annotate(started_ts=Epoch("started_at"), signed_ts=Epoch("signed_at"))
        .values_list(
            "started_ts",
            "signed_ts",
            "order__order_class",
            "department__code",
            "department__name",
            "department__name_en",
        )
    )
    english = (get_language() or "").lower().startswith("en")
    hours_of = _calculator([r[0] for r in rows] + [r[1] for r in rows])
    all_hours, by_class, by_department, labels = [], {}, {}, {}
    for started_at, signed_at, order_class, code, name, name_en in rows:
        hours = hours_of(started_at, signed_at)
        all_hours.append(hours)
        by_class.setdefault(order_class, []).append(hours)
        by_department.setdefault(code, []).append(hours)
        labels[code] = name_en if english and name_en else name
    return {
        "overall": _stats(all_hours),
        "by_class": _class_rows(by_class),
        "by_department": [
            {"key": code, "label": labels[code], **_stats(by_department[code])}
            for code in sorted(by_department)
        ],
    }


def _approved_orders(user, action, start, end):
    """Order cycle (submitted → approved, working hours) by class and the share changed after
    approval, of the orders approved in the period: one query."""
    orders = Order.objects.restrict(user, action).filter(approved_at__gte=start, approved_at__lt=end)
    rows = list(
        orders.order_by()
        .annotate(submitted_ts=Epoch("submitted_at"), approved_ts=Epoch("approved_at"))
        .values_list("submitted_ts", "approved_ts", "order_class", "change_count")
    )
    hours_of = _calculator([r[0] for r in rows if r[0] is not None] + [r[1] for r in rows])
    all_hours, by_class, changed, changed_by_class, count_by_class = [], {}, 0, {}, {}
    for submitted_at, approved_at, order_class, change_count in rows:
        count_by_class[order_class] = count_by_class.get(order_class, 0) + 1
        if change_count:
            changed += 1
            changed_by_class[order_class] = changed_by_class.get(order_class, 0) + 1
        if submitted_at is not None:
            hours = hours_of(submitted_at, approved_at)
            all_hours.append(hours)
            by_class.setdefault(order_class, []).append(hours)
    approved = sum(count_by_class.values())
    return (
        {"overall": _stats(all_hours), "by_class": _class_rows(by_class)},
        {
            "approved": approved,
            "changed": changed,
            "share": _share(changed, approved),
            "by_class": [
                {
                    "key": str(value),
                    "label": str(label),
                    "approved": count_by_class.get(value, 0),
                    "changed": changed_by_class.get(value, 0),
                    "share": _share(changed_by_class.get(value, 0), count_by_class.get(value, 0)),
                }
                for value, label in OrderClass.choices
            ],
        },
    )


#: Orders whose lines count for on-time delivery: approved ones (cancelled and rejected do not).
DELIVERY_STATUSES = (*APPROVED_STATUSES, OrderStatus.CLOSED)


def _on_time_delivery(user, action, year):
    """Lines of approved orders due in ``year`` (up to today) and how many of them had their full
    quantity shipped on or before the requested date — grouped in the database, one query."""
    last_day = min(date(year, 12, 31), timezone.localdate())
    due = OrderLine.objects.restrict(user, action).filter(
        requested_date__gte=date(year, 1, 1),
        requested_date__lte=last_day,
        order__status__in=DELIVERY_STATUSES,
    )
    shipped_in_time = (
        ShipmentLine.objects.filter(order_line=OuterRef("pk"), shipped_on__lte=OuterRef("requested_date"))
        .order_by()
        .values("order_line")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    totals = due.annotate(in_time=Subquery(shipped_in_time)).aggregate(
        due=Count("pk"), on_time=Count("pk", filter=Q(in_time__gte=F("quantity")))
    )
    return {
        "due": totals["due"],
        "on_time": totals["on_time"],
        "share": _share(totals["on_time"], totals["due"]),
    }


def review_cycle_report(user, year, *, action="view"):
    """The contract-review metrics of ``year`` (R-OR-12) over the orders the user may see.

    * ``review_cycle``: department review time, from the review's start to its signature, in
      working hours (business calendar), overall, by order class and by reviewing department
      (count, mean, median, max) — reviews signed in the year;
    * ``order_cycle``: submission → approval in working hours by class — orders approved in the year;
    * ``changed_after_approval``: of those orders, how many were changed after approval;
    * ``on_time_delivery``: lines of approved orders requested for the year (up to today),
      and how many had their full quantity shipped on or before the requested date.

    Three queries; working hours are computed in Python per row (they need the calendar).
    Shares are fractions (0–1) or None when there is nothing to divide.
    """
    start, end = _year_bounds(year)
    order_cycle, changed = _approved_orders(user, action, start, end)
    return {
        "year": year,
        "review_cycle": _review_cycle(user, action, start, end),
        "order_cycle": order_cycle,
        "changed_after_approval": changed,
        "on_time_delivery": _on_time_delivery(user, action, year),
    }
