"""Forms of the order and contract review screens (合同/订单评审).

The forms parse input and give early inline errors; the services validate again and their
``ValidationFailed`` field errors land on the same fields (``run_service`` and the small
error mappers below for line rows, requirement categories and special requirements).
Select lists are built from ``values_list`` (no model instance per option) and resolved in
``clean_*`` against the user's restricted queryset, so a forged id is an ordinary form error.
"""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.forms import formset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department, Role
from qcare.catalog.models import Product
from qcare.core.forms import BootstrapFormMixin, ControlledChangeMixin, FastSelect
from qcare.core.forms_mech import SignatureForm
from qcare.customers.models import Customer
from qcare.orders import services
from qcare.orders.choices import (
    REQUIREMENT_ITEMS,
    ConfirmationKind,
    Opinion,
    OrderClass,
    OrderSource,
    RequirementCategory,
    ReviewAspect,
    Subject,
    TenderBand,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TEXTAREA = {"rows": 2}
#: Blank line rows offered on a new order, and how many "add lines" adds (no JavaScript needed).
NEW_ORDER_ROWS = 3
ADD_ROWS = 3
MAX_LINES = 200
MAX_SPECIAL_ROWS = 30

#: The header and line fields the order services accept (lines without their number).
HEADER_FIELDS = services.HEADER_FIELDS
LINE_FIELDS = tuple(name for name in services.LINE_FIELDS if name != "line_no")


class CheckboxList(forms.CheckboxSelectMultiple):
    """Checkboxes in Bootstrap ``form-check`` rows; the container does not get the input class."""

    template_name = "orders/widgets/checkbox_list.html"


class RadioList(forms.RadioSelect):
    """Radio buttons in Bootstrap ``form-check`` rows (the opinion of a review)."""

    template_name = "orders/widgets/checkbox_list.html"


def _yes_no(blank_label=None):
    choices = [("yes", _("Yes")), ("no", _("No"))]
    if blank_label is not None:
        choices.insert(0, ("", blank_label))
    return choices


def _to_bool(value):
    return {"yes": True, "no": False}.get(value)


def _from_bool(value):
    return {True: "yes", False: "no"}.get(value, "")


def customer_choices(user, current=None, limit=None):
    """``[(pk, "code name")]`` of the active customers the user may sell to (their view scope)."""
    qs = Customer.objects.restrict(user, "view").filter(is_active=True, anonymised_at__isnull=True)
    rows = list(qs.order_by("code").values_list("pk", "code", "name")[:limit])
    if current is not None and current.pk not in {row[0] for row in rows}:
        rows.insert(0, (current.pk, current.code, current.name))  # keep the order's own customer
    return [(str(pk), f"{code} {name}") for pk, code, name in rows]


def product_choices(current_ids=()):
    """``[(pk, "code name model")]`` of the active products (plus inactive ones already on the order)."""
    qs = Product.objects.filter(is_active=True) | Product.objects.filter(pk__in=list(current_ids))
    rows = qs.order_by("code").values_list("pk", "code", "name", "model")
    return [
        (str(pk), " ".join(part for part in (code, name, model) if part)) for pk, code, name, model in rows
    ]


# --- the order: header and lines -------------------------------------------------------------
class OrderHeaderForm(BootstrapFormMixin, forms.Form):
    """Header of an order (R-OR-1). ``customer`` is limited to the user's customers."""

    customer = forms.ChoiceField(label=_("Customer"), widget=FastSelect)
    source = forms.ChoiceField(label=_("Source"), choices=OrderSource.choices, widget=FastSelect)
    customer_reference = forms.CharField(
        label=_("Customer's order / contract number"), max_length=100, required=False
    )
    order_date = forms.DateField(label=_("Order date"), widget=DATE)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="CNY")
    exchange_rate = forms.DecimalField(
        label=_("Exchange rate to CNY"),
        max_digits=12,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        initial=Decimal("1"),
    )
    payment_terms = forms.CharField(label=_("Payment terms"), max_length=200, required=False)
    delivery_address = forms.CharField(label=_("Delivery address"), max_length=300, required=False)
    is_export = forms.TypedChoiceField(
        label=_("Export order"),
        choices=_yes_no(_("As the customer (foreign customer: export)")),
        coerce=_to_bool,
        empty_value=None,
        required=False,
        widget=FastSelect,
    )
    special_delivery = forms.CharField(
        label=_("Special delivery or lead-time demands"),
        required=False,
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text=_("Anything here makes the order special."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs=TEXTAREA))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.order = user, order
        self.fields["customer"].choices = [("", "—")] + customer_choices(
            user, order.customer if order else None
        )
        self.fields["order_date"].initial = timezone.localdate()
        if order is not None:  # an existing order states its export flag explicitly
            self.fields["is_export"].choices = _yes_no()
            self.fields["is_export"].required = True

    @classmethod
    def initial_for(cls, order):
        initial = {name: getattr(order, name) for name in HEADER_FIELDS}
        initial["is_export"] = _from_bool(order.is_export)
        return initial | {
            "customer": str(order.customer_id),
            "source": order.source,
            "version": order.version,
        }

    def clean_customer(self):
        value = self.cleaned_data["customer"]
        qs = Customer.objects.restrict(self.user, "view")
        if self.order is not None and str(self.order.customer_id) == value:
            return self.order.customer
        customer = qs.filter(pk=value, is_active=True).first() if value.isdigit() else None
        if customer is None:
            raise forms.ValidationError(_("Choose one of your customers."))
        return customer

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def header(self):
        """The header fields for create_order / update_order (``is_export`` left out when "as customer")."""
        data = {name: self.cleaned_data[name] for name in HEADER_FIELDS}
        if data["is_export"] is None:
            del data["is_export"]
        return data


class OrderLineForm(BootstrapFormMixin, forms.Form):
    """One line: product, specification (default: the product's model), quantity, price, dates…"""

    line_no = forms.IntegerField(widget=forms.HiddenInput, required=False)
    product = forms.ChoiceField(label=_("Product"), widget=FastSelect)
    specification = forms.CharField(
        label=_("Model / specification"),
        max_length=200,
        required=False,
        help_text=_("Empty: the product's model."),
    )
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=14, decimal_places=3, min_value=Decimal("0.001")
    )
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    unit_price = forms.DecimalField(label=_("Unit price"), max_digits=18, decimal_places=2, min_value=0)
    requested_date = forms.DateField(label=_("Requested delivery date"), required=False, widget=DATE)
    delivery_mode = forms.CharField(label=_("Delivery mode"), max_length=100, required=False)
    packaging = forms.CharField(label=_("Packaging"), max_length=200, required=False)
    acceptance_criteria = forms.CharField(label=_("Acceptance criteria"), max_length=300, required=False)
    in_stock = forms.TypedChoiceField(
        label=_("In stock"),
        choices=_yes_no(_("Not checked")),
        coerce=_to_bool,
        empty_value=None,
        required=False,
        widget=FastSelect,
    )

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—")] + list(products)
        self.style_fields()

    def clean_product(self):
        value = self.cleaned_data["product"]
        product = Product.objects.filter(pk=value).first() if value.isdigit() else None
        if product is None:
            raise forms.ValidationError(_("Choose a product."))
        return product

    def clean(self):
        cleaned = super().clean()
        product = cleaned.get("product")
        if product is not None:
            cleaned["specification"] = (cleaned.get("specification") or "").strip() or product.model
            cleaned["unit"] = (cleaned.get("unit") or "").strip() or product.unit
        return cleaned

    def line(self):
        data = {name: self.cleaned_data.get(name) for name in LINE_FIELDS}
        if self.cleaned_data.get("line_no"):
            data["line_no"] = self.cleaned_data["line_no"]
        return data


class BaseLineFormSet(forms.BaseFormSet):
    """The order lines; blank extra rows are ignored, a ticked "remove" drops an existing line."""

    def clean(self):
        if any(self.errors):
            return
        if not self.filled_forms():
            raise forms.ValidationError(_("Enter at least one order line."))

    def filled_forms(self):
        """The forms that make up the order, in screen order (not removed, not blank)."""
        initial_count = self.initial_form_count()
        return [
            form
            for index, form in enumerate(self.forms)
            if not self._should_delete_form(form)
            and (index < initial_count or form.has_changed())  # existing lines count unchanged
            and form.is_valid()
        ]

    def lines(self):
        self.line_forms = self.filled_forms()
        return [form.line() for form in self.line_forms]

    def put_errors(self, errors):
        """Put a service's ``lines.<i>.<field>`` errors on the i-th submitted row; return the others."""
        others = {}
        forms_by_index = getattr(self, "line_forms", None) or self.filled_forms()
        for key, messages in errors.items():
            parts = key.split(".")
            if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
                index = int(parts[1])
                field = parts[2] if len(parts) > 2 else None
                if index < len(forms_by_index):
                    form = forms_by_index[index]
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
                    continue
            if parts[0] == "lines" and len(parts) == 1:
                self._non_form_errors = self.error_class(list(self.non_form_errors()) + list(messages))
                continue
            others[key] = messages
        return others


def line_formset(data=None, *, initial=None, extra=NEW_ORDER_ROWS, products=()):
    """The lines formset (prefix ``lines``) with ``extra`` blank rows."""
    formset_class = formset_factory(
        OrderLineForm,
        formset=BaseLineFormSet,
        extra=extra,
        can_delete=True,
        max_num=MAX_LINES,
        absolute_max=MAX_LINES,
        validate_max=True,
    )
    formset = formset_class(data, initial=initial, prefix="lines", form_kwargs={"products": products})
    for form in formset.forms:
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove")
            form.fields["DELETE"].widget.attrs["class"] = "form-check-input"
    return formset


def line_initial(order):
    """Initial rows of the formset from an order's lines."""
    return [
        {name: getattr(line, name) for name in LINE_FIELDS if name not in ("product", "in_stock")}
        | {"product": str(line.product_id), "in_stock": _from_bool(line.in_stock), "line_no": line.line_no}
        for line in order.lines.order_by("line_no")
    ]


# --- requirement capture (R-OR-2) -----------------------------------------------------------
class RequirementsForm(BootstrapFormMixin, forms.Form):
    """The four ISO categories as checklists with text, and the special requirements to confirm."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    rows = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=0, max_value=MAX_SPECIAL_ROWS
    )

    def __init__(self, *args, rows=1, **kwargs):
        super().__init__(*args, **kwargs)
        for category in RequirementCategory:
            items = REQUIREMENT_ITEMS[category]
            self.fields[f"{category}_items"] = forms.MultipleChoiceField(
                label=category.label, choices=list(items.items()), required=False, widget=CheckboxList
            )
            self.fields[f"{category}_text"] = forms.CharField(
                label=_("Details"), required=False, max_length=2000, widget=forms.Textarea(attrs=TEXTAREA)
            )
        self.row_count = rows
        for i in range(rows):
            self.fields[f"special_{i}_text"] = forms.CharField(
                label=_("Special requirement"), required=False, max_length=1000
            )
            self.fields[f"special_{i}_confirmed"] = forms.BooleanField(
                label=_("Confirmed with the customer"), required=False
            )
        self.style_fields()

    @staticmethod
    def initial_for(order):
        initial = {"version": order.version}
        for category in RequirementCategory:
            captured = (order.requirements or {}).get(str(category)) or {}
            initial[f"{category}_items"] = captured.get("items", [])
            initial[f"{category}_text"] = captured.get("text", "")
        for i, row in enumerate(order.special_requirements or []):
            initial[f"special_{i}_text"] = row.get("text", "")
            initial[f"special_{i}_confirmed"] = bool(row.get("confirmed"))
        return initial

    def categories(self):
        """``[(label, items field, text field)]`` for the template."""
        return [
            (category.label, self[f"{category}_items"], self[f"{category}_text"])
            for category in RequirementCategory
        ]

    def special_rows(self):
        return [(self[f"special_{i}_text"], self[f"special_{i}_confirmed"]) for i in range(self.row_count)]

    def requirements(self):
        data = self.cleaned_data
        return {
            str(category): {
                "items": list(data[f"{category}_items"]),
                "text": data[f"{category}_text"].strip(),
            }
            for category in RequirementCategory
        }

    def special_requirements(self):
        """The rows with a text, in screen order; ``self.special_rows_used[k]`` is the k-th row's index."""
        result, self.special_rows_used = [], []
        for i in range(self.row_count):
            text = (self.cleaned_data.get(f"special_{i}_text") or "").strip()
            if text:
                self.special_rows_used.append(i)
                result.append(
                    {"text": text, "confirmed": self.cleaned_data.get(f"special_{i}_confirmed", False)}
                )
        return result

    def error_field(self, name):
        """Form field of a service error key ("requirements.explicit", "special_requirements.0.text" …)."""
        parts = name.split(".")
        for category in RequirementCategory:
            if str(category) in parts:
                return f"{category}_items"
        if parts[0] == "special_requirements" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            used = getattr(self, "special_rows_used", [])
            if index < len(used):
                return f"special_{used[index]}_{'confirmed' if 'confirmed' in parts else 'text'}"
        return name


# --- written confirmation (R-OR-3), submission, classification ------------------------------
class ConfirmationForm(BootstrapFormMixin, forms.Form):
    """The customer's written confirmation: kind, date and the document (uploaded or already attached)."""

    kind = forms.ChoiceField(label=_("Written confirmation"), choices=ConfirmationKind.choices)
    received_on = forms.DateField(label=_("Confirmation received on"), widget=DATE)
    file = forms.FileField(
        label=_("Upload the document"),
        required=False,
        help_text=_("The e-mail, fax or signed form as PDF or image."),
    )
    attachment = forms.ChoiceField(label=_("Or choose a file already attached"), required=False)

    def __init__(self, *args, attachments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.attachments = {str(a.pk): a for a in attachments}
        self.fields["attachment"].choices = [("", "—")] + [
            (pk, f"{a.original_name} ({a.uploaded_at:%Y-%m-%d %H:%M})") for pk, a in self.attachments.items()
        ]
        self.fields["received_on"].initial = timezone.localdate()
        self.style_fields()

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("attachment"):
            self.add_error("file", _("Upload the confirmation document or choose one already attached."))
        return cleaned

    def chosen_attachment(self):
        return self.attachments.get(self.cleaned_data.get("attachment") or "")


def _aspect_labels(codes):
    known = set(ReviewAspect.values)
    return [str(ReviewAspect(code).label) for code in codes if code in known]


class SubmitForm(BootstrapFormMixin, forms.Form):
    """Submit for review: the optional departments sales asks for (R-OR-5)."""

    optional_departments = forms.MultipleChoiceField(
        label=_("Also ask these departments to review"), required=False, widget=CheckboxList
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, optional_routes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.routes = {str(route.department_id): route for route in optional_routes}
        self.fields["optional_departments"].choices = [
            (pk, f"{route.department}（{'；'.join(_aspect_labels(route.aspects))}）")
            for pk, route in self.routes.items()
        ]
        if not self.routes:
            del self.fields["optional_departments"]

    def departments(self):
        chosen = self.cleaned_data.get("optional_departments") or []
        return [self.routes[pk].department for pk in chosen]


class ClassOverrideForm(BootstrapFormMixin, forms.Form):
    """Override the computed class (orders.classify) with a reason (R-OR-4)."""

    order_class = forms.ChoiceField(label=_("Class"), choices=OrderClass.choices, widget=FastSelect)
    reason = forms.CharField(
        label=_("Reason for the class override"),
        max_length=1000,
        widget=forms.Textarea(attrs=TEXTAREA),
        help_text=_("Recorded in the audit trail with your name and the time."),
    )


class VersionForm(BootstrapFormMixin, forms.Form):
    """A confirmation with the version on screen (resubmit)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class CancelForm(BootstrapFormMixin, forms.Form):
    """Cancel an order: reason and an explicit confirmation (the confirmation step)."""

    reason = forms.CharField(
        label=_("Reason for cancelling"), max_length=1000, widget=forms.Textarea(attrs=TEXTAREA)
    )
    confirm = forms.BooleanField(label=_("Yes, cancel this order. This cannot be undone."))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


# --- review, questions, approval ---------------------------------------------------------------
class ReviewSignForm(SignatureForm):
    """A department's review (评审意见): opinion, comments, proposed date, signed with the password."""

    opinion = forms.ChoiceField(label=_("Opinion"), choices=Opinion.choices, widget=RadioList)
    comments = forms.CharField(
        label=_("Comments"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you can meet it only with conditions, or cannot meet it."),
    )
    proposed_date = forms.DateField(
        label=_("Proposed delivery date"),
        required=False,
        widget=DATE,
        help_text=_("If you cannot meet the requested date: the date you can meet."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["reviewed"], **kwargs)
        del self.fields["comment"]
        order = ["opinion", "comments", "proposed_date", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])
        self.fields["opinion"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("opinion") in (Opinion.CONDITIONAL, Opinion.CANNOT_MEET)
            and not (cleaned.get("comments") or "").strip()
        ):
            self.add_error("comments", _("Explain the conditions or why it cannot be met."))
        return cleaned

    def service_kwargs(self):
        data = self.cleaned_data
        kwargs = {
            "opinion": data["opinion"],
            "comments": data["comments"].strip(),
            "proposed_date": data.get("proposed_date"),
            "password": data["password"],
        }
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class QuestionForm(BootstrapFormMixin, forms.Form):
    """A reviewer's question or open point for sales to clarify with the customer."""

    text = forms.CharField(
        label=_("Question for the customer"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class AnswerForm(BootstrapFormMixin, forms.Form):
    """Sales records the customer's written answer (and attaches it)."""

    answer = forms.CharField(
        label=_("Customer's answer"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    file = forms.FileField(
        label=_("Customer's written answer (file)"),
        required=False,
        help_text=_("The e-mail, fax or letter with the customer's answer."),
    )


class ApproveForm(SignatureForm):
    """Approve the order (核决) with an e-signature and an optional comment.

    ``version`` is the order version on screen: the approver signs what they read.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["approved"], **kwargs)

    def service_kwargs(self):
        return self.signer_kwargs() | {"expected_version": self.cleaned_data.get("version")}


class RejectForm(SignatureForm):
    """Reject the order with a reason, signed."""

    reason = forms.CharField(
        label=_("Reason for rejecting"), max_length=2000, widget=forms.Textarea(attrs=TEXTAREA)
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["rejected"], **kwargs)
        del self.fields["comment"]
        order = ["reason", "meaning", "username", "password", "version"]
        self.order_fields([name for name in order if name in self.fields])

    def service_kwargs(self):
        data = self.cleaned_data
        kwargs = {
            "password": data["password"],
            "reason": data["reason"].strip(),
            "expected_version": data.get("version"),
        }
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


# --- configuration (orders.configure) -------------------------------------------------------
class RouteForm(BootstrapFormMixin, ControlledChangeMixin):
    """A row of the routing matrix: what a department reviews and which content it signs."""

    order_class = forms.ChoiceField(label=_("Order class"), choices=OrderClass.choices, widget=FastSelect)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    aspects = forms.MultipleChoiceField(
        label=_("What it reviews"), choices=ReviewAspect.choices, widget=CheckboxList
    )
    subjects = forms.MultipleChoiceField(
        label=_("Order content it signs"),
        choices=Subject.choices,
        widget=CheckboxList,
        help_text=_("A change to any of these restarts this department's review."),
    )
    is_optional = forms.BooleanField(
        label=_("Optional"),
        required=False,
        help_text=_("Included only when sales asks for it on submission."),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=32767, initial=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    field_order = [
        "order_class",
        "department",
        "aspects",
        "subjects",
        "is_optional",
        "sort_order",
        "is_active",
        "reason",
    ]

    def __init__(self, *args, route=None, **kwargs):
        super().__init__(*args, **kwargs)
        if route is not None:  # the class and department identify the row: not editable
            del self.fields["order_class"], self.fields["department"]
        else:
            self.fields["department"].queryset = Department.objects.filter(is_active=True)

    @staticmethod
    def initial_for(route):
        return {
            "aspects": list(route.aspects),
            "subjects": list(route.subjects),
            "is_optional": route.is_optional,
            "sort_order": route.sort_order,
            "is_active": route.is_active,
            "version": route.version,
        }

    def data_for_service(self):
        names = ("aspects", "subjects", "is_optional", "sort_order", "is_active")
        return {name: self.cleaned_data[name] for name in names}


class RuleForm(BootstrapFormMixin, ControlledChangeMixin):
    """An approval rule (核决权限): conditions, approver roles, priority."""

    priority = forms.IntegerField(
        label=_("Priority"),
        min_value=0,
        max_value=32767,
        initial=100,
        help_text=_("The active rule with the lowest number that matches decides."),
    )
    name = forms.CharField(label=_("Name"), max_length=100)
    order_class = forms.ChoiceField(
        label=_("Order class"), choices=[("", _("Any"))] + list(OrderClass.choices), required=False
    )
    tender = forms.ChoiceField(label=_("Tender"), choices=TenderBand.choices, initial=TenderBand.ANY)
    is_export = forms.TypedChoiceField(
        label=_("Export"),
        choices=_yes_no(_("Either")),
        coerce=_to_bool,
        empty_value=None,
        required=False,
    )
    amount_from = forms.DecimalField(
        label=_("Amount from (CNY)"), max_digits=18, decimal_places=2, required=False, min_value=0
    )
    amount_below = forms.DecimalField(
        label=_("Amount below (CNY)"), max_digits=18, decimal_places=2, required=False, min_value=0
    )
    approver_roles = forms.ModelMultipleChoiceField(
        label=_("Roles that may approve"), queryset=Role.objects.none(), widget=CheckboxList
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    field_order = [
        "priority",
        "name",
        "order_class",
        "tender",
        "is_export",
        "amount_from",
        "amount_below",
        "approver_roles",
        "is_active",
        "reason",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approver_roles"].queryset = Role.objects.order_by("name")

    @staticmethod
    def initial_for(rule):
        names = ("priority", "name", "order_class", "tender", "amount_from", "amount_below", "is_active")
        initial = {name: getattr(rule, name) for name in names}
        return initial | {
            "is_export": _from_bool(rule.is_export),
            "approver_roles": list(rule.approver_roles.all()),
            "version": rule.version,
        }

    def data_for_service(self):
        names = (
            "priority",
            "name",
            "order_class",
            "tender",
            "is_export",
            "amount_from",
            "amount_below",
            "is_active",
        )
        return {name: self.cleaned_data[name] for name in names}


def sales_people():
    """Active staff who can own orders (no portal accounts), for the list's owner filter."""
    return (
        get_user_model()
        .objects.filter(is_active=True, customer_portal_link__isnull=True)
        .order_by("username")
        .values_list("pk", "full_name", "username")
    )
