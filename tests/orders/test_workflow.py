"""The order workflow through its services: intake, requirements, confirmation, licence gate,
parallel review with signatures, clarification loop, approval authority, review record
number, and refusals that change nothing (SPEC R-OR-1…7, R-CU-3)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from qcare.audit.models import AuditEntry
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, StaleVersion, ValidationFailed
from qcare.core.models_mech import Signature
from qcare.core.signatures import SignatureRefused, valid_signatures
from qcare.notifications.models import Notification
from qcare.orders import services
from qcare.orders.choices import OrderSource, OrderStatus, ReviewStatus
from qcare.orders.models import Order, OrderLine, OrderQuestion, OrderReview, OrderTransition, OrderVersion
from tests.orders.conftest import make_distributor
from tests.orders.test_workflow_support import (
    PERSONA_PASSWORD,
    REQUIREMENTS,
    attach,
    departments,
    english_fixture,  # noqa: F401  (fixture)
    line,
    make_known,
    make_order,
    review_of,
    sign,
    sign_all,
    team_fixture,  # noqa: F401  (fixture)
)

SPECIAL_DEPARTMENTS = ["production", "purchasing", "quality", "rnd", "sales"]


def inbox(user, template):
    return Notification.objects.filter(recipient=user, channel="inbox", template=f"orders/{template}")


def snapshot(order):
    """What must not change when a service refuses."""
    fresh = Order.objects.get(pk=order.pk)
    reviews = list(
        OrderReview.objects.filter(order=order)
        .order_by("pk")
        .values_list("pk", "status", "opinion", "version")
    )
    return (fresh.version, fresh.status, reviews, Signature.objects.count(), OrderTransition.objects.count())


@pytest.fixture
def special_order(team, sales_clerk, distributor, device):
    """A special order (first order of a new customer; 10 × 30,000 = 300,000 ≥ 200,000) submitted."""
    order = make_order(sales_clerk, distributor, line(device, qty="10", price="30000"))
    return services.submit_order(sales_clerk, order)


# --- R-OR-1 intake ------------------------------------------------------------------------
def test_R_OR_1_order_is_numbered_with_lines_amounts_and_owner(sales_clerk, distributor, device, accessory):
    order = make_order(
        sales_clerk,
        distributor,
        line(device, qty="2", price="12500.50"),
        line(accessory, qty="3", price="9.99", in_stock=True),
        customer_reference="KD-2026-001",
        payment_terms="款到发货",
    )
    today = timezone.localdate()
    assert re.fullmatch(rf"SO-{today:%Y%m}-\d{{4}}", order.number)
    assert order.status == OrderStatus.DRAFT
    assert order.owner == sales_clerk and order.department == sales_clerk.department
    assert order.review_number is None
    lines = list(order.lines.order_by("line_no"))
    assert [ln.line_no for ln in lines] == [1, 2]
    assert lines[0].amount == Decimal("25001.00") and lines[1].amount == Decimal("29.97")
    assert lines[0].specification == device.model and lines[1].unit == "卷"
    assert order.total_amount == order.total_amount_cny == Decimal("25030.97")
    assert order.is_export is False  # the customer is domestic
    assert order.transitions.get().to_status == OrderStatus.DRAFT


@pytest.mark.parametrize("source", OrderSource.values)
def test_R_OR_1_orders_arrive_in_any_form(sales_clerk, hospital, device, source):
    order = make_order(sales_clerk, hospital, line(device), source=source)
    assert order.source == source and order.get_source_display()


def test_R_OR_1_foreign_currency_amount_in_cny(sales_clerk, hospital, device):
    order = make_order(
        sales_clerk, hospital, line(device, qty="2", price="100"), currency="usd", exchange_rate="7.1"
    )
    assert order.currency == "USD"
    assert order.total_amount == Decimal("200.00") and order.total_amount_cny == Decimal("1420.00")


def test_R_OR_1_invalid_lines_are_refused_with_field_errors(sales_clerk, hospital, device):
    before = Order.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        make_order(
            sales_clerk,
            hospital,
            line(device, qty="0"),
            line(device, price="-1"),
            {"product": None, "quantity": "1", "unit_price": "1"},
        )
    assert set(exc.value.errors) == {"lines.0.quantity", "lines.1.unit_price", "lines.2.product"}
    with pytest.raises(ValidationFailed) as exc:
        make_order(sales_clerk, hospital)
    assert "lines" in exc.value.errors
    assert Order.objects.count() == before


def test_R_OR_1_numbers_must_fit_the_columns(sales_clerk, hospital, device):
    """Bad numbers are field errors, never a server error (found by the API's schemathesis run)."""
    with pytest.raises(ValidationFailed) as exc:
        make_order(
            sales_clerk,
            hospital,
            line(device, qty="26614121156.672", price="4616078090788049.51"),  # amount ≥ 10^16
            line(device, qty="NaN"),
            line(device, qty="1.0001"),
            line(device, price="1e20"),
        )
    assert set(exc.value.errors) == {
        "lines.0.quantity",
        "lines.1.quantity",
        "lines.2.quantity",
        "lines.3.unit_price",
    }
    with pytest.raises(ValidationFailed) as exc:
        make_order(
            sales_clerk,
            hospital,
            line(device, qty="1000000", price="2000000000"),
            currency="USD",
            exchange_rate="7",
        )
    assert exc.value.errors == {"lines": ["The total amount of the order is too large."]}
    assert not Order.objects.exists()


def test_R_OR_1_only_own_customers_and_only_with_permission(
    sales_clerk, sales_clerk_2, reviewer_production, hospital, device
):
    with pytest.raises(ValidationFailed) as exc:
        make_order(sales_clerk_2, hospital, line(device))
    assert "customer" in exc.value.errors
    with pytest.raises(NotPermitted):
        make_order(reviewer_production, hospital, line(device))


def test_R_OR_1_draft_lines_are_replaced_by_line_number(sales_clerk, hospital, device, accessory):
    order = make_order(sales_clerk, hospital, line(device, qty="1", price="100"), line(accessory))
    services.update_order(
        sales_clerk,
        order,
        data={"payment_terms": "月结 30 天"},
        lines=[line(device, qty="5", price="100", line_no=1), line(accessory, qty="1", price="2", line_no=3)],
        expected_version=order.version,
    )
    assert [(ln.line_no, ln.quantity) for ln in order.lines.order_by("line_no")] == [
        (1, Decimal("5.000")),
        (3, Decimal("1.000")),
    ]
    assert order.total_amount == Decimal("502.00") and order.payment_terms == "月结 30 天"
    with pytest.raises(StaleVersion):
        services.update_order(sales_clerk, order, data={"notes": "x"}, expected_version=order.version - 1)


def test_R_OR_1_submitted_and_approved_orders_cannot_be_edited(
    sales_clerk, hospital, device, team, sales_manager
):
    make_known(hospital, sales_clerk)
    order = make_order(sales_clerk, hospital, line(device, in_stock=True))
    services.submit_order(sales_clerk, order)
    with pytest.raises(Conflict):
        services.update_order(sales_clerk, order, data={"notes": "改"})
    sign_all(order, team)
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)
    before = snapshot(order)
    with pytest.raises(Conflict, match="change"):
        services.update_order(
            sales_clerk, order, data={"notes": "改"}, lines=[line(device, qty="99", line_no=1)]
        )
    with pytest.raises(Conflict):
        services.set_requirements(sales_clerk, order, REQUIREMENTS)
    assert snapshot(order) == before
    assert order.lines.get().quantity == Decimal("10.000")


# --- R-OR-2 requirement capture ---------------------------------------------------------------
def test_R_OR_2_checklist_codes_are_validated(sales_clerk, hospital, device):
    order = make_order(sales_clerk, hospital, line(device), requirements={})
    with pytest.raises(ValidationFailed) as exc:
        services.set_requirements(
            sales_clerk,
            order,
            {"explicit": {"items": ["teleport"]}, "implied": {"items": ["none", "storage"]}, "secret": {}},
        )
    assert set(exc.value.errors) == {"requirements.explicit", "requirements.implied", "requirements.secret"}
    order.refresh_from_db()
    assert order.requirements == {}


def test_R_OR_2_every_category_must_be_captured_before_submission(sales_clerk, hospital, device):
    order = make_order(
        sales_clerk, hospital, line(device), requirements={"explicit": REQUIREMENTS["explicit"]}
    )
    problems = services.requirement_problems(order)
    assert len(problems) == 3 and all("Requirements not captured" in p for p in problems)
    with pytest.raises(ValidationFailed) as exc:
        services.submit_order(sales_clerk, order)
    assert exc.value.errors["__all__"] == problems
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DRAFT
    # "none" counts as captured: reviewed, nothing applies.
    services.set_requirements(
        sales_clerk,
        order,
        {
            **REQUIREMENTS,
            "implied": {"items": ["none"], "text": ""},
        },
    )
    assert services.requirement_problems(order) == []


def test_R_OR_2_special_requirements_must_be_confirmed(sales_clerk, hospital, device):
    order = make_order(sales_clerk, hospital, line(device))
    services.set_requirements(
        sales_clerk, order, REQUIREMENTS, [{"text": "每台附中文说明书两份", "confirmed": False}]
    )
    assert services.requirement_problems(order) == ["Special requirement not confirmed: 每台附中文说明书两份"]
    with pytest.raises(ValidationFailed, match="每台附中文说明书两份"):
        services.submit_order(sales_clerk, order)
    services.set_requirements(
        sales_clerk, order, REQUIREMENTS, [{"text": "每台附中文说明书两份", "confirmed": True}]
    )
    services.submit_order(sales_clerk, order)
    assert order.status == OrderStatus.UNDER_REVIEW


# --- R-OR-3 oral orders and new customers -------------------------------------------------
def test_R_OR_3_oral_order_waits_for_the_written_confirmation(
    sales_clerk, hospital, device, team, sales_manager
):
    make_known(hospital, sales_clerk)
    order = make_order(sales_clerk, hospital, line(device, in_stock=True), source=OrderSource.ORAL)
    services.submit_order(sales_clerk, order)
    sign_all(order, team)
    # Every department signed, but the review cannot finish without the confirmation.
    assert order.status == OrderStatus.UNDER_REVIEW
    assert any("oral order" in p for p in services.approval_problems(order))
    with pytest.raises(Conflict):
        services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)

    other = make_order(sales_clerk, hospital, line(device))
    foreign_file = attach(sales_clerk, other)
    with pytest.raises(ValidationFailed) as exc:
        services.record_confirmation(
            sales_clerk, order, kind="email", received_on=timezone.localdate(), attachment=foreign_file
        )
    assert "attachment" in exc.value.errors

    document = attach(sales_clerk, order)
    services.record_confirmation(
        sales_clerk, order, kind="email", received_on=timezone.localdate(), attachment=document
    )
    assert order.status == OrderStatus.AWAITING_APPROVAL
    assert order.confirmation_attachment == document and order.confirmation_recorded_by == sales_clerk
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)
    assert order.status == OrderStatus.APPROVED


def test_R_OR_3_new_customer_needs_a_formal_contract(sales_clerk, hospital, device, team, deputy_gm):
    order = make_order(sales_clerk, hospital, line(device), source=OrderSource.PURCHASE_ORDER)
    services.submit_order(sales_clerk, order)
    sign_all(order, team)
    assert order.status == OrderStatus.UNDER_REVIEW
    assert any("formal contract" in p for p in services.approval_problems(order))
    # An e-mail does not make a contract; the signed contract does.
    document = attach(sales_clerk, order, "合同.pdf")
    services.record_confirmation(
        sales_clerk, order, kind="email", received_on=timezone.localdate(), attachment=document
    )
    assert order.status == OrderStatus.UNDER_REVIEW
    services.record_confirmation(
        sales_clerk, order, kind="signed_contract", received_on=timezone.localdate(), attachment=document
    )
    assert order.status == OrderStatus.AWAITING_APPROVAL
    services.approve_order(deputy_gm, order, password=PERSONA_PASSWORD)


def test_R_OR_3_known_customer_purchase_order_counts_as_contract(sales_clerk, hospital, device):
    make_known(hospital, sales_clerk)
    order = make_order(sales_clerk, hospital, line(device), source=OrderSource.PURCHASE_ORDER)
    assert services.confirmation_problems(order) == []


# --- R-CU-3 licence gate ------------------------------------------------------------------
def test_R_CU_3_missing_licence_blocks_submission(sales_clerk, device):
    from tests.customers.conftest import create_customer_row

    customer = create_customer_row(sales_clerk, type_code="distributor", name="无证经销商")
    order = make_order(sales_clerk, customer, line(device))
    with pytest.raises(ValidationFailed, match="No valid licence on file"):
        services.submit_order(sales_clerk, order)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DRAFT


def test_R_CU_3_expired_licence_is_named(sales_clerk, device):
    customer = make_distributor(
        sales_clerk, name="过期经销商", licence_until=timezone.localdate() - timedelta(days=1)
    )
    order = make_order(sales_clerk, customer, line(device))
    problems = services.submission_problems(order)
    assert problems == [
        "Regulated devices cannot be sold to this customer: Licence 粤穗食药监械经营许20190123号 expired on "
        f"{timezone.localdate() - timedelta(days=1)}"
    ]


def test_R_CU_3_licence_out_of_scope_is_named(sales_clerk, device):
    customer = make_distributor(sales_clerk, name="范围外经销商", categories=("06",))
    order = make_order(sales_clerk, customer, line(device))
    with pytest.raises(ValidationFailed) as exc:
        services.submit_order(sales_clerk, order)
    assert "does not cover 07" in exc.value.errors["__all__"][0]


def test_R_CU_3_unregulated_products_and_end_users_need_no_licence(sales_clerk, accessory, device, hospital):
    from tests.customers.conftest import create_customer_row

    customer = create_customer_row(sales_clerk, type_code="distributor", name="耗材经销商")
    assert services.licence_problems(make_order(sales_clerk, customer, line(accessory))) == []
    assert services.licence_problems(make_order(sales_clerk, hospital, line(device))) == []


# --- R-OR-5 parallel review ---------------------------------------------------------------
def test_R_OR_5_special_order_is_reviewed_in_parallel(special_order, team, sales_clerk):
    assert special_order.status == OrderStatus.UNDER_REVIEW
    assert departments(special_order) == SPECIAL_DEPARTMENTS
    for review in services.current_reviews(special_order):
        assert review.status == ReviewStatus.PENDING and review.round == 1
        assert review.due_at > review.started_at and review.escalate_at > review.due_at
        assert review.subjects
        # each department's reviewers were asked
        assert inbox(team[review.department.code], "review_requested").exists()
    assert not inbox(sales_clerk, "review_requested").exists()
    # any order of signing; the last one sends the order to approval
    for code in ["rnd", "sales", "production", "quality"]:
        sign(team[code], review_of(special_order, code), "conditional" if code == "rnd" else "can_meet")
        special_order.refresh_from_db()
        assert special_order.status == OrderStatus.UNDER_REVIEW
    sign(team["purchasing"], review_of(special_order, "purchasing"), proposed_date=timezone.localdate())
    special_order.refresh_from_db()
    assert special_order.status == OrderStatus.AWAITING_APPROVAL
    assert special_order.reviews_completed_at is not None


def test_R_OR_5_optional_departments_on_request(sales_clerk, distributor, device, org):
    order = make_order(sales_clerk, distributor, line(device, price="30000"))
    services.submit_order(sales_clerk, order, optional_departments=[org["finance"]])
    assert departments(order) == sorted([*SPECIAL_DEPARTMENTS, "finance"])


def test_R_OR_5_review_signature_is_an_e_signature_meaning_reviewed(special_order, team):
    review = sign(team["quality"], review_of(special_order, "quality"), "conditional", "需按 GB 9706 验收")
    assert review.status == ReviewStatus.SIGNED and review.reviewer == team["quality"]
    (signature,) = valid_signatures(review)
    assert signature.meaning == "reviewed" and signature.signer == team["quality"]
    assert signature.comment == "需按 GB 9706 验收"


def test_R_OR_5_reviewer_signs_only_for_own_department(special_order, team):
    before = snapshot(special_order)
    with pytest.raises(NotPermitted, match="own department"):
        sign(team["purchasing"], review_of(special_order, "production"))
    assert snapshot(special_order) == before


def test_R_OR_5_wrong_password_signs_nothing(special_order, team):
    user = team["production"]
    before = snapshot(special_order)
    with pytest.raises(SignatureRefused):
        sign(user, review_of(special_order, "production"), password="wrong")
    assert snapshot(special_order) == before
    user.refresh_from_db()
    assert user.signing_failures == 1  # counted although everything else rolled back
    review = review_of(special_order, "production")
    assert review.status == ReviewStatus.PENDING and review.opinion == "" and review.signature is None


def test_R_OR_5_conditions_and_cannot_meet_need_comments(special_order, team):
    for opinion in ("conditional", "cannot_meet"):
        with pytest.raises(ValidationFailed) as exc:
            services.sign_review(
                team["rnd"], review_of(special_order, "rnd"), opinion=opinion, password=PERSONA_PASSWORD
            )
        assert "comments" in exc.value.errors
    with pytest.raises(ValidationFailed):
        services.sign_review(
            team["rnd"], review_of(special_order, "rnd"), opinion="maybe", password=PERSONA_PASSWORD
        )


def test_R_OR_5_signing_twice_is_refused(special_order, team):
    review = sign(team["rnd"], review_of(special_order, "rnd"))
    with pytest.raises(Conflict, match="already been signed"):
        sign(team["rnd"], review)


def test_R_OR_5_users_without_review_permission_or_scope_are_refused(
    special_order, sales_clerk, reviewer_rnd
):
    with pytest.raises(NotPermitted):
        sign(sales_clerk, review_of(special_order, "sales"))


def test_R_OR_5_cannot_meet_clarification_restarts_only_affected_reviews(special_order, team, sales_clerk):
    order = special_order
    sign(team["purchasing"], review_of(order, "purchasing"))
    sign(team["quality"], review_of(order, "quality"))
    sign(team["sales"], review_of(order, "sales"))
    sign(team["production"], review_of(order, "production"), "cannot_meet", "30 天内无法交货，最早 60 天")
    order.refresh_from_db()
    assert order.status == OrderStatus.CLARIFICATION
    question = order.questions.get()
    assert question.text == "30 天内无法交货，最早 60 天" and question.department.code == "production"
    assert inbox(sales_clerk, "clarification_needed").exists()
    # R&D may still sign while sales clarifies.
    sign(team["rnd"], review_of(order, "rnd"))

    with pytest.raises(ValidationFailed, match="open point"):
        services.resubmit_order(sales_clerk, order)
    services.answer_question(sales_clerk, question, answer="客户书面同意 60 天交货")
    assert inbox(team["production"], "question_answered").exists()
    attach(sales_clerk, question, "客户回函.pdf")
    # The customer agreed to a later delivery date: only delivery-date signatures become invalid.
    new_date = timezone.localdate() + timedelta(days=60)
    services.update_order(
        sales_clerk,
        order,
        data={},
        lines=[line(order.lines.get().product, qty="10", price="30000", requested_date=new_date, line_no=1)],
    )
    old = {r.department.code: r for r in services.current_reviews(order)}
    services.resubmit_order(sales_clerk, order)
    assert order.status == OrderStatus.UNDER_REVIEW and order.review_round == 2
    now = {r.department.code: r for r in services.current_reviews(order)}
    # production: said cannot meet (and signed delivery dates) → new round; the rest stand.
    assert now["production"].pk != old["production"].pk and now["production"].round == 2
    assert now["production"].status == ReviewStatus.PENDING
    for code in ("purchasing", "quality", "sales", "rnd"):
        assert now[code].pk == old[code].pk and now[code].status == ReviewStatus.SIGNED
    assert OrderReview.objects.get(pk=old["production"].pk).status == ReviewStatus.SUPERSEDED
    assert OrderReview.objects.get(pk=old["production"].pk).superseded_by == now["production"]
    sign(team["production"], now["production"], proposed_date=new_date)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_APPROVAL


def test_R_OR_5_changed_subject_restarts_the_reviews_that_signed_it(special_order, team, sales_clerk):
    order = sign_all(special_order, team, except_=("rnd",))
    services.raise_question(team["rnd"], review_of(order, "rnd"), text="包装是否需要防潮？")
    order.refresh_from_db()
    assert order.status == OrderStatus.CLARIFICATION
    services.answer_question(sales_clerk, order.questions.get(), answer="需要防潮包装")
    product = order.lines.get().product
    services.update_order(
        sales_clerk,
        order,
        data={},
        lines=[line(product, qty="10", price="30000", packaging="防潮包装", line_no=1)],
    )
    old = {r.department.code: r.pk for r in services.current_reviews(order)}
    services.resubmit_order(sales_clerk, order)
    now = {r.department.code: r.pk for r in services.current_reviews(order)}
    # packaging is signed by R&D only (pending anyway) in the default special matrix: nobody restarts
    assert now == old
    sign(team["rnd"], review_of(order, "rnd"))
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_APPROVAL


def test_R_OR_5_price_change_restarts_sales_only(special_order, team, sales_clerk):
    order = sign_all(special_order, team, except_=("rnd",))
    services.raise_question(team["rnd"], review_of(order, "rnd"), text="价格是否含税？")
    services.answer_question(sales_clerk, order.questions.get(), answer="含税价下调")
    product = order.lines.get().product
    services.update_order(
        sales_clerk, order, data={}, lines=[line(product, qty="10", price="29000", line_no=1)]
    )
    old = {r.department.code: r.pk for r in services.current_reviews(order)}
    services.resubmit_order(sales_clerk, order)
    now = {r.department.code: r.pk for r in services.current_reviews(order)}
    assert {code for code in old if old[code] != now[code]} == {"sales"}


def test_R_OR_5_cancelled_order_cannot_be_reviewed(special_order, team, sales_clerk):
    services.cancel_order(sales_clerk, special_order, reason="客户取消")
    before = snapshot(special_order)
    with pytest.raises(Conflict, match="cancelled"):
        sign(team["rnd"], review_of(special_order, "rnd"))
    with pytest.raises(Conflict):
        services.raise_question(team["rnd"], review_of(special_order, "rnd"), text="?")
    assert snapshot(special_order) == before


def test_R_OR_5_question_is_asked_by_the_reviewing_department_only(special_order, team, sales_clerk):
    with pytest.raises(NotPermitted):
        services.raise_question(team["quality"], review_of(special_order, "rnd"), text="?")
    with pytest.raises(ValidationFailed):
        services.raise_question(team["rnd"], review_of(special_order, "rnd"), text=" ")
    assert not OrderQuestion.objects.exists()


# --- R-OR-6 approval authority ------------------------------------------------------------
def _ready(order, team):
    services.submit_order(order.owner, order)
    sign_all(order, team)
    assert order.status == OrderStatus.AWAITING_APPROVAL, services.approval_problems(order)
    return order


def test_R_OR_6_regular_order_is_approved_by_the_sales_manager(
    sales_clerk, hospital, device, team, sales_manager, gm
):
    make_known(hospital, sales_clerk)
    order = _ready(make_order(sales_clerk, hospital, line(device, in_stock=True)), team)
    with pytest.raises(NotPermitted, match="may approve"):
        services.approve_order(gm, order, password=PERSONA_PASSWORD)
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD, comment="同意")
    assert order.status == OrderStatus.APPROVED and order.approved_by == sales_manager
    assert "常规订单" in order.approval_rule.name
    (signature,) = valid_signatures(order, "approved")
    assert signature.signer == sales_manager and signature.comment == "同意"
    version = OrderVersion.objects.get(order=order)
    assert version.number == 1 and version.content["data"]["lines"][0]["quantity"] == "10.000"
    assert inbox(sales_clerk, "order_approved").exists()
    assert inbox(team["warehouse"], "order_approved").exists()


def test_R_OR_6_special_order_by_deputy_gm_or_gm(special_order, team, sales_manager, deputy_gm):
    _order = sign_all(special_order, team)
    with pytest.raises(NotPermitted):
        services.approve_order(sales_manager, special_order, password=PERSONA_PASSWORD)
    assert inbox(deputy_gm, "approval_requested").exists()
    assert not inbox(sales_manager, "approval_requested").exists()
    services.approve_order(deputy_gm, special_order, password=PERSONA_PASSWORD)
    assert special_order.status == OrderStatus.APPROVED


def test_R_OR_6_export_contract_by_the_gm(sales_clerk, hospital, device, team, deputy_gm, gm):
    make_known(hospital, sales_clerk)
    order = _ready(make_order(sales_clerk, hospital, line(device, in_stock=True), is_export=True), team)
    with pytest.raises(NotPermitted):
        services.approve_order(deputy_gm, order, password=PERSONA_PASSWORD)
    services.approve_order(gm, order, password=PERSONA_PASSWORD)


@pytest.mark.parametrize(
    ("price", "approver", "refused"), [("290000", "sales_manager", "gm"), ("300000", "gm", "sales_manager")]
)
def test_R_OR_6_tenders_by_amount_band(
    sales_clerk, hospital, device, team, price, approver, refused, request
):
    make_known(hospital, sales_clerk)
    order = _ready(
        make_order(sales_clerk, hospital, line(device, qty="10", price=price), source=OrderSource.TENDER),
        team,
    )
    with pytest.raises(NotPermitted):
        services.approve_order(request.getfixturevalue(refused), order, password=PERSONA_PASSWORD)
    services.approve_order(request.getfixturevalue(approver), order, password=PERSONA_PASSWORD)
    assert order.status == OrderStatus.APPROVED


def test_R_OR_6_approver_without_the_permission_is_refused(
    special_order, team, sales_clerk, reviewer_quality
):
    sign_all(special_order, team)
    for user in (sales_clerk, reviewer_quality):
        with pytest.raises((NotPermitted, NotFound)):
            services.approve_order(user, special_order, password=PERSONA_PASSWORD)


def test_R_OR_6_approving_twice_is_refused(special_order, team, gm, deputy_gm):
    sign_all(special_order, team)
    services.approve_order(gm, special_order, password=PERSONA_PASSWORD)
    before = snapshot(special_order)
    with pytest.raises(Conflict, match="already been approved"):
        services.approve_order(deputy_gm, Order.objects.get(pk=special_order.pk), password=PERSONA_PASSWORD)
    with pytest.raises(Conflict):
        services.reject_order(deputy_gm, special_order, password=PERSONA_PASSWORD, reason="不同意")
    assert snapshot(special_order) == before


def test_R_OR_6_stale_version_is_refused(special_order, team, gm):
    sign_all(special_order, team)
    with pytest.raises(StaleVersion):
        services.approve_order(
            gm, special_order, password=PERSONA_PASSWORD, expected_version=special_order.version - 1
        )
    services.approve_order(
        gm, special_order, password=PERSONA_PASSWORD, expected_version=special_order.version
    )


def test_R_OR_6_wrong_password_approves_nothing(special_order, team, gm):
    sign_all(special_order, team)
    before = snapshot(special_order)
    with pytest.raises(SignatureRefused):
        services.approve_order(gm, special_order, password="nope")
    assert snapshot(special_order) == before
    assert not OrderVersion.objects.exists()


def test_R_OR_6_approval_refused_while_a_review_is_missing(special_order, team, gm):
    sign_all(special_order, team, except_=("quality",))
    Order.objects.filter(pk=special_order.pk).update(status=OrderStatus.AWAITING_APPROVAL)  # forced
    before = snapshot(special_order)
    with pytest.raises(Conflict) as exc:
        services.approve_order(gm, special_order, password=PERSONA_PASSWORD)
    assert exc.value.errors["__all__"] == ["Quality Dept has not signed its review yet."] or any(
        "has not signed" in p for p in exc.value.errors["__all__"]
    )
    assert snapshot(special_order) == before


def test_R_OR_6_approval_refused_while_a_review_is_negative(special_order, team, gm):
    sign_all(special_order, team)
    OrderReview.objects.filter(order=special_order, department__code="rnd").update(opinion="cannot_meet")
    before = snapshot(special_order)
    with pytest.raises(Conflict) as exc:
        services.approve_order(gm, special_order, password=PERSONA_PASSWORD)
    assert any("cannot meet" in p for p in exc.value.errors["__all__"])
    assert snapshot(special_order) == before


def test_R_OR_6_approval_refused_while_a_signature_is_invalid(special_order, team, gm):
    sign_all(special_order, team)
    # The quantity changed behind the reviewers' backs: their signatures no longer match.
    OrderLine.objects.filter(order=special_order).update(quantity=Decimal("11"))
    problems = services.approval_problems(special_order)
    invalid = [p for p in problems if "no longer valid" in p]
    assert len(invalid) == 2  # production and purchasing sign quantities; the others do not
    with pytest.raises(Conflict):
        services.approve_order(gm, special_order, password=PERSONA_PASSWORD)
    assert Order.objects.get(pk=special_order.pk).status == OrderStatus.AWAITING_APPROVAL


def test_R_OR_6_reject_needs_a_reason_and_the_authority(special_order, team, gm, sales_clerk):
    sign_all(special_order, team)
    with pytest.raises(ReasonRequired):
        services.reject_order(gm, special_order, password=PERSONA_PASSWORD, reason=" ")
    services.reject_order(gm, special_order, password=PERSONA_PASSWORD, reason="价格低于成本")
    assert special_order.status == OrderStatus.REJECTED and special_order.decision_comment == "价格低于成本"
    (signature,) = valid_signatures(special_order, "rejected")
    assert signature.signer == gm
    assert inbox(sales_clerk, "order_rejected").exists()
    with pytest.raises(Conflict):
        services.approve_order(gm, special_order, password=PERSONA_PASSWORD)


# --- R-OR-7 review record number ----------------------------------------------------------
def test_R_OR_7_review_number_assigned_once_and_kept_across_rounds(special_order, team, sales_clerk):
    number = special_order.review_number
    assert re.fullmatch(rf"HP-{timezone.localdate():%Y}-\d{{4}}", number)
    sign(team["rnd"], review_of(special_order, "rnd"), "cannot_meet", "无法满足")
    services.answer_question(sales_clerk, special_order.questions.get(), answer="客户放宽要求")
    services.resubmit_order(sales_clerk, special_order)
    assert special_order.review_number == number and special_order.review_round == 2
    assert Order.objects.filter(review_number__isnull=False).count() == 1


def test_R_OR_7_every_transition_is_recorded(special_order, team, gm):
    sign_all(special_order, team)
    services.approve_order(gm, special_order, password=PERSONA_PASSWORD)
    steps = list(special_order.transitions.values_list("from_status", "to_status"))
    assert steps == [
        ("", "draft"),
        ("draft", "under_review"),
        ("under_review", "awaiting_approval"),
        ("awaiting_approval", "approved"),
    ]


# --- cancel -------------------------------------------------------------------------------
def test_cancel_needs_a_reason_and_tells_the_reviewers(special_order, sales_clerk, team):
    with pytest.raises(ReasonRequired):
        services.cancel_order(sales_clerk, special_order, reason="")
    services.cancel_order(sales_clerk, special_order, reason="客户撤单")
    assert special_order.status == OrderStatus.CANCELLED and special_order.cancelled_reason == "客户撤单"
    assert inbox(team["rnd"], "order_cancelled").exists()
    with pytest.raises(Conflict, match="already been cancelled"):
        services.cancel_order(sales_clerk, special_order, reason="再次")
    entry = AuditEntry.objects.filter(object_pk=str(special_order.pk), reason="客户撤单").first()
    assert entry is not None


def test_R_OR_8_departments_that_received_the_order(sales_clerk, hospital, device, team, sales_manager, org):
    """Change control notifies every department that had the order: its reviewers and the
    department a production notice was issued to."""
    from qcare.core.context import audit_context
    from qcare.orders.models import ProductionNotice

    make_known(hospital, sales_clerk)
    order = make_order(sales_clerk, hospital, line(device, in_stock=True))
    services.submit_order(sales_clerk, order)
    sign_all(order, team)
    services.approve_order(sales_manager, order, password=PERSONA_PASSWORD)
    assert [d.code for d in services.departments_that_received(order)] == ["sales", "warehouse"]
    with audit_context(actor=sales_clerk):
        ProductionNotice.objects.create(
            number="SC-TEST-1", order=order, issued_by=sales_clerk, department=org["production"]
        )
    assert [d.code for d in services.departments_that_received(order)] == ["production", "sales", "warehouse"]
