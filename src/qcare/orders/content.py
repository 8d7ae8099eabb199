"""The content of an order as data: what reviews and approvals sign, what change requests diff.

Two shapes:

* **data** — the editable form, ``{"header": {...}, "lines": [{...}, ...]}`` with the fields
  of ``HEADER_FIELDS`` and ``LINE_FIELDS`` (values normalised to JSON: decimals as fixed-point
  strings, dates ISO, products by id). :func:`order_data` reads it from the database; change
  requests store their proposal in it (``ChangeRequest.proposed``).
* **content** — the same values grouped by :class:`~qcare.orders.choices.Subject`:
  ``{subject: {"header": {field: value}, "lines": {"<line_no>": {field: value}}}}``. A review
  signs the subjects its department reviews; an approval signs all of it plus the header.

So a change to the delivery date of line 2 changes ``content["delivery_date"]`` only, and only
the signatures over that subject become invalid (P4) — the reviews that must restart.
"""

from datetime import date
from decimal import Decimal

from qcare.orders.choices import Subject

#: Header fields of the data shape and the subject each belongs to (None: signed by approvals only).
HEADER_FIELDS = {
    "customer_reference": None,
    "source": None,
    "currency": Subject.PRICE,
    "exchange_rate": Subject.PRICE,
    "payment_terms": Subject.PAYMENT_TERMS,
    "delivery_address": Subject.DELIVERY_MODE,
    "special_delivery": Subject.DELIVERY_DATE,
    "is_export": Subject.REQUIREMENTS,
    "requirements": Subject.REQUIREMENTS,
    "special_requirements": Subject.REQUIREMENTS,
}
#: Line fields and their subject. ``planned_date`` and ``shipped_quantity`` are fulfilment
#: progress, not content: they change after approval without a change request.
LINE_FIELDS = {
    "product": Subject.PRODUCT,
    "specification": Subject.SPECIFICATION,
    "quantity": Subject.QUANTITY,
    "unit": Subject.QUANTITY,
    "in_stock": Subject.QUANTITY,
    "unit_price": Subject.PRICE,
    "amount": Subject.PRICE,
    "requested_date": Subject.DELIVERY_DATE,
    "delivery_mode": Subject.DELIVERY_MODE,
    "packaging": Subject.PACKAGING,
    "acceptance_criteria": Subject.ACCEPTANCE,
}
#: A line added or removed touches every subject a line carries.
LINE_SUBJECTS = tuple(dict.fromkeys(LINE_FIELDS.values()))

QUANTUM = {"quantity": Decimal("0.001"), "unit_price": Decimal("0.01"), "amount": Decimal("0.01")}
RATE_QUANTUM = Decimal("0.000001")


def normalise(field, value):
    """One value in its canonical JSON form (so DB values and proposals compare equal)."""
    if value is None:
        return None
    if field in QUANTUM:
        return str(Decimal(str(value)).quantize(QUANTUM[field]))
    if field == "exchange_rate":
        return str(Decimal(str(value)).quantize(RATE_QUANTUM))
    if isinstance(value, date):
        return value.isoformat()
    if field == "product" and hasattr(value, "pk"):
        return value.pk
    return value


def order_data(order, lines=None):
    """The order's editable content in the data shape, read from the database (or ``lines``)."""
    if lines is None:
        lines = order.lines.order_by("line_no")
    header = {name: normalise(name, getattr(order, name)) for name in HEADER_FIELDS}
    rows = []
    for line in lines:
        row = {"line_no": line.line_no}
        for name in LINE_FIELDS:
            value = line.product_id if name == "product" else getattr(line, name)
            row[name] = normalise(name, value)
        rows.append(row)
    rows.sort(key=lambda r: r["line_no"])
    return {"header": header, "lines": rows}


def normalise_data(data):
    """Normalise a proposal (e.g. from a form or the API) into the canonical data shape."""
    header = {name: normalise(name, data.get("header", {}).get(name)) for name in HEADER_FIELDS}
    rows = []
    for line in data.get("lines", []):
        row = {"line_no": int(line["line_no"])}
        for name in LINE_FIELDS:
            row[name] = normalise(name, line.get(name))
        rows.append(row)
    rows.sort(key=lambda r: r["line_no"])
    return {"header": header, "lines": rows}


def content_from_data(data):
    """Group the data shape by subject."""
    content = {str(s): {"header": {}, "lines": {}} for s in Subject}
    for name, subject in HEADER_FIELDS.items():
        if subject is not None:
            content[str(subject)]["header"][name] = data["header"].get(name)
    for line in data["lines"]:
        key = str(line["line_no"])
        for name, subject in LINE_FIELDS.items():
            content[str(subject)]["lines"].setdefault(key, {})[name] = line.get(name)
    return content


def order_content(order):
    """The signed content of an order: every subject plus the header fields without one."""
    data = order_data(order)
    content = content_from_data(data)
    content["header"] = {name: data["header"][name] for name, s in HEADER_FIELDS.items() if s is None}
    content["customer"] = order.customer_id
    return content


def review_content(review):
    """What a department's signature covers: its opinion and the subjects it reviews.

    For a review of a change request, the subjects are taken from the proposed content.
    """
    if review.change_request_id:
        content = content_from_data(review.change_request.proposed)
    else:
        content = content_from_data(order_data(review.order))
    return {
        "order": review.order_id,
        "change_request": review.change_request_id,
        "department": review.department_id,
        "round": review.round,
        "opinion": review.opinion,
        "comments": review.comments,
        "proposed_date": normalise("proposed_date", review.proposed_date),
        "subjects": {str(s): content[str(s)] for s in sorted(review.subjects)},
    }


def diff_data(old, new):
    """Field-level differences between two data shapes, each with its subject.

    Returns ``[{"subject", "field", "line_no", "old", "new"}]`` (``line_no`` None for header
    fields; ``field`` "line" with old/new None for an added or removed line).
    """
    changes = []
    for name, subject in HEADER_FIELDS.items():
        before, after = old["header"].get(name), new["header"].get(name)
        if before != after:
            changes.append(
                {"subject": subject or "header", "field": name, "line_no": None, "old": before, "new": after}
            )
    old_lines = {line["line_no"]: line for line in old["lines"]}
    new_lines = {line["line_no"]: line for line in new["lines"]}
    for line_no in sorted(set(old_lines) | set(new_lines)):
        before, after = old_lines.get(line_no), new_lines.get(line_no)
        if before is None or after is None:
            for subject in LINE_SUBJECTS:
                changes.append(
                    {
                        "subject": str(subject),
                        "field": "line",
                        "line_no": line_no,
                        "old": before,
                        "new": after,
                    }
                )
            continue
        for name, subject in LINE_FIELDS.items():
            if before.get(name) != after.get(name):
                changes.append(
                    {
                        "subject": str(subject),
                        "field": name,
                        "line_no": line_no,
                        "old": before.get(name),
                        "new": after.get(name),
                    }
                )
    return changes


def changed_subjects(changes):
    """The subjects touched by a diff, in Subject order."""
    touched = {c["subject"] for c in changes}
    return [str(s) for s in Subject if str(s) in touched]
