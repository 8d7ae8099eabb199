from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "qcare.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from qcare.accounts import permissions
        from qcare.core import policies, ui

        permissions.register_permissions(
            "notifications",
            {"admin": _("Administer notification delivery (dead letters)")},
            label=_("Notifications"),
        )
        policies.register(
            "notifications.max_attempts",
            "int",
            10,
            _("E-mail delivery attempts before a message is undeliverable"),
            help=_("Retries back off from 1 minute, doubling up to 1 hour between attempts."),
            min=1,
            max=50,
        )
        ui.nav.register(
            "notifications.dead",
            _("Undelivered e-mail"),
            "notifications:dead",
            permission="notifications.admin",
            order=900,
            group="admin",
        )
