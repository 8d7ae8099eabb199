"""The SPEC's "Default policies" (from the seeds), registered for the apps that will use them.

Registered here, before those apps exist, so administrators can review and set every
figure from day one; each app reads its own keys with ``policies.get(...)``. Also declares
the permissions of the mechanism screens.
"""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from qcare.core.policies import register
from qcare.workcalendar.durations import Duration


def _hours(n):
    return Duration(n, "working_hours")


def _wdays(n):
    return Duration(n, "working_days")


def _days(n):
    return Duration(n, "calendar_days")


PERCENT = _("%")
YEARS = _("years")

# --- orders (R-OR) -----------------------------------------------------------------------
register(
    "orders.special_amount_threshold",
    "money",
    Decimal("200000"),
    _("Special-order amount threshold"),
    help=_("Orders at or above this amount need the special review."),
    min=0,
)
register(
    "orders.tender_department_limit",
    "money",
    Decimal("3000000"),
    _("Tender: department-level review below"),
    help=_("Tenders below this amount are reviewed by the departments; above it by the GM."),
    min=0,
)
register(
    "orders.review_record_retention",
    "int",
    1,
    _("Order review records kept by sales"),
    min=1,
    max=50,
    unit=YEARS,
)

# --- feedback, complaints (R-CO) ----------------------------------------------------------
register("feedback.first_answer", "duration", _hours(8), _("First answer to a call or letter"), min=0)
register("complaints.first_written_answer", "duration", _days(7), _("Complaint: first written answer"), min=0)
register(
    "complaints.investigation_report", "duration", _wdays(3), _("Complaint: investigation report"), min=0
)
register("complaints.close.domestic", "duration", _days(13), _("Complaint closed (domestic customer)"), min=0)
register("complaints.close.foreign", "duration", _days(17), _("Complaint closed (foreign customer)"), min=0)
register(
    "complaints.responsibility_report_day",
    "int",
    10,
    _("Monthly responsibility report due on day of next month"),
    min=1,
    max=28,
)
register(
    "complaints.penalty_cap",
    "decimal",
    Decimal("50"),
    _("Penalty cap (share of a month's bonus)"),
    help=_("The remainder is carried over to the following months."),
    min=0,
    max=100,
    unit=PERCENT,
)

# --- service (R-SV) -----------------------------------------------------------------------
register(
    "service.onsite_arrival_quality",
    "duration",
    _hours(8),
    _("On-site arrival for a quality problem not solved by phone"),
    min=0,
)
register("service.arrival.urban", "duration", _hours(6), _("Service arrival (urban)"), min=0)
register("service.arrival.suburban", "duration", _hours(7), _("Service arrival (suburban)"), min=0)
register(
    "service.contract_expiry_notice",
    "duration",
    _days(30),
    _("Maintenance contract expiry notice before the end"),
    min=0,
)

# --- customers (R-CU) ---------------------------------------------------------------------
register("customers.licence_expiry_warning", "duration", _days(60), _("Licence expiry warning before"), min=0)

# --- surveys (R-SU) -----------------------------------------------------------------------
register(
    "surveys.response_rate_target",
    "decimal",
    Decimal("80"),
    _("Annual satisfaction survey response-rate target"),
    min=0,
    max=100,
    unit=PERCENT,
)
register(
    "surveys.improvement_threshold",
    "decimal",
    Decimal("80"),
    _("Satisfaction improvement threshold (share of the maximum score)"),
    help=_("Items scoring below this share of the maximum need an improvement action."),
    min=0,
    max=100,
    unit=PERCENT,
)
register(
    "surveys.card_share",
    "decimal",
    Decimal("100"),
    _("Survey card per service call"),
    min=0,
    max=100,
    unit=PERCENT,
)

# --- records (R-RC) -----------------------------------------------------------------------
register(
    "records.retention.product",
    "int",
    5,
    _("Retention of product-related records"),
    min=1,
    max=100,
    unit=YEARS,
)
register("records.retention.other", "int", 4, _("Retention of other records"), min=1, max=100, unit=YEARS)

# --- signatures (P4) ----------------------------------------------------------------------
register(
    "signatures.max_failures", "int", 5, _("Wrong passwords in a row before signing is locked"), min=1, max=20
)


def register_mechanism_permissions():
    """Declare the permissions of the policy, numbering and signature screens (AppConfig.ready)."""
    try:
        from qcare.accounts.permissions import register_permissions
    except ImportError:  # accounts not ready yet in this checkout
        return
    register_permissions(
        "policies",
        {"view": _("View policies"), "change": _("Change policies")},
        label=_("Policies"),
    )
    register_permissions(
        "numbering",
        {"view": _("View numbering patterns"), "change": _("Change numbering patterns")},
        label=_("Numbering"),
    )
    register_permissions(
        "signatures",
        {"view": _("View signatures"), "unlock": _("Unlock signing after failed passwords")},
        label=_("Electronic signatures"),
    )


register_mechanism_permissions()
