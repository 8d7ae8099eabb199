"""Scheduled jobs of feedback and complaints (autodiscovered by the worker, R-CO-1/4/6/8/9/10).

* :func:`send_deadline_reminders` — the reminder chain of every open :class:`ComplaintDeadline`
  (R-CO-4): a reminder to the owner before the deadline (``warn_at``), the reminder slip
  (催办单) to the owner at the deadline (``due_at``), escalation to the owner's manager
  (``escalate_at``) and then to the management representative (``escalate2_at``).
* :func:`send_feedback_reminders` — the first answer of a feedback entry (R-CO-1): reminder to
  the person handling it at ``remind_at``, escalation to the department manager at ``escalate_at``.
* :func:`send_capa_action_reminders` — CAPA actions (R-CO-6): reminder to the action owner
  before the due date, escalation to the CAPA owner when overdue.
* :func:`send_report_due_reminders` — a reportable event whose report to the authority has not
  been recorded as sent a day before its deadline (R-CO-9).
* :func:`send_notice_reminders` — customers that have not acknowledged an advisory notice
  (R-CO-10; the work is ``services_notices.remind_recipients``).
* :func:`monthly_responsibility_report` — on the 1st, the responsibility report of the previous
  month for the management representative (R-CO-8, :func:`generate_responsibility_report`).

Never twice (DESIGN rule 3): every stage has a stored time column and a "sent" column; a job
selects the rows whose time has come and *claims* each one with a conditional UPDATE
(``… SET sent = now WHERE sent IS NULL AND met_at IS NULL``) in the same transaction as its
notices. Of two workers that see the same row exactly one claims it; the dedupe key of each
notice is a second guard. Scans read an index (on deadlines the partial ``ksd_<stage>_pending``:
the stage time of unsent stages of open deadlines; (status, remind_at/escalate_at) on feedback
and CAPA actions) in batches of
:data:`BATCH` rows, with a keyset cursor so a row that failed is not read again in this run.

Who is told (simple rules, documented for the administrator):

* reminder and 催办单 — the complaint's owner; a complaint without an owner goes to quality
  (the users holding ``complaints.triage``);
* the owner's manager — the ``manager`` recorded for the owner's department (unless that is the
  owner); otherwise the other users of that department who hold ``complaints.approve`` or
  ``complaints.triage``; when there is nobody, the management representative;
* the management representative — the active users with the ``management_rep`` role.

A reminder before the deadline that the job reaches only after the deadline (the worker was
down) is marked as sent without a message: the 催办单 of the deadline says it all.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from qcare.complaints.choices import (
    FINAL_STATUSES,
    ActionStatus,
    CapaStatus,
    FeedbackStatus,
    ReminderStage,
    ReportOutcome,
)
from qcare.complaints.models import (
    CapaAction,
    ComplaintDeadline,
    Feedback,
    ReportabilityDecision,
    ResponsibilityReport,
)
from qcare.notifications.scheduler import periodic

logger = logging.getLogger(__name__)

#: Rows read per query of a scan; each row is claimed and notified in its own transaction.
BATCH = 500
#: A reportable event's owner is reminded this long before the report deadline.
REPORT_REMINDER_LEAD = timedelta(days=1)
MANAGEMENT_REP_ROLE = "management_rep"


@dataclass(frozen=True)
class Stage:
    """One step of the reminder chain: the time column, the claim column and the template."""

    code: str
    time_field: str
    sent_field: str
    template: str


#: The chain of a complaint deadline, in order (R-CO-4).
STAGES = (
    Stage(ReminderStage.WARNING, "warn_at", "warned_at", "complaints/reminder_warning"),
    Stage(ReminderStage.DUE, "due_at", "reminded_at", "complaints/reminder_due"),
    Stage(ReminderStage.MANAGER, "escalate_at", "escalated_at", "complaints/reminder_manager"),
    Stage(
        ReminderStage.MANAGEMENT_REP, "escalate2_at", "escalated2_at", "complaints/reminder_management_rep"
    ),
)


# --- recipients -----------------------------------------------------------------------------
def users_holding(*perms, department_id=None):
    """Active users holding any of ``perms`` (or their module's ``*``), optionally of one department."""
    User = get_user_model()
    codes = set(perms) | {f"{perm.split('.', 1)[0]}.*" for perm in perms}
    users = User.objects.filter(is_active=True, roles__grants__permission__in=codes)
    if department_id is not None:
        users = users.filter(department_id=department_id)
    return list(users.distinct().order_by("pk"))


def management_reps():
    """The management representative(s): active users with the ``management_rep`` role."""
    User = get_user_model()
    return list(User.objects.filter(is_active=True, roles__code=MANAGEMENT_REP_ROLE).order_by("pk"))


def manager_of(user, *perms):
    """The manager to escalate ``user``'s overdue work to (see the module docstring).

    The recorded manager of the user's department (unless it is the user), else the other users
    of the department holding one of ``perms``, else the management representative.
    """
    department = user.department if user is not None else None
    if department is not None:
        manager = department.manager
        if manager is not None and manager.is_active and manager.pk != user.pk:
            return [manager]
        others = [u for u in users_holding(*perms, department_id=department.pk) if u.pk != user.pk]
        if others:
            return others
    return management_reps()


def complaint_owner_recipients(complaint):
    """The owner of ``complaint``, or quality (``complaints.triage``) while it has none."""
    owner = complaint.owner
    if owner is not None and owner.is_active:
        return [owner]
    return users_holding("complaints.triage")


def stage_recipients(stage, complaint):
    """Who is told at ``stage`` of a deadline of ``complaint``."""
    if stage.code in (ReminderStage.WARNING, ReminderStage.DUE):
        return complaint_owner_recipients(complaint)
    if stage.code == ReminderStage.MANAGER:
        owner = complaint.owner
        if owner is None:
            # No owner yet: the heads of the departments that triage complaints (quality).
            triage = users_holding("complaints.triage")
            heads = {u.department.manager for u in triage if u.department and u.department.manager}
            return [h for h in heads if h.is_active] or triage
        return manager_of(owner, "complaints.approve", "complaints.triage")
    return management_reps()


# --- the batched, claimed scan ------------------------------------------------------------------
def _batches(queryset, time_field):
    """``queryset`` ordered by (``time_field``, pk), read :data:`BATCH` rows at a time.

    A keyset cursor rather than "read again until empty": a row whose claim rolled back
    (its notice failed) is left for the next run instead of being retried forever now.
    """
    queryset = queryset.order_by(time_field, "pk")
    model = queryset.model
    last = None
    while True:
        page = queryset
        if last is not None:
            moment, pk = last
            # The lower bound lets the index range start at the cursor, not at the beginning.
            page = page.filter(Q(**{f"{time_field}__gt": moment}) | Q(**{time_field: moment, "pk__gt": pk}))
            page = page.filter(**{f"{time_field}__gte": moment})
        # Keys first (the sort and LIMIT on the deadline table alone), then those rows with their
        # joins: sorting all due rows after the joins cost ~300 ms per batch at 1M complaints.
        keys = list(page.values_list(time_field, "pk")[:BATCH])
        if not keys:
            return
        rows = model._default_manager.filter(pk__in=[pk for _t, pk in keys])
        rows.query.select_related = queryset.query.select_related
        loaded = rows.in_bulk([pk for _t, pk in keys])
        yield from (loaded[pk] for _t, pk in keys if pk in loaded)
        if len(keys) < BATCH:
            return
        last = keys[-1]


def _claim(model, pk, sent_field, now, **still):
    """Set ``sent_field`` to ``now`` on row ``pk`` if it is still unset and ``still`` holds.

    A plain conditional UPDATE (no version bump, no audit row: bookkeeping of the job), so a
    user saving the record at the same moment is not refused as stale. Returns 1 when this
    caller claimed the row, 0 when another worker did or the step was done meanwhile.
    """
    return model.objects.filter(pk=pk, **{f"{sent_field}__isnull": True}, **still).update(**{sent_field: now})


def _notify(recipients, template, context, dedupe_key, obj):
    from qcare.notifications.services import notify

    if not recipients:
        logger.warning("%s: nobody to tell for %s", template, dedupe_key)
        return 0
    return notify(recipients, template=template, context=context, dedupe_key=dedupe_key, obj=obj)


# --- complaint deadlines (R-CO-4) ---------------------------------------------------------------
def due_deadlines(stage, now):
    """Open deadlines whose ``stage`` time has come and that were not claimed for it yet
    (the partial index ``ksd_<stage>_pending`` serves the scan)."""
    return (
        ComplaintDeadline.objects.filter(
            met_at__isnull=True,
            **{f"{stage.time_field}__lte": now, f"{stage.sent_field}__isnull": True},
        )
        .exclude(complaint__status__in=FINAL_STATUSES)
        .select_related(
            "complaint",
            "complaint__customer",
            "complaint__owner",
            "complaint__owner__department",
            "complaint__owner__department__manager",
        )
    )


def run_stage(stage, now):
    """Send ``stage`` for every deadline due for it; returns the number of deadlines notified."""
    sent = 0
    for deadline in _batches(due_deadlines(stage, now), stage.time_field):
        complaint = deadline.complaint
        with transaction.atomic():  # the claim and its notices commit together
            if not _claim(ComplaintDeadline, deadline.pk, stage.sent_field, now, met_at__isnull=True):
                continue  # another worker took it, or the step was done meanwhile
            if stage.code == ReminderStage.WARNING and deadline.due_at <= now:
                continue  # reached only after the deadline: the 催办单 follows, not "due soon"
            _notify(
                stage_recipients(stage, complaint),
                stage.template,
                {
                    "complaint": complaint,
                    "deadline": deadline,
                    "kind": deadline.get_kind_display(),
                    "stage": stage.code,
                    "owner": complaint.owner,
                    "customer": complaint.customer,
                },
                f"complaint-deadline:{deadline.pk}:{stage.code}",
                complaint,
            )
            sent += 1
    return sent


@periodic("complaints.deadline_reminders", every=timedelta(minutes=15))
def send_deadline_reminders(now=None):
    """Run the reminder chain of every open complaint deadline (R-CO-4), each stage once.

    Returns ``{stage: number of deadlines notified}``.
    """
    now = now or timezone.now()
    counts = {str(stage.code): run_stage(stage, now) for stage in STAGES}
    if any(counts.values()):
        logger.info("complaint deadline reminders: %s", counts)
    return counts


# --- feedback first answer (R-CO-1) -------------------------------------------------------------
@periodic("complaints.feedback_reminders", every=timedelta(minutes=15))
def send_feedback_reminders(now=None):
    """Remind the handler of open feedback whose first answer is due, and escalate to the
    department manager once ``escalate_at`` has passed (each at most once).

    Returns ``{"reminded": n, "escalated": m}``.
    """
    now = now or timezone.now()
    open_feedback = Feedback.objects.filter(status=FeedbackStatus.OPEN).select_related(
        "owner", "owner__department", "recorded_by", "department", "department__manager"
    )
    reminded = escalated = 0
    due = open_feedback.filter(remind_at__lte=now, reminded_at__isnull=True)
    for feedback in _batches(due, "remind_at"):
        with transaction.atomic():
            if not _claim(Feedback, feedback.pk, "reminded_at", now, status=FeedbackStatus.OPEN):
                continue
            handler = feedback.owner or feedback.recorded_by
            _notify(
                [handler] if handler.is_active else users_holding("feedback.change"),
                "complaints/reminder_feedback",
                {"feedback": feedback, "customer": feedback.customer or feedback.customer_name},
                f"feedback-reminder:{feedback.pk}",
                feedback,
            )
            reminded += 1
    overdue = open_feedback.filter(escalate_at__lte=now, escalated_at__isnull=True)
    for feedback in _batches(overdue, "escalate_at"):
        with transaction.atomic():
            if not _claim(Feedback, feedback.pk, "escalated_at", now, status=FeedbackStatus.OPEN):
                continue
            handler = feedback.owner or feedback.recorded_by
            _notify(
                _feedback_managers(feedback, handler),
                "complaints/reminder_feedback_escalated",
                {
                    "feedback": feedback,
                    "handler": handler,
                    "customer": feedback.customer or feedback.customer_name,
                },
                f"feedback-escalation:{feedback.pk}",
                feedback,
            )
            escalated += 1
    return {"reminded": reminded, "escalated": escalated}


def _feedback_managers(feedback, handler):
    """The manager of the feedback's department (else of the handler's), by :func:`manager_of`."""
    manager = feedback.department.manager if feedback.department is not None else None
    if manager is not None and manager.is_active and manager.pk != handler.pk:
        return [manager]
    return manager_of(handler, "feedback.change")


# --- CAPA actions (R-CO-6) ----------------------------------------------------------------------
@periodic("complaints.capa_action_reminders", every=timedelta(minutes=15))
def send_capa_action_reminders(now=None):
    """Remind the owner of an open CAPA action before its due date; tell the CAPA owner (and,
    when that is the same person, their manager) once it is overdue. Each at most once.

    Returns ``{"reminded": n, "escalated": m}``.
    """
    now = now or timezone.now()
    live = (CapaStatus.OPEN, CapaStatus.IN_PROGRESS, CapaStatus.VERIFICATION)
    actions = CapaAction.objects.filter(status=ActionStatus.OPEN, capa__status__in=live).select_related(
        "capa", "capa__owner", "capa__owner__department", "owner", "owner__department"
    )
    reminded = escalated = 0
    for action in _batches(actions.filter(remind_at__lte=now, reminded_at__isnull=True), "remind_at"):
        with transaction.atomic():
            if not _claim(CapaAction, action.pk, "reminded_at", now, status=ActionStatus.OPEN):
                continue
            _notify(
                [action.owner] if action.owner.is_active else [action.capa.owner],
                "complaints/reminder_capa_action",
                {"capa": action.capa, "action": action},
                f"capa-action-reminder:{action.pk}",
                action.capa,
            )
            reminded += 1
    for action in _batches(actions.filter(escalate_at__lte=now, escalated_at__isnull=True), "escalate_at"):
        with transaction.atomic():
            if not _claim(CapaAction, action.pk, "escalated_at", now, status=ActionStatus.OPEN):
                continue
            capa_owner = action.capa.owner
            recipients = [capa_owner] if capa_owner.is_active else []
            if capa_owner.pk == action.owner_id or not recipients:
                recipients += manager_of(action.owner, "capa.verify")
            _notify(
                recipients,
                "complaints/reminder_capa_action_overdue",
                {"capa": action.capa, "action": action},
                f"capa-action-escalation:{action.pk}",
                action.capa,
            )
            escalated += 1
    return {"reminded": reminded, "escalated": escalated}


# --- reportability (R-CO-9) ---------------------------------------------------------------------
@periodic("complaints.report_due_reminders", every=timedelta(minutes=15))
def send_report_due_reminders(now=None):
    """Remind the owner and the users who decide reportability (``complaints.close``) of a
    reportable event whose report to the authority is due within a day and not yet recorded as
    sent (index ``ksr_report_due``). Once per decision. Returns the number reminded."""
    now = now or timezone.now()
    decisions = ReportabilityDecision.objects.filter(
        outcome=ReportOutcome.REPORTABLE,
        report_sent_at__isnull=True,
        report_due_at__lte=now + REPORT_REMINDER_LEAD,
        report_reminded_at__isnull=True,
    ).select_related("complaint", "complaint__owner", "complaint__customer")
    reminded = 0
    for decision in _batches(decisions, "report_due_at"):
        with transaction.atomic():
            if not _claim(
                ReportabilityDecision, decision.pk, "report_reminded_at", now, report_sent_at__isnull=True
            ):
                continue
            complaint = decision.complaint
            owner = [complaint.owner] if complaint.owner and complaint.owner.is_active else []
            _notify(
                owner + users_holding("complaints.close"),
                "complaints/reminder_report_due",
                {"complaint": complaint, "decision": decision, "overdue": decision.report_due_at <= now},
                f"report-due:{decision.pk}",
                complaint,
            )
            reminded += 1
    return reminded


# --- advisory notices (R-CO-10) -----------------------------------------------------------------
@periodic("complaints.notice_reminders", every=timedelta(hours=1))
def send_notice_reminders(now=None):
    """Remind customers that have not acknowledged an advisory notice (services_notices does it)."""
    from qcare.complaints.services_notices import remind_recipients

    return remind_recipients(now or timezone.now())


# --- monthly responsibility report (R-CO-8) ----------------------------------------------------
def previous_period(today):
    """``YYYY-MM`` of the month before ``today``'s month."""
    first = today.replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def report_due_on(period):
    """The day the report of ``period`` is due: policy day of the following month."""
    from qcare.core import policies

    year, month = (int(x) for x in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return date(year, month, int(policies.get("complaints.responsibility_report_day")))


def generate_responsibility_report(period, now=None):
    """The responsibility report of ``period`` (YYYY-MM), created once (R-CO-8).

    Idempotent: the period is unique, so a second call — or a second worker at the same moment —
    returns the existing report and sends nothing. A new report is due on the policy day
    (``complaints.responsibility_report_day``) of the next month and is sent to the management
    representative. Returns ``(report, created)``.
    """
    from qcare.complaints.reports import responsibility_report_data

    now = now or timezone.now()
    existing = ResponsibilityReport.objects.filter(period=period).first()
    if existing is not None:
        return existing, False
    data = responsibility_report_data(period)
    try:
        with transaction.atomic():
            report = ResponsibilityReport.objects.create(
                period=period, generated_at=now, due_on=report_due_on(period), data=data, delivered_at=now
            )
            _notify(
                management_reps(),
                "complaints/report_responsibility",
                {
                    "period": period,
                    "due_on": report.due_on,
                    "cases": data["totals"]["cases"],
                    "cost": data["totals"]["cost"],
                    # formatted here: a "%" inside {% blocktranslate %} would change the msgid
                    "on_time_rate": _rate_text(data["totals"]["on_time_rate"]),
                    "report_url": _reports_url(),
                },
                f"responsibility-report:{period}",
                None,
            )
    except IntegrityError:  # another worker created it at the same moment
        return ResponsibilityReport.objects.get(period=period), False
    return report, True


def _rate_text(rate):
    return None if rate is None else f"{rate:.1f} %"


def _reports_url():
    """Absolute address of the responsibility reports page ("" when the screens are not installed)."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse("complaints:responsibility_reports")
    except NoReverseMatch:
        return ""
    return getattr(settings, "QCARE_BASE_URL", "").rstrip("/") + path


@periodic("complaints.responsibility_report", cron="0 6 1 * *")
def monthly_responsibility_report(now=None):
    """06:00 on the 1st (company time): the report of the previous month. A worker that was down
    runs the missed slot when it starts (the scheduler keeps the latest slot), still for the
    month before. Returns the period."""
    now = now or timezone.now()
    period = previous_period(timezone.localdate(now))
    generate_responsibility_report(period, now)
    return period
