"""Permissions of feedback, complaints, CAPA, returns and advisory notices (registered in ready())."""

from django.utils.translation import gettext_lazy as _

FEEDBACK = {
    "view": _("View the feedback register"),
    "add": _("Log customer feedback"),
    "change": _("Answer and convert feedback"),
}
COMPLAINTS = {
    "view": _("View complaints"),
    "add": _("Register complaints"),
    "change": _("Edit complaints, record replies and the customer's answer"),
    "triage": _("Triage complaints and assign owners"),
    "investigate": _("Investigate complaints: findings, root cause, responsibility, disposition"),
    "approve": _("Approve dispositions (within the approval band)"),
    "close": _("Close complaints, decide reportability"),
    "report": _("View complaint statistics and responsibility reports"),
    "export": _("Export complaints"),
}
CAPA = {
    "view": _("View CAPAs"),
    "add": _("Open CAPAs"),
    "change": _("Work on CAPAs and their actions"),
    "verify": _("Verify CAPA effectiveness"),
}
RETURNS = {
    "view": _("View returns, allowances and compensations"),
    "add": _("Issue return notes and settlements from approved dispositions"),
    "receive": _("Receive returned goods (warehouse)"),
    "inspect": _("Inspect returned goods (quality)"),
    "post": _("Post returns and settle allowances (accounting)"),
    "export": _("Export returns and settlements"),
}
NOTICES = {
    "view": _("View advisory notices and recalls"),
    "add": _("Draft advisory notices"),
    "issue": _("Issue and sign advisory notices"),
    "track": _("Record acknowledgements, actions and authority notification"),
}
PENALTIES = {
    "view": _("View penalties"),
    "change": _("Record penalties"),
}


def register():
    from qcare.accounts.permissions import register_permissions

    register_permissions("feedback", FEEDBACK, label=_("Customer feedback"))
    register_permissions("complaints", COMPLAINTS, label=_("Complaints"))
    register_permissions("capa", CAPA, label=_("Corrective and preventive actions"))
    register_permissions("returns", RETURNS, label=_("Returns, allowances and compensations"))
    register_permissions("notices", NOTICES, label=_("Advisory notices and recalls"))
    register_permissions("penalties", PENALTIES, label=_("Penalties"))
