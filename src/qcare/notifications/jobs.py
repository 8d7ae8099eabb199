"""Scheduled jobs of the notifications app itself."""

from datetime import timedelta

from django.utils import timezone

from qcare.notifications.scheduler import periodic

JOB_RUN_RETENTION = timedelta(days=90)


@periodic("notifications.purge_job_runs", cron="30 3 * * *")
def purge_job_runs():
    """Delete scheduler bookkeeping older than 90 days (a 1-minute job adds 525k rows a year).

    Only JobRun rows are purged; notifications are records (R-NT-3) and are kept.
    """
    from qcare.notifications.models import JobRun

    JobRun.objects.filter(slot__lt=timezone.now() - JOB_RUN_RETENTION).delete()


@periodic("notifications.purge_stale_heartbeats", every=timedelta(hours=1))
def purge_stale_heartbeats():
    """Forget workers not seen for a day (crashed or retired machines)."""
    from qcare.notifications.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(last_seen_at__lt=timezone.now() - timedelta(days=1)).delete()
