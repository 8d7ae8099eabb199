"""Read side of feedback and complaints: list filters, search and the dashboard providers.

Everything starts from the one permission filter (``objects.restrict(user, action)``), so the
list pages, the API, the exports and the dashboard show the same rows to the same user. The
dashboard providers return lazy querysets (the screens slice and render them).
"""

import datetime
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone

from qcare.accounts.permissions import has_perm
from qcare.complaints.choices import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    ActionStatus,
    CapaStatus,
    ComplaintStatus,
    NoticeStatus,
    ReportOutcome,
)
from qcare.complaints.models import AdvisoryNotice, CapaAction, Complaint

TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n"}

#: Approval bands each role may approve (R-CO-3: a higher band may approve a lower one).
BANDS_OF_ROLE = {
    "gm": ("sales_manager", "deputy_gm", "gm"),
    "deputy_gm": ("sales_manager", "deputy_gm"),
    "sales_manager": ("sales_manager",),
}


def _flag(value):
    """A filter's yes/no value from a query string or JSON: True, False or None (not filtered)."""
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


def _values(value):
    """A list of non-empty strings from a single value, a comma list or a list (e.g. QueryDict.getlist)."""
    if value in (None, ""):
        return []
    items = value if isinstance(value, list | tuple | set) else str(value).split(",")
    return [
        str(getattr(item, "pk", item)).strip() for item in items if str(getattr(item, "pk", item)).strip()
    ]


def _get(params, name):
    """``params[name]`` as one value or a list (QueryDict gives every value of a repeated key)."""
    if hasattr(params, "getlist"):
        values = params.getlist(name)
        return values if len(values) > 1 else (values[0] if values else None)
    return params.get(name)


# --- search and filters -------------------------------------------------------------------------
def search_complaints(queryset, term):
    """Complaints of ``queryset`` matching ``term`` (number, customer, product, lot/serial,
    description, contact) through the search index of ``complaints.search``."""
    from qcare.complaints.search import search_complaints as indexed_search

    return indexed_search(queryset, term)


def filter_complaints(queryset, params, *, now=None):
    """``queryset`` narrowed by the list filters in ``params`` (a dict or a QueryDict).

    Keys: ``status`` (one, a comma list or repeated; ``open`` = every open status), ``customer``,
    ``product``, ``owner`` (ids; ``owner=none`` = no owner yet), ``category``, ``severity``,
    ``period_from`` / ``period_to`` (YYYY-MM received), ``overdue`` / ``major`` / ``repeat`` /
    ``regulated`` (yes/no), ``lot`` (exact lot number) and ``q`` (search term). Unknown keys and
    empty values are ignored; a malformed id or month filters nothing out rather than failing.
    """
    now = now or timezone.now()
    statuses = _values(_get(params, "status"))
    if "open" in statuses:
        statuses = [s for s in statuses if s != "open"] + list(OPEN_STATUSES)
    statuses = [s for s in statuses if s in ComplaintStatus.values]
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    for name in ("customer", "product"):
        ids = [v for v in _values(_get(params, name)) if v.isdigit()]
        if ids:
            queryset = queryset.filter(**{f"{name}_id__in": ids})
    owners = _values(_get(params, "owner"))
    if owners == ["none"]:
        queryset = queryset.filter(owner__isnull=True)
    elif [v for v in owners if v.isdigit()]:
        queryset = queryset.filter(owner_id__in=[v for v in owners if v.isdigit()])
    for name in ("category", "severity"):
        values = _values(_get(params, name))
        if values:
            queryset = queryset.filter(**{f"{name}__in": values})
    period_from, period_to = _get(params, "period_from"), _get(params, "period_to")
    # The instant bounds say the same as the period columns, but let the (status, received_at)
    # index serve the list's order as a range scan (docs/benchmarks-complaints.md).
    if _is_period(period_from):
        queryset = queryset.filter(period__gte=period_from, received_at__gte=_month_start(period_from))
    if _is_period(period_to):
        queryset = queryset.filter(
            period__lte=period_to, received_at__lt=_month_start(period_to, months_later=1)
        )
    overdue = _flag(_get(params, "overdue"))
    if overdue is True:
        queryset = queryset.filter(status__in=OPEN_STATUSES, due_at__lt=now)
    elif overdue is False:
        queryset = queryset.exclude(status__in=OPEN_STATUSES, due_at__lt=now)
    for name, field in (("major", "is_major"), ("repeat", "is_repeat"), ("regulated", "is_regulated")):
        flag = _flag(_get(params, name))
        if flag is not None:
            queryset = queryset.filter(**{field: flag})
    lot = _get(params, "lot")
    if isinstance(lot, str) and lot.strip():
        lot = lot.strip()
        queryset = queryset.filter(lot_number=lot)
    term = _get(params, "q")
    if isinstance(term, str) and term.strip():
        queryset = search_complaints(queryset, term)
    return queryset


def _month_start(period, months_later=0):
    """Local midnight of the 1st of ``period`` (YYYY-MM), ``months_later`` months on."""
    year, month = (int(part) for part in period.split("-"))
    year, month = divmod(year * 12 + month - 1 + months_later, 12)
    return timezone.make_aware(datetime.datetime(year, month + 1, 1))


def _is_period(value):
    from qcare.complaints.reports import PERIOD_RE

    return isinstance(value, str) and bool(PERIOD_RE.match(value))


def complaint_list(user, params=None, *, action="view"):
    """The complaints ``user`` may ``action``, filtered by ``params``, newest first."""
    queryset = Complaint.objects.restrict(user, action).select_related("customer", "product", "owner")
    return filter_complaints(queryset, params or {}).order_by("-received_at", "-id")


# --- dashboard providers ------------------------------------------------------------------------
def my_complaints(user):
    """Open complaints the user owns, the nearest close-by date first."""
    return (
        Complaint.objects.restrict(user, "view")
        .filter(owner_id=user.pk, status__in=OPEN_STATUSES)
        .select_related("customer")
        .order_by("due_at", "pk")
    )


def overdue_complaints(user, now=None):
    """Open complaints the user may view that are past their close-by date, most overdue first."""
    now = now or timezone.now()
    return (
        Complaint.objects.restrict(user, "view")
        .filter(status__in=OPEN_STATUSES, due_at__lt=now)
        .select_related("customer", "owner")
        .order_by("due_at", "pk")
    )


def approval_bands(user):
    """The approval bands ``user`` may approve (by role; every band for a superuser)."""
    if not has_perm(user, "complaints.approve"):
        return ()
    if user.is_superuser:
        return BANDS_OF_ROLE["gm"]
    bands = set()
    for code in user.roles.values_list("code", flat=True):
        bands.update(BANDS_OF_ROLE.get(code, ()))
    return tuple(sorted(bands))


def awaiting_my_approval(user):
    """Dispositions awaiting approval within the user's approval band and scope, oldest first."""
    bands = approval_bands(user)
    if not bands:
        return Complaint.objects.none()
    return (
        Complaint.objects.restrict(user, "approve")
        .filter(status=ComplaintStatus.AWAITING_APPROVAL, approval_band__in=bands)
        .select_related("customer")
        .order_by("proposed_at", "pk")
    )


def capa_actions_due(user, until=None):
    """The user's open CAPA actions (of live CAPAs), due first; ``until`` limits the due date."""
    actions = CapaAction.objects.filter(
        owner_id=user.pk,
        status=ActionStatus.OPEN,
        capa__status__in=(CapaStatus.OPEN, CapaStatus.IN_PROGRESS, CapaStatus.VERIFICATION),
    ).select_related("capa")
    if isinstance(until, date):
        actions = actions.filter(due_on__lte=until)
    return actions.order_by("due_on", "pk")


def notices_awaiting_ack(user):
    """Issued notices with customers that have not acknowledged and acted yet (for the users
    who track them, ``notices.track``), annotated with ``incomplete`` = how many."""
    if not has_perm(user, "notices.track"):
        return AdvisoryNotice.objects.none()
    incomplete = Q(recipients__acknowledged_at__isnull=True) | Q(recipients__action="")
    return (
        AdvisoryNotice.objects.restrict(user, "view")
        .filter(status=NoticeStatus.ISSUED)
        .annotate(incomplete=Count("recipients", filter=incomplete, distinct=True))
        .filter(incomplete__gt=0)
        .order_by("issued_at", "pk")
    )


def reportability_pending(user):
    """Complaints on regulated products still waiting for the reportability decision, or decided
    reportable with the report not yet sent (for users who decide it, ``complaints.close``)."""
    if not has_perm(user, "complaints.close"):
        return Complaint.objects.none()
    undecided = Q(reportability__isnull=True) & ~Q(status__in=FINAL_STATUSES)
    unsent = Q(reportability__outcome=ReportOutcome.REPORTABLE, reportability__report_sent_at__isnull=True)
    return (
        Complaint.objects.restrict(user, "close")
        .filter(is_regulated=True)
        .filter(undecided | unsent)
        .select_related("customer", "reportability")
        .order_by("received_at", "pk")
    )
