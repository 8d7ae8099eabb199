"""R-IF-2: property-based tests of the orders operations (schemathesis) — never a 5xx.

Same driver as tests/customers/test_api_schemathesis.py (hypothesis over schemathesis
strategies, in-process WSGI, bearer token of the administrator persona), limited to the
operations of ``qcare.orders.api``. Valid cases are aimed at real records (an order in each
important state, its reviews, questions, a change request with acknowledgements, a production
notice, a shipment), so they reach the services instead of stopping at 404; valid responses must
conform to the schema. Kept small (few examples per operation): the workflow itself is tested
in test_api.py.
"""

import itertools

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from qcare.orders import services, services_change, services_fulfil
from qcare.orders.models import ApprovalRule, ReviewRoute
from tests.api.conftest import token_for
from tests.orders.test_api import attach, make_known
from tests.personas import PERSONA_PASSWORD

EXAMPLES_PER_OPERATION = 6
PREFIXES = (
    "/api/orders/",
    "/api/order-changes/",
    "/api/production-notices/",
    "/api/shipments/",
    "/api/sales-records/",
    "/api/trace/",
    "/api/review-routes/",
    "/api/approval-rules/",
)


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
def targets(
    administrator,
    sales_clerk,
    distributor,
    device,
    order_lines,
    requirements_all,
    sales_manager,
    reviewer_production,
    reviewer_purchasing,
    reviewer_warehouse,
    gm,
):
    """Ids of real records for each path parameter name: a draft, an order under review with a
    question, an approved and shipped order with a change request and a production notice."""
    make_known(distributor, sales_clerk)
    signers = {"sales": sales_manager, "production": reviewer_production, "purchasing": reviewer_purchasing}

    def order(qty="10"):
        return services.create_order(
            sales_clerk,
            customer=distributor,
            source="contract",
            lines=order_lines(device, qty=qty),
            requirements=requirements_all,
        )

    def sign(review):
        return services.sign_review(
            signers[review.department.code], review, opinion="can_meet", password=PERSONA_PASSWORD
        )

    draft = order()
    reviewing = services.submit_order(sales_clerk, order())
    review = services.current_reviews(reviewing).get(department__code="production")
    question = services.raise_question(reviewer_production, review, text="交期？")
    approved = services.submit_order(sales_clerk, order(qty="20"))
    for item in services.current_reviews(approved):
        sign(item)
    approved.refresh_from_db()
    services.approve_order(sales_manager, approved, password=PERSONA_PASSWORD)
    line = approved.lines.get()
    notice = services_fulfil.issue_production_notice(
        sales_clerk,
        approved,
        lines=[{"order_line": line.pk, "quantity": "20", "planned_date": line.requested_date}],
    )
    shipment = services_fulfil.create_shipment(
        reviewer_warehouse,
        approved,
        shipped_on=timezone.localdate(),
        lines=[{"order_line": line.pk, "quantity": "5", "lot_number": "L-ST-1"}],
    )
    change = services_change.create_change_request(
        sales_clerk,
        approved,
        proposed={"lines": [{"line_no": line.line_no, "quantity": "18"}]},
        reason="客户减量",
        customer_agreed=True,
        customer_agreement="邮件",
    )
    change = services_change.submit_change_request(sales_clerk, change)
    for item in change.reviews.filter(status="pending"):
        sign(item)
    change.refresh_from_db()
    change = services_change.approve_change_request(sales_manager, change, password=PERSONA_PASSWORD)
    attach(sales_clerk, draft)
    orders = [draft.pk, reviewing.pk, approved.pk]
    return {
        "pk": orders,
        "rid": [review.pk, *services.current_reviews(approved).values_list("pk", flat=True)][:3],
        "qid": [question.pk] * 3,
        "aid": list(change.acknowledgements.values_list("pk", flat=True))[:3] or [0],
        "lot": ["L-ST-1"],
        "serial": ["SN-NONE"],
        # other resources reuse "pk": the ids below are tried on their own paths
        "change": [change.pk],
        "notice": [notice.pk],
        "shipment": [shipment.pk],
        "route": list(ReviewRoute.objects.values_list("pk", flat=True)[:3]),
        "rule": list(ApprovalRule.objects.values_list("pk", flat=True)[:3]),
        "customer": [distributor.pk],
    }


#: Which target list a path's ``pk`` refers to.
PK_OF = {
    "/api/order-changes/": "change",
    "/api/production-notices/": "notice",
    "/api/shipments/": "shipment",
    "/api/review-routes/": "route",
    "/api/approval-rules/": "rule",
    "/api/customers/": "customer",
}


def _aim(case, targets, counter):
    """Point path parameters at real records (mostly) and pass the version check."""
    n = next(counter)
    if n % 4:
        pk_kind = next((kind for prefix, kind in PK_OF.items() if case.path.startswith(prefix)), "pk")
        for name in case.path_parameters or {}:
            values = targets[pk_kind] if name == "pk" else targets.get(name)
            if values:
                case.path_parameters[name] = values[n % len(values)]
    if case.method.upper() in ("PATCH", "PUT"):
        case.headers = {**(case.headers or {}), "If-Match": "*"}


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
def test_R_IF_2_orders_schemathesis_no_5xx(api_schema, administrator, targets, mode):
    headers = {"Authorization": f"Bearer {token_for(administrator)}", "Accept-Language": "en"}
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())
        if op.path.startswith(PREFIXES) or op.path == "/api/customers/{pk}/lots/"
    ]
    assert len(operations) >= 50
    for operation in operations:
        _exercise(operation, mode, headers, targets)
