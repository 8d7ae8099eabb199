from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "qcare.complaints"
    label = "complaints"
    verbose_name = _("Feedback and complaints")

    def ready(self):
        from qcare.complaints import permissions, policies  # noqa: F401  (registers policy keys)

        permissions.register()
        from django.db.models.signals import post_migrate

        from qcare.complaints import search

        # SQLite rebuilds complaints_complaint on most ALTERs, dropping the FTS triggers (decision 1050).
        post_migrate.connect(search.ensure_index, sender=self, dispatch_uid="qcare.complaints.search_index")
        from qcare.complaints.views import register_ui

        register_ui()
