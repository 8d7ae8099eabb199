"""Policy keys of orders (P1). The SPEC's thresholds are registered in core.policies_defaults."""

from django.utils.translation import gettext_lazy as _

from qcare.core.policies import register
from qcare.workcalendar.durations import Duration

register(
    "orders.review_due",
    "duration",
    Duration(2, "working_days"),
    _("Department review of an order: due after"),
    min=0,
)
register(
    "orders.review_escalate_after",
    "duration",
    Duration(1, "working_days"),
    _("Overdue review: escalate to the department head after"),
    min=0,
)
register(
    "orders.change_ack_due",
    "duration",
    Duration(1, "working_days"),
    _("Acknowledgement of an order change: due after"),
    min=0,
)
register(
    "orders.first_order_is_special",
    "bool",
    True,
    _("A customer's first order is special"),
)
