"""The stored deadlines of a complaint and their reminder chain (R-CO-4, decision 5000).

Three :class:`~qcare.complaints.models.ComplaintDeadline` rows per complaint, all counted from
``received_at`` on the business calendar with the policies in force at registration:

* ``first_answer`` — policy ``complaints.first_written_answer`` (7 calendar days);
* ``investigation`` — ``complaints.investigation_report`` (3 working days);
* ``close`` — ``complaints.close.domestic`` (13 days) or ``complaints.close.foreign`` (17 days),
  by the customer's foreign flag copied onto the complaint.

Each row stores the stage times of the chain: ``warn_at`` = due − ``complaints.remind_before``
(never before receipt), ``due_at``, ``escalate_at`` = due + ``complaints.escalate_after`` and
``escalate2_at`` = due + ``complaints.escalate_mr_after``. The job (owner "jobs") claims each
stage; this module only writes the times and marks steps met.
"""

import datetime as dt

from django.utils import timezone

from qcare.complaints.choices import DeadlineKind
from qcare.complaints.models import ComplaintDeadline
from qcare.core import policies
from qcare.workcalendar import calendar
from qcare.workcalendar.durations import Duration, DurationUnit

#: The policy of each deadline kind (the close deadline depends on the customer).
POLICY_OF = {
    DeadlineKind.FIRST_ANSWER: "complaints.first_written_answer",
    DeadlineKind.INVESTIGATION: "complaints.investigation_report",
}


def close_policy(is_foreign):
    return "complaints.close.foreign" if is_foreign else "complaints.close.domestic"


def due_dates(start, *, is_foreign):
    """``{kind: due_at}`` of the three deadlines of a complaint received at ``start``."""
    dues = {kind: calendar.add_duration(start, policies.get(key)) for kind, key in POLICY_OF.items()}
    dues[DeadlineKind.CLOSE] = calendar.add_duration(start, policies.get(close_policy(is_foreign)))
    return dues


def subtract_duration(moment, duration: Duration):
    """``moment`` minus ``duration`` on the business calendar (the reverse of ``add_duration``).

    Calendar days: the same wall-clock time earlier. Working days: the same wall-clock time on
    the ``n``-th working day before. Working hours: walked back through the working periods.
    """
    amount = duration.amount
    if not amount:
        return moment
    unit = DurationUnit(duration.unit)
    if unit == DurationUnit.CALENDAR_DAYS:
        return calendar.add_calendar_days(moment, -float(amount))
    local = timezone.localtime(moment)
    if unit == DurationUnit.WORKING_DAYS:
        day, counted = local.date(), 0
        for _ in range(calendar.MAX_SEARCH_DAYS):
            if counted >= amount:
                break
            day -= dt.timedelta(days=1)
            counted += calendar.is_working_day(day)
        return timezone.make_aware(dt.datetime.combine(day, local.time()), local.tzinfo)
    remaining = dt.timedelta(hours=float(amount))  # working hours
    day = local.date()
    for _ in range(calendar.MAX_SEARCH_DAYS):
        for begin, finish in reversed(calendar.working_periods(day)):
            finish = min(finish, moment)
            if finish <= begin:
                continue
            if remaining <= finish - begin:
                return finish - remaining
            remaining -= finish - begin
        day -= dt.timedelta(days=1)
    raise ValueError("no working time found before the deadline")


def stage_times(start, due):
    """The reminder chain of one deadline: ``warn_at``, ``escalate_at``, ``escalate2_at``."""
    warn = subtract_duration(due, policies.get("complaints.remind_before"))
    return {
        "warn_at": max(warn, start),
        "escalate_at": calendar.add_duration(due, policies.get("complaints.escalate_after")),
        "escalate2_at": calendar.add_duration(due, policies.get("complaints.escalate_mr_after")),
    }


def open_deadlines(complaint, start):
    """Create the three deadline rows of ``complaint`` (received at ``start``); returns them.

    Also keeps ``complaint.due_at`` (the close-by date the lists order by) equal to the close
    deadline, saving it when it differed (in the caller's transaction and audit context).
    """
    dues = due_dates(start, is_foreign=complaint.is_foreign)
    rows = ComplaintDeadline.objects.bulk_create(
        ComplaintDeadline(complaint=complaint, kind=kind, due_at=due, **stage_times(start, due))
        for kind, due in dues.items()
    )
    if complaint.due_at != dues[DeadlineKind.CLOSE]:
        complaint.due_at = dues[DeadlineKind.CLOSE]
        complaint.save(update_fields=["due_at", "updated_at"])
    return rows


def meet(complaint, kind, at):
    """Mark the ``kind`` deadline of ``complaint`` met at ``at`` (once: a later call keeps the
    first time). Returns True when this call met it. ``was_late`` = met after the due time."""
    row = ComplaintDeadline.objects.filter(complaint=complaint, kind=kind, met_at__isnull=True).first()
    if row is None:
        return False
    return bool(
        ComplaintDeadline.objects.filter(pk=row.pk, met_at__isnull=True).update(
            met_at=at, was_late=at > row.due_at
        )
    )


def close_all(complaint, at):
    """The case is finished: every deadline still open is met at ``at`` (the reminders stop)."""
    for kind in ComplaintDeadline.objects.filter(complaint=complaint, met_at__isnull=True).values_list(
        "kind", flat=True
    ):
        meet(complaint, kind, at)


def timeliness(complaint, closed_at):
    """``(closed_on_time, days_to_close)`` of a case finished at ``closed_at``.

    On time means by the close deadline; days are counted between the local dates of receipt
    and closure (received and closed the same day = 0).
    """
    due = (
        ComplaintDeadline.objects.filter(complaint=complaint, kind=DeadlineKind.CLOSE)
        .values_list("due_at", flat=True)
        .first()
        or complaint.due_at
    )
    on_time = True if due is None else closed_at <= due
    days = (timezone.localtime(closed_at).date() - timezone.localtime(complaint.received_at).date()).days
    return on_time, max(days, 0)
