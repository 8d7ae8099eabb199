"""A hypothesis state machine over the order workflow (issue 4, R-OR-5/R-OR-6).

Random sequences of create / submit / sign (any opinion, any department, any review — also
superseded ones) / question / answer / edit in clarification / resubmit / approve / reject /
cancel / record the confirmation / override the class, by the right and the wrong people.

Invariants: no approved order has a current review that is missing, unsigned, negative or
whose signature is invalid, or an open point, or lacks the R-OR-3 confirmation; its approval
signature is valid. And every refusal leaves the order, its reviews and the signatures as
they were.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from qcare.core.errors import DomainError
from qcare.core.models_mech import Signature
from qcare.core.signatures import valid_signatures
from qcare.orders import authority, services
from qcare.orders.choices import (
    APPROVED_STATUSES,
    Opinion,
    OrderClass,
    OrderStatus,
    ReviewStatus,
)
from qcare.orders.models import Order, OrderQuestion
from tests.orders.test_workflow_support import (
    PERSONA_PASSWORD,
    attach,
    english_fixture,  # noqa: F401  (fixture)
    line,
    make_known,
    make_order,
    team_fixture,  # noqa: F401  (fixture)
)

DEPARTMENTS = ["sales", "production", "purchasing", "quality", "rnd", "warehouse", "finance"]
KINDS = ["regular_in_stock", "regular_no_stock", "special_amount", "special_product"]
EDITS = ["quantity", "date", "packaging", "price", "requirements", "notes"]


def state_of(order):
    """What a refused action must leave unchanged."""
    fresh = Order.objects.get(pk=order.pk)
    reviews = list(
        order.reviews.order_by("pk").values_list("pk", "status", "opinion", "signature_id", "version")
    )
    questions = list(OrderQuestion.objects.filter(order=order).order_by("pk").values_list("pk", "status"))
    return fresh.version, fresh.status, reviews, questions, Signature.objects.count()


class OrderWorkflow(RuleBasedStateMachine):
    """The people and things come from the test's fixtures (class attribute ``world``)."""

    world = None

    def __init__(self):
        super().__init__()
        self.orders = []
        self.checked = set()

    # --- helpers --------------------------------------------------------------------------
    def pick(self, index):
        return self.orders[index % len(self.orders)]

    def attempt(self, order, action):
        """Run ``action``; a DomainError must leave everything unchanged. True when it passed."""
        before = state_of(order)
        try:
            action()
        except DomainError:
            assert state_of(order) == before, "a refused action changed the order"
            return False
        finally:
            order.refresh_from_db()
        return True

    # --- rules ----------------------------------------------------------------------------
    @initialize(
        kind=st.sampled_from(KINDS),
        source=st.sampled_from(["contract", "oral", "purchase_order"]),
        known=st.booleans(),
    )
    def first_order(self, kind, source, known):
        self.create(kind, source, known)

    @precondition(lambda self: len(self.orders) < 3)
    @rule(
        kind=st.sampled_from(KINDS),
        source=st.sampled_from(["contract", "oral", "purchase_order"]),
        known=st.booleans(),
    )
    def create(self, kind, source, known):
        w = self.world
        customer = w["known"] if known else w["new"]
        product = w["custom"] if kind == "special_product" else w["device"]
        price = "30000" if kind == "special_amount" else "1000"
        in_stock = True if kind == "regular_in_stock" else None
        order = make_order(
            w["clerk"], customer, line(product, qty="10", price=price, in_stock=in_stock), source=source
        )
        self.orders.append(order)

    @rule(i=st.integers(0, 9), finance=st.booleans())
    def submit(self, i, finance):
        order = self.pick(i)
        optional = [self.world["team"]["finance"].department] if finance else []
        self.attempt(order, lambda: services.submit_order(order.owner, order, optional_departments=optional))

    def right_approver(self, order):
        """A user holding a role of the order's approval rule (or None)."""
        try:
            codes = authority.approver_role_codes(authority.rule_for(order))
        except DomainError:
            return None
        for name in ("manager", "deputy_gm", "gm"):
            if set(self.world[name].roles.values_list("code", flat=True)) & codes:
                return self.world[name]
        return None

    def step_forward(self, order):
        """The next sensible step of the happy path, so that sequences reach approval often."""
        status = order.status
        if status == OrderStatus.DRAFT:
            self.attempt(order, lambda: services.submit_order(order.owner, order))
        elif status == OrderStatus.UNDER_REVIEW:
            pending = services.current_reviews(order).filter(status=ReviewStatus.PENDING).first()
            if pending is not None:
                signer = self.world["team"][pending.department.code]
                self.attempt(
                    order,
                    lambda: services.sign_review(
                        signer, pending, opinion=Opinion.CAN_MEET, password=PERSONA_PASSWORD
                    ),
                )
            else:
                self.confirm(self.orders.index(order), "signed_contract")
        elif status == OrderStatus.CLARIFICATION:
            self.answer(self.orders.index(order))
            self.attempt(order, lambda: services.resubmit_order(order.owner, order))
        elif status == OrderStatus.AWAITING_APPROVAL:
            approver = self.right_approver(order)
            if approver is not None:
                passed = self.attempt(
                    order, lambda: services.approve_order(approver, order, password=PERSONA_PASSWORD)
                )
                assert passed or services.approval_problems(order), "approval refused without a reason"

    @rule(i=st.integers(0, 9))
    def progress(self, i):
        self.step_forward(self.pick(i))

    @rule(i=st.integers(0, 9))
    def progress_more(self, i):
        order = self.pick(i)
        for _ in range(8):
            self.step_forward(order)

    @rule(
        i=st.integers(0, 9),
        what=st.sampled_from(EDITS),
        step=st.integers(1, 5),
        ask=st.booleans(),
        decide=st.booleans(),
    )
    def clarify(self, i, what, step, ask, decide):
        """The clarification loop in one go: every department but one signs "can meet", the
        last one cannot meet (or asks a question), sales answers, edits the order, resubmits;
        with ``decide`` the order is then driven on to its approval."""
        order = self.pick(i)
        if order.status == OrderStatus.DRAFT:
            self.step_forward(order)
        if order.status != OrderStatus.UNDER_REVIEW:
            return
        pending = list(services.current_reviews(order).filter(status=ReviewStatus.PENDING))
        if not pending:
            return
        *others, last = pending
        for review in others:
            signer = self.world["team"][review.department.code]
            self.attempt(
                order,
                lambda r=review, u=signer: services.sign_review(
                    u, r, opinion=Opinion.CAN_MEET, password=PERSONA_PASSWORD
                ),
            )
        signer = self.world["team"][last.department.code]
        if ask:
            self.attempt(order, lambda: services.raise_question(signer, last, text="请确认"))
        else:
            self.attempt(
                order,
                lambda: services.sign_review(
                    signer, last, opinion=Opinion.CANNOT_MEET, comments="无法满足", password=PERSONA_PASSWORD
                ),
            )
        index = self.orders.index(order)
        self.answer(index)
        self.edit(index, what, step)
        self.attempt(order, lambda: services.resubmit_order(order.owner, order))
        if decide:
            self.progress_more(index)

    @rule(
        i=st.integers(0, 9),
        r=st.integers(0, 30),
        opinion=st.sampled_from(Opinion.values),
        wrong=st.booleans(),
        any_review=st.booleans(),
    )
    def sign(self, i, r, opinion, wrong, any_review):
        order = self.pick(i)
        reviews = list(order.reviews.order_by("pk").select_related("department"))
        if not any_review:  # mostly the reviews that are waiting
            reviews = [rv for rv in reviews if rv.status == ReviewStatus.PENDING] or reviews
        if not reviews:
            return
        review = reviews[r % len(reviews)]
        code = review.department.code
        signer = self.world["team"][
            DEPARTMENTS[(DEPARTMENTS.index(code) + 1) % len(DEPARTMENTS)] if wrong else code
        ]
        comments = "" if opinion == Opinion.CAN_MEET else "条件/原因"
        passed = self.attempt(
            order,
            lambda: services.sign_review(
                signer, review, opinion=opinion, comments=comments, password=PERSONA_PASSWORD
            ),
        )
        if wrong:
            assert not passed, "signed for another department"
        if passed and opinion == Opinion.CANNOT_MEET:
            assert order.status == OrderStatus.CLARIFICATION

    @rule(i=st.integers(0, 9), r=st.integers(0, 30))
    def question(self, i, r):
        order = self.pick(i)
        reviews = list(order.reviews.order_by("pk").select_related("department"))
        if not reviews:
            return
        review = reviews[r % len(reviews)]
        signer = self.world["team"][review.department.code]
        self.attempt(order, lambda: services.raise_question(signer, review, text="请客户确认"))

    @rule(i=st.integers(0, 9))
    def answer(self, i):
        order = self.pick(i)
        for question in OrderQuestion.objects.filter(order=order, status="open"):
            self.attempt(
                order, lambda q=question: services.answer_question(order.owner, q, answer="客户书面答复")
            )

    @rule(i=st.integers(0, 9), what=st.sampled_from(EDITS), step=st.integers(1, 5))
    def edit(self, i, what, step):
        order = self.pick(i)
        current = order.lines.get()
        values = {
            "product": current.product,
            "quantity": current.quantity,
            "unit_price": current.unit_price,
            "requested_date": current.requested_date,
            "packaging": current.packaging,
            "in_stock": current.in_stock,
            "line_no": 1,
        }
        if what == "quantity":
            values["quantity"] += step
        elif what == "date":
            values["requested_date"] += timedelta(days=step)
        elif what == "packaging":
            values["packaging"] = f"包装方案 {step}"
        elif what == "price":
            values["unit_price"] += Decimal(step)
        if what == "requirements":
            requirements = {
                **order.requirements,
                "company": {"items": ["payment_terms"], "text": f"账期 {step}"},
            }
            self.attempt(order, lambda: services.set_requirements(order.owner, order, requirements))
        elif what == "notes":
            self.attempt(
                order, lambda: services.update_order(order.owner, order, data={"notes": f"备注 {step}"})
            )
        else:
            self.attempt(order, lambda: services.update_order(order.owner, order, data={}, lines=[values]))

    @rule(i=st.integers(0, 9))
    def resubmit(self, i):
        order = self.pick(i)
        self.attempt(order, lambda: services.resubmit_order(order.owner, order))

    @rule(i=st.integers(0, 9), kind=st.sampled_from(["email", "signed_contract"]))
    def confirm(self, i, kind):
        order = self.pick(i)
        if not hasattr(order, "_document"):
            order._document = attach(order.owner, order)
        document = order._document
        self.attempt(
            order,
            lambda: services.record_confirmation(
                order.owner, order, kind=kind, received_on=timezone.localdate(), attachment=document
            ),
        )

    @rule(i=st.integers(0, 9), to=st.sampled_from(OrderClass.values), dice=st.integers(0, 2))
    def override(self, i, to, dice):
        if dice:
            return
        order = self.pick(i)
        self.attempt(
            order,
            lambda: services.override_class(self.world["manager"], order, order_class=to, reason="经理判定"),
        )

    @rule(i=st.integers(0, 9), who=st.sampled_from(["gm", "deputy_gm", "manager"]))
    def approve(self, i, who):
        order = self.pick(i)
        problems = services.approval_problems(order)
        passed = self.attempt(
            order, lambda: services.approve_order(self.world[who], order, password=PERSONA_PASSWORD)
        )
        if passed:
            assert problems == [], problems

    @rule(i=st.integers(0, 9), who=st.sampled_from(["gm", "deputy_gm", "manager"]), dice=st.integers(0, 2))
    def reject(self, i, who, dice):
        if dice:
            return
        order = self.pick(i)
        self.attempt(
            order,
            lambda: services.reject_order(self.world[who], order, password=PERSONA_PASSWORD, reason="不接受"),
        )

    @rule(i=st.integers(0, 9), dice=st.integers(0, 3))
    def cancel(self, i, dice):
        if dice:  # rarely: a cancelled order ends the story
            return
        order = self.pick(i)
        self.attempt(order, lambda: services.cancel_order(order.owner, order, reason="客户取消"))

    # --- invariants -----------------------------------------------------------------------
    @invariant()
    def approved_orders_are_fully_and_validly_reviewed(self):
        rows = Order.objects.filter(pk__in=[o.pk for o in self.orders]).annotate(
            reviews_n=Count("reviews", distinct=True),
            reviews_v=Sum("reviews__version"),
            lines_v=Sum("lines__version"),
        )
        for fresh in rows:
            if fresh.status == OrderStatus.DRAFT:
                assert fresh.reviews_n == 0 and fresh.review_number is None
            elif fresh.submitted_at is not None:
                assert fresh.review_number and fresh.review_number.startswith("HP-")
            # Re-check an approved order only when it or its reviews or lines changed.
            key = (fresh.pk, fresh.version, fresh.reviews_n, fresh.reviews_v, fresh.lines_v)
            if fresh.status not in APPROVED_STATUSES or key in self.checked:
                continue
            self.checked.add(key)
            reviews = list(services.current_reviews(fresh))
            assert reviews, "approved without any review"
            for review in reviews:
                assert review.status == ReviewStatus.SIGNED, f"{review.department} missing"
                assert review.opinion in (Opinion.CAN_MEET, Opinion.CONDITIONAL), (
                    f"{review.department} negative"
                )
                # core's own check (independent of the services): the record re-read and re-hashed
                signature = Signature.objects.get(pk=review.signature_id)
                assert signature.is_valid, f"{review.department} signature invalid"
            assert not fresh.questions.filter(status="open").exists()
            assert services.confirmation_problems(fresh) == []
            assert valid_signatures(fresh, "approved"), "approval signature missing or invalid"


#: Modest, so the test runs in well under a minute; the macro rules (progress, clarify) make
#: sequences reach approvals, also after clarification rounds, within these steps.
SETTINGS = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.slow
def test_R_OR_5_R_OR_6_no_sequence_approves_an_order_with_a_missing_or_invalid_review(
    team, sales_clerk, sales_manager, deputy_gm, gm, hospital, device, custom_device
):
    from tests.customers.conftest import create_customer_row

    known = create_customer_row(sales_clerk, type_code="hospital", name="老客户医院")
    make_known(known, sales_clerk)
    OrderWorkflow.world = {
        "team": team,
        "clerk": sales_clerk,
        "manager": sales_manager,
        "deputy_gm": deputy_gm,
        "gm": gm,
        "known": known,
        "new": hospital,
        "device": device,
        "custom": custom_device,
    }
    run_state_machine_as_test(OrderWorkflow, settings=SETTINGS)
