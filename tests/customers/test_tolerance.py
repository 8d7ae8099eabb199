"""The customer's over-delivery tolerance (R-CU-1 customer file; used by returns, R-CO-7).

A percentage agreed with the customer (0–100, two decimals; empty = the company default
``returns.quantity_tolerance``), set through the service, the edit form and the API.
"""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from qcare.core.errors import ValidationFailed
from qcare.customers import services
from qcare.customers.forms import CustomerEditForm
from qcare.customers.models import Customer
from tests.customers.conftest import create_customer_row
from tests.customers.test_api import assert_error, body, client_for, ctype, patch, post

pytestmark = pytest.mark.django_db


def test_R_CO_7_tolerance_set_and_cleared_through_the_service(sales_clerk):
    customer = create_customer_row(sales_clerk, name="第一人民医院")
    services.update_customer(
        sales_clerk, customer, data={"over_delivery_tolerance": "5"}, reason="合同约定 ±5%"
    )
    customer.refresh_from_db()
    assert customer.over_delivery_tolerance == Decimal("5.00")
    services.update_customer(sales_clerk, customer, data={"over_delivery_tolerance": ""}, reason="按公司默认")
    customer.refresh_from_db()
    assert customer.over_delivery_tolerance is None


@pytest.mark.parametrize("value", ["-1", "100.01", "2.555", "abc", "NaN"])
def test_R_CO_7_tolerance_out_of_range_is_refused(sales_clerk, value):
    customer = create_customer_row(sales_clerk)
    with pytest.raises(ValidationFailed) as refused:
        services.update_customer(sales_clerk, customer, data={"over_delivery_tolerance": value}, reason="x")
    assert "over_delivery_tolerance" in refused.value.errors
    customer.refresh_from_db()
    assert customer.over_delivery_tolerance is None


def test_R_CO_7_tolerance_when_creating_a_customer(sales_clerk, customer_type):
    customer = services.create_customer(
        sales_clerk,
        data={
            "name": "第二人民医院",
            "customer_type": ctype("hospital"),
            "over_delivery_tolerance": Decimal("3"),
        },
    )
    assert Customer.objects.get(pk=customer.pk).over_delivery_tolerance == Decimal("3.00")


def test_R_CO_7_tolerance_on_the_edit_form(sales_clerk):
    customer = create_customer_row(sales_clerk, name="第三人民医院")
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(sales_clerk)
    url = reverse("customers:edit", args=[customer.pk])
    assert "over_delivery_tolerance" in client.get(url).context["form"].fields
    data = {
        "name": customer.name,
        "customer_type": customer.customer_type_id,
        "country": "CN",
        "preferred_language": "zh-hans",
        "preferred_channel": "email",
        "version": customer.version,
        "reason": "合同约定",
    }
    refused = client.post(url, data | {"over_delivery_tolerance": "150"})
    assert refused.status_code == 200 and "over_delivery_tolerance" in refused.context["form"].errors
    saved = client.post(url, data | {"over_delivery_tolerance": "2.5"})
    assert saved.status_code == 302, saved.context["form"].errors if saved.context else saved
    customer.refresh_from_db()
    assert customer.over_delivery_tolerance == Decimal("2.50")
    form = CustomerEditForm(initial={"over_delivery_tolerance": customer.over_delivery_tolerance})
    assert form.fields["over_delivery_tolerance"].widget.attrs["max"] == "100"


def test_R_CO_7_tolerance_through_the_api(sales_clerk, customer_type):
    client = client_for(sales_clerk)
    data = {"name": "第四人民医院", "customer_type": ctype("hospital").pk, "over_delivery_tolerance": "4.5"}
    created = post(client, "/api/customers/", data)
    assert created.status_code == 201, created.content
    assert body(created)["over_delivery_tolerance"] == "4.50"
    url = f"/api/customers/{body(created)['id']}/"
    assert body(client.get(url))["over_delivery_tolerance"] == "4.50"
    refused = patch(client, url, {"over_delivery_tolerance": "101", "version": 1, "reason": "x"})
    assert "over_delivery_tolerance" in assert_error(refused, 400)["errors"]
    cleared = patch(client, url, {"over_delivery_tolerance": None, "version": 1, "reason": "按公司默认"})
    assert cleared.status_code == 200, cleared.content
    assert body(cleared)["over_delivery_tolerance"] is None
    untouched = patch(client, url, {"notes": "x", "version": 2, "reason": "备注"})
    assert body(untouched)["over_delivery_tolerance"] is None
