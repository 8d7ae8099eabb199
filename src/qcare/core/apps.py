from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "qcare.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from qcare.core import (
            checks,  # noqa: F401  (system checks)
            policies_defaults,  # noqa: F401  (registers policies and permissions)
            ui,
        )

        ui.nav.register(
            "policies", _("Policies"), "core:policies", permission="policies.view", order=910, group="admin"
        )
