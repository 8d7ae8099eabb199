"""Forms of the catalogue screens (the services validate again; forms give inline errors)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from qcare.catalog.models import ProductCategory
from qcare.core.forms import BootstrapFormMixin, ControlledChangeMixin, FastSelect


class ProductForm(BootstrapFormMixin, forms.Form):
    """Create a product."""

    code = forms.CharField(label=_("Product code"), max_length=40)
    name = forms.CharField(label=_("Product name"), max_length=200)
    model = forms.CharField(label=_("Model / specification"), max_length=200, required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=ProductCategory.objects.filter(is_active=True), widget=FastSelect
    )
    is_standard = forms.BooleanField(label=_("Standard product"), required=False, initial=True)
    is_regulated = forms.BooleanField(label=_("Medical device"), required=False, initial=True)
    registration_number = forms.CharField(
        label=_("Registration / filing number"), max_length=100, required=False
    )
    manufacturer = forms.CharField(label=_("Manufacturer"), max_length=200, required=False)
    manufacturer_licence = forms.CharField(
        label=_("Manufacturing licence / filing number"), max_length=100, required=False
    )
    warranty_months = forms.IntegerField(label=_("Warranty (months)"), min_value=0, initial=12)
    unit = forms.CharField(label=_("Unit"), max_length=20, initial="台")
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ProductEditForm(ProductForm, ControlledChangeMixin):
    """Edit: the same fields plus active, the reason and the loaded version."""

    is_active = forms.BooleanField(label=_("Active"), required=False)


class DeactivateForm(BootstrapFormMixin, ControlledChangeMixin):
    """Deactivate: only the reason (and the version on screen)."""


class CategoryForm(BootstrapFormMixin, forms.Form):
    """Add a category."""

    code = forms.CharField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=100, required=False)
    is_regulated = forms.BooleanField(label=_("Regulated medical device"), required=False, initial=True)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class CategoryEditForm(CategoryForm, ControlledChangeMixin):
    """Edit a category with a reason."""


class ImportForm(BootstrapFormMixin, forms.Form):
    """Upload of the filled-in template."""

    file = forms.FileField(label=_("File (.xlsx or .csv)"))
