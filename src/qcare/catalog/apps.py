from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "qcare.catalog"
    label = "catalog"
    verbose_name = _("Product catalogue")

    def ready(self):
        from qcare.accounts.permissions import register_permissions

        register_permissions(
            "catalog",
            {"view": _("View the product catalogue"), "change": _("Maintain the product catalogue")},
            label=_("Product catalogue"),
        )
