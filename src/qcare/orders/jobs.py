"""Scheduled jobs of orders (autodiscovered by the worker): review reminders and escalation
(R-OR-5: "reminders and escalation through the scheduler") and change-acknowledgement reminders.

Deadlines are stored on the reviews (``remind_at`` = the due time, ``escalate_at`` = due plus
policy ``orders.review_escalate_after``; see ``services._due_dates``). Each job selects the
pending reviews whose time has come and *claims* each one with a conditional UPDATE
(``… WHERE reminded_at IS NULL``) before notifying, in the same transaction: of two workers that
see the same review, exactly one sends (DESIGN rule 3). Reviews of orders that are no longer
under review (cancelled, approved…) and of change requests that are no longer under review are
skipped.

Who is told:

* reminder — the reviewing department's users who hold ``orders.review`` (those who can sign);
* escalation — the sales managers of the order owner's department, and the reviewing
  department's head: its ``manager`` when one is recorded, otherwise (simple rule, documented)
  the department's users who hold ``orders.review``.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from qcare.notifications.scheduler import periodic
from qcare.orders.choices import REVIEWABLE_STATUSES, ChangeStatus, ReviewStatus
from qcare.orders.models import OrderReview

logger = logging.getLogger(__name__)


def _open_reviews():
    """Pending reviews that are still awaited: of an order under review (or in clarification),
    or of a change request under review."""
    return OrderReview.objects.filter(status=ReviewStatus.PENDING).filter(
        Q(change_request__isnull=True, order__status__in=REVIEWABLE_STATUSES)
        | Q(change_request__status=ChangeStatus.UNDER_REVIEW)
    )


def _claim(review, field, now):
    """Set ``field`` (reminded_at / escalated_at) if still unset and the review still pending.

    A plain conditional UPDATE: the version is not bumped, so a reviewer signing at the same
    moment is not refused as stale (signing saves only its own fields).
    """
    return OrderReview.objects.filter(
        pk=review.pk, status=ReviewStatus.PENDING, **{f"{field}__isnull": True}
    ).update(**{field: now})


def department_head(department):
    """The head of a reviewing department for escalations: its manager, else its reviewers."""
    from qcare.orders.services import reviewers_of

    manager = department.manager
    if manager is not None and manager.is_active:
        return [manager]
    return reviewers_of(department)


@periodic("orders.review_reminders", every=timedelta(minutes=15))
def send_review_reminders(now=None):
    """Remind the reviewers of every pending review whose reminder time has passed (once each).

    Returns the number of reviews reminded.
    """
    from qcare.notifications.services import notify
    from qcare.orders.services import reviewers_of

    now = now or timezone.now()
    due = (
        _open_reviews()
        .filter(remind_at__lte=now, reminded_at__isnull=True)
        .select_related("order", "order__customer", "department")
        .order_by("remind_at", "pk")
    )
    reminded = 0
    for review in due:
        with transaction.atomic():  # the claim and its notices commit together
            if not _claim(review, "reminded_at", now):
                continue  # another worker took it, or it was signed meanwhile
            notify(
                reviewers_of(review.department),
                template="orders/review_reminder",
                context={"order": review.order, "review": review},
                dedupe_key=f"order-review-reminder:{review.pk}",
                obj=review.order,
            )
            reminded += 1
    if reminded:
        logger.info("order review reminders: %d reviews", reminded)
    return reminded


@periodic("orders.review_escalation", every=timedelta(minutes=15))
def escalate_overdue_reviews(now=None):
    """Tell the managers about every pending review past its escalation time (once each).

    Returns the number of reviews escalated.
    """
    from qcare.customers.services import sales_managers_of
    from qcare.notifications.services import notify

    now = now or timezone.now()
    overdue = (
        _open_reviews()
        .filter(escalate_at__lte=now, escalated_at__isnull=True)
        .select_related("order", "order__customer", "order__owner", "department", "department__manager")
        .order_by("escalate_at", "pk")
    )
    escalated = 0
    for review in overdue:
        with transaction.atomic():
            if not _claim(review, "escalated_at", now):
                continue
            recipients = [
                *sales_managers_of(review.order.owner.department_id),
                *department_head(review.department),
            ]
            notify(
                recipients,
                template="orders/review_escalated",
                context={"order": review.order, "review": review},
                dedupe_key=f"order-review-escalation:{review.pk}",
                obj=review.order,
            )
            escalated += 1
    if escalated:
        logger.info("order review escalations: %d reviews", escalated)
    return escalated


@periodic("orders.change_ack_reminders", every=timedelta(minutes=15))
def send_change_ack_reminders():
    """Remind departments that have not acknowledged an applied order change (R-OR-8); the
    work is done by ``services_change.send_ack_reminders`` when change control is installed."""
    try:
        from qcare.orders.services_change import send_ack_reminders
    except ImportError:
        return 0
    return send_ack_reminders()
