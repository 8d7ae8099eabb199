"""Forms of the attachment screens."""

from django import forms
from django.utils.translation import gettext_lazy as _

from qcare.core.forms import BootstrapFormMixin


class UploadForm(BootstrapFormMixin, forms.Form):
    """One file for a record (the checks are in the upload service)."""

    file = forms.FileField(label=_("File"))
    next = forms.CharField(widget=forms.HiddenInput, required=False)


class RemoveForm(BootstrapFormMixin, forms.Form):
    """Why the attachment is taken off the record (it is a controlled record's evidence)."""

    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=500)
    next = forms.CharField(widget=forms.HiddenInput, required=False)
