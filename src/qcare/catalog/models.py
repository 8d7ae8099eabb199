"""Product catalogue. For now the device categories that licence scopes and orders refer to.

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
