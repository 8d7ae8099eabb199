from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "qcare.customers"
    label = "customers"
    verbose_name = _("Customer file")

    def ready(self):
        from qcare.customers import permissions

        permissions.register()
