"""R-IF-2: property-based tests of the customer-file operations (schemathesis) — never a 5xx.

Same driver as tests/api/test_schemathesis.py (hypothesis over schemathesis strategies,
in-process WSGI, bearer token of the administrator persona), limited to the operations of
``qcare.customers.api`` (import/export are tested by their owner). Valid cases are aimed at
existing customers, contacts, licences, actions and property items, so they reach the
services instead of stopping at 404; valid responses must conform to the schema.
"""

import itertools

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from qcare.customers import services
from qcare.customers.choices import ClassificationKind, LicenceKind
from qcare.customers.models import Classification
from tests.api.conftest import token_for

EXAMPLES_PER_OPERATION = 12
EXCLUDED = ("/api/customers/import/", "/api/customers/export/")


@pytest.fixture
def api_schema(db):
    # Keep the test's connection (and its transaction) open across requests, as the test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def targets(administrator, sales_clerk, category):
    """Ids of real records for each path parameter name."""
    distributor = Classification.objects.get(kind=ClassificationKind.TYPE, code="distributor")
    found = {"pk": [], "cid": [], "lid": [], "aid": [], "pid": []}
    for n in range(3):
        customer = services.create_customer(
            administrator,
            data={"name": f"施测客户{n}", "customer_type": distributor, "region": "上海", "tax_id": f"ST{n}"},
            contacts=[{"name": f"联系人{n}", "phone": "021-55550000", "mobile": "13800000000"}],
        )
        licence = services.add_licence(
            administrator,
            customer,
            data={"kind": LicenceKind.DEVICE_BUSINESS, "number": f"沪{n}"},
            categories=[category("07")],
        )
        action = services.add_follow_up(
            administrator, customer, description="回访", owner=sales_clerk, due_date="2026-12-01"
        )
        prop = services.register_property(administrator, customer, data={"kind": "tooling", "name": "模具"})
        found["pk"].append(customer.pk)
        found["cid"].append(customer.contacts.get().pk)
        found["lid"].append(licence.pk)
        found["aid"].append(action.pk)
        found["pid"].append(prop.pk)
    return found


def _aim(case, targets, counter):
    """Point path parameters at real records (mostly), pass the version check, give a reason."""
    n = next(counter)
    if n % 4:
        index = n % 3
        for name in case.path_parameters or {}:
            if name in targets:
                case.path_parameters[name] = targets[name][index]
    method = case.method.upper()
    if method == "PATCH":
        case.headers = {**(case.headers or {}), "If-Match": "*"}
        if isinstance(case.body, dict) and not str(case.body.get("reason") or "").strip():
            case.body["reason"] = "schemathesis"
    if method == "DELETE" and n % 2:
        case.query = {**(case.query or {}), "reason": "schemathesis"}


def _exercise(operation, mode, headers, targets):
    checks = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)
    counter = itertools.count()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if mode is GenerationMode.POSITIVE:
            _aim(case, targets, counter)
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_R_IF_2_customers_schemathesis_no_5xx(api_schema, administrator, targets, mode):
    headers = {"Authorization": f"Bearer {token_for(administrator)}", "Accept-Language": "en"}
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())
        if op.path.startswith("/api/customers/") and op.path not in EXCLUDED
    ]
    assert len(operations) >= 25
    for operation in operations:
        _exercise(operation, mode, headers, targets)
