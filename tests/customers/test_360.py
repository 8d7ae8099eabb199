"""The customer 360 page's data (R-CU-7): complete, and a bounded number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qcare.core.context import audit_context
from qcare.customers import selectors, services
from qcare.customers.choices import CommunicationKind, LicenceKind, LicenceStatus, PropertyKind
from qcare.customers.models import Communication, Contact, FollowUpAction

MAX_QUERIES = 15


def fill_history(customer, user, *, entries, contacts, departments=()):
    """``entries`` log entries and ``contacts`` contacts, written in bulk (history size, not speed, matters)."""
    with audit_context(actor=user):
        Contact.objects.bulk_create(
            [Contact(customer=customer, name=f"联系人{i}", mobile=f"13800{i:06d}") for i in range(contacts)]
        )
        now = timezone.now()
        Communication.objects.bulk_create(
            [
                Communication(
                    customer=customer,
                    kind=CommunicationKind.CALL,
                    subject=f"电话 {i}",
                    occurred_at=now - timedelta(hours=i),
                    recorded_by=user,
                )
                for i in range(entries)
            ]
        )
        for entry in Communication.objects.filter(customer=customer)[:5]:
            entry.notified_departments.set(departments)
            FollowUpAction.objects.create(
                customer=customer, communication=entry, description="跟进", owner=user, due_date=now.date()
            )


def build_customer(user, make_customer, category, *, entries, contacts, org):
    customer = make_customer(user, type_code="distributor", tax_id=None, region="广东")
    fill_history(
        customer, user, entries=entries, contacts=contacts, departments=[org["quality"], org["sales"]]
    )
    services.add_licence(
        user,
        customer,
        data={
            "kind": LicenceKind.DEVICE_BUSINESS,
            "number": "粤-1",
            "valid_until": timezone.localdate() + timedelta(days=10),
        },
        categories=[category("06"), category("07")],
    )
    prop = services.register_property(user, customer, data={"kind": PropertyKind.TOOLING, "name": "模具"})
    services.register_property(user, customer, data={"kind": PropertyKind.DRAWING, "name": "图纸"})
    services.report_property_incident(
        user, prop, kind="damage", occurred_on=timezone.localdate(), description="损坏"
    )
    return customer


def queries_of(user, customer):
    with CaptureQueriesContext(connection) as captured:
        page = selectors.customer_360(type(user).objects.get(pk=user.pk), customer)
        # Touch everything a template would render.
        for entry in page["communications"]:
            (entry.contact, entry.recorded_by, list(entry.notified_departments.all()))
        for row in page["licences"]:
            list(row["licence"].categories.all())
        for action in page["open_actions"]:
            (action.owner.get_full_name(), action.communication)
        (page["customer"].customer_type, page["customer"].owner, page["customer"].department)
    return len(captured), page


def test_R_CU_7_360_bounded_queries(sales_clerk, make_customer, category, org):
    small = build_customer(sales_clerk, make_customer, category, entries=3, contacts=3, org=org)
    large = build_customer(sales_clerk, make_customer, category, entries=300, contacts=50, org=org)
    queries_of(sales_clerk, small)  # warm the per-process caches (policies) for both measurements
    small_count, _ = queries_of(sales_clerk, small)
    large_count, page = queries_of(sales_clerk, large)
    assert large_count == small_count
    assert large_count <= MAX_QUERIES
    assert len(page["communications"]) == selectors.TIMELINE_LENGTH
    assert page["communication_count"] == 300
    assert len(page["contacts"]) == 50


def test_R_CU_7_360_contents(sales_clerk, make_customer, category, org, django_assert_max_num_queries):
    customer = build_customer(sales_clerk, make_customer, category, entries=60, contacts=2, org=org)
    with django_assert_max_num_queries(MAX_QUERIES):
        page = selectors.customer_360(sales_clerk, customer)
    assert page["level"] == "full"
    assert page["customer"] == customer
    assert page["communications"][0].subject == "电话 0"  # newest first
    assert [row["status"] for row in page["licences"]] == [LicenceStatus.EXPIRING]
    assert page["licence_status"] == LicenceStatus.EXPIRING
    assert len(page["open_actions"]) == 5
    assert {p.name: p.incident_count for p in page["properties"]} == {"模具": 1, "图纸": 0}
    assert page["anonymisations"] == []
    assert [s["key"] for s in page["future_sections"]] == [
        "orders",
        "complaints",
        "service_calls",
        "surveys",
        "requirements",
    ]
    assert all(s["items"] == [] and s["note"] for s in page["future_sections"])


@pytest.mark.parametrize("persona", ["technician"])
def test_R_CU_7_service_level_360_has_no_history(request, persona, sales_clerk, make_customer):
    customer = make_customer(
        sales_clerk, contacts=[{"name": "钱工", "phone": "020-1234567", "mobile": "13800000009"}]
    )
    page = selectors.customer_360(request.getfixturevalue(persona), customer)
    assert page["level"] == "service"
    assert page["contacts"][0] == {"id": customer.contacts.get().pk, "name": "钱工", "phone": "020-1234567"}
