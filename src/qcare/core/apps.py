from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "qcare.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from qcare.core import checks  # noqa: F401  (system checks)
