"""Forms of the customer file screens.

The forms only parse and give early inline errors; the services validate again and their
``ValidationFailed`` field errors land on the same fields (``run_service``). Field labels
come from the models (``fields_for_model``), so the UI and the model speak one language.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department
from qcare.catalog.models import ProductCategory
from qcare.core.forms import BootstrapFormMixin, ControlledChangeMixin
from qcare.core.forms_mech import SignatureForm
from qcare.customers.choices import ClassificationKind
from qcare.customers.models import (
    Classification,
    Communication,
    Contact,
    Customer,
    CustomerProperty,
    FollowUpAction,
    Licence,
    PropertyIncident,
)
from qcare.customers.services import CONTACT_FIELDS, CUSTOMER_FIELDS

#: The optional first contact on the create form: form field -> Contact field.
FIRST_CONTACT_FIELDS = {
    "contact_name": "name",
    "contact_title": "title",
    "contact_phone": "phone",
    "contact_mobile": "mobile",
    "contact_email": "email",
}
#: Contact field -> field of the create form (to put the service's contact errors inline).
CONTACT_FORM_FIELDS = {target: name for name, target in FIRST_CONTACT_FIELDS.items()}
LICENCE_FIELDS = ("kind", "number", "authority", "valid_from", "valid_until", "scope_text")
PROPERTY_FIELDS = (
    "kind",
    "name",
    "identification",
    "quantity",
    "location",
    "condition",
    "received_on",
    "notes",
)
COMMUNICATION_FIELDS = ("kind", "direction", "subject", "summary", "attendees", "customer_opinions")


class CheckboxList(forms.CheckboxSelectMultiple):
    """Checkboxes in Bootstrap ``form-check`` rows; the container does not get the input class."""

    template_name = "customers/widgets/checkbox_list.html"


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_ACTION_ROWS = 10


def active_users():
    """People who can own a customer or an action (active staff, no portal accounts)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, customer_portal_link__isnull=True)
        .order_by("username")
    )


class ModelFieldsForm(BootstrapFormMixin, forms.Form):
    """A plain form whose fields are copied from a model (labels, choices, lengths)."""

    model = None
    model_fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        declared = dict(self.fields)
        self.fields = fields_for_model(self.model, fields=self.model_fields)
        self.fields.update(declared)  # declared fields (reason, version, extras) come last
        for field in self.fields.values():
            if isinstance(field, forms.DateField) and not isinstance(field, forms.DateTimeField):
                field.widget = DATE
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs["rows"] = 3
        self.style_fields()

    def model_data(self):
        return {name: self.cleaned_data[name] for name in self.model_fields if name in self.cleaned_data}


class CustomerForm(ModelFieldsForm):
    """Create / edit a customer; type-dependent required fields are the service's to enforce."""

    model = Customer
    model_fields = CUSTOMER_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, kind in (
            ("customer_type", ClassificationKind.TYPE),
            ("relationship", ClassificationKind.RELATIONSHIP),
            ("value_class", ClassificationKind.VALUE),
        ):
            self.fields[name].queryset = Classification.objects.filter(kind=kind, is_active=True)
        self.fields["tax_id"].required = False
        # Percent (returns and deliveries, R-CO-7): 0–100; empty means the company default.
        tolerance = self.fields["over_delivery_tolerance"]
        tolerance.validators += [MinValueValidator(0), MaxValueValidator(100)]
        tolerance.widget.attrs.update(min="0", max="100", step="0.01")


class CustomerCreateForm(CustomerForm):
    """Create: the customer, its owner and an optional first contact."""

    owner = forms.ModelChoiceField(label=_("Owner (sales)"), queryset=active_users(), required=False)
    contact_name = forms.CharField(label=_("First contact: name"), max_length=100, required=False)
    contact_title = forms.CharField(label=_("First contact: position"), max_length=100, required=False)
    contact_phone = forms.CharField(label=_("First contact: office phone"), max_length=40, required=False)
    contact_mobile = forms.CharField(label=_("First contact: mobile phone"), max_length=40, required=False)
    contact_email = forms.EmailField(label=_("First contact: work e-mail"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = active_users()
        self.fields["owner"].help_text = _("Empty: you.")

    def first_contacts(self):
        """``[contact data]`` when a contact name was given, else ``[]``."""
        data = {target: self.cleaned_data.get(name) or "" for name, target in FIRST_CONTACT_FIELDS.items()}
        if not data["name"]:
            return []
        return [data | {"is_primary": True}]

    def clean(self):
        cleaned = super().clean()
        others = [n for n in FIRST_CONTACT_FIELDS if n != "contact_name" and cleaned.get(n)]
        if others and not cleaned.get("contact_name"):
            self.add_error("contact_name", _("Enter the contact's name, or leave all contact fields empty."))
        return cleaned


class CustomerEditForm(CustomerForm, ControlledChangeMixin):
    """Edit: the same fields plus reason and version."""


class ReassignForm(BootstrapFormMixin, forms.Form):
    """Hand a customer to another sales person, with a reason."""

    new_owner = forms.ModelChoiceField(label=_("New owner (sales)"), queryset=active_users())
    reason = ControlledChangeMixin.base_fields["reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].queryset = active_users()


class ReasonVersionForm(BootstrapFormMixin, ControlledChangeMixin):
    """Deactivate / cancel: only the reason (and the version on screen)."""


class ContactForm(ModelFieldsForm):
    model = Contact
    model_fields = CONTACT_FIELDS


class ContactEditForm(ContactForm, ControlledChangeMixin):
    pass


class LicenceForm(ModelFieldsForm):
    """Licence with its scope as product categories (医疗器械分类目录)."""

    model = Licence
    model_fields = LICENCE_FIELDS
    categories = forms.ModelMultipleChoiceField(
        label=_("Scope (product categories)"),
        queryset=ProductCategory.objects.none(),
        required=False,
        widget=CheckboxList,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = ProductCategory.objects.all()


class LicenceEditForm(LicenceForm, ControlledChangeMixin):
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Untick when revoked or replaced.")
    )

    def model_data(self):
        return super().model_data() | {"is_active": self.cleaned_data["is_active"]}


class CommunicationForm(ModelFieldsForm):
    """A log entry; plant visits add departments to notify, attendees, opinions, actions."""

    model = Communication
    model_fields = COMMUNICATION_FIELDS
    occurred_at = forms.DateTimeField(
        label=_("Date and time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    contact = forms.ModelChoiceField(
        label=_("Customer contact"), queryset=Contact.objects.none(), required=False
    )
    notified_departments = forms.ModelMultipleChoiceField(
        label=_("Visit notice to departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=CheckboxList,
        help_text=_("For plant visits: these departments receive the visit notice (访厂通知)."),
    )
    rows = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=1, max_value=MAX_ACTION_ROWS
    )

    def __init__(self, *args, customer, rows=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(customer=customer, is_active=True)
        self.fields["notified_departments"].queryset = Department.objects.filter(is_active=True)
        self.row_count = rows
        order = ["kind", "direction", "occurred_at", "contact", "subject", "summary", "notified_departments"]
        self.order_fields(order + ["attendees", "customer_opinions", "rows"])
        for i in range(rows):
            self.fields[f"action_{i}_description"] = forms.CharField(
                label=_("Follow-up action"), required=False, max_length=1000
            )
            self.fields[f"action_{i}_owner"] = forms.ModelChoiceField(
                label=_("Responsible"), queryset=active_users(), required=False
            )
            self.fields[f"action_{i}_due_date"] = forms.DateField(
                label=_("Due date"), required=False, widget=DATE
            )
        self.style_fields()

    def action_rows(self):
        """Bound fields of the follow-up rows, for the template: [(description, owner, due)]."""
        return [
            (self[f"action_{i}_description"], self[f"action_{i}_owner"], self[f"action_{i}_due_date"])
            for i in range(self.row_count)
        ]

    def main_fields(self):
        return [self[name] for name in self.fields if not name.startswith("action_") and name != "rows"]

    def clean(self):
        cleaned = super().clean()
        for i in range(self.row_count):
            description = cleaned.get(f"action_{i}_description")
            owner, due = cleaned.get(f"action_{i}_owner"), cleaned.get(f"action_{i}_due_date")
            if description or owner or due:
                if not owner:
                    self.add_error(f"action_{i}_owner", _("Choose who is responsible."))
                if not due:
                    self.add_error(f"action_{i}_due_date", _("Enter the due date."))
                if not description:
                    self.add_error(f"action_{i}_description", _("Describe the action."))
        return cleaned

    def follow_ups(self):
        """The filled rows as service input; ``self.follow_up_rows[k]`` is the k-th item's row."""
        result = []
        self.follow_up_rows = []
        for i in range(self.row_count):
            description = self.cleaned_data.get(f"action_{i}_description")
            if description:
                self.follow_up_rows.append(i)
                result.append(
                    {
                        "description": description,
                        "owner": self.cleaned_data[f"action_{i}_owner"],
                        "due_date": self.cleaned_data[f"action_{i}_due_date"],
                    }
                )
        return result

    def error_field(self, name):
        """The form field of a service error key ("follow_ups.0.owner" -> "action_<row>_owner")."""
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "follow_ups" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(self.follow_up_rows):
                return f"action_{self.follow_up_rows[index]}_{parts[2]}"
        return name

    def model_data(self):
        data = super().model_data()
        data["occurred_at"] = self.cleaned_data["occurred_at"]
        data["contact"] = self.cleaned_data.get("contact")
        return data


class FollowUpForm(ModelFieldsForm):
    model = FollowUpAction
    model_fields = ("description", "owner", "due_date")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = active_users()


class CompleteActionForm(BootstrapFormMixin, forms.Form):
    result = forms.CharField(label=_("Result"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class PropertyForm(ModelFieldsForm):
    model = CustomerProperty
    model_fields = PROPERTY_FIELDS


class PropertyEditForm(PropertyForm, ControlledChangeMixin):
    pass


class IncidentForm(ModelFieldsForm):
    """Loss, damage or unsuitability; the chosen contact is notified."""

    model = PropertyIncident
    model_fields = ("kind", "occurred_on", "description")
    notify_contact = forms.ModelChoiceField(
        label=_("Customer contact to notify"), queryset=Contact.objects.none(), required=False
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notify_contact"].queryset = Contact.objects.filter(customer=customer, is_active=True)


class AnonymiseForm(SignatureForm):
    """Signed anonymisation: the customer's request reference, the reason and the signature."""

    request_reference = forms.CharField(
        label=_("Request reference"),
        max_length=200,
        help_text=_("E.g. the number or date of the customer's written request."),
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, meanings=["approved"], **kwargs)
        del self.fields["comment"]
        order = ["request_reference", "reason", "meaning", "username", "password"]
        self.order_fields([name for name in order if name in self.fields])

    def service_kwargs(self):
        data = self.cleaned_data
        kwargs = {
            "password": data["password"],
            "request_reference": data["request_reference"],
            "reason": data["reason"],
        }
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class ClassificationForm(ModelFieldsForm):
    model = Classification
    model_fields = ("kind", "code", "name", "name_en", "sort_order", "requires_licence")


class ClassificationEditForm(ModelFieldsForm, ControlledChangeMixin):
    model = Classification
    model_fields = ("name", "name_en", "sort_order", "requires_licence", "is_active")
