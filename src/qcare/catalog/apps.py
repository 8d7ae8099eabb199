from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
        from qcare.catalog.views import register_ui

        register_ui()
        post_migrate.connect(_seed_categories, sender=self, dispatch_uid="qcare.catalog.seed")


def _seed_categories(sender, using="default", **kwargs):
    from qcare.catalog.models import ProductCategory
    from qcare.catalog.seed import seed_categories

    seed_categories(ProductCategory)
