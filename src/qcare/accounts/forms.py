"""Forms of the sign-in, profile and administration screens (validation of input only).

The changes themselves are made by :mod:`qcare.accounts.services`.
"""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department, Role, User
from qcare.accounts.permissions import access_expired
from qcare.accounts.services import DEPARTMENT_FIELDS, PROFILE_FIELDS, ROLE_FIELDS, USER_FIELDS


class CheckboxList(forms.CheckboxSelectMultiple):
    """Checkboxes laid out as a Bootstrap grid (roles on the user form)."""

    template_name = "accounts/widgets/checkbox_list.html"
    option_template_name = "accounts/widgets/checkbox_option.html"


class BootstrapMixin:
    """Adds Bootstrap 5 classes to the widgets, and ``is-invalid`` to fields with errors."""

    def add_error(self, field, error):
        super().add_error(field, error)
        # Every error goes through add_error (field validation, clean(), service errors).
        names = error.error_dict.keys() if hasattr(error, "error_dict") else [field]
        for name in names:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:  # the reason for the change comes last, next to the button
            self.fields["reason"] = self.fields.pop("reason")
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        help_text=_("Recorded in the audit trail."),
    )


class LoginForm(BootstrapMixin, AuthenticationForm):
    """Django's sign-in form; time-limited accounts past their expiry are refused too."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "expired": _("This account's access has expired. Please contact the administrator."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if access_expired(user):
            raise forms.ValidationError(self.error_messages["expired"], code="expired")

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError as error:
            # The authentication backend refuses expired accounts outright; with the right
            # password, tell the person why instead of "wrong user name or password".
            if error.code == "invalid_login" and self._is_expired_with_right_password():
                raise forms.ValidationError(self.error_messages["expired"], code="expired")
            raise

    def _is_expired_with_right_password(self):
        from django.contrib.auth import get_user_model

        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        user = get_user_model()._default_manager.filter(username=username).first()
        return bool(user and user.is_active and access_expired(user) and user.check_password(password or ""))


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class UserForm(BootstrapMixin, ReasonMixin, forms.ModelForm):
    roles = forms.ModelMultipleChoiceField(
        label=_("Roles"), queryset=Role.objects.all(), required=False, widget=CheckboxList
    )

    class Meta:
        model = User
        fields = USER_FIELDS
        widgets = {"access_expires_at": DateTimeLocalInput()}

    field_order = ["full_name", "username", "email", "department", "roles"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["department"].queryset = Department.objects.filter(is_active=True)
        if self.instance.pk:
            self.initial.setdefault("roles", list(self.instance.roles.all()))

    def _post_clean(self):
        # Model validation is done by the service (it also serves the API); only the form's fields here.
        pass


class NewUserForm(UserForm):
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(render_value=False),
        help_text=_("The user must change it at first sign-in."),
    )


class SetPasswordForm(BootstrapMixin, ReasonMixin, forms.Form):
    password1 = forms.CharField(label=_("Temporary password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Repeat the password"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords do not match."))
        return data


class PasswordChangeForm(BootstrapMixin, forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password1 = forms.CharField(label=_("New password"), widget=forms.PasswordInput)
    new_password2 = forms.CharField(label=_("Repeat the new password"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords do not match."))
        return data


class ProfileForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = PROFILE_FIELDS

    def _post_clean(self):
        pass


class ConfirmForm(BootstrapMixin, ReasonMixin, forms.Form):
    """A destructive action: confirmation by POST, optional reason."""


class DepartmentForm(BootstrapMixin, ReasonMixin, forms.ModelForm):
    class Meta:
        model = Department
        fields = DEPARTMENT_FIELDS

    def _post_clean(self):
        pass


class RoleForm(BootstrapMixin, ReasonMixin, forms.ModelForm):
    class Meta:
        model = Role
        fields = ROLE_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def _post_clean(self):
        pass


class TokenForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the token is for, e.g. ERP."))
    expires_at = forms.DateTimeField(label=_("Expires at"), required=False, widget=DateTimeLocalInput())


class UserFilterForm(BootstrapMixin, forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.all(), required=False
    )
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.all(), required=False)
    active = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), ("1", _("Active")), ("0", _("Inactive"))],
    )
