"""Forms of the complaint screens (客户投诉处理表, R-CO-2…5, R-CO-9).

The forms parse input and give early inline errors; the workflow services validate again and
their ``ValidationFailed`` field errors land on the same fields (``run_service``). Select lists
are built from ``values_list`` and resolved in ``clean_*`` against what the user may see, so a
forged id is an ordinary form error. Every form works without JavaScript: the register form's
"customer's shipments" select is refilled by a submit button ("show the shipments"), and htmx
only does the same thing without reloading the page.
"""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department
from qcare.accounts.permissions import scope_for
from qcare.catalog.models import Product
from qcare.complaints.choices import (
    Category,
    CauseCategory,
    Channel,
    Demand,
    Disposition,
    PartyKind,
    ReplyChannel,
    ReplyKind,
    ReportBasis,
    ReportOutcome,
    ReportQuestion,
    Severity,
)
from qcare.core.forms import BootstrapFormMixin, FastSelect
from qcare.core.forms_mech import SignatureForm
from qcare.core.models import Scope
from qcare.customers.models import Contact, Customer
from qcare.orders.forms import CheckboxList, RadioList, product_choices
from qcare.orders.models import ShipmentLine

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TEXTAREA = {"rows": 3}
QUANTITY = {"max_digits": 14, "decimal_places": 3, "min_value": Decimal("0")}
MONEY = {"max_digits": 18, "decimal_places": 2, "min_value": Decimal("0")}
#: The newest shipment lines of a customer offered in the "from the customer's shipments" select.
SHIPMENT_CHOICES_LIMIT = 300
#: Rows of the responsibility table on screen (more with "add a row", no JavaScript needed).
PARTY_ROWS = 3
MAX_PARTY_ROWS = 20
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _to_bool(value):
    return {"yes": True, "no": False}.get(value)


def _user_label(user_row):
    pk, full_name, username = user_row
    return str(pk), full_name or username


def _users_holding(perm):
    """Active staff whose roles grant ``perm`` (or the module's ``*``), by name."""
    module = perm.split(".", 1)[0]
    return (
        get_user_model()
        .objects.filter(is_active=True, customer_portal_link__isnull=True)
        .filter(Q(roles__grants__permission=perm) | Q(roles__grants__permission=f"{module}.*"))
        .distinct()
        .order_by("username")
    )


def owner_choices():
    """``[(pk, name)]`` of the people who may own a complaint (they hold complaints.investigate)."""
    return [
        _user_label(row)
        for row in _users_holding("complaints.investigate").values_list("pk", "full_name", "username")
    ]


def registrable_customers(user):
    """Customers the user may register complaints for: their customers, or all with complaints.add ALL."""
    qs = Customer.objects.filter(anonymised_at__isnull=True)
    if scope_for(user, "complaints.add") != Scope.ALL:
        qs = qs & Customer.objects.restrict(user, "view")
    return qs


def customer_choices(user, current=None):
    rows = list(registrable_customers(user).order_by("code").values_list("pk", "code", "name"))
    if current is not None and current.pk not in {row[0] for row in rows}:
        rows.insert(0, (current.pk, current.code, current.name))
    return [(str(pk), f"{code} {name}") for pk, code, name in rows]


def shipment_choices(customer):
    """``[(pk, label)]`` of the customer's shipment lines, newest first: shipment, date, product, lot."""
    if customer is None:
        return []
    rows = (
        ShipmentLine.objects.filter(customer=customer)
        .order_by("-shipped_on", "-pk")
        .values_list(
            "pk",
            "shipment__number",
            "shipped_on",
            "product__code",
            "product__name",
            "lot_number",
            "serial_number",
            "quantity",
            "order__number",
        )[:SHIPMENT_CHOICES_LIMIT]
    )
    choices = []
    for pk, number, shipped_on, code, name, lot, serial, quantity, order in rows:
        parts = [number, f"{shipped_on:%Y-%m-%d}", f"{code} {name}"]
        if lot:
            parts.append(_("lot %(lot)s") % {"lot": lot})
        if serial:
            parts.append(_("S/N %(serial)s") % {"serial": serial})
        parts.append(_("qty %(quantity)s") % {"quantity": f"{quantity.normalize():f}"})
        parts.append(order)
        choices.append((str(pk), " · ".join(str(p) for p in parts)))
    return choices


def contact_choices(customer):
    if customer is None:
        return []
    rows = Contact.objects.filter(customer=customer, is_active=True).order_by("-is_primary", "name")
    return [(str(pk), name) for pk, name in rows.values_list("pk", "name")]


# --- registration (R-CO-2) --------------------------------------------------------------------
class ComplaintForm(BootstrapFormMixin, forms.Form):
    """Register a complaint: who, how, what was delivered (picked from the customer's shipments)
    and what is wrong. The shipment and contact selects list the chosen customer's rows."""

    customer = forms.ChoiceField(label=_("Customer"), widget=FastSelect)
    contact = forms.ChoiceField(label=_("Customer contact"), required=False, widget=FastSelect)
    contact_name = forms.CharField(
        label=_("Contact person"),
        max_length=100,
        required=False,
        help_text=_("When the person is not among the customer's contacts."),
    )
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=50, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, widget=FastSelect)
    received_at = forms.DateTimeField(label=_("Received at"), widget=DATETIME)
    shipment_line = forms.ChoiceField(
        label=_("From the customer's shipments"),
        required=False,
        widget=FastSelect,
        help_text=_("Fills the order, product, lot/serial, shipping date and quantity."),
    )
    order_reference = forms.CharField(
        label=_("Order / contract number"),
        max_length=100,
        required=False,
        help_text=_("When the shipment is not in QCare."),
    )
    product = forms.ChoiceField(label=_("Product"), required=False, widget=FastSelect)
    part_number = forms.CharField(label=_("Product / part number"), max_length=100, required=False)
    lot_number = forms.CharField(label=_("Lot number"), max_length=60, required=False)
    serial_number = forms.CharField(label=_("Serial number"), max_length=80, required=False)
    shipped_on = forms.DateField(label=_("Shipping date"), required=False, widget=DATE)
    quantity = forms.DecimalField(label=_("Quantity delivered"), required=False, **QUANTITY)
    defective_quantity = forms.DecimalField(label=_("Defective quantity"), required=False, **QUANTITY)
    quantity_pending = forms.BooleanField(
        label=_("Quantity not yet known — the customer is still processing the goods"), required=False
    )
    description = forms.CharField(
        label=_("Description of the problem"), max_length=10000, widget=forms.Textarea(attrs={"rows": 5})
    )
    demands = forms.MultipleChoiceField(
        label=_("Customer's demand"), choices=Demand.choices, required=False, widget=CheckboxList
    )
    demand_details = forms.CharField(
        label=_("Details of the demand"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    claimed_amount = forms.DecimalField(label=_("Amount claimed (CNY)"), required=False, **MONEY)

    #: Fields the services take as they are (the selects are resolved in clean_*).
    PLAIN = (
        "contact_name",
        "contact_phone",
        "channel",
        "received_at",
        "order_reference",
        "part_number",
        "lot_number",
        "serial_number",
        "shipped_on",
        "quantity",
        "defective_quantity",
        "quantity_pending",
        "description",
        "demands",
        "demand_details",
        "claimed_amount",
    )

    def __init__(self, *args, user, complaint=None, refresh_url=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.complaint = user, complaint
        current = complaint.customer if complaint else None
        self.fields["customer"].choices = [("", "—")] + customer_choices(user, current)
        self.fields["received_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        self.fields["product"].choices = [("", "—")] + product_choices(
            {complaint.product_id} if complaint and complaint.product_id else ()
        )
        self.chosen_customer = self._customer_of(
            self.data.get(self.add_prefix("customer")) if self.is_bound else self.initial.get("customer")
        )
        self.fields["shipment_line"].choices = [("", "—")] + shipment_choices(self.chosen_customer)
        self.fields["contact"].choices = [("", "—")] + contact_choices(self.chosen_customer)
        # The customer select refreshes the customer's shipments and contacts (htmx: GET this
        # page with the customer and keep only that part; the "show the shipments" button does
        # the same without JavaScript).
        if refresh_url:
            self.fields["customer"].widget.attrs.update(
                {
                    "hx-get": refresh_url,
                    "hx-target": "#complaint-customer-rows",
                    "hx-select": "#complaint-customer-rows",
                    "hx-swap": "outerHTML",
                    "hx-trigger": "change",
                }
            )

    def _customer_of(self, value):
        value = str(value or "")
        if not value.isdigit():
            return None
        if self.complaint is not None and value == str(self.complaint.customer_id):
            return self.complaint.customer
        return registrable_customers(self.user).filter(pk=value).first()

    @classmethod
    def initial_for(cls, complaint):
        initial = {name: getattr(complaint, name) for name in cls.PLAIN}
        initial["received_at"] = timezone.localtime(complaint.received_at)
        return initial | {
            "customer": str(complaint.customer_id),
            "contact": str(complaint.contact_id or ""),
            "shipment_line": str(complaint.shipment_line_id or ""),
            "product": str(complaint.product_id or ""),
        }

    def clean_customer(self):
        customer = self._customer_of(self.cleaned_data["customer"])
        if customer is None:
            raise forms.ValidationError(_("Choose one of your customers."))
        return customer

    def clean_contact(self):
        value = self.cleaned_data["contact"]
        if not value:
            return None
        contact = (
            Contact.objects.filter(pk=value, customer=self.chosen_customer).first()
            if value.isdigit()
            else None
        )
        if contact is None:
            raise forms.ValidationError(_("Choose a contact of this customer."))
        return contact

    def clean_shipment_line(self):
        value = self.cleaned_data["shipment_line"]
        if not value:
            return None
        line = (
            ShipmentLine.objects.filter(pk=value, customer=self.chosen_customer).first()
            if value.isdigit() and self.chosen_customer is not None
            else None
        )
        if line is None:
            raise forms.ValidationError(_("Choose one of this customer's shipments."))
        return line

    def clean_product(self):
        value = self.cleaned_data["product"]
        if not value:
            return None
        product = Product.objects.filter(pk=value).first() if value.isdigit() else None
        if product is None:
            raise forms.ValidationError(_("Choose a product."))
        return product

    def clean(self):
        cleaned = super().clean()
        quantity, defective = cleaned.get("quantity"), cleaned.get("defective_quantity")
        if quantity is not None and defective is not None and defective > quantity:
            self.add_error(
                "defective_quantity", _("The defective quantity cannot exceed the quantity delivered.")
            )
        return cleaned

    def service_kwargs(self):
        """Keyword arguments of ``services.register_complaint``."""
        data = self.cleaned_data
        kwargs = {name: data[name] for name in self.PLAIN}
        kwargs["demands"] = list(data["demands"])
        for name in (
            "contact_name",
            "contact_phone",
            "order_reference",
            "part_number",
            "lot_number",
            "serial_number",
            "description",
            "demand_details",
        ):
            kwargs[name] = kwargs[name].strip()
        return kwargs | {
            "customer": data["customer"],
            "contact": data["contact"],
            "shipment_line": data["shipment_line"],
            "product": data["product"],
        }

    def update_data(self):
        """The changed registration fields for ``services.update_complaint``."""
        data = self.service_kwargs()
        current = self.complaint
        changed = {}
        for name, value in data.items():
            if name in ("customer", "received_at"):
                continue
            old = getattr(current, name)
            if name in ("demands",):
                if sorted(old or []) != sorted(value):
                    changed[name] = value
            elif old != value and not (old in (None, "") and value in (None, "")):
                changed[name] = value
        return changed


class ComplaintEditForm(ComplaintForm):
    """Correct the registration while the case is open: the reason is recorded (controlled record)."""

    reason = forms.CharField(
        label=_("Reason for the change"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        help_text=_("Recorded in the audit trail with your name and the time."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    #: Who complained and when is fixed once registered (a wrong customer is a new complaint).
    FIXED = ("customer", "received_at")

    def __init__(self, *args, complaint, **kwargs):
        super().__init__(*args, complaint=complaint, **kwargs)
        for name in self.FIXED:
            del self.fields[name]
        self.chosen_customer = complaint.customer
        self.fields["shipment_line"].choices = [("", "—")] + shipment_choices(complaint.customer)
        self.fields["contact"].choices = [("", "—")] + contact_choices(complaint.customer)

    def service_kwargs(self):
        data = self.cleaned_data | {
            "customer": self.complaint.customer,
            "received_at": self.complaint.received_at,
        }
        self.cleaned_data = data
        return super().service_kwargs()


# --- workflow steps (R-CO-3) --------------------------------------------------------------------
class VersionedForm(BootstrapFormMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class TriageForm(VersionedForm):
    """Severity, category, human-error tag and the owner in quality (R-CO-3, R-CO-5)."""

    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, widget=FastSelect)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, widget=FastSelect)
    human_error = forms.BooleanField(label=_("Human error (a non-quality cause)"), required=False)
    owner = forms.ChoiceField(label=_("Owner (quality)"), widget=FastSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—")] + owner_choices()

    def clean_owner(self):
        value = self.cleaned_data["owner"]
        owner = get_user_model().objects.filter(pk=value, is_active=True).first() if value.isdigit() else None
        if owner is None:
            raise forms.ValidationError(_("Choose the owner."))
        return owner

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "severity": data["severity"],
            "category": data["category"],
            "owner": data["owner"],
            "human_error": data["human_error"],
            "expected_version": data.get("version"),
        }


def department_choices():
    return [
        (str(pk), name)
        for pk, name in Department.objects.filter(is_active=True).order_by("code").values_list("pk", "name")
    ]


class DepartmentsForm(BootstrapFormMixin, forms.Form):
    """The departments asked for findings (production, R&D, purchasing …)."""

    departments = forms.MultipleChoiceField(
        label=_("Ask these departments for findings"), required=False, widget=CheckboxList
    )

    def __init__(self, *args, required=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].choices = department_choices()
        self.fields["departments"].required = required

    def chosen(self):
        ids = [int(pk) for pk in self.cleaned_data.get("departments") or []]
        return list(Department.objects.filter(pk__in=ids).order_by("code"))


class FindingForm(BootstrapFormMixin, forms.Form):
    text = forms.CharField(
        label=_("Findings of your department"), max_length=10000, widget=forms.Textarea(attrs=TEXTAREA)
    )


class InvestigationReportForm(BootstrapFormMixin, forms.Form):
    report = forms.CharField(
        label=_("Investigation report"), max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )


class ResponsibilityForm(VersionedForm):
    """Root cause and the responsible parties with their shares (must add up to 100 %)."""

    root_cause = forms.CharField(
        label=_("Root cause"), max_length=10000, widget=forms.Textarea(attrs=TEXTAREA)
    )
    cause_category = forms.ChoiceField(
        label=_("Cause category"), choices=CauseCategory.choices, widget=FastSelect
    )
    rows = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=MAX_PARTY_ROWS)

    def __init__(self, *args, rows=PARTY_ROWS, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_count = rows
        departments = [("", "—")] + department_choices()
        people = [("", "—")] + [
            _user_label(row)
            for row in get_user_model()
            .objects.filter(is_active=True, customer_portal_link__isnull=True)
            .order_by("username")
            .values_list("pk", "full_name", "username")
        ]
        for i in range(rows):
            self.fields[f"party_{i}_kind"] = forms.ChoiceField(
                label=_("Responsible"),
                choices=[("", "—")] + list(PartyKind.choices),
                required=False,
                widget=FastSelect,
            )
            self.fields[f"party_{i}_department"] = forms.ChoiceField(
                label=_("Department"), choices=departments, required=False, widget=FastSelect
            )
            self.fields[f"party_{i}_person"] = forms.ChoiceField(
                label=_("Person"), choices=people, required=False, widget=FastSelect
            )
            self.fields[f"party_{i}_supplier_name"] = forms.CharField(
                label=_("Supplier"), max_length=200, required=False
            )
            self.fields[f"party_{i}_share"] = forms.DecimalField(
                label=_("Share (%)"),
                max_digits=5,
                decimal_places=2,
                required=False,
                min_value=Decimal("0"),
                max_value=Decimal("100"),
            )
        self.style_fields()

    @staticmethod
    def initial_for(complaint):
        initial = {
            "root_cause": complaint.root_cause,
            "cause_category": complaint.cause_category,
            "version": complaint.version,
        }
        for i, party in enumerate(complaint.responsible_parties.order_by("-share", "pk")):
            initial |= {
                f"party_{i}_kind": party.kind,
                f"party_{i}_department": str(party.department_id or ""),
                f"party_{i}_person": str(party.person_id or ""),
                f"party_{i}_supplier_name": party.supplier_name,
                f"party_{i}_share": party.share,
            }
        return initial

    def party_rows(self):
        names = ("kind", "department", "person", "supplier_name", "share")
        return [[self[f"party_{i}_{name}"] for name in names] for i in range(self.row_count)]

    def clean(self):
        cleaned = super().clean()
        self.used_rows = []
        for i in range(self.row_count):
            kind = cleaned.get(f"party_{i}_kind")
            share = cleaned.get(f"party_{i}_share")
            who = {
                PartyKind.DEPARTMENT: "department",
                PartyKind.PERSON: "person",
                PartyKind.SUPPLIER: "supplier_name",
            }.get(kind)
            if not kind and share is None:
                continue
            if not kind:
                self.add_error(f"party_{i}_kind", _("Say who is responsible."))
                continue
            if not (cleaned.get(f"party_{i}_{who}") or "").strip():
                self.add_error(
                    f"party_{i}_{who}",
                    _("Name the responsible %(kind)s.") % {"kind": PartyKind(kind).label.lower()},
                )
            if share is None:
                self.add_error(f"party_{i}_share", _("Enter the share in %."))
            self.used_rows.append(i)
        if not self.used_rows and not self.errors:
            self.add_error(None, _("Name at least one responsible department, person or supplier."))
        return cleaned

    def parties(self):
        data = self.cleaned_data
        result = []
        for i in self.used_rows:
            kind = data[f"party_{i}_kind"]
            party = {"kind": kind, "share": data[f"party_{i}_share"]}
            if kind == PartyKind.DEPARTMENT:
                party["department"] = int(data[f"party_{i}_department"])
            elif kind == PartyKind.PERSON:
                party["person"] = int(data[f"party_{i}_person"])
            else:
                party["supplier_name"] = data[f"party_{i}_supplier_name"].strip()
            result.append(party)
        return result

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "root_cause": data["root_cause"].strip(),
            "cause_category": data["cause_category"],
            "parties": self.parties(),
            "expected_version": data.get("version"),
        }

    def error_field(self, name):
        """Form field of a service error key ("parties.1.share" → the second used row's share)."""
        parts = name.split(".")
        if parts[0] == "parties" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            used = getattr(self, "used_rows", [])
            if index < len(used):
                field = parts[2] if len(parts) > 2 else "share"
                return f"party_{used[index]}_{field}"
        return name


class DispositionForm(BootstrapFormMixin, forms.Form):
    """The disposition proposed (处理方案) with the loss amount; approved by the band's approver."""

    disposition = forms.ChoiceField(label=_("Disposition"), choices=Disposition.choices, widget=FastSelect)
    details = forms.CharField(
        label=_("Disposition details"), max_length=10000, widget=forms.Textarea(attrs=TEXTAREA)
    )
    quantity = forms.DecimalField(label=_("Quantity concerned"), required=False, **QUANTITY)
    loss_amount = forms.DecimalField(label=_("Loss amount (CNY)"), **MONEY)

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "disposition": data["disposition"],
            "details": data["details"].strip(),
            "loss_amount": data["loss_amount"],
            "quantity": data["quantity"],
        }


class ApproveForm(SignatureForm):
    """Approve the disposition (核决) with the password; the signature covers the case as proposed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["approved"], **kwargs)

    def service_kwargs(self):
        return self.signer_kwargs()


class RejectForm(SignatureForm):
    """Send the proposal back to the owner with a reason, signed."""

    reason = forms.CharField(
        label=_("Reason for rejecting"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["rejected"], **kwargs)
        del self.fields["comment"]
        self.order_fields([n for n in ("reason", "meaning", "username", "password") if n in self.fields])

    def service_kwargs(self):
        kwargs = self.signer_kwargs()
        kwargs.pop("comment", None)
        return kwargs | {"reason": self.cleaned_data["reason"].strip()}

    def signer_kwargs(self):
        data = self.cleaned_data
        kwargs = {"password": data["password"]}
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class ReplyForm(BootstrapFormMixin, forms.Form):
    """A reply to the customer: how, when and what was said (the internal form is never sent)."""

    kind = forms.ChoiceField(label=_("Kind of reply"), choices=ReplyKind.choices, widget=FastSelect)
    channel = forms.ChoiceField(label=_("Replied by"), choices=ReplyChannel.choices, widget=FastSelect)
    replied_on = forms.DateField(label=_("Date of the reply"), widget=DATE)
    text = forms.CharField(
        label=_("Text of the reply"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["replied_on"].initial = timezone.localdate()
        if kinds is not None:
            self.fields["kind"].choices = [(k, ReplyKind(k).label) for k in kinds]

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "channel": data["channel"],
            "replied_on": data["replied_on"],
            "text": data["text"].strip(),
        }


class OverdueReasonMixin(forms.Form):
    """The reason for the delay, asked when the case is closed after its close-by date (R-CO-4)."""

    overdue_reason = forms.CharField(
        label=_("Reason for the delay"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required: the case is closed after its close-by date."),
    )

    def __init__(self, *args, late=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not late:
            del self.fields["overdue_reason"]

    def overdue_kwargs(self):
        if "overdue_reason" not in self.fields:
            return {}
        return {"overdue_reason": self.cleaned_data["overdue_reason"].strip()}


class CustomerResponseForm(BootstrapFormMixin, OverdueReasonMixin):
    """The customer's answer to the reply: accepted (the case closes) or rejected (a follow-up opens)."""

    accepted = forms.TypedChoiceField(
        label=_("The customer"),
        choices=[("yes", _("accepts the disposition")), ("no", _("rejects the disposition"))],
        coerce=_to_bool,
        widget=RadioList,
    )
    response = forms.CharField(
        label=_("Customer's response"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs=TEXTAREA),
    )

    field_order = ["accepted", "response", "overdue_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accepted"].widget.attrs["class"] = "form-check-input"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("accepted") is False and not (cleaned.get("response") or "").strip():
            self.add_error("response", _("Write down what the customer objects to."))
        return cleaned

    def service_kwargs(self):
        data = self.cleaned_data
        return {"accepted": data["accepted"], "response": data["response"].strip()} | self.overdue_kwargs()


class FollowUpForm(BootstrapFormMixin, forms.Form):
    """A follow-up complaint on a finished case (same customer, product and lot)."""

    description = forms.CharField(
        label=_("What the customer still complains about"),
        max_length=10000,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("As the original"))] + list(Channel.choices),
        required=False,
        widget=FastSelect,
    )

    def service_kwargs(self):
        data = self.cleaned_data
        return {"description": data["description"].strip(), "channel": data["channel"] or None}


class NotSubstantiatedForm(BootstrapFormMixin, OverdueReasonMixin):
    """Close the case as not substantiated, with the reason (accounts receivable are collected as normal)."""

    reason = forms.CharField(
        label=_("Why the complaint is not substantiated"),
        max_length=10000,
        widget=forms.Textarea(attrs=TEXTAREA),
    )
    confirm = forms.BooleanField(label=_("Yes, close this complaint as not substantiated."))

    field_order = ["reason", "overdue_reason", "confirm"]

    def service_kwargs(self):
        return {"reason": self.cleaned_data["reason"].strip()} | self.overdue_kwargs()


# --- reportability (R-CO-9) ----------------------------------------------------------------------
class ReportabilityForm(SignatureForm):
    """The reportability questions, the decision with its rationale, and the signature."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["reviewed"], **kwargs)
        del self.fields["comment"]
        for question in ReportQuestion:
            self.fields[f"q_{question.value}"] = forms.TypedChoiceField(
                label=question.label, choices=YES_NO, coerce=_to_bool, widget=RadioList
            )
        self.fields["outcome"] = forms.ChoiceField(
            label=_("Decision"), choices=ReportOutcome.choices, widget=RadioList
        )
        self.fields["basis"] = forms.ChoiceField(
            label=_("Basis of the report deadline"),
            choices=[("", "—")] + list(ReportBasis.choices),
            required=False,
            widget=FastSelect,
            help_text=_("Required when reportable."),
        )
        self.fields["authority"] = forms.CharField(
            label=_("Authority"), max_length=200, required=False, help_text=_("Required when reportable.")
        )
        self.fields["rationale"] = forms.CharField(
            label=_("Rationale"), max_length=10000, widget=forms.Textarea(attrs=TEXTAREA)
        )
        order = [f"q_{q.value}" for q in ReportQuestion]
        order += ["outcome", "basis", "authority", "rationale", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])
        self.style_fields()
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs["class"] = "form-check-input"

    def question_fields(self):
        return [self[f"q_{q.value}"] for q in ReportQuestion]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == ReportOutcome.REPORTABLE:
            if not cleaned.get("basis"):
                self.add_error("basis", _("Choose the basis of the report deadline."))
            if not (cleaned.get("authority") or "").strip():
                self.add_error("authority", _("Name the authority the report goes to."))
        return cleaned

    def service_kwargs(self):
        data = self.cleaned_data
        kwargs = {
            "answers": {q.value: data[f"q_{q.value}"] for q in ReportQuestion},
            "outcome": data["outcome"],
            "rationale": data["rationale"].strip(),
            "basis": data["basis"],
            "authority": data["authority"].strip(),
            "password": data["password"],
        }
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs

    def error_field(self, name):
        parts = name.split(".")
        if parts[0] == "answers" and len(parts) > 1:
            return f"q_{parts[1]}"
        return name


class AuthorityReportForm(BootstrapFormMixin, forms.Form):
    """The record of the report sent to the authority."""

    sent_at = forms.DateTimeField(label=_("Report sent at"), widget=DATETIME)
    reference = forms.CharField(label=_("Report reference"), max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sent_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
