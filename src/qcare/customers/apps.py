from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "qcare.customers"
    label = "customers"
    verbose_name = _("Customer file")

    def ready(self):
        from qcare.customers import permissions
        from qcare.customers.views import register_ui

        permissions.register()
        register_ui()
        # Reference lists are seeded by a data migration; post_migrate re-seeds them after a
        # flush too (transactional tests), idempotently.
        post_migrate.connect(_seed_lists, sender=self, dispatch_uid="qcare.customers.seed")
        # SQLite rebuilds a table for most column changes and drops its triggers with it:
        # reinstall the search index triggers after every migrate (idempotent).
        from qcare.customers import search

        post_migrate.connect(search.ensure_index, sender=self, dispatch_uid="qcare.customers.search_index")


def _seed_lists(sender, using="default", **kwargs):
    from qcare.customers.models import Classification
    from qcare.customers.seed import seed_classifications

    seed_classifications(Classification)
