from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "qcare.complaints"
    label = "complaints"
    verbose_name = _("Feedback and complaints")

    def ready(self):
        from qcare.complaints import permissions, policies  # noqa: F401  (registers policy keys)

        permissions.register()
        try:
            from qcare.complaints.views import register_ui
        except ImportError:  # screens not written yet (parallel work); removed before landing
            return
        register_ui()
