"""Forms of the mechanism screens: e-signature, policy value, signing unlock, numbering pattern."""

from django import forms
from django.utils.translation import gettext_lazy as _

from qcare.core.forms import BootstrapFormMixin, ControlledChangeMixin
from qcare.core.models_mech import SignatureMeaning
from qcare.workcalendar.durations import DurationUnit


class SignatureForm(BootstrapFormMixin, forms.Form):
    """Re-enter the password to sign (P4); ``meanings`` limits the offered meanings."""

    meaning = forms.ChoiceField(label=_("Meaning of the signature"), choices=SignatureMeaning.choices)
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Re-enter your password for every signature; it confirms that you are signing."),
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, meanings=None, require_username=False, **kwargs):
        super().__init__(*args, **kwargs)
        if require_username:
            # First signature since sign-in: both components (user name and password).
            self.fields["username"] = forms.CharField(
                label=_("Your user name"),
                help_text=_("First signature since you signed in: enter your user name and your password."),
                widget=forms.TextInput(attrs={"autocomplete": "username"}),
            )
            self.order_fields(["meaning", "username", "password", "comment"])
        if meanings:
            labels = dict(SignatureMeaning.choices)
            self.fields["meaning"].choices = [(m, labels[m]) for m in meanings]
            if len(meanings) == 1:
                self.fields["meaning"].initial = meanings[0]
                self.fields["meaning"].widget = forms.HiddenInput()
        self.style_fields()

    def signer_kwargs(self):
        """``password`` / ``comment`` (and ``username`` when asked) for the signing service."""
        data = self.cleaned_data
        kwargs = {"password": data["password"], "comment": data["comment"]}
        if "username" in self.fields:
            kwargs["username"] = data["username"]
        return kwargs


class PolicyValueForm(BootstrapFormMixin, ControlledChangeMixin):
    """The value of one policy, with the field(s) its kind needs, and the reason."""

    def __init__(self, *args, policy, initial_value=None, **kwargs):
        self.policy = policy
        super().__init__(*args, **kwargs)
        self.fields.update(self._value_fields(policy))
        self.order_fields(["value", "amount", "unit", "reason"])
        if initial_value is not None and not self.is_bound:
            self.initial.update(self._initial(policy, initial_value))
        self.style_fields()

    @staticmethod
    def _value_fields(policy):
        label, help_text = policy.label, policy.help
        if policy.kind == "duration":
            return {
                "amount": forms.DecimalField(label=label, help_text=help_text, min_value=0, decimal_places=2),
                "unit": forms.ChoiceField(label=_("Unit"), choices=DurationUnit.choices),
            }
        if policy.kind == "bool":
            return {"value": forms.BooleanField(label=label, help_text=help_text, required=False)}
        if policy.kind == "choice":
            return {"value": forms.ChoiceField(label=label, help_text=help_text, choices=policy.choices)}
        if policy.kind == "int":
            return {"value": forms.IntegerField(label=label, help_text=help_text or policy.unit)}
        if policy.kind == "money":
            return {
                "value": forms.DecimalField(
                    label=label, help_text=help_text or _("Amount in CNY"), decimal_places=2
                )
            }
        return {"value": forms.DecimalField(label=label, help_text=help_text or policy.unit)}

    @staticmethod
    def _initial(policy, value):
        if policy.kind == "duration":
            return {"amount": value.amount, "unit": value.unit}
        if policy.kind == "money":
            return {"value": value.amount}
        return {"value": value}

    def raw_value(self):
        """The cleaned input in the shape :func:`qcare.core.policies.set_policy` accepts."""
        data = self.cleaned_data
        if self.policy.kind == "duration":
            return {"amount": data["amount"], "unit": data["unit"]}
        return data["value"]


class ReasonForm(BootstrapFormMixin, forms.Form):
    """Just a reason (unlocking signing, resetting a value)."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Recorded in the audit trail with your name and the time."),
    )


class NumberPatternForm(BootstrapFormMixin, ControlledChangeMixin):
    """A record type's numbering pattern."""

    pattern = forms.CharField(
        label=_("Pattern"),
        max_length=80,
        help_text=_("Tokens: {YYYY} {YY} {MM} {DD} and one {NNN…} (the number of N is the width)."),
    )
    field_order = ["pattern", "reason"]
