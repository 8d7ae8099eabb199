"""Complaint statistics (R-CO-11) and the monthly responsibility report data (R-CO-8).

Every figure groups on the stored period columns — ``Complaint.period`` (month received),
``Complaint.closed_period`` and ``ResponsibleParty.closed_period`` (month closed) — never on a
date truncated in SQL (TruncMonth on SQLite is a string function per row and 6× slower; the
indexes ``ks_period_status``, ``ks_closed_period`` and ``ksr_period_dept`` serve these scans).
A report is a handful of grouped queries, whatever the number of complaints.

Which set a figure is computed on:

* *received* in the months (``period``): counts by month, customer, product, category and cause,
  the Pareto of causes and the repeat rate;
* *closed* in the months (``closed_period``, any final status): on-time closure rate, average
  days to close, cost (loss amounts) and the responsibility shares by department.

Percentages are floats with one decimal (0–100), ``None`` when there is nothing to divide.
"""

import re
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.complaints.choices import Category, CauseCategory, PartyKind
from qcare.complaints.models import Complaint, ResponsibleParty
from qcare.core.errors import ValidationFailed

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: The longest range one report covers (ten years of months).
MAX_MONTHS = 120
ZERO = Decimal("0")


# --- helpers ---------------------------------------------------------------------------------
def _pk(value):
    return getattr(value, "pk", value)


def percent(part, whole):
    """``part`` of ``whole`` in % with one decimal, or None when ``whole`` is 0."""
    return round(100 * float(part) / float(whole), 1) if whole else None


def months_between(period_from, period_to):
    """Every ``YYYY-MM`` from ``period_from`` to ``period_to`` inclusive (validated)."""
    errors = {}
    for field, value in (("period_from", period_from), ("period_to", period_to)):
        if not PERIOD_RE.match(str(value or "")):
            errors[field] = [_("Enter a month as YYYY-MM.")]
    if errors:
        raise ValidationFailed(_("Enter the months of the report."), errors=errors)
    if period_from > period_to:
        raise ValidationFailed(
            _("The first month is after the last month."),
            errors={"period_to": [_("The first month is after the last month.")]},
        )
    year, month = (int(x) for x in period_from.split("-"))
    months = []
    while True:
        current = f"{year:04d}-{month:02d}"
        months.append(current)
        if current == period_to:
            return months
        if len(months) >= MAX_MONTHS:
            raise ValidationFailed(
                _("A report covers at most %(count)d months.") % {"count": MAX_MONTHS},
                errors={
                    "period_to": [_("A report covers at most %(count)d months.") % {"count": MAX_MONTHS}]
                },
            )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _department_label(name, name_en):
    from django.utils.translation import get_language

    english = (get_language() or "").lower().startswith("en")
    return name_en if english and name_en else name


def _choice_label(choices, value):
    if not value:
        return _("Not determined yet")
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _filtered(queryset, *, customer=None, product=None, category=None, department=None, prefix=""):
    """``queryset`` (of complaints, or of rows under ``prefix`` = "complaint__") with the filters.

    ``department`` keeps the complaints for which that department — or a person of it — was
    found responsible.
    """
    if customer not in (None, ""):
        queryset = queryset.filter(**{f"{prefix}customer_id": _pk(customer)})
    if product not in (None, ""):
        queryset = queryset.filter(**{f"{prefix}product_id": _pk(product)})
    if category:
        queryset = queryset.filter(**{f"{prefix}category": category})
    if department not in (None, ""):
        dept = _pk(department)
        involved = ResponsibleParty.objects.filter(Q(department_id=dept) | Q(person__department_id=dept))
        queryset = queryset.filter(**{f"{prefix}pk__in": involved.values("complaint_id")})
    return queryset


def responsibility_rows(parties):
    """Responsibility by department of the ResponsibleParty rows ``parties`` (R-CO-8).

    A person's share counts for the person's department; suppliers are one row. Each row:
    ``key``, ``label``, ``cases`` (complaints it shares), ``weighted_cases`` (sum of shares / 100),
    ``ratio`` (% of all responsibility) and ``amount`` (allocated loss, CNY). Largest first.
    """
    grouped = (
        parties.order_by()
        .values("kind", dept=Coalesce("department_id", "person__department_id"))
        .annotate(cases=Count("complaint_id", distinct=True), shares=Sum("share"), amount=Sum("amount"))
    )
    rows = {}
    for item in grouped:
        if item["kind"] == PartyKind.SUPPLIER:
            key = "supplier"
        else:
            key = f"department:{item['dept']}" if item["dept"] else "person"
        row = rows.setdefault(
            key, {"key": key, "dept": item["dept"], "cases": 0, "shares": ZERO, "amount": ZERO}
        )
        # A case with two people of one department counts once per (kind) group; close enough
        # to "cases" and exact for the shares and amounts, which are what the report weighs.
        row["cases"] += item["cases"]
        row["shares"] += item["shares"] or ZERO
        row["amount"] += item["amount"] or ZERO
    from qcare.accounts.models import Department

    names = {
        d.pk: (d.name, d.name_en)
        for d in Department.objects.filter(pk__in=[r["dept"] for r in rows.values() if r["dept"]])
    }
    total_shares = sum((r["shares"] for r in rows.values()), ZERO)
    result = []
    for row in rows.values():
        if row["key"] == "supplier":
            label = _("Suppliers")
        elif row["key"] == "person":
            label = _("Persons without a department")
        else:
            name, name_en = names.get(row["dept"], ("?", ""))
            label = _department_label(name, name_en)
        result.append(
            {
                "key": row["key"],
                "department_id": row["dept"],
                "label": label,
                "cases": row["cases"],
                "weighted_cases": round(float(row["shares"]) / 100, 2),
                "ratio": percent(row["shares"], total_shares),
                "amount": row["amount"],
            }
        )
    result.sort(key=lambda r: (-r["weighted_cases"], r["key"]))
    return result


def pareto(rows):
    """Causes sorted by count with their share and cumulative share in % (undetermined left out)."""
    causes = sorted((r for r in rows if r["key"]), key=lambda r: (-r["count"], r["label"]))
    total = sum(r["count"] for r in causes)
    running, result = 0, []
    for row in causes:
        running += row["count"]
        result.append({**row, "share": percent(row["count"], total), "cumulative": percent(running, total)})
    return result


# --- statistics (R-CO-11) ----------------------------------------------------------------------
def complaint_statistics(
    user, *, period_from, period_to, customer=None, product=None, category=None, department=None
):
    """Complaint statistics of the months ``period_from`` … ``period_to`` (``YYYY-MM``, R-CO-11).

    Needs ``complaints.report``; counts only the complaints the user may view. Filters:
    ``customer``, ``product`` (objects or ids), ``category`` (choices.Category) and
    ``department`` (responsible department). Returns a dict:

    * ``months``; ``filters``;
    * ``by_month`` — per month: ``received``, ``closed``, ``closed_on_time``, ``on_time_rate``,
      ``average_days_to_close``, ``cost``, ``repeats``;
    * ``by_customer``, ``by_product``, ``by_category``, ``by_cause`` — ``key``, ``label``,
      ``count`` (received), largest first;
    * ``pareto`` — causes with ``share`` and ``cumulative`` %;
    * ``by_department`` — :func:`responsibility_rows` of the cases closed in the months;
    * ``totals`` — ``received``, ``closed``, ``closed_on_time``, ``on_time_rate``,
      ``average_days_to_close``, ``repeats``, ``repeat_rate``, ``cost``.
    """
    require_perm(user, "complaints.report")
    months = months_between(period_from, period_to)
    filters = {"customer": customer, "product": product, "category": category, "department": department}
    visible = _filtered(Complaint.objects.restrict(user, "view"), **filters).order_by()
    received = visible.filter(period__gte=period_from, period__lte=period_to)
    closed = visible.filter(closed_period__gte=period_from, closed_period__lte=period_to)

    by_month = {m: _empty_month(m) for m in months}
    for row in received.values("period").annotate(
        n=Count("pk"), repeats=Count("pk", filter=Q(is_repeat=True))
    ):
        by_month[row["period"]].update(received=row["n"], repeats=row["repeats"])
    for row in closed.values("closed_period").annotate(
        n=Count("pk"),
        on_time=Count("pk", filter=Q(closed_on_time=True)),
        days=Sum("days_to_close"),
        timed=Count("days_to_close"),
        cost=Sum("loss_amount"),
    ):
        by_month[row["closed_period"]].update(
            closed=row["n"],
            closed_on_time=row["on_time"],
            on_time_rate=percent(row["on_time"], row["n"]),
            average_days_to_close=round(row["days"] / row["timed"], 1) if row["timed"] else None,
            cost=row["cost"] or ZERO,
            _days=row["days"] or 0,
            _timed=row["timed"],
        )
    month_rows = [by_month[m] for m in months]

    by_cause = _counts(received, "cause_category", lambda v: _choice_label(CauseCategory, v))
    totals = _totals(month_rows)
    parties = _filtered(
        ResponsibleParty.objects.restrict(user, "view"), prefix="complaint__", **filters
    ).filter(closed_period__gte=period_from, closed_period__lte=period_to)
    for row in month_rows:
        row.pop("_days", None)
        row.pop("_timed", None)
    return {
        "months": months,
        "filters": {k: _pk(v) for k, v in filters.items() if v not in (None, "")},
        "by_month": month_rows,
        "by_customer": _related_counts(received, "customer"),
        "by_product": _related_counts(received, "product"),
        "by_category": _counts(received, "category", lambda v: _choice_label(Category, v)),
        "by_cause": by_cause,
        "pareto": pareto(by_cause),
        "by_department": responsibility_rows(parties),
        "totals": totals,
    }


def _empty_month(period):
    return {
        "period": period,
        "received": 0,
        "closed": 0,
        "closed_on_time": 0,
        "on_time_rate": None,
        "average_days_to_close": None,
        "cost": ZERO,
        "repeats": 0,
    }


def _totals(month_rows):
    received = sum(r["received"] for r in month_rows)
    closed = sum(r["closed"] for r in month_rows)
    on_time = sum(r["closed_on_time"] for r in month_rows)
    repeats = sum(r["repeats"] for r in month_rows)
    days = sum(r.get("_days", 0) for r in month_rows)
    timed = sum(r.get("_timed", 0) for r in month_rows)
    return {
        "received": received,
        "closed": closed,
        "closed_on_time": on_time,
        "on_time_rate": percent(on_time, closed),
        "average_days_to_close": round(days / timed, 1) if timed else None,
        "repeats": repeats,
        "repeat_rate": percent(repeats, received),
        "cost": sum((r["cost"] for r in month_rows), ZERO),
    }


def _counts(queryset, field, label):
    rows = queryset.values(field).annotate(n=Count("pk"))
    result = [{"key": row[field], "label": label(row[field]), "count": row["n"]} for row in rows]
    result.sort(key=lambda r: (-r["count"], r["label"]))
    return result


def _related_counts(queryset, relation):
    """Counts per customer / product (``key`` = id, ``label`` = "code name"), largest first."""
    rows = queryset.values(relation).annotate(n=Count("pk"))
    counts = {row[relation]: row["n"] for row in rows}
    model = Complaint._meta.get_field(relation).related_model
    names = {
        obj.pk: f"{obj.code} {obj.name}".strip()
        for obj in model.objects.filter(pk__in=[k for k in counts if k is not None]).only("code", "name")
    }
    result = [
        {"key": key, "label": names.get(key, _("Not recorded")) if key else _("Not recorded"), "count": n}
        for key, n in counts.items()
    ]
    result.sort(key=lambda r: (-r["count"], r["label"]))
    return result


# --- monthly responsibility report (R-CO-8) ----------------------------------------------------
def _iso(value):
    return value.isoformat() if value else None


def _money(value):
    return str((value or ZERO).quantize(Decimal("0.01")))


def responsibility_report_data(period):
    """The content of the responsibility report of ``period`` (YYYY-MM), JSON-safe (R-CO-8).

    Every case closed that month (any final status) with its responsibility shares and
    allocated loss, responsibility ratios and cost by department, and timeliness. Not
    restricted: the report is the company's record for the management representative (the
    screens showing it need ``complaints.report``). Labels are stored in both languages.
    """
    from django.utils import translation

    months_between(period, period)  # validates the format
    cases = list(
        Complaint.objects.filter(closed_period=period)
        .order_by("closed_at", "pk")
        .values(
            "pk",
            "number",
            "customer__code",
            "customer__name",
            "status",
            "category",
            "cause_category",
            "received_at",
            "closed_at",
            "due_at",
            "closed_on_time",
            "days_to_close",
            "overdue_reason",
            "loss_amount",
            "is_major",
            "is_repeat",
        )
    )
    parties = ResponsibleParty.objects.filter(closed_period=period)
    by_case = {}
    for party in parties.select_related("department", "person").order_by("complaint_id", "-share", "pk"):
        who = party.department or party.person or party.supplier_name
        by_case.setdefault(party.complaint_id, []).append(
            {
                "kind": party.kind,
                "department_id": party.department_id
                or (party.person.department_id if party.person else None),
                "name": str(who),
                "share": str(party.share),
                "amount": _money(party.amount),
            }
        )
    rows = []
    for case in cases:
        rows.append(
            {
                "id": case["pk"],
                "number": case["number"],
                "customer": f"{case['customer__code']} {case['customer__name']}".strip(),
                "status": case["status"],
                "category": case["category"],
                "cause_category": case["cause_category"],
                "received_at": _iso(case["received_at"]),
                "closed_at": _iso(case["closed_at"]),
                "due_at": _iso(case["due_at"]),
                "closed_on_time": case["closed_on_time"],
                "days_to_close": case["days_to_close"],
                "overdue_reason": case["overdue_reason"],
                "loss_amount": _money(case["loss_amount"]),
                "is_major": case["is_major"],
                "is_repeat": case["is_repeat"],
                "parties": by_case.get(case["pk"], []),
            }
        )
    departments = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            departments[language] = responsibility_rows(parties)
    english = {row["key"]: row["label"] for row in departments["en"]}
    by_department = [
        {
            **{k: v for k, v in row.items() if k not in ("label", "amount")},
            "label": row["label"],
            "label_en": english.get(row["key"], row["label"]),
            "amount": _money(row["amount"]),
        }
        for row in departments["zh-hans"]
    ]
    count = len(rows)
    on_time = sum(1 for r in rows if r["closed_on_time"])
    timed = [r["days_to_close"] for r in rows if r["days_to_close"] is not None]
    late = [r for r in rows if r["closed_on_time"] is False]
    return {
        "period": period,
        "cases": rows,
        "by_department": by_department,
        "totals": {
            "cases": count,
            "cost": _money(sum((c["loss_amount"] or ZERO for c in cases), ZERO)),
            "closed_on_time": on_time,
            "closed_late": len(late),
            "on_time_rate": percent(on_time, count),
            "average_days_to_close": round(sum(timed) / len(timed), 1) if timed else None,
        },
    }
