"""R-NT-2: periodic jobs run each slot once across workers and catch up after downtime."""

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from qcare.notifications import scheduler
from qcare.notifications.models import JobRun, JobStatus
from qcare.notifications.scheduler import CronSpec, Job

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _job(name, calls, *, every=None, cron=None, delay=0.0, fail=False):
    def func(slot):
        if delay:
            time.sleep(delay)  # keep the first worker busy while the second one arrives
        calls.append(slot)
        if fail:
            raise RuntimeError("job broke")

    return Job(name, func, every=every, cron=CronSpec(cron) if cron else None)


@pytest.mark.django_db(transaction=True)
def test_R_NT_2_scheduler_slot_runs_once_with_two_workers():
    calls = []
    jobs = {"t.scan": _job("t.scan", calls, every=timedelta(minutes=15), delay=0.3)}
    now = datetime(2026, 11, 21, 9, 7, tzinfo=UTC)
    start = threading.Barrier(2)
    ran = {}

    def worker(name):
        try:
            start.wait()
            ran[name] = scheduler.tick(name, now=now, jobs=jobs)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert calls == [datetime(2026, 11, 21, 9, 0, tzinfo=UTC)]
    assert sorted(len(v) for v in ran.values()) == [0, 1]
    run = JobRun.objects.get()
    assert run.status == JobStatus.OK and run.finished_at is not None
    # A restarted worker at the same moment does not run it again either.
    assert scheduler.tick("w9", now=now, jobs=jobs) == []
    assert len(calls) == 1


@pytest.mark.django_db
def test_R_NT_2_catch_up_after_downtime():
    """Missed slots are coalesced: after 5 h down the latest due slot runs once, then nothing."""
    calls = []
    jobs = {"t.hourly": _job("t.hourly", calls, every=timedelta(hours=1))}
    t0 = datetime(2026, 11, 21, 8, 10, tzinfo=UTC)
    assert scheduler.tick("w", now=t0, jobs=jobs) == ["t.hourly"]
    assert scheduler.tick("w", now=t0 + timedelta(minutes=40), jobs=jobs) == []
    after_downtime = t0 + timedelta(hours=5, minutes=5)  # 13:15: slots 09:00–13:00 were due
    assert scheduler.tick("w", now=after_downtime, jobs=jobs) == ["t.hourly"]
    assert scheduler.tick("w", now=after_downtime + timedelta(minutes=1), jobs=jobs) == []
    assert calls == [datetime(2026, 11, 21, 8, 0, tzinfo=UTC), datetime(2026, 11, 21, 13, 0, tzinfo=UTC)]
    assert JobRun.objects.count() == 2


@pytest.mark.django_db
def test_R_NT_2_cron_job_catches_up_in_company_time():
    """A daily 08:00 (Asia/Shanghai) job missed while down runs once when the worker returns."""
    calls = []
    jobs = {"t.daily": _job("t.daily", calls, cron="0 8 * * *")}
    before = datetime(2026, 11, 21, 7, 59, tzinfo=SHANGHAI)
    scheduler.tick("w", now=before, jobs=jobs)  # runs yesterday's slot (first start catches up)
    assert calls == [datetime(2026, 11, 20, 8, 0, tzinfo=SHANGHAI)]
    scheduler.tick("w", now=datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), jobs=jobs)
    scheduler.tick("w", now=datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI), jobs=jobs)
    assert calls[1:] == [datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI)]


@pytest.mark.django_db
def test_R_NT_2_failing_job_is_recorded_and_does_not_stop_others():
    calls = []
    jobs = {
        "t.broken": _job("t.broken", [], every=timedelta(minutes=5), fail=True),
        "t.fine": _job("t.fine", calls, every=timedelta(minutes=5)),
    }
    ran = scheduler.tick("w", now=datetime(2026, 11, 21, 9, 0, tzinfo=UTC), jobs=jobs)
    assert sorted(ran) == ["t.broken", "t.fine"] and len(calls) == 1
    broken = JobRun.objects.get(job_name="t.broken")
    assert broken.status == JobStatus.FAILED and "job broke" in broken.error


def test_cron_parser_fields_and_latest_slot():
    spec = CronSpec("*/15 8-17 * * 1-5")  # every quarter hour in office hours, Monday–Friday
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=SHANGHAI)
    assert spec.latest_at_or_before(saturday, SHANGHAI) == datetime(2026, 11, 20, 17, 45, tzinfo=SHANGHAI)
    monday = datetime(2026, 11, 23, 9, 44, tzinfo=SHANGHAI)
    assert spec.latest_at_or_before(monday, SHANGHAI) == datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)
    monthly = CronSpec("0 8 1 * *")
    assert monthly.latest_at_or_before(datetime(2026, 11, 21, tzinfo=SHANGHAI), SHANGHAI) == datetime(
        2026, 11, 1, 8, 0, tzinfo=SHANGHAI
    )
    sunday = CronSpec("0 9 * * 7")
    assert sunday.latest_at_or_before(saturday, SHANGHAI) == datetime(2026, 11, 15, 9, 0, tzinfo=SHANGHAI)
    either = CronSpec("0 0 1 * 1")  # day-of-month OR Monday, as in cron
    assert either.latest_at_or_before(datetime(2026, 11, 18, tzinfo=SHANGHAI), SHANGHAI) == datetime(
        2026, 11, 16, 0, 0, tzinfo=SHANGHAI
    )
    for bad in ("* * * *", "60 * * * *", "* 24 * * *", "0 0 0 * *"):
        with pytest.raises(ValueError):
            CronSpec(bad)


def test_periodic_registers_and_validates():
    @scheduler.periodic("t.registered", every=timedelta(minutes=5))
    def job():
        return "ran"

    try:
        assert scheduler.registered()["t.registered"].call(None) == "ran"
        with pytest.raises(ValueError):
            scheduler.periodic("t.bad", every=timedelta(minutes=5), cron="* * * * *")
        with pytest.raises(ValueError):
            scheduler.periodic("t.bad", every=timedelta(seconds=10))
    finally:
        scheduler.unregister("t.registered")


def test_app_jobs_are_autodiscovered():
    scheduler.autodiscover()
    assert "notifications.purge_job_runs" in scheduler.registered()


@pytest.mark.django_db
def test_R_NT_2_slot_abandoned_by_a_dead_worker_is_taken_over_once():
    """A worker killed mid-job leaves its run "running"; after the job's timeout another worker
    takes the slot over (exactly once), before that nobody does."""
    calls = []
    jobs = {"t.scan": _job("t.scan", calls, every=timedelta(minutes=15))}
    slot = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # on both the 15-minute and the 2-hour grid
    JobRun.objects.create(job_name="t.scan", slot=slot, worker="dead", started_at=slot)
    assert scheduler.tick("w1", now=slot + timedelta(minutes=10), jobs=jobs) == []
    later = slot + scheduler.DEFAULT_JOB_TIMEOUT + timedelta(minutes=1)
    # Still the 08:00 slot: the job runs every 2 hours here, so no newer slot is due yet.
    jobs = {"t.scan": _job("t.scan", calls, every=timedelta(hours=2))}
    assert scheduler.tick("w1", now=later, jobs=jobs) == ["t.scan"]
    assert calls == [slot]
    run = JobRun.objects.get()
    assert run.worker == "w1" and run.status == JobStatus.OK
    assert scheduler.tick("w2", now=later, jobs=jobs) == []
    assert calls == [slot]
