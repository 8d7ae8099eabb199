"""xlsx exports of orders: the medical-device sales record (R-OR-10) and the review metrics (R-OR-12).

Both need ``orders.export``, read only rows within the user's export scope, write the header
row in the current language and are logged as export events in the audit trail (who exported
what, with which filters, how many rows) like the customer export.
"""

from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.audit.services import log_event
from qcare.core.errors import ValidationFailed
from qcare.core.tabular import field_label as _label
from qcare.core.tabular import filter_log as _filter_log
from qcare.core.tabular import new_workbook as _workbook
from qcare.core.tabular import workbook_bytes as _save
from qcare.orders import selectors
from qcare.orders.models import Order, SalesRecord, Shipment

MAX_EXPORT_ROWS = 100_000

#: Sales record columns in the regulation's order (R-OR-10), then the documents it came from.
SALES_RECORD_FIELDS = (
    "sale_date",
    "device_name",
    "specification",
    "registration_number",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "currency",
    "lot_number",
    "serial_number",
    "expiry_date",
    "manufacturer",
    "manufacturer_licence",
    "buyer_name",
    "buyer_licence",
    "contact_name",
    "contact_phone",
    "address",
)
DOCUMENT_COLUMNS = (("order__number", Order, "number"), ("shipment__number", Shipment, "number"))


def sales_record_headers():
    """The header row of the sales record export, in the current language."""
    return [_label(SalesRecord, name) for name in SALES_RECORD_FIELDS] + [
        _label(model, name) for _path, model, name in DOCUMENT_COLUMNS
    ]


def export_sales_records(actor, **filters):
    """The filtered sales records (销售记录) as xlsx bytes; returns ``(content, count)``.

    ``filters``: those of :func:`selectors.sales_records` (date_from, date_to, customer,
    product, lot, serial). Needs ``orders.export``; logged as an export event.
    """
    require_perm(actor, "orders.export")
    records = selectors.sales_records(actor, action="export", **filters)
    count = records.count()
    if count > MAX_EXPORT_ROWS:
        raise ValidationFailed(
            _(
                "The list holds %(count)d records; at most %(limit)d can be exported at once. Narrow the filters."
            )
            % {"count": count, "limit": MAX_EXPORT_ROWS}
        )
    workbook = _workbook()
    sheet = workbook.create_sheet(_("Sales records"))
    sheet.append(sales_record_headers())
    columns = [*SALES_RECORD_FIELDS, *(path for path, _model, _name in DOCUMENT_COLUMNS)]
    for row in records.values_list(*columns).iterator(chunk_size=2000):
        sheet.append(list(row))
    content = _save(workbook)
    log_event(
        "export",
        actor=actor,
        data={"model": "orders.salesrecord", "filters": _filter_log(filters), "count": count},
    )
    return content, count


def _stats_table(sheet, title, rows, key_label):
    sheet.append([title])
    sheet.append(
        [
            key_label,
            _("Count"),
            _("Mean (working hours)"),
            _("Median (working hours)"),
            _("Maximum (working hours)"),
        ]
    )
    for row in rows:
        sheet.append([row["label"], row["count"], row["mean"], row["median"], row["max"]])
    sheet.append([])


def export_metrics(actor, year):
    """The contract-review metrics of ``year`` (R-OR-12) as xlsx bytes, one sheet per measure.

    Computed by :func:`selectors.review_cycle_report` over the orders the actor may export.
    Needs ``orders.export``; logged as an export event.
    """
    require_perm(actor, "orders.export")
    report = selectors.review_cycle_report(actor, year, action="export")
    workbook = _workbook()

    reviews = workbook.create_sheet(_("Review cycle"))
    review_cycle = report["review_cycle"]
    _stats_table(reviews, _("Review cycle time by order class"), review_cycle["by_class"], _("Order class"))
    _stats_table(
        reviews, _("Review cycle time by department"), review_cycle["by_department"], _("Department")
    )

    orders = workbook.create_sheet(_("Order cycle"))
    _stats_table(
        orders,
        _("Submission to approval by order class"),
        report["order_cycle"]["by_class"],
        _("Order class"),
    )

    other = workbook.create_sheet(_("Changes and delivery"))
    changed = report["changed_after_approval"]
    other.append([_("Orders changed after approval")])
    other.append([_("Order class"), _("Approved orders"), _("Changed after approval"), _("Share")])
    for row in changed["by_class"]:
        other.append([row["label"], row["approved"], row["changed"], row["share"]])
    other.append([_("Total"), changed["approved"], changed["changed"], changed["share"]])
    other.append([])
    delivery = report["on_time_delivery"]
    other.append([_("On-time delivery")])
    other.append([_("Lines due"), _("Delivered on time"), _("Share")])
    other.append([delivery["due"], delivery["on_time"], delivery["share"]])

    content = _save(workbook)
    log_event("export", actor=actor, data={"model": "orders.metrics", "year": year})
    return content
