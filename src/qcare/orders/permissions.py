"""Permissions of orders and contract review (registered in OrdersConfig.ready())."""

from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "view": _("View orders, reviews, shipments and traceability"),
    "add": _("Enter orders"),
    "change": _("Edit draft orders, answer open points, request changes"),
    "review": _("Review and sign orders for one's department"),
    "approve": _("Approve or reject orders and changes (within the approval rules)"),
    "classify": _("Override the computed order class"),
    "acknowledge": _("Acknowledge production notices and order changes for one's department"),
    "issue_notice": _("Issue production notices"),
    "ship": _("Record shipments"),
    "cancel": _("Cancel orders"),
    "export": _("Export orders and sales records"),
    "configure": _("Maintain the review routing matrix and approval rules"),
}


def register():
    from qcare.accounts.permissions import register_permissions

    register_permissions("orders", ACTIONS, label=_("Orders and contract review"))
