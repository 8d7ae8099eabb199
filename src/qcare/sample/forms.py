"""Forms of the sample record screens — the pattern every domain app copies."""

from django import forms
from django.utils.translation import gettext_lazy as _

from qcare.accounts.models import Department
from qcare.core.forms import BootstrapFormMixin, ControlledChangeMixin


class SampleForm(BootstrapFormMixin, forms.Form):
    """Create: the editable fields (the service validates again; the form gives inline errors)."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, initial=0, min_value=0)
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.filter(is_active=True), required=False
    )


class SampleEditForm(SampleForm, ControlledChangeMixin):
    """Edit: the same fields plus the reason (controlled record) and the loaded version."""


class SampleDeleteForm(BootstrapFormMixin, ControlledChangeMixin):
    """Delete: only the reason (and the version that was on screen)."""
