from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SampleConfig(AppConfig):
    name = "qcare.sample"
    label = "sample"
    verbose_name = _("Sample")

    def ready(self):
        from qcare.sample.permissions import register
        from qcare.sample.views import register_ui

        register()
        register_ui()
