"""Permissions of the sample record (registered in SampleConfig.ready())."""

from django.utils.translation import gettext_lazy as _

SAMPLE_ACTIONS = {
    "view": _("View sample records"),
    "add": _("Create sample records"),
    "change": _("Change sample records"),
    "delete": _("Delete sample records"),
    "approve": _("Approve sample records"),
}


def register():
    from qcare.accounts.permissions import register_permissions

    register_permissions("sample", SAMPLE_ACTIONS, label=_("Sample"))
