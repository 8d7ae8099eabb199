from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "qcare.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from qcare.accounts import signals  # noqa: F401  (connects the login receivers)
        from qcare.accounts.permissions import register_permissions
        from qcare.accounts.seed import seed_after_migrate

        register_permissions(
            "accounts",
            {
                "view": _("View users, departments and roles"),
                "add": _("Create users, departments and roles"),
                "change": _("Change users, departments and roles"),
                "delete": _("Deactivate users and delete departments and roles"),
            },
            label=_("Accounts"),
        )
        from qcare.core import ui

        ui.nav.register(
            "accounts",
            _("Users & roles"),
            "accounts:user_list",
            permission="accounts.view",
            order=900,
            group="admin",
        )
        post_migrate.connect(seed_after_migrate, sender=self, dispatch_uid="qcare.accounts.seed")
