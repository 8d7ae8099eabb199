"""Periodic jobs: a registry, slot arithmetic and the tick the worker runs.

Apps register jobs in a ``jobs.py`` module (autodiscovered) or in ``AppConfig.ready()``::

    from qcare.notifications.scheduler import periodic

    @periodic("complaints.deadline_scan", every=timedelta(minutes=15))
    def deadline_scan(slot): ...

    @periodic("reports.monthly_statistics", cron="0 8 1 * *")   # 08:00 on the 1st, company time
    def monthly_statistics(): ...

A *slot* is a scheduled time. The worker that first INSERTs ``JobRun(job_name, slot)`` runs
the slot; the unique constraint makes every other worker skip it, on SQLite and PostgreSQL.
After downtime only the latest due slot runs (older missed slots are coalesced into it), so
jobs must act on the current state ("everything overdue now"), not on "the last 15 minutes".
"""

import inspect
import logging
import traceback
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday 00:00 UTC: `every` slots align to it


class CronSpec:
    """A five-field cron expression ("m h dom mon dow") in the company time zone.

    Supports ``*``, numbers, lists (``1,15``), ranges (``1-5``) and steps (``*/15``,
    ``8-18/2``). As in cron, when both day-of-month and day-of-week are restricted a day
    matching either one matches. Day-of-week 0 and 7 are Sunday.
    """

    RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))

    def __init__(self, expression):
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"cron expression needs 5 fields: {expression!r}")
        self.expression = expression
        parsed = [self._parse(f, lo, hi) for f, (lo, hi) in zip(fields, self.RANGES, strict=True)]
        self.minutes, self.hours, self.days, self.months, dows = parsed
        self.dows = {d % 7 for d in dows}  # 7 → 0 (Sunday)
        self.dom_star, self.dow_star = fields[2] == "*", fields[4] == "*"

    @staticmethod
    def _parse(field, lo, hi):
        values = set()
        for part in field.split(","):
            base, _, step = part.partition("/")
            if base == "*":
                start, end = lo, hi
            elif "-" in base:
                start, end = (int(x) for x in base.split("-", 1))
            else:
                start = end = int(base)
                if step:
                    end = hi
            if not (lo <= start <= end <= hi):
                raise ValueError(f"cron field {field!r} out of range {lo}-{hi}")
            values.update(range(start, end + 1, int(step) if step else 1))
        return values

    def day_matches(self, day):
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.dows  # isoweekday: Monday 1 … Sunday 7 → 0
        if day.month not in self.months:
            return False
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def latest_at_or_before(self, moment, tz):
        """The latest matching time ≤ ``moment`` (aware), searched back up to ~1 year."""
        local = moment.astimezone(tz).replace(second=0, microsecond=0)
        day, limit = local, None
        for back in range(0, 400):
            day = (local - timedelta(days=back)).date()
            if not self.day_matches(day):
                continue
            limit = (local.hour, local.minute) if back == 0 else (23, 59)
            times = [(h, m) for h in self.hours for m in self.minutes if (h, m) <= limit]
            if times:
                h, m = max(times)
                return datetime(day.year, day.month, day.day, h, m, tzinfo=tz).astimezone(UTC)
        return None


DEFAULT_JOB_TIMEOUT = timedelta(hours=1)


@dataclass
class Job:
    """A registered periodic job."""

    name: str
    func: object
    every: timedelta | None = None
    cron: CronSpec | None = None
    #: A run still "running" after this long is taken to be abandoned (its worker died) and
    #: may be taken over by another worker. Jobs are idempotent, so a rare double run is safe.
    timeout: timedelta = DEFAULT_JOB_TIMEOUT

    def latest_slot(self, now):
        """The most recent scheduled time at or before ``now`` (UTC), or None."""
        if self.every is not None:
            periods = (now - EPOCH) // self.every
            return EPOCH + periods * self.every
        tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        return self.cron.latest_at_or_before(now, tz)

    def call(self, slot):
        if "slot" in inspect.signature(self.func).parameters:
            return self.func(slot=slot)
        return self.func()


_registry = {}


def periodic(name, *, every=None, cron=None, timeout=DEFAULT_JOB_TIMEOUT):
    """Decorator registering ``func`` as job ``name`` run ``every`` timedelta or on ``cron``.

    ``timeout``: how long a run may take before another worker treats it as abandoned.
    """
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of every= or cron=")
    if every is not None and every < timedelta(minutes=1):
        raise ValueError("the smallest interval is one minute")
    spec = CronSpec(cron) if cron is not None else None

    def decorator(func):
        # Re-registering a name replaces it (module reloads in tests must not duplicate).
        _registry[name] = Job(name, func, every=every, cron=spec, timeout=timeout)
        return func

    return decorator


def registered():
    return dict(_registry)


def unregister(name):
    _registry.pop(name, None)


def autodiscover():
    """Import ``<app>.jobs`` of every installed app so their @periodic jobs register."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("jobs")


def tick(worker_name, now=None, jobs=None):
    """Run every job whose latest due slot has not run yet; returns the names that ran here."""
    from qcare.notifications.models import JobRun

    now = now or timezone.now()
    ran = []
    for job in (jobs or _registry).values():
        slot = job.latest_slot(now)
        if slot is None:
            continue
        existing = JobRun.objects.filter(job_name=job.name, slot=slot).first()
        if existing is None:
            run = _claim(job, slot, worker_name)
        else:
            run = _take_over_abandoned(job, existing, worker_name, now)
        if run is not None:
            _execute(job, run)
            ran.append(job.name)
    return ran


def _claim(job, slot, worker_name):
    """INSERT the JobRun for ``slot``; None if another worker already did (unique constraint)."""
    from qcare.notifications.models import JobRun

    try:
        with transaction.atomic():
            return JobRun.objects.create(job_name=job.name, slot=slot, worker=worker_name)
    except IntegrityError:
        return None


def _take_over_abandoned(job, run, worker_name, now):
    """Claim a run left "running" past the job's timeout (its worker died mid-job), else None.

    A conditional UPDATE on the run's worker and start time: of several workers that see the
    abandoned run at once, exactly one takes it over.
    """
    from qcare.notifications.models import JobRun, JobStatus

    if run.status != JobStatus.RUNNING or run.started_at > now - job.timeout:
        return None
    taken = JobRun.objects.filter(
        pk=run.pk, status=JobStatus.RUNNING, worker=run.worker, started_at=run.started_at
    ).update(worker=worker_name, started_at=now)
    if not taken:
        return None
    logger.warning("scheduled job %s: slot %s abandoned by %s, taken over", job.name, run.slot, run.worker)
    return JobRun.objects.get(pk=run.pk)


def _execute(job, run):
    from qcare.core.context import audit_context
    from qcare.notifications.models import JobRun, JobStatus

    status, error = JobStatus.OK, ""
    try:
        # Jobs act as the system (no user); services bind their own reasons.
        with audit_context(actor=None, request_id=f"job:{job.name}:{run.slot:%Y%m%dT%H%M}"):
            job.call(run.slot)
    except Exception:
        # A failing job must not stop the worker; the slot is spent (the next slot catches up).
        logger.exception("scheduled job %s failed for slot %s", job.name, run.slot)
        status, error = JobStatus.FAILED, traceback.format_exc()[-4000:]
    JobRun.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now())
