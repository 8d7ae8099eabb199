from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "qcare.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self):
        from qcare.audit import capture, signals  # noqa: F401 - connects the sign-in receivers

        capture.connect_all()
        _register_permissions()
        _register_navigation()


def _register_permissions():
    try:
        from qcare.accounts.permissions import register_permissions
    except ImportError:  # pragma: no cover - accounts not ready yet
        return
    register_permissions("audit", {"view": _("View the audit trail")}, label=_("Audit trail"))


def _register_navigation():
    try:
        from qcare.core.ui import nav
    except ImportError:  # pragma: no cover - UI shell not ready yet
        return
    nav.register("audit", _("Audit trail"), "audit:log", permission="audit.view", order=900)
