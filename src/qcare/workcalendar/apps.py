from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forget_rules(**kwargs):
    from qcare.workcalendar.rules import clear_cache

    clear_cache()


class WorkcalendarConfig(AppConfig):
    name = "qcare.workcalendar"
    label = "workcalendar"
    verbose_name = _("Business calendar")

    def ready(self):
        from qcare.accounts import permissions
        from qcare.core import ui
        from qcare.workcalendar.models import CalendarOverride, Site

        # Any write (services, admin, shell) drops this process's cached site rules.
        for model in (Site, CalendarOverride):
            post_save.connect(_forget_rules, sender=model, dispatch_uid=f"workcalendar-{model.__name__}-save")
            post_delete.connect(
                _forget_rules, sender=model, dispatch_uid=f"workcalendar-{model.__name__}-del"
            )
        permissions.register_permissions(
            "calendar",
            {"view": _("View the business calendar"), "change": _("Edit sites, working hours and holidays")},
            label=_("Business calendar"),
        )
        ui.nav.register(
            "calendar",
            _("Business calendar"),
            "workcalendar:sites",
            permission="calendar.change",
            order=900,
            group="admin",
        )
