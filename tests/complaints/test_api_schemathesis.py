"""R-IF-2: property-based tests of the feedback and complaints operations (schemathesis) — never a 5xx.

Same driver as tests/orders/test_api_schemathesis.py (hypothesis over schemathesis strategies,
in-process WSGI, bearer token of the administrator persona), limited to the operations of
``qcare.complaints.api``. Valid cases are aimed at real records (feedback, complaints in several
states, a CAPA with an action, a return note, an allowance, an issued notice with recipients)
so they reach the services instead of stopping at 404; valid responses must conform to the
schema. Kept small: the workflows themselves are tested in test_api.py / test_api_notices.py.
"""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from qcare.complaints import services, services_capa, services_feedback, services_notices, services_returns
from tests.api.conftest import token_for
from tests.complaints.conftest import LOT
from tests.complaints.test_api import approved_case
from tests.orders.test_api_schemathesis import api_schema  # noqa: F401  (fixture)
from tests.personas import PERSONA_PASSWORD

EXAMPLES_PER_OPERATION = 5
PREFIXES = (
    "/api/feedback/",
    "/api/complaints/",
    "/api/capas/",
    "/api/returns/",
    "/api/settlements/",
    "/api/notices/",
    "/api/reports/complaints/",
)


@pytest.fixture
def targets(
    sales_clerk,
    quality_engineer,
    deputy_gm,
    sales_manager,
    management_rep,
    reviewer_production,
    distributor,
    device,
    complaint_fields,
    org,
):
    """Ids of real records for each path parameter name."""
    feedback = services_feedback.log_feedback(
        sales_clerk,
        channel="phone",
        kind="claim",
        subject="读数不稳",
        content="客户来电",
        customer=distributor,
    )
    registered = services.register_complaint(sales_clerk, **complaint_fields)
    triaged = services.register_complaint(sales_clerk, **complaint_fields)
    services.triage_complaint(
        quality_engineer, triaged, severity="minor", category="quality", owner=quality_engineer
    )
    returned = services.register_complaint(sales_clerk, **complaint_fields)
    approved_case(
        quality_engineer,
        deputy_gm,
        sales_manager,
        returned,
        org,
        disposition="return",
        loss="3000",
        quantity=Decimal("3"),
    )
    note = services_returns.issue_return(
        quality_engineer, returned, approved_quantity=Decimal("1"), reason="退货", disposition="scrap"
    )
    allowance = services.register_complaint(sales_clerk, **complaint_fields)
    approved_case(
        quality_engineer, deputy_gm, sales_manager, allowance, org, disposition="allowance", loss="2000"
    )
    settlement = services_returns.record_settlement(
        quality_engineer, allowance, kind="allowance", amount=Decimal("1000")
    )
    capa = services_capa.open_capa(
        quality_engineer,
        source="complaint",
        title="焊接",
        problem="虚焊",
        owner=quality_engineer,
        complaints=[triaged],
    )
    action = services_capa.add_action(
        quality_engineer,
        capa,
        kind="corrective",
        description="校准",
        owner=reviewer_production,
        due_on=timezone.localdate() + timezone.timedelta(days=10),
    )
    items = [{"product": device, "lot_number": LOT}]
    kwargs = {"kind": "recall", "title": "召回", "reason": "虚焊", "risk": "high", "action_required": "退回"}
    draft = services_notices.draft_notice(quality_engineer, items=items, **kwargs)
    issued = services_notices.draft_notice(quality_engineer, items=items, **kwargs)
    services_notices.issue_notice(management_rep, issued, password=PERSONA_PASSWORD)
    recipient = issued.recipients.first()
    return {
        "complaint": [registered.pk, triaged.pk, returned.pk, allowance.pk],
        "feedback": [feedback.pk],
        "capa": [capa.pk],
        "aid": [action.pk],
        "return": [note.pk],
        "settlement": [settlement.pk],
        "notice": [draft.pk, issued.pk],
        "rid": [recipient.pk],
        "period": [timezone.localtime().strftime("%Y-%m")],
    }


#: Which target list a path's ``pk`` refers to.
PK_OF = {
    "/api/feedback/": "feedback",
    "/api/complaints/": "complaint",
    "/api/capas/": "capa",
    "/api/returns/": "return",
    "/api/settlements/": "settlement",
    "/api/notices/": "notice",
}


def _aim(case, targets, counter):
    """Point path parameters at real records (mostly) and pass the version check."""
    n = next(counter)
    if n % 4:
        pk_kind = next((kind for prefix, kind in PK_OF.items() if case.path.startswith(prefix)), None)
        for name in case.path_parameters or {}:
            values = targets.get(pk_kind) if name == "pk" else targets.get(name)
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
def test_R_IF_2_complaints_schemathesis_no_5xx(api_schema, administrator, targets, mode):  # noqa: F811
    headers = {"Authorization": f"Bearer {token_for(administrator)}", "Accept-Language": "en"}
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())
        if op.path.startswith(PREFIXES)
    ]
    assert len(operations) >= 60
    for operation in operations:
        _exercise(operation, mode, headers, targets)
