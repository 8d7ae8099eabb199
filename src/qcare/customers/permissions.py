"""Permissions of the customer file (registered in CustomersConfig.ready())."""

from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "view": _("View customers and their records"),
    "view_service": _("View the customer fields needed for service (address, contacts)"),
    "view_personal_data": _("See personal data of contacts (mobile, personal e-mail, ID number)"),
    "add": _("Create customers"),
    "change": _("Change customers, contacts, licences, property; log communication"),
    "reassign": _("Reassign a customer to another sales person"),
    "delete": _("Deactivate customers"),
    "export": _("Export customer lists"),
    "import": _("Import customers"),
    "anonymise": _("Anonymise a customer on request"),
    "configure": _("Maintain the classification lists"),
}


def register():
    from qcare.accounts.permissions import register_permissions

    register_permissions("customers", ACTIONS, label=_("Customer file"))
