from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "qcare.orders"
    label = "orders"
    verbose_name = _("Orders and contract review")

    def ready(self):
        from qcare.orders import permissions, policies  # noqa: F401  (registers policy keys)

        permissions.register()
        from qcare.orders.views import register_ui

        register_ui()
        post_migrate.connect(_seed, sender=self, dispatch_uid="qcare.orders.seed")


def _seed(sender, using="default", **kwargs):
    from django.db import connections

    if "orders_reviewroute" in connections[using].introspection.table_names():
        from qcare.orders.seed import seed_routing

        seed_routing(using=using)
