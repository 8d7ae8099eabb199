"""The contract review record (合同评审表, R-OR-7) of an order, as one printable document.

:func:`build_document` assembles a :class:`qcare.core.pdf.Document` from an order: order
data, lines, requirement checklist, every department's opinion and signature (name, time,
meaning, still valid or not), open points, approval, and the change history (合同变更).
The printable HTML page and the PDF are both made from that one document, so the paper
form and the screen never disagree. Strings are translated in the active language: wrap
the call in ``translation.override(...)`` to print in another one.

The display helpers (:func:`value_text`, :func:`diff_rows`) are shared with the change
and version screens (views_after.py).
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from qcare.catalog.models import Product
from qcare.core.pdf import (
    Document,
    Field,
    FieldGrid,
    Heading,
    Paragraph,
    SignatureRow,
    Signatures,
    Table,
)
from qcare.core.signatures import signatures_for
from qcare.orders import services
from qcare.orders.choices import (
    REQUIREMENT_ITEMS,
    OrderSource,
    OrderStatus,
    RequirementCategory,
    ReviewAspect,
    ReviewStatus,
    Subject,
)
from qcare.orders.models import ChangeRequest, Order, OrderLine, OrderQuestion, OrderReview

DASH = "—"


# --- small formatters ------------------------------------------------------------------------
def local_time(value):
    """An aware datetime as "YYYY-MM-DD HH:MM" in the company time zone ("—" when empty)."""
    if not value:
        return DASH
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def day(value):
    return value.isoformat() if value else DASH


def money(value, currency=""):
    if value is None or value == "":
        return DASH
    try:
        text = f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)
    return f"{currency} {text}".strip()


def quantity(value):
    """A quantity without trailing zeros (10.000 → 10, 2.500 → 2.5)."""
    if value is None or value == "":
        return DASH
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def yes_no(value):
    if value is None:
        return DASH
    return _("Yes") if value else _("No")


def person(user):
    if user is None:
        return DASH
    return user.get_full_name() or user.get_username()


def _label(choices, value):
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or DASH)


def requirement_lines(requirements, special_requirements=()):
    """``[(category label, checked item labels, free text)]`` of a requirement checklist."""
    requirements = requirements or {}
    rows = []
    for category in RequirementCategory:
        entry = requirements.get(str(category)) or {}
        labels = REQUIREMENT_ITEMS.get(category, {})
        items = [str(labels.get(code, code)) for code in entry.get("items", [])]
        rows.append((str(category.label), "、".join(items) or DASH, entry.get("text") or ""))
    return rows


def requirements_text(requirements):
    """A requirement checklist in one text (for diffs and version comparisons)."""
    parts = []
    for label, items, text in requirement_lines(requirements):
        if items != DASH or text:
            parts.append(f"{label}: {items}" + (f" ({text})" if text else ""))
    return "; ".join(parts) or DASH


def special_requirements_text(special):
    if not special:
        return DASH
    return "; ".join(
        f"{item.get('text', '')} [{_('confirmed') if item.get('confirmed') else _('not confirmed')}]"
        for item in special
    )


# --- values of the data shape (content.order_data) -------------------------------------------
def field_label(name, *, line=False):
    """The translated label of a field of the data shape (header or line)."""
    if name == "line":
        return _("Line")
    model = OrderLine if line else Order
    try:
        return capfirst(str(model._meta.get_field(name).verbose_name))
    except Exception:  # noqa: BLE001 - a field the model does not know: show its name
        return name


def value_text(name, value, products=None):
    """A value of the data shape as people read it (product names, Yes/No, requirement labels)."""
    if value is None or value == "":
        return DASH
    if name == "product":
        product = (products or {}).get(value)
        return str(product) if product else str(value)
    if name in ("is_export", "in_stock"):
        return yes_no(value)
    if name == "source":
        return _label(OrderSource, value)
    if name == "requirements":
        return requirements_text(value)
    if name == "special_requirements":
        return special_requirements_text(value)
    if name in ("unit_price", "amount"):
        return money(value)
    if name == "quantity":
        return quantity(value)
    return str(value)


def line_text(line, products=None):
    """A whole line of the data shape in one text (for added / removed lines)."""
    if not line:
        return DASH
    product = value_text("product", line.get("product"), products)
    return (
        f"{product} {line.get('specification') or ''} × {quantity(line.get('quantity'))} "
        f"{line.get('unit') or ''} @ {money(line.get('unit_price'))}; "
        f"{field_label('requested_date', line=True)} {line.get('requested_date') or DASH}"
    ).strip()


def products_of(rows):
    """``{product id: Product}`` of the products named in data-shape lines or diff entries (one query)."""
    ids = set()
    for row in rows or []:
        candidates = [row.get("product")]
        if row.get("field") == "product":
            candidates += [row.get("old"), row.get("new")]
        candidates += [
            side.get("product") for side in (row.get("old"), row.get("new")) if isinstance(side, dict)
        ]
        ids.update(value for value in candidates if isinstance(value, int))
    return Product.objects.in_bulk(ids) if ids else {}


def diff_rows(diff):
    """A change request's diff as table rows ``{field, line_no, old, new, subjects}``.

    An added or removed line appears once per subject in the stored diff; here it is one row.
    """
    products = products_of(diff)
    rows, seen = [], {}
    for change in diff or []:
        key = (change["field"], change.get("line_no"))
        subject = change.get("subject")
        if key in seen:
            if subject and subject not in seen[key]["subject_codes"]:
                seen[key]["subject_codes"].append(subject)
            continue
        line_no = change.get("line_no")
        if change["field"] == "line":
            field = _("Line removed") if change.get("new") is None else _("Line added")
            old, new = line_text(change.get("old"), products), line_text(change.get("new"), products)
        else:
            field = field_label(change["field"], line=line_no is not None)
            old = value_text(change["field"], change.get("old"), products)
            new = value_text(change["field"], change.get("new"), products)
        row = {
            "field": field,
            "line_no": line_no,
            "old": old,
            "new": new,
            "added": change["field"] == "line" and change.get("old") is None,
            "removed": change["field"] == "line" and change.get("new") is None,
            "subject_codes": [subject] if subject else [],
        }
        seen[key] = row
        rows.append(row)
    for row in rows:
        row["subjects"] = "、".join(_subject_label(code) for code in row.pop("subject_codes"))
    return rows


def _subject_label(code):
    if code == "header":
        return str(_("Order header"))
    return _label(Subject, code)


# --- the document ----------------------------------------------------------------------------
def _signature_note(signature):
    return _("valid") if signature.is_valid else _("Invalid — content changed after signing")


def _order_fields(order):
    confirmation = DASH
    if order.confirmation_kind:
        confirmation = f"{order.get_confirmation_kind_display()} {day(order.confirmation_received_on)}"
    order_class = order.get_order_class_display() if order.order_class else DASH
    if order.class_override_reason:
        order_class += " (" + _("overridden: %(reason)s") % {"reason": order.class_override_reason} + ")"
    customer = order.customer
    return [
        Field(_("Customer"), f"{customer.code} {customer.name}"),
        Field(_("Order number"), order.number),
        Field(_("Customer's order / contract number"), order.customer_reference or DASH),
        Field(_("Source"), order.get_source_display()),
        Field(_("Order date"), day(order.order_date)),
        Field(_("Sales person"), person(order.owner)),
        Field(_("Class"), order_class),
        Field(_("Export order"), yes_no(order.is_export)),
        Field(_("Amount"), money(order.total_amount, order.currency)),
        Field(_("Amount (CNY)"), money(order.total_amount_cny, "CNY")),
        Field(_("Payment terms"), order.payment_terms or DASH),
        Field(_("Delivery address"), order.delivery_address or DASH),
        Field(_("Written confirmation"), confirmation),
        Field(_("Status"), order.get_status_display()),
        Field(_("Submitted for review"), local_time(order.submitted_at)),
        Field(_("Review round"), str(order.review_round or DASH)),
    ]


def _decision(order):
    if order.approved_at:
        return _("Approved")
    if order.status == OrderStatus.REJECTED:
        return _("Rejected")
    if order.status == OrderStatus.CANCELLED:
        return _("Cancelled")
    return _("Not decided yet")


def _class_reasons(order):
    return [str(text) for text in services.reason_texts(order.class_reasons)]


def _line_rows(order):
    rows = []
    for line in order.lines.select_related("product").order_by("line_no"):
        notes = [
            f"{field_label(name, line=True)}: {getattr(line, name)}"
            for name in ("delivery_mode", "packaging", "acceptance_criteria")
            if getattr(line, name)
        ]
        rows.append(
            [
                str(line.line_no),
                str(line.product),
                line.specification or DASH,
                f"{quantity(line.quantity)} {line.unit}".strip(),
                money(line.unit_price),
                money(line.amount),
                day(line.requested_date),
                "\n".join(notes),
            ]
        )
    return rows


def _review_rows(reviews):
    rows = []
    for review in reviews:
        aspects = "、".join(_label(ReviewAspect, code) for code in review.aspects) or DASH
        opinion = review.get_opinion_display() if review.opinion else _("Waiting for review")
        comments = review.comments or ""
        if review.proposed_date:
            comments = (
                comments + "\n" + _("Proposed delivery date: %(date)s") % {"date": day(review.proposed_date)}
            ).strip()
        rows.append([review.department.display_name, aspects, opinion, comments or DASH])
    return rows


def _review_signature_rows(reviews):
    rows = []
    for review in reviews:
        signature = review.signature
        if signature is None:
            rows.append(SignatureRow(review.department.display_name, DASH, DASH, DASH, _("not signed yet")))
            continue
        rows.append(
            SignatureRow(
                review.department.display_name,
                signature.signer_full_name,
                signature.get_meaning_display(),
                local_time(signature.signed_at),
                _signature_note(signature),
            )
        )
    return rows


def _record_signature_rows(record, role, changed_later=False):
    """Rows of a record's own signatures; ``changed_later``: the record was changed by an approved
    change request after it was signed, which is why such a signature no longer matches."""
    rows = []
    for signature in signatures_for(record):
        note = _signature_note(signature)
        if changed_later and not signature.is_valid:
            note = _("signed the order before an approved change (see the change history)")
        rows.append(
            SignatureRow(
                role,
                signature.signer_full_name,
                signature.get_meaning_display(),
                local_time(signature.signed_at),
                "\n".join(filter(None, [str(note), signature.comment])),
            )
        )
    return rows


def _signature_headers():
    return [_("Department / role"), _("Name"), _("Meaning"), _("Signed at"), _("Note")]


def _change_sections(order):
    changes = list(
        ChangeRequest.objects.filter(order=order).select_related("requested_by", "decided_by").order_by("pk")
    )
    if not changes:
        return [Paragraph(_("No changes after approval."))]
    rows = []
    for change in changes:
        lines = []
        for row in diff_rows(change.diff):
            where = _("line %(no)s") % {"no": row["line_no"]} + " " if row["line_no"] is not None else ""
            lines.append(f"{where}{row['field']}: {row['old']} → {row['new']}")
        agreed = yes_no(change.customer_agreed)
        rows.append(
            [
                change.number,
                local_time(change.submitted_at or change.created_at),
                change.reason,
                "\n".join(lines) or DASH,
                f"{change.get_status_display()}\n{person(change.decided_by)} {local_time(change.decided_at)}",
                agreed,
            ]
        )
    sections = [
        Table(
            [
                _("Change number"),
                _("Requested"),
                _("Reason"),
                _("Changes"),
                _("Decision"),
                _("Agreed with the customer"),
            ],
            rows,
            widths=[1.2, 1.2, 1.6, 3.2, 1.5, 0.9],
        )
    ]
    signature_rows = []
    for change in changes:
        reviews = (
            OrderReview.objects.filter(change_request=change)
            .exclude(status=ReviewStatus.PENDING)
            .select_related("department", "signature")
        )
        for row in _review_signature_rows(reviews):
            row.role = f"{change.number} {row.role}"
            signature_rows.append(row)
        signature_rows += _record_signature_rows(change, f"{change.number} {_('Approval')}")
    if signature_rows:
        sections.append(Signatures(signature_rows, headers=_signature_headers()))
    return sections


def _question_section(order):
    questions = OrderQuestion.objects.filter(order=order).select_related("department").order_by("raised_at")
    rows = [
        [
            q.department.display_name,
            f"{q.text}\n({local_time(q.raised_at)})",
            f"{q.answer}\n({local_time(q.answered_at)})" if q.answer else DASH,
            q.get_status_display(),
        ]
        for q in questions
    ]
    if not rows:
        return []
    return [
        Heading(_("Open points clarified with the customer")),
        Table(
            [_("Department"), _("Question / open point"), _("Customer's answer"), _("Status")],
            rows,
            widths=[1.2, 3, 3, 1],
        ),
    ]


def company_name():
    return getattr(settings, "QCARE_COMPANY_NAME", "") or ""


def build_document(order, user=None, *, printed_at=None):
    """The review record of ``order`` as a :class:`~qcare.core.pdf.Document` (active language)."""
    printed_at = printed_at or timezone.now()
    reviews = list(services.current_reviews(order).select_related("department", "signature", "reviewer"))
    earlier = list(
        OrderReview.objects.filter(order=order, change_request__isnull=True, status=ReviewStatus.SUPERSEDED)
        .select_related("department", "signature")
        .order_by("department__code", "round")
    )
    reasons = _class_reasons(order)
    sections = [
        Heading(_("1. Order data")),
        FieldGrid(_order_fields(order), columns=2),
    ]
    if reasons:
        sections.append(Paragraph(_("Classification reasons: %(reasons)s") % {"reasons": "; ".join(reasons)}))
    if order.special_delivery:
        sections.append(Paragraph(f"{field_label('special_delivery')}: {order.special_delivery}"))
    sections += [
        Heading(_("2. Order lines")),
        Table(
            [
                _("Line"),
                _("Product"),
                _("Model / specification"),
                _("Quantity"),
                _("Unit price"),
                _("Amount"),
                _("Requested delivery date"),
                _("Delivery, packaging, acceptance"),
            ],
            _line_rows(order),
            widths=[0.6, 2, 1.3, 0.9, 1, 1.1, 1.2, 2],
        ),
        Heading(_("3. Customer requirements")),
        Table(
            [_("Category"), _("Checked"), _("Details")],
            [list(row) for row in requirement_lines(order.requirements)],
            widths=[1.6, 2.4, 3],
        ),
    ]
    if order.special_requirements:
        sections.append(
            Table(
                [_("Special requirement of the customer"), _("Confirmed")],
                [
                    [item.get("text", ""), yes_no(item.get("confirmed"))]
                    for item in order.special_requirements
                ],
                widths=[5, 1],
            )
        )
    sections += [
        Heading(_("4. Department reviews")),
        Table(
            [_("Department"), _("What it reviews"), _("Opinion"), _("Comments / conditions")],
            _review_rows(reviews),
            widths=[1.2, 2, 1.1, 3.4],
        )
        if reviews
        else Paragraph(_("Not submitted for review yet.")),
    ]
    if reviews:
        sections.append(Signatures(_review_signature_rows(reviews), headers=_signature_headers()))
    if earlier:
        sections.append(Paragraph(_("Earlier review rounds (superseded):")))
        sections.append(Signatures(_review_signature_rows(earlier), headers=_signature_headers()))
    sections += _question_section(order)
    decision = [
        Field(_("Approval rule"), str(order.approval_rule) if order.approval_rule_id else DASH),
        Field(_("Decision"), _decision(order)),
        Field(_("Decided by"), f"{person(order.approved_by)} {local_time(order.approved_at)}"),
        Field(_("Approval comment / rejection reason"), order.decision_comment or DASH),
    ]
    sections += [Heading(_("5. Approval")), FieldGrid(decision, columns=1)]
    approval_rows = _record_signature_rows(order, _("Approval"), changed_later=order.change_count > 0)
    if approval_rows:
        sections.append(Signatures(approval_rows, headers=_signature_headers()))
    sections.append(Heading(_("6. Change history")))
    sections += _change_sections(order)
    who = person(user) if user is not None else DASH
    footer = _("Printed by %(who)s at %(when)s. A printed copy is uncontrolled.") % {
        "who": who,
        "when": local_time(printed_at),
    }
    number = order.review_number or order.number
    return Document(
        title=_("Contract review record"),
        number=_("No. %(number)s") % {"number": number},
        company=company_name(),
        sections=sections,
        footer=footer,
        page_label=_("Page %(page)d of %(pages)d"),
    )


def section_kinds(document):
    """``[(kind, section)]`` for the HTML template ("heading", "fieldgrid", "table", …)."""
    return [(type(section).__name__.lower(), section) for section in document.sections]
