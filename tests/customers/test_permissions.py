"""Who sees which customers and which fields, per persona (P7, R-CU-6)."""

import pytest

from qcare.core.errors import NotFound, NotPermitted
from qcare.core.models import get_restricted_or_404
from qcare.customers import selectors, services
from qcare.customers.models import Contact, Customer, Licence

PERSONAL = {"mobile": "13800001234", "personal_email": "zhao@example.com", "id_number": "440106198001011234"}


@pytest.fixture
def customers(sales_clerk, sales_clerk_2, sales_clerk_other_dept, make_customer):
    """One customer of each clerk: two in the sales department, one in the service department."""
    contact = {"name": "赵主任", "phone": "020-88881234", **PERSONAL}
    return {
        "own": make_customer(sales_clerk, name="张伟的客户", contacts=[contact]),
        "colleague": make_customer(sales_clerk_2, name="李娜的客户"),
        "other_dept": make_customer(sales_clerk_other_dept, name="外部门客户"),
    }


def visible(user):
    queryset, level = selectors.visible_customers(user)
    return set(queryset.values_list("name", flat=True)), level


def test_P7_clerk_sees_only_own_customers(sales_clerk, customers):
    assert visible(sales_clerk) == ({"张伟的客户"}, "full")
    with pytest.raises(NotFound):
        get_restricted_or_404(Customer, sales_clerk, pk=customers["colleague"].pk)
    with pytest.raises(NotFound):
        services.update_customer(sales_clerk, customers["colleague"], data={"notes": "x"}, reason="x")


def test_P7_clerk_of_other_department_gets_404(sales_clerk_other_dept, customers):
    with pytest.raises(NotFound):
        get_restricted_or_404(Customer, sales_clerk_other_dept, pk=customers["own"].pk)
    with pytest.raises(NotFound):
        selectors.customer_360(sales_clerk_other_dept, customers["own"])
    contact = customers["own"].contacts.get()
    assert not Contact.objects.restrict(sales_clerk_other_dept).filter(pk=contact.pk).exists()


def test_P7_manager_sees_the_department(sales_manager, customers):
    assert visible(sales_manager) == ({"张伟的客户", "李娜的客户"}, "full")


@pytest.mark.parametrize(
    "persona", ["gm", "deputy_gm", "quality_engineer", "management_rep", "records_officer", "auditor"]
)
def test_P7_readers_see_all_customers(request, persona, customers):
    user = request.getfixturevalue(persona)
    assert visible(user) == ({"张伟的客户", "李娜的客户", "外部门客户"}, "full")


@pytest.mark.parametrize("persona", ["auditor", "quality_engineer", "gm"])
def test_P7_readers_cannot_change(request, persona, customers):
    with pytest.raises(NotPermitted):
        services.update_customer(
            request.getfixturevalue(persona), customers["own"], data={"notes": "x"}, reason="x"
        )


@pytest.mark.parametrize("persona", ["technician", "dispatcher", "service_supervisor"])
def test_R_CU_6_service_staff_get_level_service(request, persona, customers):
    user = request.getfixturevalue(persona)
    names, level = visible(user)
    assert level == "service" and "张伟的客户" in names
    page = selectors.customer_360(user, customers["own"])
    assert set(page["fields"]) == {"id", *selectors.SERVICE_FIELDS}
    assert page["contacts"] == [
        {"id": customers["own"].contacts.get().pk, "name": "赵主任", "phone": "020-88881234"}
    ]
    assert "licences" not in page and "communications" not in page


def test_P7_portal_user_sees_only_their_customer(customers, make_portal_user):
    portal = make_portal_user(customers["own"])
    assert visible(portal) == ({"张伟的客户"}, "full")
    with pytest.raises(NotFound):
        get_restricted_or_404(Customer, portal, pk=customers["colleague"].pk)
    with pytest.raises(NotFound):
        selectors.customer_360(portal, customers["colleague"])
    assert selectors.customer_360(portal, customers["own"])["customer"] == customers["own"]
    licence = services.add_licence(
        customers["colleague"].owner, customers["colleague"], data={"kind": "other", "number": "L-1"}
    )
    assert not Licence.objects.restrict(portal).filter(pk=licence.pk).exists()


def test_P7_user_without_customer_permissions_is_refused(reviewer_production, customers):
    with pytest.raises(NotPermitted):
        selectors.visible_customers(reviewer_production)
    with pytest.raises(NotPermitted):
        selectors.customer_360(reviewer_production, customers["own"])


def test_R_CU_6_personal_data_masked_for_roles_without_permission(
    sales_clerk, quality_engineer, gm, customers
):
    contact = customers["own"].contacts.get()
    assert selectors.can_see_personal_data(sales_clerk)
    shown = selectors.contact_display(contact, sales_clerk)
    assert {k: shown[k] for k in PERSONAL} == PERSONAL and not shown["masked"]

    for user in (quality_engineer, gm):
        assert not selectors.can_see_personal_data(user)
        hidden = selectors.contact_display(contact, user)
        assert hidden["mobile"] == "138****1234"
        assert hidden["personal_email"] == "z***@example.com"
        assert hidden["id_number"] == "4401****1234"
        assert hidden["phone"] == "020-88881234"  # office phone is business data
        page = selectors.customer_360(user, customers["own"])
        assert page["contacts"][0]["mobile"] == "138****1234"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800001234", "138****1234"),
        ("+86 138 0000 1234", "+86****1234"),
        ("zhao@example.com", "z***@example.com"),
        ("440106198001011234", "4401****1234"),
        ("44010619800101123X", "4401****123X"),
        ("", ""),
        (None, ""),
        ("12345", "1****"),
    ],
)
def test_R_CU_6_masked(value, expected):
    assert selectors.masked(value) == expected
