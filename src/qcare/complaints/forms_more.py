"""Forms of the feedback register, CAPA, returns and settlements, advisory notices, statistics
and penalties screens (views_more.py).

The forms parse input and give early inline errors; the services (services_feedback,
services_capa, services_returns, services_notices, services_penalties) validate again and
their field errors land on the same fields (``run_service``). Rows of the notice's affected
products/lots are a formset; "add a line" posts back with one more row (no JavaScript).
"""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department
from qcare.catalog.models import Product
from qcare.complaints.choices import (
    ActionKind,
    Category,
    CauseCategory,
    Channel,
    FeedbackKind,
    Fishbone,
    NoticeKind,
    PenaltyKind,
    RecipientAction,
    ReplyChannel,
    ReturnDisposition,
    Risk,
    SettlementKind,
)
from qcare.core.forms import BootstrapFormMixin, FastSelect
from qcare.core.forms_mech import SignatureForm
from qcare.customers.models import Customer
from qcare.orders.forms import customer_choices, product_choices

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MONTH = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
MAX_ITEMS = 100
WHY_COUNT = 5


def _text(label, rows=3, required=True, max_length=5000, **kwargs):
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
        **kwargs,
    )


def users_holding(perm):
    """Active users whose roles grant ``perm`` (or ``module.*``), by name (owner selects)."""
    module = perm.split(".", 1)[0]
    return (
        get_user_model()
        .objects.filter(is_active=True, roles__grants__permission__in=[perm, f"{module}.*"])
        .distinct()
        .order_by("full_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    """A user select labelled "full name (department)"."""

    widget = FastSelect

    def label_from_instance(self, obj):
        name = obj.get_full_name() or obj.get_username()
        return f"{name} ({obj.department.display_name})" if obj.department_id else name


def _user_field(label, perm, required=True, help_text=""):
    return UserChoiceField(
        label=label,
        queryset=users_holding(perm).select_related("department"),
        required=required,
        help_text=help_text,
    )


class _CustomerField(forms.ChoiceField):
    """A customer in the user's view scope (a select of "code name")."""

    def __init__(self, *, user, required=True, **kwargs):
        super().__init__(
            choices=[("", "—")] + customer_choices(user), required=required, widget=FastSelect, **kwargs
        )
        self.user = user

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        customer = Customer.objects.restrict(self.user, "view").filter(pk=value).first()
        if customer is None:
            raise forms.ValidationError(_("Choose one of your customers."))
        return customer


class _ProductField(forms.ChoiceField):
    def __init__(self, *, required=False, current_ids=(), **kwargs):
        super().__init__(
            choices=[("", "—")] + product_choices(current_ids), required=required, widget=FastSelect, **kwargs
        )

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        product = Product.objects.filter(pk=value).first()
        if product is None:
            raise forms.ValidationError(_("Choose a product from the list."))
        return product


# --- feedback register (R-CO-1) ---------------------------------------------------------------
class FeedbackForm(BootstrapFormMixin, forms.Form):
    """Log customer feedback from any channel (顾客信息反馈单)."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    kind = forms.ChoiceField(label=_("Kind of information"), choices=FeedbackKind.choices)
    customer_name = forms.CharField(
        label=_("Customer name"),
        required=False,
        max_length=200,
        help_text=_("When the customer is not in the file."),
    )
    contact_name = forms.CharField(label=_("Contact person"), required=False, max_length=100)
    contact_phone = forms.CharField(label=_("Contact phone"), required=False, max_length=50)
    received_at = forms.DateTimeField(label=_("Received at"), required=False, widget=DATETIME)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    content = _text(_("Content"), rows=4)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        extra = {
            "customer": _CustomerField(user=user, required=False, label=_("Customer")),
            "product": _ProductField(label=_("Product")),
            "owner": _user_field(
                _("Handled by"),
                "feedback.change",
                required=False,
                help_text=_("Leave empty to handle it yourself."),
            ),
        }
        order = ["channel", "kind", "customer", "customer_name", "contact_name", "contact_phone", "product"]
        order += ["received_at", "subject", "content", "owner"]
        self.fields = {name: (fields | extra)[name] for name in order}
        self.style_fields()

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("customer") and not (cleaned.get("customer_name") or "").strip():
            self.add_error("customer_name", _("Choose the customer or enter its name."))
        return cleaned

    def service_kwargs(self):
        data = dict(self.cleaned_data)
        if not data.get("received_at"):
            data.pop("received_at", None)
        if not data.get("owner"):
            data.pop("owner", None)
        return data


class AnswerFeedbackForm(BootstrapFormMixin, forms.Form):
    channel = forms.ChoiceField(label=_("Answered by (channel)"), choices=ReplyChannel.choices)
    answer = _text(_("Answer"), rows=4)


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = _text(_("Reason"), rows=2, max_length=2000)


class CommentForm(BootstrapFormMixin, forms.Form):
    comment = _text(_("Comment"), rows=2, required=False, max_length=2000)


class FeedbackToComplaintForm(BootstrapFormMixin, forms.Form):
    """Convert feedback into a complaint: the fields the complaint needs beyond the feedback's."""

    description = _text(_("Description of the problem"), rows=4)
    lot_number = forms.CharField(label=_("Lot number"), required=False, max_length=60)
    serial_number = forms.CharField(label=_("Serial number"), required=False, max_length=80)
    defective_quantity = forms.DecimalField(
        label=_("Defective quantity"), required=False, min_value=0, max_digits=14, decimal_places=3
    )
    quantity_pending = forms.BooleanField(
        label=_("Quantity not yet known"),
        required=False,
        help_text=_("The customer is still processing the goods."),
    )

    def __init__(self, *args, user, feedback, **kwargs):
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        extra = {
            "customer": _CustomerField(user=user, label=_("Customer")),
            "product": _ProductField(
                label=_("Product"), current_ids=[feedback.product_id] if feedback.product_id else ()
            ),
        }
        order = [
            "customer",
            "product",
            "lot_number",
            "serial_number",
            "defective_quantity",
            "quantity_pending",
        ]
        self.fields = {name: (fields | extra)[name] for name in order + ["description"]}
        self.style_fields()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("defective_quantity") is None and not cleaned.get("quantity_pending"):
            self.add_error(
                "defective_quantity",
                _("Enter the defective quantity or tick “quantity not yet known”."),
            )
        return cleaned

    def service_kwargs(self):
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        data["quantity_pending"] = bool(self.cleaned_data.get("quantity_pending"))
        return data


class FeedbackFromCommunicationForm(BootstrapFormMixin, forms.Form):
    """What kind of information a communication-log entry holds (the rest is copied from it)."""

    kind = forms.ChoiceField(label=_("Kind of information"), choices=FeedbackKind.choices)


class FeedbackToCapaForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    problem = _text(_("Problem description"), rows=4)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _user_field(_("Owner"), "capa.change")
        self.style_fields()


# --- CAPA (R-CO-6) ----------------------------------------------------------------------------
class CapaForm(BootstrapFormMixin, forms.Form):
    """Open a CAPA (纠正和预防措施) — from a complaint, feedback or on its own."""

    title = forms.CharField(label=_("Title"), max_length=200)
    problem = _text(_("Problem description"), rows=4)
    containment = _text(_("Containment"), rows=2, required=False)
    due_on = forms.DateField(label=_("Target date"), required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = dict(self.fields)
        extra = {
            "owner": _user_field(_("Owner"), "capa.change"),
            "product": _ProductField(label=_("Product")),
            "cause_category": forms.ChoiceField(
                label=_("Cause category"), required=False, choices=[("", "—")] + list(CauseCategory.choices)
            ),
        }
        order = ["title", "problem", "owner", "product", "cause_category", "containment", "due_on"]
        self.fields = {name: (fields | extra)[name] for name in order}
        self.style_fields()

    def clean_due_on(self):
        due = self.cleaned_data.get("due_on")
        if due and due < timezone.localdate():
            raise forms.ValidationError(_("The target date cannot be in the past."))
        return due


class AnalysisForm(BootstrapFormMixin, forms.Form):
    """Containment, 5-why, fishbone (5M1E) and root cause of a CAPA."""

    containment = _text(_("Containment"), rows=2, required=False)
    root_cause = _text(_("Root cause"), rows=3, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for index in range(1, WHY_COUNT + 1):
            self.fields[f"why_{index}"] = forms.CharField(
                label=_("Why %(n)d?") % {"n": index}, required=False, max_length=1000
            )
        for key, label in Fishbone.choices:
            self.fields[f"fishbone_{key}"] = _text(label, rows=2, required=False, max_length=2000)
        self.style_fields()

    @staticmethod
    def initial_from(capa):
        initial = {"containment": capa.containment, "root_cause": capa.root_cause, "version": capa.version}
        for index, text in enumerate((capa.why_analysis or [])[:WHY_COUNT], start=1):
            initial[f"why_{index}"] = text
        for key, text in (capa.fishbone or {}).items():
            initial[f"fishbone_{key}"] = text
        return initial

    def why_fields(self):
        return [self[f"why_{i}"] for i in range(1, WHY_COUNT + 1)]

    def fishbone_fields(self):
        return [self[f"fishbone_{key}"] for key in Fishbone.values]

    def service_kwargs(self):
        data = self.cleaned_data
        whys = [data.get(f"why_{i}", "").strip() for i in range(1, WHY_COUNT + 1)]
        while whys and not whys[-1]:
            whys.pop()  # trailing empty answers are not part of the chain
        fishbone = {
            key: data[f"fishbone_{key}"].strip()
            for key in Fishbone.values
            if data.get(f"fishbone_{key}", "").strip()
        }
        return {
            "containment": data["containment"],
            "why_analysis": whys,
            "fishbone": fishbone,
            "root_cause": data["root_cause"],
            "expected_version": data.get("version"),
        }


class ActionForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ActionKind.choices, initial=ActionKind.CORRECTIVE)
    description = _text(_("Action"), rows=2, max_length=2000)
    due_on = forms.DateField(label=_("Due date"), widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = _user_field(_("Owner"), "capa.change")
        self.order_fields(["kind", "description", "owner", "due_on"])
        self.style_fields()

    def clean_due_on(self):
        due = self.cleaned_data["due_on"]
        if due < timezone.localdate():
            raise forms.ValidationError(_("The due date cannot be in the past."))
        return due


class CompleteActionForm(BootstrapFormMixin, forms.Form):
    result = _text(_("Result"), rows=2, max_length=2000)


class VerifyCapaForm(SignatureForm):
    """Quality verifies the effectiveness and signs (meaning "verified")."""

    effective = forms.TypedChoiceField(
        label=_("Were the actions effective?"),
        choices=(("yes", _("Effective: close the CAPA")), ("no", _("Not effective: back to actions"))),
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    verification = _text(_("Verification of effectiveness"), rows=3, max_length=5000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["verified"], **kwargs)
        del self.fields["comment"]
        order = ["effective", "verification", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])
        self.style_fields()

    def signer_kwargs(self):
        data = self.cleaned_data
        kwargs = {
            "password": data["password"],
            "effective": data["effective"],
            "verification": data["verification"],
        }
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


# --- returns and settlements (R-CO-7) ---------------------------------------------------------
class ReceiveReturnForm(SignatureForm):
    """The warehouse records the quantity received and signs (meaning "acknowledged")."""

    received_quantity = forms.DecimalField(
        label=_("Received quantity"), min_value=0, max_digits=14, decimal_places=3
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["acknowledged"], **kwargs)
        del self.fields["comment"]
        order = ["received_quantity", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])
        self.style_fields()

    def signer_kwargs(self):
        data = self.cleaned_data
        kwargs = {"password": data["password"], "received_quantity": data["received_quantity"]}
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class InspectReturnForm(BootstrapFormMixin, forms.Form):
    report = _text(_("Quality abnormality report"), rows=5)


class ResolveReturnForm(BootstrapFormMixin, forms.Form):
    post = forms.TypedChoiceField(
        label=_("Decision"),
        choices=(("yes", _("Post the return as received")), ("no", _("Cancel the return"))),
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    reason = _text(_("Reason"), rows=2, max_length=2000)


class IssueReturnForm(BootstrapFormMixin, forms.Form):
    approved_quantity = forms.DecimalField(
        label=_("Approved quantity"), min_value=0, max_digits=14, decimal_places=3
    )
    disposition = forms.ChoiceField(label=_("Disposition of the goods"), choices=ReturnDisposition.choices)
    reason = _text(_("Reason for the return"), rows=2)
    basis = _text(_("Basis"), rows=2, required=False)


class SettlementForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SettlementKind.choices)
    amount = forms.DecimalField(label=_("Amount (CNY)"), min_value=0, max_digits=18, decimal_places=2)
    description = _text(_("Description"), rows=2, required=False)


class SettleForm(BootstrapFormMixin, forms.Form):
    finance_reference = forms.CharField(label=_("Finance reference (voucher / credit note)"), max_length=100)


# --- advisory notices (R-CO-10) ---------------------------------------------------------------
class NoticeForm(BootstrapFormMixin, forms.Form):
    """The text of an advisory notice / recall (忠告性通知 / 召回)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=NoticeKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    reason = _text(_("Reason"), rows=3)
    risk = forms.ChoiceField(label=_("Risk"), choices=Risk.choices)
    risk_description = _text(_("Risk assessment"), rows=2, required=False)
    action_required = _text(_("Action required of customers"), rows=3)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    @staticmethod
    def initial_from(notice):
        names = ("kind", "title", "reason", "risk", "risk_description", "action_required", "version")
        return {name: getattr(notice, name) for name in names}

    def data_kwargs(self):
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class NoticeItemForm(BootstrapFormMixin, forms.Form):
    """An affected product, with a lot or a serial number (both empty: every unit of the product)."""

    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False, widget=FastSelect)
    lot_number = forms.CharField(label=_("Lot number"), required=False, max_length=60)
    serial_number = forms.CharField(label=_("Serial number"), required=False, max_length=80)

    def __init__(self, *args, product_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—")] + list(product_choices)

    def clean(self):
        cleaned = super().clean()
        used = cleaned.get("lot_number") or cleaned.get("serial_number")
        if used and not cleaned.get("product"):
            self.add_error("product", _("Choose the product of this lot or serial number."))
        return cleaned

    def is_used(self):
        return bool(getattr(self, "cleaned_data", {}).get("product"))


class ItemFormSet(forms.BaseFormSet):
    """The affected rows; "add a line" gives one more row; service errors land on their row."""

    def add_row(self):
        data = self.data.copy()
        key = f"{self.prefix}-TOTAL_FORMS"
        data[key] = str(min(int(data.get(key) or 0) + 1, MAX_ITEMS))
        return type(self)(data, prefix=self.prefix, form_kwargs=self.form_kwargs, initial=self.initial)

    def put_error(self, index, field, messages):
        if index is None or not 0 <= index < len(self.forms):
            return False
        form = self.forms[index]
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
        return True

    def items(self):
        """``(service items, row index of each)`` of the rows with a product."""
        products = {
            p.pk: p
            for p in Product.objects.filter(
                pk__in=[row.cleaned_data["product"] for row in self.forms if row.is_used()]
            )
        }
        items, rows = [], []
        for index, row in enumerate(self.forms):
            if not row.is_used():
                continue
            data = row.cleaned_data
            items.append(
                {
                    "product": products.get(data["product"]),
                    "lot_number": data.get("lot_number", "").strip(),
                    "serial_number": data.get("serial_number", "").strip(),
                }
            )
            rows.append(index)
        return items, rows


NoticeItemFormSet = forms.formset_factory(
    NoticeItemForm, formset=ItemFormSet, extra=0, max_num=MAX_ITEMS, absolute_max=MAX_ITEMS
)


def notice_product_choices(current_ids=()):
    return [(int(pk), label) for pk, label in product_choices(current_ids)]


class IssueNoticeForm(SignatureForm):
    """The management representative issues and signs the notice (meaning "approved")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["approved"], **kwargs)
        del self.fields["comment"]

    def signer_kwargs(self):
        data = self.cleaned_data
        kwargs = {"password": data["password"]}
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class AcknowledgementForm(BootstrapFormMixin, forms.Form):
    """A customer's acknowledgement of the notice and what it did with the units."""

    acknowledged_by_name = forms.CharField(
        label=_("Acknowledged by (customer)"),
        required=False,
        max_length=100,
        help_text=_("The person at the customer who confirmed receipt of the notice."),
    )
    acknowledged_at = forms.DateTimeField(label=_("Acknowledged at"), required=False, widget=DATETIME)
    action = forms.ChoiceField(
        label=_("Action taken"),
        required=False,
        choices=[("", _("Not yet reported"))] + list(RecipientAction.choices),
    )
    quantity_accounted = forms.DecimalField(
        label=_("Quantity accounted for"), required=False, min_value=0, max_digits=14, decimal_places=3
    )
    comment = _text(_("Comment"), rows=2, required=False, max_length=2000)

    def service_kwargs(self):
        data = dict(self.cleaned_data)
        if data.get("acknowledged_at") is None:
            data.pop("acknowledged_at")
        if data.get("quantity_accounted") is None:
            data.pop("quantity_accounted")
        return data


class AuthorityForm(BootstrapFormMixin, forms.Form):
    authority_name = forms.CharField(label=_("Authority notified"), max_length=200)
    notified_at = forms.DateTimeField(label=_("Notified at"), widget=DATETIME)
    reference = forms.CharField(label=_("Authority reference"), required=False, max_length=100)


# --- statistics (R-CO-11) ---------------------------------------------------------------------
def _month(value):
    return value.strftime("%Y-%m")


class StatisticsForm(BootstrapFormMixin, forms.Form):
    """Period (months) and filters of the statistics page; invalid values fall back to defaults."""

    period_from = forms.RegexField(
        label=_("From month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, widget=MONTH
    )
    period_to = forms.RegexField(
        label=_("To month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, widget=MONTH
    )
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", _("All"))] + list(Category.choices)
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"] = forms.ChoiceField(
            label=_("Customer"),
            required=False,
            choices=[("", _("All"))] + customer_choices(user, limit=500),
            widget=FastSelect,
        )
        self.fields["product"] = forms.ChoiceField(
            label=_("Product"),
            required=False,
            choices=[("", _("All"))] + product_choices(),
            widget=FastSelect,
        )
        self.fields["department"] = forms.ModelChoiceField(
            label=_("Department"),
            required=False,
            queryset=Department.objects.order_by("code"),
            empty_label=_("All"),
            widget=FastSelect,
        )
        self.order_fields(["period_from", "period_to", "customer", "product", "category", "department"])
        self.style_fields()
        self.user = user

    @staticmethod
    def default_period():
        """The last twelve months up to this one."""
        today = timezone.localdate()
        year, month = today.year, today.month - 11
        if month <= 0:
            year, month = year - 1, month + 12
        return f"{year:04d}-{month:02d}", _month(today)

    def filters(self):
        """The report's keyword arguments (valid values only; the default period when none)."""
        start, end = self.default_period()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if self.is_bound and not self.is_valid():
            data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        period_from = data.get("period_from") or start
        period_to = data.get("period_to") or end
        if period_from > period_to:
            period_from, period_to = period_to, period_from
        customer = product = None
        if data.get("customer"):
            customer = Customer.objects.restrict(self.user, "view").filter(pk=data["customer"]).first()
        if data.get("product"):
            product = Product.objects.filter(pk=data["product"]).first()
        return {
            "period_from": period_from,
            "period_to": period_to,
            "customer": customer,
            "product": product,
            "category": data.get("category") or None,
            "department": data.get("department"),
        }


# --- penalties (R-CO-8, optional) -------------------------------------------------------------
class PenaltyForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=PenaltyKind.choices)
    amount = forms.DecimalField(
        label=_("Deduction amount"), required=False, min_value=0, max_digits=18, decimal_places=2
    )
    monthly_bonus = forms.DecimalField(
        label=_("Monthly bonus"), required=False, min_value=0, max_digits=18, decimal_places=2
    )
    start_period = forms.RegexField(label=_("First month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", widget=MONTH)
    reason = _text(_("Reason"), rows=2, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"] = UserChoiceField(
            label=_("Person"),
            queryset=get_user_model()
            .objects.filter(is_active=True)
            .filter(~Q(department=None))
            .select_related("department")
            .order_by("full_name"),
        )
        self.order_fields(["person", "kind", "amount", "monthly_bonus", "start_period", "reason"])
        self.style_fields()
