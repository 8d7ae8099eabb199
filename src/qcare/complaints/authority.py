"""Approval authority of a complaint's disposition (核决权限, R-CO-3, decision 5001).

One dimension: the loss amount (CNY). Below ``complaints.approval.sales_manager_limit`` the
sales manager approves, below ``complaints.approval.deputy_gm_limit`` the deputy GM, above it
the GM. A higher role may always approve a lower band; everyone needs ``complaints.approve``
with the complaint in scope. The band is stored on the complaint when the disposition is
proposed, so a later policy change does not move a case already waiting.
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qcare.accounts.permissions import has_perm
from qcare.core import policies
from qcare.core.errors import NotPermitted

#: Band roles from the lowest to the highest.
BANDS = ("sales_manager", "deputy_gm", "gm")
RANK = {code: rank for rank, code in enumerate(BANDS)}
BAND_LABELS = {
    "sales_manager": gettext_lazy("Sales manager"),
    "deputy_gm": gettext_lazy("Deputy general manager"),
    "gm": gettext_lazy("General manager"),
}


def band_label(band):
    return str(BAND_LABELS.get(band, band))


def band_for(amount: Decimal) -> str:
    """The role that approves a loss of ``amount`` CNY: "sales_manager", "deputy_gm" or "gm"."""
    amount = Decimal(amount or 0)
    if amount < policies.get("complaints.approval.sales_manager_limit").amount:
        return "sales_manager"
    if amount < policies.get("complaints.approval.deputy_gm_limit").amount:
        return "deputy_gm"
    return "gm"


def _user_rank(user):
    codes = set(user.roles.values_list("code", flat=True))
    ranks = [RANK[code] for code in codes if code in RANK]
    return max(ranks, default=-1)


def _band_of(complaint):
    return complaint.approval_band or band_for(complaint.loss_amount)


def can_approve(user, amount) -> bool:
    """True when ``user`` holds complaints.approve and the role of the band of ``amount``
    or a higher one (gm > deputy_gm > sales_manager)."""
    if user is None or not user.is_active or not has_perm(user, "complaints.approve"):
        return False
    return _user_rank(user) >= RANK[band_for(amount)]


def _may_approve_band(user, band):
    return has_perm(user, "complaints.approve") and _user_rank(user) >= RANK[band]


def require_approver(user, complaint):
    """Refuse (NotPermitted) anyone whose role is below the complaint's approval band."""
    band = _band_of(complaint)
    if not _may_approve_band(user, band):
        raise NotPermitted(
            _(
                "A loss of %(amount)s CNY is above your approval band: the %(band)s (or a higher role) "
                "approves this disposition."
            )
            % {"amount": f"{complaint.loss_amount:,.2f}", "band": band_label(band)}
        )


def approvers_for(complaint):
    """Active users who may approve ``complaint``'s disposition: a role of its band or higher,
    complaints.approve, and the complaint within their scope."""
    from qcare.complaints.models import Complaint

    band = _band_of(complaint)
    roles = BANDS[RANK[band] :]
    users = get_user_model().objects.filter(is_active=True, roles__code__in=roles).distinct().order_by("pk")
    return [
        u
        for u in users
        if _may_approve_band(u, band)
        and Complaint.objects.restrict(u, "approve").filter(pk=complaint.pk).exists()
    ]
