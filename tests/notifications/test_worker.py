"""R-NT-2 / R-NT-3: the worker delivers over real SMTP, retries, dead-letters, never double-sends."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from qcare.core.policies import set_policy
from qcare.notifications.models import Channel, Notification, Status
from qcare.notifications.services import notify, retry
from qcare.notifications.worker import Worker, backoff, max_attempts

GENERIC = {"subject": "Order review requested", "text": "Please review order 2026-001."}


def _queue(user_or_email, **kw):
    with transaction.atomic():
        notify([user_or_email], template="generic", context=GENERIC, channels=("email",), **kw)


@pytest.mark.django_db
def test_R_NT_3_worker_delivers_via_smtp(make_user, smtp_server):
    alice = make_user("alice", language="en")
    _queue(alice)
    assert Worker(name="w1").run_once() == 1

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Order review requested"
    assert "Please review order 2026-001." in message.get_content()
    row = Notification.objects.get()
    assert row.status == Status.SENT and row.delivered_at is not None and row.attempts == 1
    assert message["X-QCare-Notification"] == str(row.pk)


@pytest.mark.django_db
def test_R_NT_1_email_rendered_in_recipient_language_over_smtp(make_user, smtp_server):
    from types import SimpleNamespace

    record = SimpleNamespace(number="YP-1", title="t")
    with transaction.atomic():
        notify(
            [make_user("li"), make_user("smith", language="en")],
            template="sample/approved",
            context={"record": record},
            channels=("email",),
        )
    Worker().run_once()
    subjects = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert subjects == {
        "li@example.com": "样品记录 YP-1 已批准",
        "smith@example.com": "Sample record YP-1 approved",
    }


@pytest.mark.django_db
def test_R_NT_3_smtp_down_user_action_succeeds_and_mail_sent_exactly_once_after_recovery(
    make_user, smtp_down
):
    """SMTP down: the action commits, the worker schedules a retry; after recovery exactly one mail."""
    from qcare.accounts.models import Department

    alice = make_user("alice")
    with transaction.atomic():  # "the user action": a change and its notification
        department = Department.objects.create(code="nt-service", name="服务部")
        notify([alice], template="generic", context=GENERIC, channels=("email",), obj=department)
    assert Department.objects.filter(code="nt-service").exists()

    assert Worker(name="w1").run_once() == 0
    row = Notification.objects.get()
    assert row.status == Status.FAILED and row.attempts == 1
    assert row.last_error and row.next_attempt_at > timezone.now()

    smtp_down.start()
    assert Worker(name="w1").run_once() == 0  # not due yet: backoff is respected
    assert smtp_down.messages == []

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert Worker(name="w2").run_once() == 1
        assert Worker(name="w3").run_once() == 0
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert Worker(name="w4").run_once() == 0
    assert len(smtp_down.messages) == 1
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2 and row.last_error == ""


@pytest.mark.django_db
def test_R_NT_3_dead_letter_after_max_attempts_and_retry(make_user, smtp_down, client):
    admin = make_user("admin", is_superuser=True, is_staff=True)
    _queue("customer@example.org")
    set_policy(admin, "notifications.max_attempts", "3", reason="test: give up sooner")
    assert max_attempts() == 3
    for hours in (0, 2, 4):
        with time_machine.travel(timezone.now() + timedelta(hours=hours)):
            Worker().run_once()
    row = Notification.objects.get()
    assert row.status == Status.DEAD and row.attempts == 3
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert Worker().run_once() == 0  # dead rows are never picked up again
    row.refresh_from_db()
    assert row.attempts == 3

    client.force_login(admin)
    page = client.get("/notifications/dead/")
    assert page.status_code == 200
    assert (
        "customer@example.org" in page.content.decode() and "ConnectionRefusedError" in page.content.decode()
    )

    smtp_down.start()
    response = client.post(f"/notifications/dead/{row.pk}/retry/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == Status.PENDING and row.attempts == 0
    assert Worker().run_once() == 1
    assert len(smtp_down.messages) == 1


@pytest.mark.django_db
def test_R_NT_3_retry_all_requires_permission(make_user, client):
    from qcare.core.errors import NotPermitted

    clerk = make_user("clerk")
    with pytest.raises(NotPermitted):
        retry(clerk)
    client.force_login(clerk)
    assert client.get("/notifications/dead/").status_code == 403
    assert client.post("/notifications/dead/retry/").status_code == 403


def test_backoff_grows_and_is_capped():
    assert timedelta(minutes=1) <= backoff(1) <= timedelta(minutes=1.25)
    assert timedelta(minutes=8) <= backoff(4) <= timedelta(minutes=10)
    assert backoff(30) == timedelta(hours=1)


@pytest.mark.django_db(transaction=True)
def test_R_NT_2_two_workers_never_double_send(make_user, smtp_server):
    """Two workers in two threads drain 40 e-mails: each is sent exactly once."""
    with transaction.atomic():
        notify([f"c{i}@example.org" for i in range(40)], template="generic", context=GENERIC)
    start = threading.Barrier(2)
    errors = []

    def work(name):
        try:
            start.wait()
            Worker(name=name, batch=3).drain()
        except Exception as exc:  # pragma: no cover — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    ids = [m["X-QCare-Notification"] for m in smtp_server.messages]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert Notification.objects.filter(channel=Channel.EMAIL, status=Status.SENT).count() == 40
    senders = set(Notification.objects.values_list("claimed_by", flat=True))
    assert senders == {""}  # every claim was released on success


@pytest.mark.django_db
def test_R_NT_3_abandoned_claim_is_taken_over_after_lease(make_user, smtp_server):
    """A worker that died mid-batch leaves rows 'sending'; after the lease another worker sends them."""
    _queue("customer@example.org")
    dead_worker = Worker(name="dead", lease=timedelta(minutes=5))
    assert len(dead_worker.claim()) == 1  # ... and then the process is killed
    assert Worker(name="other").run_once() == 0  # the claim is still valid
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert Worker(name="other").run_once() == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_R_NT_3_stop_finishes_and_releases_the_rest(make_user, smtp_server):
    """After stop() the worker sends nothing more and hands its claimed rows back as pending."""
    with transaction.atomic():
        notify([f"c{i}@example.org" for i in range(3)], template="generic", context=GENERIC)
    worker = Worker(batch=10)
    rows = worker.claim()
    worker.stop()
    assert worker.deliver(rows) == 0
    assert set(Notification.objects.values_list("status", "claimed_by")) == {(Status.PENDING, "")}
