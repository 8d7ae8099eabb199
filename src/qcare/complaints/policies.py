"""Policy keys of feedback, complaints, CAPA, returns and notices (P1).

The SPEC's own figures (first answer 8 working hours, first written answer 7 days,
investigation 3 working days, closure 13/17 days, report by the 10th, penalty cap 50 %) are
registered in ``core.policies_defaults``; these are the further figures the workflow needs.
"""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from qcare.core.policies import register
from qcare.workcalendar.durations import Duration

PERCENT = _("%")

# --- reminders and escalation (R-CO-4) ------------------------------------------------------
register(
    "complaints.remind_before",
    "duration",
    Duration(1, "working_days"),
    _("Complaint step: reminder before the deadline"),
    min=0,
)
register(
    "complaints.escalate_after",
    "duration",
    Duration(1, "working_days"),
    _("Overdue complaint step: escalate to the owner's manager after"),
    min=0,
)
register(
    "complaints.escalate_mr_after",
    "duration",
    Duration(2, "working_days"),
    _("Overdue complaint step: escalate to the management representative after"),
    help=_("Counted from the deadline."),
    min=0,
)
register(
    "feedback.escalate_after",
    "duration",
    Duration(1, "working_days"),
    _("Unanswered feedback: escalate to the department manager after"),
    help=_("Counted from the first-answer deadline."),
    min=0,
)

# --- major complaints (R-CO-5) ----------------------------------------------------------------
register(
    "complaints.major_severity",
    "choice",
    "major",
    _("Complaints of this severity or worse are major"),
    choices=[("serious", _("Serious")), ("major", _("Major"))],
)
register(
    "complaints.major_amount",
    "money",
    Decimal("50000"),
    _("Complaints claiming or losing at least this amount are major"),
    min=0,
)
register(
    "complaints.major_if_regulated",
    "bool",
    True,
    _("A serious complaint on a regulated medical device is major"),
)

# --- approval bands of the disposition (R-CO-3) ---------------------------------------------
register(
    "complaints.approval.sales_manager_limit",
    "money",
    Decimal("5000"),
    _("Disposition: the sales manager approves losses below"),
    min=0,
)
register(
    "complaints.approval.deputy_gm_limit",
    "money",
    Decimal("50000"),
    _("Disposition: the deputy GM approves losses below (the GM above)"),
    min=0,
)

# --- repeated complaints (R-CO-6) -------------------------------------------------------------
register(
    "complaints.repeat_window",
    "duration",
    Duration(90, "calendar_days"),
    _("Repeated complaints: window"),
    help=_("Complaints on the same product with the same cause category within this window are counted."),
    min=1,
)
register(
    "complaints.repeat_threshold",
    "int",
    3,
    _("Repeated complaints: flagged from this many"),
    min=2,
    max=100,
)

# --- reportability (R-CO-9) -------------------------------------------------------------------
register(
    "complaints.report_deadline.death",
    "duration",
    Duration(7, "calendar_days"),
    _("Adverse event report deadline: death"),
    min=0,
)
register(
    "complaints.report_deadline.serious",
    "duration",
    Duration(20, "calendar_days"),
    _("Adverse event report deadline: serious injury or possible serious injury"),
    min=0,
)
register(
    "complaints.report_deadline.cluster",
    "duration",
    Duration(1, "calendar_days"),
    _("Adverse event report deadline: cluster event"),
    min=0,
)

# --- penalties (R-CO-8) -----------------------------------------------------------------------
register(
    "complaints.penalties_enabled",
    "bool",
    False,
    _("Penalty tracking"),
    help=_("Optional: warnings, demerits and bonus deductions from complaints."),
)

# --- CAPA (R-CO-6) ----------------------------------------------------------------------------
register(
    "capa.action_remind_before",
    "duration",
    Duration(2, "working_days"),
    _("CAPA action: reminder before the due date"),
    min=0,
)
register(
    "capa.action_escalate_after",
    "duration",
    Duration(2, "working_days"),
    _("Overdue CAPA action: escalate to the CAPA owner after"),
    min=0,
)

# --- returns (R-CO-7) ---------------------------------------------------------------------------
register(
    "returns.quantity_tolerance",
    "decimal",
    Decimal("0"),
    _("Returns: quantity tolerance (default)"),
    help=_(
        "A return is posted when the received quantity differs from the approved one by at most this share; "
        "a customer's own over-delivery tolerance takes precedence."
    ),
    min=0,
    max=100,
    unit=PERCENT,
)

# --- advisory notices (R-CO-10) ---------------------------------------------------------------
register(
    "notices.reminder_interval",
    "duration",
    Duration(5, "working_days"),
    _("Advisory notice: remind customers who have not answered every"),
    min=1,
)
