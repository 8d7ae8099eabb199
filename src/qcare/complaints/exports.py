"""Exports of complaints: the complaint list (xlsx), the statistics (xlsx and PDF, R-CO-11) and the
returns and allowances/compensations for finance (xlsx, R-CO-7).

Each export checks its permission, reads only the rows within the user's export scope, writes
headers in the active language (wrap the call in ``translation.override`` for another one —
the PDF takes ``language=``) and is logged as an export event in the audit trail with its
filters and row count, like the order and customer exports. Times are written in the
company's time zone (xlsx has no time zones).
"""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.audit.services import log_event
from qcare.complaints import reports, selectors
from qcare.complaints.choices import (
    Category,
    Channel,
    ComplaintStatus,
    ReturnDisposition,
    ReturnStatus,
    SettlementKind,
    SettlementStatus,
    Severity,
)
from qcare.complaints.models import Complaint, ReturnNote, Settlement
from qcare.core.errors import ValidationFailed
from qcare.core.pdf import Document, Field, FieldGrid, Heading, Paragraph, Table, render_pdf
from qcare.core.tabular import field_label as _label
from qcare.core.tabular import filter_log as _filter_log
from qcare.core.tabular import new_workbook as _workbook
from qcare.core.tabular import workbook_bytes as _save

MAX_EXPORT_ROWS = 100_000
#: Longest bar of a chart in the PDF, in block characters: the glyph is full-width (1 em, 3.5 mm at
#: 10 pt), so 12 fit the narrowest bar column (≈ 50 mm) without wrapping.
BAR_WIDTH = 12
BAR = "█"
#: Customers / products listed in the PDF (the xlsx has them all).
PDF_TOP = 20


# --- small helpers ------------------------------------------------------------------------------
def _choice(choices, value):
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _local(value):
    """An aware datetime as a naive one in the company time zone (what a spreadsheet shows)."""
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def _yes_no(value):
    if value is None:
        return ""
    return _("Yes") if value else _("No")


def _too_many(count):
    if count > MAX_EXPORT_ROWS:
        raise ValidationFailed(
            _(
                "The list holds %(count)d records; at most %(limit)d can be exported at once. Narrow the filters."
            )
            % {"count": count, "limit": MAX_EXPORT_ROWS}
        )


def _person(full_name, username):
    """A user's name from ``values()`` columns (the full name, else the login)."""
    return (full_name or "").strip() or (username or "")


# --- the complaint list -------------------------------------------------------------------------
#: (header, model field or None, values() path)
COMPLAINT_COLUMNS = (
    ("number", "number"),
    ("received_at", "received_at"),
    ("customer", "customer__name"),
    ("channel", "channel"),
    ("order_reference", "order_reference"),
    ("product", "product__name"),
    ("part_number", "part_number"),
    ("lot_number", "lot_number"),
    ("serial_number", "serial_number"),
    ("quantity", "quantity"),
    ("defective_quantity", "defective_quantity"),
    ("description", "description"),
    ("status", "status"),
    ("severity", "severity"),
    ("category", "category"),
    ("is_major", "is_major"),
    ("is_repeat", "is_repeat"),
    ("cause_category", "cause_category"),
    ("disposition", "disposition"),
    ("loss_amount", "loss_amount"),
    ("due_at", "due_at"),
    ("closed_at", "closed_at"),
    ("closed_on_time", "closed_on_time"),
    ("days_to_close", "days_to_close"),
    ("overdue_reason", "overdue_reason"),
)


def complaint_headers():
    """The header row of the complaint list export, in the active language."""
    headers = [_label(Complaint, name) for name, _path in COMPLAINT_COLUMNS]
    headers.insert(3, _("Customer code"))
    headers.insert(7, _("Product code"))
    headers.append(_label(Complaint, "owner"))
    return headers


def _complaint_row(values):
    from qcare.complaints.choices import CauseCategory, Disposition

    row = dict(values)
    converters = {
        "channel": lambda v: _choice(Channel, v),
        "status": lambda v: _choice(ComplaintStatus, v),
        "severity": lambda v: _choice(Severity, v),
        "category": lambda v: _choice(Category, v),
        "cause_category": lambda v: _choice(CauseCategory, v),
        "disposition": lambda v: _choice(Disposition, v),
        "is_major": _yes_no,
        "is_repeat": _yes_no,
        "closed_on_time": _yes_no,
    }
    cells = []
    for name, path in COMPLAINT_COLUMNS:
        value = row[path]
        value = converters[name](value) if name in converters else _local(value)
        cells.append(value)
    cells.insert(3, row["customer__code"])
    cells.insert(7, row["product__code"] or "")
    cells.append(_person(row["owner__full_name"], row["owner__username"]))
    return cells


def export_complaints(actor, params=None):
    """The filtered complaint list as xlsx bytes; returns ``(content, count)``.

    ``params``: the list filters of :func:`selectors.filter_complaints` (including the search
    term ``q``). Needs ``complaints.export``; only complaints within the export scope.
    """
    require_perm(actor, "complaints.export")
    params = params or {}
    complaints = selectors.filter_complaints(Complaint.objects.restrict(actor, "export"), params).order_by(
        "-received_at", "-id"
    )
    count = complaints.count()
    _too_many(count)
    workbook = _workbook()
    sheet = workbook.create_sheet(_("Complaints"))
    sheet.append(complaint_headers())
    paths = [path for _name, path in COMPLAINT_COLUMNS] + [
        "customer__code",
        "product__code",
        "owner__full_name",
        "owner__username",
    ]
    for values in complaints.values(*paths).iterator(chunk_size=2000):
        sheet.append(_complaint_row(values))
    content = _save(workbook)
    logged = {k: (params.get(k) if not hasattr(params, "getlist") else params.getlist(k)) for k in params}
    log_event(
        "export",
        actor=actor,
        data={"model": "complaints.complaint", "filters": _filter_log(logged), "count": count},
    )
    return content, count


# --- statistics (R-CO-11) -----------------------------------------------------------------------
def _statistics(actor, filters):
    require_perm(actor, "complaints.export")
    return reports.complaint_statistics(actor, **filters)


def _count_table(sheet, title, key_label, rows):
    sheet.append([title])
    sheet.append([key_label, _("Complaints")])
    for row in rows:
        sheet.append([row["label"], row["count"]])
    sheet.append([])


def export_statistics(actor, **filters):
    """The complaint statistics (:func:`reports.complaint_statistics`) as xlsx bytes.

    ``filters``: period_from, period_to (YYYY-MM, required), customer, product, category,
    department. Needs ``complaints.report`` and ``complaints.export``.
    """
    stats = _statistics(actor, filters)
    workbook = _workbook()
    summary = workbook.create_sheet(_("Summary"))
    for label, value in _summary_fields(stats):
        summary.append([label, value])

    months = workbook.create_sheet(_("By month"))
    months.append(_month_headers())
    for row in stats["by_month"]:
        months.append(_month_cells(row))

    causes = workbook.create_sheet(_("Pareto of causes"))
    causes.append([_("Cause"), _("Complaints"), _("Share (%)"), _("Cumulative (%)")])
    for row in stats["pareto"]:
        causes.append([row["label"], row["count"], row["share"], row["cumulative"]])
    undetermined = sum(r["count"] for r in stats["by_cause"] if not r["key"])
    if undetermined:
        causes.append([])
        causes.append([_("Not determined yet"), undetermined])

    groups = workbook.create_sheet(_("By customer, product, category"))
    _count_table(groups, _("By category"), _("Category"), stats["by_category"])
    _count_table(groups, _("By customer"), _("Customer"), stats["by_customer"])
    _count_table(groups, _("By product"), _("Product"), stats["by_product"])

    departments = workbook.create_sheet(_("By responsible department"))
    departments.append(_department_headers())
    for row in stats["by_department"]:
        departments.append(_department_cells(row))

    content = _save(workbook)
    log_event(
        "export",
        actor=actor,
        data={"model": "complaints.statistics", "format": "xlsx", "filters": _filter_log(filters)},
    )
    return content


def _summary_fields(stats):
    totals = stats["totals"]
    months = stats["months"]
    return [
        (_("Months"), f"{months[0]} – {months[-1]}"),
        (_("Complaints received"), totals["received"]),
        (_("Complaints closed"), totals["closed"]),
        (_("Closed on time"), totals["closed_on_time"]),
        (_("On-time closure rate (%)"), totals["on_time_rate"]),
        (_("Average days to close"), totals["average_days_to_close"]),
        (_("Repeated complaints"), totals["repeats"]),
        (_("Repeat rate (%)"), totals["repeat_rate"]),
        (_("Cost (loss amount, CNY)"), totals["cost"]),
    ]


def _month_headers():
    return [
        _("Month"),
        _("Received"),
        _("Closed"),
        _("Closed on time"),
        _("On-time closure rate (%)"),
        _("Average days to close"),
        _("Repeated complaints"),
        _("Cost (loss amount, CNY)"),
    ]


def _month_cells(row):
    return [
        row["period"],
        row["received"],
        row["closed"],
        row["closed_on_time"],
        row["on_time_rate"],
        row["average_days_to_close"],
        row["repeats"],
        row["cost"],
    ]


def _department_headers():
    return [
        _("Responsible department"),
        _("Cases"),
        _("Cases weighted by share"),
        _("Share of responsibility (%)"),
        _("Allocated loss (CNY)"),
    ]


def _department_cells(row):
    return [row["label"], row["cases"], row["weighted_cases"], row["ratio"], row["amount"]]


def _text(value):
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _bar(value, largest):
    """A bar of block characters proportional to ``value`` (the chart of the PDF)."""
    if not largest or not value:
        return ""
    return BAR * max(1, round(BAR_WIDTH * float(value) / float(largest)))


def _chart_rows(rows, value_key, *extra):
    largest = max((r[value_key] or 0 for r in rows), default=0)
    return [
        [r["label"], _text(r[value_key]), *[_text(r[k]) for k in extra], _bar(r[value_key], largest)]
        for r in rows
    ]


def statistics_document(stats, *, printed_by="", printed_at=None):
    """The statistics as a printable :class:`~qcare.core.pdf.Document` (active language).

    Charts are bars of block characters in the last column of each table: simple, exact and
    rendered with the embedded Chinese font like the rest of the form.
    """
    from qcare.orders.review_record import company_name, local_time

    printed_at = printed_at or timezone.now()
    months = stats["months"]
    month_rows = [{**row, "label": row["period"]} for row in stats["by_month"]]
    received_largest = max((r["received"] for r in month_rows), default=0)
    sections = [
        Heading(_("1. Summary")),
        FieldGrid([Field(label, _text(value)) for label, value in _summary_fields(stats)], columns=2),
        Heading(_("2. Complaints by month")),
        Table(
            [
                _("Month"),
                _("Received"),
                _("Closed"),
                _("On-time closure rate (%)"),
                _("Average days to close"),
                _("Cost (loss amount, CNY)"),
                _("Received"),
            ],
            [
                [
                    r["period"],
                    _text(r["received"]),
                    _text(r["closed"]),
                    _text(r["on_time_rate"]),
                    _text(r["average_days_to_close"]),
                    _text(r["cost"]),
                    _bar(r["received"], received_largest),
                ]
                for r in month_rows
            ],
            widths=[1, 0.8, 0.8, 1.1, 1.1, 1.3, 2.6],
        ),
        Heading(_("3. Pareto of causes")),
    ]
    if stats["pareto"]:
        sections.append(
            Table(
                [_("Cause"), _("Complaints"), _("Share (%)"), _("Cumulative (%)"), _("Complaints")],
                _chart_rows(stats["pareto"], "count", "share", "cumulative"),
                widths=[2, 0.9, 0.9, 1, 2.6],
            )
        )
    else:
        sections.append(Paragraph(_("No cause has been determined for these complaints yet.")))
    sections += [
        Heading(_("4. By category")),
        Table(
            [_("Category"), _("Complaints"), _("Complaints")],
            _chart_rows(stats["by_category"], "count"),
            widths=[2, 1, 3],
        ),
        Heading(_("5. By responsible department")),
    ]
    if stats["by_department"]:
        largest = max(r["weighted_cases"] for r in stats["by_department"])
        sections.append(
            Table(
                [*_department_headers(), _("Share of responsibility (%)")],
                [
                    [*(_text(v) for v in _department_cells(r)), _bar(r["weighted_cases"], largest)]
                    for r in stats["by_department"]
                ],
                widths=[1.6, 0.7, 1, 1, 1.2, 2.2],
            )
        )
    else:
        sections.append(Paragraph(_("No responsibility recorded on the cases closed in these months.")))
    for number, title, column, key in (
        (6, _("By customer"), _("Customer"), "by_customer"),
        (7, _("By product"), _("Product"), "by_product"),
    ):
        rows = stats[key][:PDF_TOP]
        sections.append(Heading(f"{number}. {title}"))
        if rows:
            sections.append(
                Table(
                    [column, _("Complaints"), _("Complaints")], _chart_rows(rows, "count"), widths=[3, 1, 2.6]
                )
            )
            if len(stats[key]) > PDF_TOP:
                sections.append(
                    Paragraph(
                        _("The %(count)d largest are shown; the xlsx export lists all.") % {"count": PDF_TOP}
                    )
                )
        else:
            sections.append(Paragraph(_("No complaints.")))
    footer = _("Printed by %(who)s at %(when)s.") % {"who": printed_by or "—", "when": local_time(printed_at)}
    return Document(
        title=_("Complaint statistics"),
        number=f"{months[0]} – {months[-1]}",
        company=company_name(),
        sections=sections,
        footer=footer,
        page_label=_("Page %(page)d of %(pages)d"),
    )


def export_statistics_pdf(actor, *, language=None, **filters):
    """The complaint statistics as PDF bytes in ``language`` (default: the active one), with the
    Chinese font embedded. Needs ``complaints.report`` and ``complaints.export``."""
    with translation.override(language or translation.get_language()):
        stats = _statistics(actor, filters)
        document = statistics_document(stats, printed_by=actor.get_full_name() or actor.get_username())
        content = render_pdf(document)
    log_event(
        "export",
        actor=actor,
        data={"model": "complaints.statistics", "format": "pdf", "filters": _filter_log(filters)},
    )
    return content


# --- returns and settlements for finance (R-CO-7) ---------------------------------------------------
def _finance_rows(queryset, *, status=None, customer=None, date_from=None, date_to=None):
    if status:
        queryset = queryset.filter(status=status)
    if customer not in (None, ""):
        queryset = queryset.filter(customer_id=getattr(customer, "pk", customer))
    tz = timezone.get_current_timezone()
    if date_from:
        queryset = queryset.filter(created_at__gte=datetime.combine(date_from, datetime.min.time(), tz))
    if date_to:
        queryset = queryset.filter(created_at__lt=datetime.combine(date_to, datetime.min.time(), tz) + _day())
    return queryset


def _day():
    from datetime import timedelta

    return timedelta(days=1)


RETURN_COLUMNS = (
    (ReturnNote, "number", "number"),
    (ReturnNote, "created_at", "created_at"),
    (Complaint, "number", "complaint__number"),
    (None, "customer_code", "customer__code"),
    (ReturnNote, "customer", "customer__name"),
    (ReturnNote, "product", "product__name"),
    (ReturnNote, "lot_number", "lot_number"),
    (ReturnNote, "approved_quantity", "approved_quantity"),
    (ReturnNote, "received_quantity", "received_quantity"),
    (ReturnNote, "disposition", "disposition"),
    (ReturnNote, "status", "status"),
    (ReturnNote, "reason", "reason"),
    (ReturnNote, "posted_at", "posted_at"),
    (ReturnNote, "escalation_reason", "escalation_reason"),
)


def _return_headers():
    headers = []
    for model, name, _path in RETURN_COLUMNS:
        if model is None:
            headers.append(_("Customer code"))
        elif model is Complaint:
            headers.append(_label(Complaint, "number"))
        else:
            headers.append(_label(model, name))
    headers[1] = _("Issued at")
    return headers


def export_returns(actor, **filters):
    """The return notes (退货单) the actor may export as xlsx bytes; returns ``(content, count)``.

    ``filters``: status, customer, date_from, date_to (issue date). Needs ``returns.export``.
    """
    require_perm(actor, "returns.export")
    notes = _finance_rows(ReturnNote.objects.restrict(actor, "export"), **filters).order_by(
        "-created_at", "-id"
    )
    count = notes.count()
    _too_many(count)
    workbook = _workbook()
    sheet = workbook.create_sheet(_("Return notes"))
    sheet.append(_return_headers())
    converters = {
        "disposition": lambda v: _choice(ReturnDisposition, v),
        "status": lambda v: _choice(ReturnStatus, v),
    }
    paths = [path for _model, _name, path in RETURN_COLUMNS]
    for values in notes.values_list(*paths).iterator(chunk_size=2000):
        sheet.append(
            [
                converters[path](v) if path in converters else _local(v)
                for path, v in zip(paths, values, strict=True)
            ]
        )
    content = _save(workbook)
    log_event(
        "export",
        actor=actor,
        data={"model": "complaints.returnnote", "filters": _filter_log(filters), "count": count},
    )
    return content, count


SETTLEMENT_COLUMNS = (
    ("created_at", "created_at"),
    ("complaint", "complaint__number"),
    ("customer_code", "customer__code"),
    ("customer", "customer__name"),
    ("kind", "kind"),
    ("amount", "amount"),
    ("currency", "currency"),
    ("description", "description"),
    ("status", "status"),
    ("settled_at", "settled_at"),
    ("finance_reference", "finance_reference"),
)


def _settlement_headers():
    headers = []
    for name, _path in SETTLEMENT_COLUMNS:
        if name == "created_at":
            headers.append(_("Recorded at"))
        elif name == "customer_code":
            headers.append(_("Customer code"))
        else:
            headers.append(_label(Settlement, name))
    return headers


def export_settlements(actor, **filters):
    """Allowances (折让) and compensations (赔款) the actor may export, as xlsx bytes with a
    total row per currency; returns ``(content, count)``. ``filters``: status, customer,
    date_from, date_to. Needs ``returns.export``."""
    require_perm(actor, "returns.export")
    settlements = _finance_rows(Settlement.objects.restrict(actor, "export"), **filters).order_by(
        "-created_at", "-id"
    )
    count = settlements.count()
    _too_many(count)
    workbook = _workbook()
    sheet = workbook.create_sheet(_("Allowances and compensations"))
    sheet.append(_settlement_headers())
    converters = {
        "kind": lambda v: _choice(SettlementKind, v),
        "status": lambda v: _choice(SettlementStatus, v),
    }
    paths = [path for _name, path in SETTLEMENT_COLUMNS]
    totals = {}
    for values in settlements.values_list(*paths).iterator(chunk_size=2000):
        row = dict(zip(paths, values, strict=True))
        if row["status"] != SettlementStatus.CANCELLED:
            totals[row["currency"]] = totals.get(row["currency"], Decimal("0")) + row["amount"]
        sheet.append([converters[p](v) if p in converters else _local(v) for p, v in row.items()])
    sheet.append([])
    for currency, total in sorted(totals.items()):
        sheet.append([_("Total (not cancelled)"), "", "", "", "", total, currency])
    content = _save(workbook)
    log_event(
        "export",
        actor=actor,
        data={"model": "complaints.settlement", "filters": _filter_log(filters), "count": count},
    )
    return content, count
