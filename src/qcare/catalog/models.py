"""Product catalogue: device categories and the products orders refer to.

The orders issue adds products; each product belongs to a category, and a distributor's
licence (R-CU-3) lists the categories it may trade.
"""

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from qcare.core.models import VersionedModel


class ProductCategory(VersionedModel):
    """A device category (医疗器械分类目录 2017: 01 有源手术器械 … 22 临床检验器械) or a company's own."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    is_regulated = models.BooleanField(
        _("regulated medical device"),
        default=True,
        help_text=_("Selling it needs a valid, in-scope licence."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    permission_module = "catalog"

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["code"]

    def __str__(self):
        label = self.name_en if get_language() == "en" and self.name_en else self.name
        return f"{self.code} {label}"


class Product(VersionedModel):
    """A product the company sells (产品目录): what an order line and a service call refer to.

    Controlled: every change after creation needs a reason (P3). Everyone with
    ``catalog.view`` sees every product, so :meth:`scope_q` ignores own/department scopes.
    """

    code = models.CharField(_("product code"), max_length=40, unique=True)
    name = models.CharField(_("product name"), max_length=200)
    model = models.CharField(_("model / specification"), max_length=200, blank=True)
    category = models.ForeignKey(
        ProductCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="products"
    )
    is_standard = models.BooleanField(
        _("standard product"),
        default=True,
        help_text=_("No means a new or modified product: its orders need a technical review."),
    )
    is_regulated = models.BooleanField(_("medical device"), default=True)
    registration_number = models.CharField(_("registration / filing number"), max_length=100, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=200, blank=True)
    manufacturer_licence = models.CharField(
        _("manufacturing licence / filing number"), max_length=100, blank=True
    )
    warranty_months = models.PositiveIntegerField(_("warranty (months)"), default=12)
    unit = models.CharField(_("unit"), max_length=20, default="台")
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    controlled = True
    permission_module = "catalog"

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["category", "code"], name="catalog_product_cat_code"),
            models.Index(fields=["is_active", "code"], name="catalog_product_active_code"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @classmethod
    def scope_q(cls, user, scope):
        """The catalogue is not confidential: any scope of the permission sees every product."""
        return None
