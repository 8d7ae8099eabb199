"""Forms of the after-approval screens: change requests (合同变更), production notices (生产通知单),
shipments (出货单), traceability (追溯), metrics and the signed decisions on a change.

The forms parse and give early inline errors; the services validate again, and their field
errors (``lines.<index>.<field>``) land on the row and field they concern (``error_field``).
Rows are Django formsets; "add a line" posts back with one more row (no JavaScript needed).
"""

from decimal import Decimal

from django import forms
from django.forms.models import fields_for_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.forms import BootstrapFormMixin, FastSelect
from qcare.core.forms_mech import SignatureForm
from qcare.orders.content import normalise
from qcare.orders.models import Order, OrderLine, Shipment
from qcare.orders.review_record import quantity as quantity_text

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_ROWS = 200
MAX_SERIALS = 1000

#: Header fields of an approved order that a change request may change (data shape names).
CHANGE_HEADER_FIELDS = (
    "customer_reference",
    "currency",
    "exchange_rate",
    "payment_terms",
    "delivery_address",
    "special_delivery",
    "is_export",
)
#: Line fields a change request may change (``amount`` is computed: quantity × unit price).
CHANGE_LINE_FIELDS = (
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
REQUIREMENT_CATEGORIES = ("explicit", "implied", "statutory", "company")


def _style_dates(fields):
    for field in fields.values():
        if isinstance(field, forms.DateField) and not isinstance(field, forms.DateTimeField):
            field.widget = DATE
        if isinstance(field.widget, forms.Textarea):
            field.widget.attrs["rows"] = 2


class RowFormSet(forms.BaseFormSet):
    """A formset whose rows can grow by one ("add a line") and that maps service errors to rows."""

    def add_row(self):
        """The same formset bound to the posted data with one more (empty) row; no errors shown."""
        data = self.data.copy()
        key = f"{self.prefix}-TOTAL_FORMS"
        data[key] = str(min(int(data.get(key) or 0) + 1, MAX_ROWS))
        return type(self)(data, prefix=self.prefix, form_kwargs=self.form_kwargs, initial=self.initial)

    def put_error(self, index, field, messages):
        """Attach service messages to row ``index`` (field errors inline, the rest on the row)."""
        if index is None or not 0 <= index < len(self.forms):
            return False
        form = self.forms[index]
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
        return True


# --- change requests (R-OR-8) -----------------------------------------------------------------
class ChangeForm(BootstrapFormMixin, forms.Form):
    """The header of a change request: the order fields that may change, reason, customer agreement."""

    reason = forms.CharField(
        label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    customer_agreed = forms.BooleanField(
        label=_("Agreed with the customer"),
        required=False,
        help_text=_(
            "Required before the change can be submitted for review. Attach the customer's written agreement on the change page."
        ),
    )
    customer_agreement = forms.CharField(
        label=_("Customer's agreement"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Who agreed, when and how (e.g. e-mail of 3 March from the buyer)."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, documents=None, **kwargs):
        super().__init__(*args, **kwargs)
        if documents is not None:  # editing: the files attached to the change request
            self.fields["agreement_document"] = forms.ModelChoiceField(
                label=_("Customer's agreement document"),
                queryset=documents,
                required=False,
                help_text=_("One of the files attached to this change request."),
            )
        declared = dict(self.fields)
        fields = fields_for_model(Order, fields=CHANGE_HEADER_FIELDS)
        fields["exchange_rate"].required = True
        _style_dates(fields)
        for category in REQUIREMENT_CATEGORIES:
            fields[f"requirements_{category}"] = forms.CharField(
                label=_requirement_label(category), required=False, widget=forms.Textarea(attrs={"rows": 2})
            )
        self.fields = fields | declared
        self.style_fields()

    def header_fields(self):
        return [self[name] for name in CHANGE_HEADER_FIELDS]

    def requirement_fields(self):
        return [self[f"requirements_{category}"] for category in REQUIREMENT_CATEGORIES]

    def change_fields(self):
        names = ("reason", "customer_agreed", "customer_agreement", "agreement_document")
        return [self[name] for name in names if name in self.fields]

    @staticmethod
    def initial_from(data, change=None):
        """Initial values from a data shape (the order's current content or a stored proposal)."""
        header = data["header"]
        initial = {name: header.get(name) for name in CHANGE_HEADER_FIELDS}
        for category in REQUIREMENT_CATEGORIES:
            initial[f"requirements_{category}"] = (
                (header.get("requirements") or {}).get(category) or {}
            ).get("text", "")
        if change is not None:
            initial |= {
                "reason": change.reason,
                "customer_agreed": change.customer_agreed,
                "customer_agreement": change.customer_agreement,
                "agreement_document": change.customer_agreement_attachment_id,
                "version": change.version,
            }
        return initial

    def header_data(self, base_header):
        """The proposed header: the form's fields and the requirements of ``base_header`` with the
        form's texts (the other header fields keep their current values in the service)."""
        header = {}
        for name in CHANGE_HEADER_FIELDS:
            header[name] = normalise(name, self.cleaned_data.get(name))
        requirements = {key: dict(value) for key, value in (base_header.get("requirements") or {}).items()}
        for category in REQUIREMENT_CATEGORIES:
            text = (self.cleaned_data.get(f"requirements_{category}") or "").strip()
            entry = requirements.get(category)
            if (entry or {}).get("text", "") == text:
                continue  # unchanged (an absent text and an empty one are the same)
            requirements[category] = (entry or {"items": []}) | {"text": text}
        header["requirements"] = requirements
        return header


def _requirement_label(category):
    from qcare.orders.choices import RequirementCategory

    return _("Requirements: %(category)s") % {"category": RequirementCategory(category).label}


class ChangeLineForm(BootstrapFormMixin, forms.Form):
    """One line of the proposed order; ``line_no`` empty for a new line; "remove" drops it."""

    line_no = forms.IntegerField(widget=forms.HiddenInput, required=False)
    remove = forms.BooleanField(label=_("Remove"), required=False)

    def __init__(self, *args, product_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        declared = dict(self.fields)
        fields = fields_for_model(OrderLine, fields=CHANGE_LINE_FIELDS)
        fields["product"] = forms.TypedChoiceField(
            label=fields["product"].label,
            choices=[("", "---------")] + list(product_choices),
            coerce=int,
            widget=FastSelect,
        )
        fields["quantity"].validators.append(_positive)
        fields["unit_price"].validators.append(_not_negative)
        fields["in_stock"].widget = forms.NullBooleanSelect()
        _style_dates(fields)
        for name in ("specification", "delivery_mode", "packaging", "acceptance_criteria"):
            fields[name].widget = forms.TextInput()
        self.fields = declared | fields
        self.style_fields()

    def has_content(self):
        return bool(self.cleaned_data.get("product")) and not self.cleaned_data.get("remove")

    def line_data(self):
        """This row as a proposed line (data shape; no ``line_no`` for a new line: the service numbers it)."""
        data = {name: normalise(name, self.cleaned_data.get(name)) for name in CHANGE_LINE_FIELDS}
        if self.cleaned_data.get("line_no") is not None:
            data["line_no"] = self.cleaned_data["line_no"]
        return data


def _positive(value):
    if value is not None and value <= 0:
        raise forms.ValidationError(_("The quantity must be greater than zero."))


def _not_negative(value):
    if value is not None and value < 0:
        raise forms.ValidationError(_("The price cannot be negative."))


ChangeLineFormSet = forms.formset_factory(
    ChangeLineForm, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS
)


def line_initial(data):
    """Formset initial rows from the lines of a data shape (quantities without trailing zeros)."""
    rows = []
    for line in data["lines"]:
        row = {name: line.get(name) for name in ("line_no", *CHANGE_LINE_FIELDS)}
        if row["quantity"] is not None:
            row["quantity"] = quantity_text(row["quantity"])
        rows.append(row)
    return rows


def proposed_data(form, formset, base):
    """The proposal for the change service from the change form and its rows.

    Returns ``(proposed, rows)``: ``proposed`` is ``{"header", "lines"}`` — the header fields of
    the form over ``base`` (source, requirement checkboxes and special requirements carried
    over), the lines in the order of the rows, removed and empty rows left out; ``rows[i]`` is
    the formset row of proposed line ``i`` (service errors ``lines.<i>.<field>`` go there).
    """
    header = form.header_data(base["header"])
    lines, rows = [], []
    for index, row in enumerate(formset.forms):
        if not row.cleaned_data or not row.has_content():
            continue  # an empty new row, or a line marked "remove"
        lines.append(row.line_data())
        rows.append(index)
    return {"header": header, "lines": lines}, rows


class DecisionForm(SignatureForm):
    """Approve a change request: the approver's signature (meaning fixed to "approved")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["approved"], **kwargs)


class RejectForm(SignatureForm):
    """Reject a change request: a reason and the signature (meaning "rejected")."""

    reason = forms.CharField(
        label=_("Reason for the rejection"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["rejected"], **kwargs)
        del self.fields["comment"]
        order = ["reason", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])

    def signer_kwargs(self):
        data = self.cleaned_data
        kwargs = {"password": data["password"], "reason": data["reason"]}
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class CommentForm(BootstrapFormMixin, forms.Form):
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


# --- production notice (R-OR-9) ---------------------------------------------------------------
class NoticeForm(BootstrapFormMixin, forms.Form):
    notes = forms.CharField(
        label=_("Notes to production"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class NoticeLineForm(BootstrapFormMixin, forms.Form):
    """One order line on the notice: how many to make and when (empty quantity: not on the notice)."""

    order_line = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.DecimalField(label=_("Quantity"), required=False, max_digits=14, decimal_places=3)
    planned_date = forms.DateField(label=_("Planned date"), required=False, widget=DATE)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("quantity") is not None and not cleaned.get("planned_date"):
            self.add_error("planned_date", _("Enter the planned date."))
        return cleaned


NoticeLineFormSet = forms.formset_factory(
    NoticeLineForm, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS
)


def notice_lines(formset):
    """``(service lines, row index of each)`` of the rows with a quantity."""
    lines, rows = [], []
    for index, row in enumerate(formset.forms):
        if row.cleaned_data.get("quantity") is None:
            continue
        lines.append(
            {
                "order_line": row.cleaned_data["order_line"],
                "quantity": row.cleaned_data["quantity"],
                "planned_date": row.cleaned_data["planned_date"],
            }
        )
        rows.append(index)
    return lines, rows


# --- shipment (R-OR-9) ------------------------------------------------------------------------
class ShipmentForm(BootstrapFormMixin, forms.Form):
    shipped_on = forms.DateField(label=_("Shipping date"), widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        declared = dict(self.fields)
        fields = fields_for_model(
            Shipment, fields=("delivery_note_number", "carrier", "waybill_number", "notes")
        )
        _style_dates(fields)
        self.fields = declared | fields
        self.style_fields()


class ShipmentLineForm(BootstrapFormMixin, forms.Form):
    """One row of the shipment: an order line, a quantity or serial numbers, lot, dates.

    Serial numbers (one per line of the text box, or separated by commas or spaces) expand into
    one shipment line of one unit each — how the warehouse scans them off the boxes.
    """

    order_line = forms.TypedChoiceField(label=_("Order line"), coerce=int, required=False, widget=FastSelect)
    quantity = forms.DecimalField(label=_("Quantity"), required=False, max_digits=14, decimal_places=3)
    lot_number = forms.CharField(label=_("Lot number"), required=False, max_length=60)
    serial_numbers = forms.CharField(
        label=_("Serial numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line (or separated by spaces or commas); each ships one unit."),
    )
    production_date = forms.DateField(label=_("Production date"), required=False, widget=DATE)
    expiry_date = forms.DateField(label=_("Expiry date"), required=False, widget=DATE)

    def __init__(self, *args, line_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order_line"].choices = [("", "---------")] + list(line_choices)

    def clean(self):
        cleaned = super().clean()
        serials = split_serials(cleaned.get("serial_numbers") or "")
        cleaned["serials"] = serials
        if len(serials) > MAX_SERIALS:
            self.add_error(
                "serial_numbers", _("At most %(limit)d serial numbers per row.") % {"limit": MAX_SERIALS}
            )
        duplicates = sorted({s for s in serials if serials.count(s) > 1})
        if duplicates:
            self.add_error(
                "serial_numbers",
                _("Entered twice: %(serials)s") % {"serials": ", ".join(duplicates)},
            )
        quantity = cleaned.get("quantity")
        if serials and quantity is not None and quantity != len(serials):
            self.add_error(
                "quantity",
                _("%(count)d serial numbers entered but the quantity is %(quantity)s.")
                % {"count": len(serials), "quantity": quantity.normalize()},
            )
        if self.is_used(cleaned) and not cleaned.get("order_line"):
            self.add_error("order_line", _("Select a line of this order."))
        return cleaned

    @staticmethod
    def is_used(cleaned):
        return cleaned.get("quantity") is not None or bool(cleaned.get("serials"))

    def service_lines(self):
        """The shipment lines of this row: one per serial number, else one with the quantity."""
        data = self.cleaned_data
        common = {
            "order_line": data.get("order_line"),
            "lot_number": data.get("lot_number") or "",
            "production_date": data.get("production_date"),
            "expiry_date": data.get("expiry_date"),
        }
        if data.get("serials"):
            return [common | {"quantity": Decimal("1"), "serial_number": s} for s in data["serials"]]
        return [common | {"quantity": data.get("quantity"), "serial_number": ""}]


def split_serials(text):
    """Serial numbers from a text box: split at line breaks, commas (also full-width) and spaces."""
    for separator in ("，", ",", "；", ";", "\t", "\r"):
        text = text.replace(separator, "\n")
    return [part for chunk in text.split("\n") for part in chunk.split() if part]


ShipmentLineFormSet = forms.formset_factory(
    ShipmentLineForm, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS
)

#: A service error on a shipment line's field → the field of the form row.
SHIPMENT_FIELD_OF = {"serial_number": "serial_numbers"}


def shipment_lines(formset):
    """``(service lines, row index of each service line)`` of the rows in use."""
    lines, rows = [], []
    for index, row in enumerate(formset.forms):
        if not ShipmentLineForm.is_used(row.cleaned_data):
            continue
        for line in row.service_lines():
            lines.append(line)
            rows.append(index)
    return lines, rows


# --- traceability, metrics --------------------------------------------------------------------
class TraceForm(BootstrapFormMixin, forms.Form):
    """Search a lot or a serial number (追溯)."""

    KIND_CHOICES = (("lot", _("Lot number")), ("serial", _("Serial number")))

    kind = forms.ChoiceField(label=_("Search by"), choices=KIND_CHOICES, initial="lot")
    number = forms.CharField(label=_("Lot or serial number"), max_length=80)
    product = forms.CharField(
        label=_("Product code"),
        required=False,
        max_length=40,
        help_text=_("Optional: the same lot number may exist for several products."),
    )

    def clean_number(self):
        return self.cleaned_data["number"].strip()


def year_choices(first=None):
    this_year = timezone.localdate().year
    first = first or this_year - 5
    return [(year, str(year)) for year in range(this_year, first - 1, -1)]


class YearForm(BootstrapFormMixin, forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices()
        self.fields["year"].initial = timezone.localdate().year

    def chosen_year(self):
        if self.is_valid():
            return self.cleaned_data["year"]
        return timezone.localdate().year
