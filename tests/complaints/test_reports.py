"""Complaint statistics (R-CO-11) and the monthly responsibility report data (R-CO-8), checked
against numbers computed by hand on a small data set.

The data set (months January–February 2026 are reported):

====  ========  ===========  =========  =========  ===========  =======  ====  =====  ====================
case  received  customer     product    category   cause        closed   days  loss   responsibility
====  ========  ===========  =========  =========  ===========  =======  ====  =====  ====================
A     01-05     distributor  device     quality    production   01 ✓     10    1000   production 70, purchasing 30
B     01-20     hospital     device     quality    production   02 late  21    500    production 100
C     02-03     distributor  accessory  delivery   packaging    02 ✓     9     0      supplier 100
D     02-25     hospital     accessory  documents  —            open
E     03-01     distributor  device     quality    design       (outside the months)
F     2025-12   hospital     device     quality    production   01 ✓     6     200    quality 100
G     01-10     hospital     device     service    —            open     (registered by production)
====  ========  ===========  =========  =========  ===========  =======  ====  =====  ====================

A and B are repeats.
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from qcare.complaints import reports
from qcare.complaints.models import ResponsibleParty
from qcare.core.errors import NotPermitted, ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def party(complaint, share, amount, department=None, kind="department", supplier_name=""):
    return ResponsibleParty.objects.create(
        complaint=complaint,
        kind=kind,
        department=department,
        supplier_name=supplier_name,
        share=Decimal(share),
        amount=Decimal(amount),
        closed_period=complaint.closed_period,
    )


def closed(received, closed_at, on_time, days, loss):
    return {
        "received_at": received,
        "status": "closed",
        "closed_at": closed_at,
        "closed_period": closed_at.strftime("%Y-%m"),
        "closed_on_time": on_time,
        "days_to_close": days,
        "loss_amount": Decimal(loss),
    }


@pytest.fixture
def data(complaint_row, distributor, hospital, device, accessory, org, reviewer_production):
    a = complaint_row(
        customer=distributor,
        product=device,
        category="quality",
        cause_category="production",
        is_repeat=True,
        **closed(at(2026, 1, 5, 9), at(2026, 1, 15, 9), True, 10, "1000"),
    )
    party(a, "70", "700", org["production"])
    party(a, "30", "300", org["purchasing"])
    b = complaint_row(
        customer=hospital,
        product=device,
        category="quality",
        cause_category="production",
        is_repeat=True,
        overdue_reason="等待客户寄回样品",
        **closed(at(2026, 1, 20, 9), at(2026, 2, 10, 9), False, 21, "500"),
    )
    party(b, "100", "500", org["production"])
    c = complaint_row(
        customer=distributor,
        product=accessory,
        category="delivery",
        cause_category="packaging",
        **closed(at(2026, 2, 3, 9), at(2026, 2, 12, 9), True, 9, "0"),
    )
    party(c, "100", "0", kind="supplier", supplier_name="东莞纸品厂")
    d = complaint_row(
        customer=hospital, product=accessory, category="documents", received_at=at(2026, 2, 25, 9)
    )
    e = complaint_row(
        customer=distributor,
        product=device,
        category="quality",
        cause_category="design",
        received_at=at(2026, 3, 1, 9),
    )
    f = complaint_row(
        customer=hospital,
        product=device,
        category="quality",
        cause_category="production",
        **closed(at(2025, 12, 28, 9), at(2026, 1, 3, 9), True, 6, "200"),
    )
    party(f, "100", "200", org["quality"])
    g = complaint_row(
        registered_by=reviewer_production,
        customer=hospital,
        product=device,
        category="service",
        received_at=at(2026, 1, 10, 9),
    )
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}


def stats(user, **filters):
    return reports.complaint_statistics(user, period_from="2026-01", period_to="2026-02", **filters)


def by_key(rows, field="count"):
    return {row["key"]: row[field] for row in rows}


def test_R_CO_11_numbers_match_the_hand_computed_ones(
    data, quality_engineer, distributor, hospital, device, accessory
):
    result = stats(quality_engineer)
    assert result["months"] == ["2026-01", "2026-02"]
    january, february = result["by_month"]
    assert january == {
        "period": "2026-01",
        "received": 3,  # A, B, G
        "closed": 2,  # A, F
        "closed_on_time": 2,
        "on_time_rate": 100.0,
        "average_days_to_close": 8.0,
        "cost": Decimal("1200.00"),
        "repeats": 2,
    }
    assert february == {
        "period": "2026-02",
        "received": 2,  # C, D
        "closed": 2,  # B, C
        "closed_on_time": 1,
        "on_time_rate": 50.0,
        "average_days_to_close": 15.0,
        "cost": Decimal("500.00"),
        "repeats": 0,
    }
    assert result["totals"] == {
        "received": 5,
        "closed": 4,
        "closed_on_time": 3,
        "on_time_rate": 75.0,
        "average_days_to_close": 11.5,
        "repeats": 2,
        "repeat_rate": 40.0,
        "cost": Decimal("1700.00"),
    }
    assert by_key(result["by_customer"]) == {distributor.pk: 2, hospital.pk: 3}
    assert result["by_customer"][0]["key"] == hospital.pk  # largest first
    assert result["by_customer"][0]["label"] == f"{hospital.code} {hospital.name}"
    assert by_key(result["by_product"]) == {device.pk: 3, accessory.pk: 2}
    assert by_key(result["by_category"]) == {"quality": 2, "delivery": 1, "documents": 1, "service": 1}
    assert by_key(result["by_cause"]) == {"production": 2, "packaging": 1, "": 2}


def test_R_CO_11_pareto_of_causes_with_cumulative_share(data, quality_engineer):
    pareto = stats(quality_engineer)["pareto"]
    assert [(r["key"], r["count"], r["share"], r["cumulative"]) for r in pareto] == [
        ("production", 2, 66.7, 66.7),
        ("packaging", 1, 33.3, 100.0),
    ]


def test_R_CO_11_responsibility_by_department_of_the_cases_closed(data, quality_engineer, org):
    rows = {r["key"]: r for r in stats(quality_engineer)["by_department"]}
    production = rows[f"department:{org['production'].pk}"]
    assert (production["cases"], production["weighted_cases"], production["ratio"], production["amount"]) == (
        2,
        1.7,
        42.5,
        Decimal("1200.00"),
    )
    purchasing = rows[f"department:{org['purchasing'].pk}"]
    assert (purchasing["weighted_cases"], purchasing["ratio"], purchasing["amount"]) == (
        0.3,
        7.5,
        Decimal("300"),
    )
    assert rows[f"department:{org['quality'].pk}"]["ratio"] == 25.0
    assert rows["supplier"]["ratio"] == 25.0 and rows["supplier"]["amount"] == Decimal("0")
    assert list(rows)[0] == f"department:{org['production'].pk}"  # the largest first


def test_R_CO_11_filters(data, quality_engineer, distributor, accessory, org):
    by_customer = stats(quality_engineer, customer=distributor)
    assert by_customer["totals"]["received"] == 2 and by_customer["totals"]["closed"] == 2  # A, C
    assert by_customer["totals"]["on_time_rate"] == 100.0
    assert stats(quality_engineer, product=accessory.pk)["totals"]["received"] == 2  # C, D
    quality = stats(quality_engineer, category="quality")
    assert quality["totals"]["received"] == 2 and quality["totals"]["closed"] == 3  # A, B / A, B, F
    purchasing = stats(quality_engineer, department=org["purchasing"])
    assert purchasing["totals"]["received"] == 1 and purchasing["totals"]["cost"] == Decimal("1000.00")
    ratios = {r["key"]: r["ratio"] for r in purchasing["by_department"]}
    assert ratios == {f"department:{org['production'].pk}": 70.0, f"department:{org['purchasing'].pk}": 30.0}
    assert purchasing["filters"] == {"department": org["purchasing"].pk}


def test_R_CO_11_restricted_to_the_complaints_the_user_may_view(data, sales_manager, quality_engineer):
    # the sales manager sees the sales department's complaints, not G registered by production
    assert stats(sales_manager)["totals"]["received"] == 4
    assert stats(quality_engineer)["totals"]["received"] == 5


def test_R_CO_11_needs_the_report_permission(data, sales_clerk, reviewer_production):
    with pytest.raises(NotPermitted):
        stats(sales_clerk)
    with pytest.raises(NotPermitted):
        stats(reviewer_production)


def test_R_CO_11_months_are_validated(quality_engineer):
    with pytest.raises(ValidationFailed) as error:
        reports.complaint_statistics(quality_engineer, period_from="2026-13", period_to="2026-02")
    assert "period_from" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        reports.complaint_statistics(quality_engineer, period_from="2026-03", period_to="2026-02")
    assert "period_to" in error.value.errors
    empty = reports.complaint_statistics(quality_engineer, period_from="2025-11", period_to="2026-01")
    assert [m["period"] for m in empty["by_month"]] == ["2025-11", "2025-12", "2026-01"]
    assert empty["by_month"][0]["received"] == 0 and empty["by_month"][0]["on_time_rate"] is None


def test_R_CO_11_groups_on_stored_periods_not_on_dates(data, quality_engineer):
    """A report is a fixed handful of grouped queries whatever the data (no TruncMonth)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        stats(quality_engineer)
    sql = " ".join(q["sql"] for q in queries.captured_queries).lower()
    assert "strftime" not in sql and "date_trunc" not in sql and "django_datetime_trunc" not in sql
    assert len(queries.captured_queries) <= 12


def test_R_CO_8_responsibility_report_data(data, org):
    report = reports.responsibility_report_data("2026-02")
    assert [c["number"] for c in report["cases"]] == [data["b"].number, data["c"].number]
    late = report["cases"][0]
    assert late["closed_on_time"] is False and late["overdue_reason"] == "等待客户寄回样品"
    assert late["parties"] == [
        {
            "kind": "department",
            "department_id": org["production"].pk,
            "name": str(org["production"]),
            "share": "100.00",
            "amount": "500.00",
        }
    ]
    assert report["totals"] == {
        "cases": 2,
        "cost": "500.00",
        "closed_on_time": 1,
        "closed_late": 1,
        "on_time_rate": 50.0,
        "average_days_to_close": 15.0,
    }
    labels = {r["label_en"]: (r["ratio"], r["amount"]) for r in report["by_department"]}
    assert labels == {"Production / PMC": (50.0, "500.00"), "Suppliers": (50.0, "0.00")}
    zh = {r["label"] for r in report["by_department"]}
    assert "生产部/PMC" in zh
