"""The outbox worker: claims due e-mails, sends them over SMTP, retries with backoff.

Delivery guarantee: a row is marked ``sent`` only after the SMTP server accepted the
message, and a claim (conditional UPDATE, or ``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
keeps two workers from sending the same row. The one remaining window: if the process dies
after the server accepted a message and before the ``sent`` UPDATE commits, the claim
expires and the row is sent again (at-least-once in that crash case only).
"""

import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, models, transaction
from django.utils import timezone

from qcare.notifications import scheduler
from qcare.notifications.models import Channel, Notification, Status, WorkerHeartbeat

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS = 10
HEARTBEAT_EVERY = timedelta(seconds=30)


def max_attempts():
    """Policy ``notifications.max_attempts`` (registered in apps.py; default 10)."""
    from qcare.core import policies

    try:
        return int(policies.get("notifications.max_attempts"))
    except KeyError:  # not registered (an app registry without this app's ready())
        return DEFAULT_MAX_ATTEMPTS


def backoff(attempts):
    """Delay before the next try after ``attempts`` failures: 1 min · 2^(n-1), jitter, ≤ 1 h."""
    delay = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    # Up to +25 % jitter so rows that failed together do not all retry in the same second.
    delay = delay * (1 + random.uniform(0, 0.25))
    return min(delay, BACKOFF_CAP)


def _due(now):
    """E-mail rows that may be claimed now (also rows whose claim expired — a dead worker's)."""
    ready = models.Q(status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now)
    abandoned = models.Q(status=Status.SENDING)
    unclaimed = models.Q(claimed_until__isnull=True) | models.Q(claimed_until__lt=now)
    return Notification.objects.filter(models.Q(channel=Channel.EMAIL), ready | abandoned, unclaimed)


class Worker:
    """One worker process (or thread in tests): claims, sends, records, runs scheduled jobs."""

    def __init__(self, name=None, batch=50, lease=None):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch = batch
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 10
        # Long enough for a whole batch to time out message by message, plus a margin.
        self.lease = lease or timedelta(seconds=60 + 2 * timeout * batch)
        self.stop_event = threading.Event()
        self.sent_total = 0
        self._last_heartbeat = None

    # --- claiming -------------------------------------------------------------------------

    def claim(self):
        """Claim up to ``batch`` due e-mail rows for this worker; returns them."""
        now = timezone.now()
        until = now + self.lease
        with transaction.atomic():
            due = _due(now).order_by("next_attempt_at", "id")
            if connection.vendor == "postgresql":
                # Rows another worker is claiming right now are skipped, not waited for.
                due = due.select_for_update(skip_locked=True)
            ids = list(due.values_list("id", flat=True)[: self.batch])
            if not ids:
                return []
            # The conditional UPDATE re-checks "still due": on SQLite, where writers are
            # serialised, this is what stops a second worker taking the same rows.
            _due(now).filter(id__in=ids).update(
                status=Status.SENDING, claimed_by=self.name, claimed_until=until, updated_at=now
            )
        return list(Notification.objects.filter(id__in=ids, claimed_by=self.name, status=Status.SENDING))

    # --- sending --------------------------------------------------------------------------

    def deliver(self, rows):
        """Send claimed rows one by one over one SMTP connection; record each outcome."""
        if not rows:
            return 0
        sent = 0
        smtp = get_connection(fail_silently=False)
        try:
            # Opened once for the batch: send_messages() on a closed backend would open and
            # close a connection per message (a TCP + SMTP handshake each time).
            smtp.open()
        except Exception as exc:  # the server is down: every claimed row fails this round
            for row in rows:
                self._failed(row, f"{type(exc).__name__}: {exc}")
            return 0
        try:
            for row in rows:
                if self.stop_event.is_set():
                    self._release(row)
                    continue
                sent += self._send_one(smtp, row)
        finally:
            # A broken connection cannot always be closed cleanly; nothing is lost by that.
            with contextlib.suppress(Exception):
                smtp.close()
        return sent

    def _send_one(self, smtp, row):
        message = EmailMultiAlternatives(
            subject=row.subject,
            body=row.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.recipient_email],
            connection=smtp,
            headers={"X-QCare-Notification": str(row.pk), "Auto-Submitted": "auto-generated"},
        )
        if row.body_html:
            message.attach_alternative(row.body_html, "text/html")
        try:
            accepted = smtp.send_messages([message])
        except Exception as exc:  # SMTP, socket and DNS errors all mean "try later"
            self._failed(row, f"{type(exc).__name__}: {exc}")
            return 0
        if not accepted:
            self._failed(row, "the mail backend did not accept the message")
            return 0
        self._sent(row)
        return 1

    def _sent(self, row):
        now = timezone.now()
        updated = Notification.objects.filter(pk=row.pk, claimed_by=self.name).update(
            status=Status.SENT,
            delivered_at=now,
            attempts=models.F("attempts") + 1,
            claimed_by="",
            claimed_until=None,
            last_error="",
            updated_at=now,
        )
        if not updated:
            logger.warning("notification %s sent but its claim had expired", row.pk)
        self.sent_total += 1

    def _failed(self, row, error):
        attempts = row.attempts + 1
        now = timezone.now()
        dead = attempts >= max_attempts()
        logger.warning("notification %s attempt %s failed: %s", row.pk, attempts, error)
        Notification.objects.filter(pk=row.pk, claimed_by=self.name).update(
            status=Status.DEAD if dead else Status.FAILED,
            attempts=attempts,
            next_attempt_at=now if dead else now + backoff(attempts),
            last_error=error[:4000],
            claimed_by="",
            claimed_until=None,
            updated_at=now,
        )

    def _release(self, row):
        """Give an unsent claimed row back (shutdown) without counting an attempt."""
        Notification.objects.filter(pk=row.pk, claimed_by=self.name, status=Status.SENDING).update(
            status=Status.FAILED if row.attempts else Status.PENDING, claimed_by="", claimed_until=None
        )

    # --- loop -----------------------------------------------------------------------------

    def heartbeat(self, force=False):
        now = timezone.now()
        if not force and self._last_heartbeat and now - self._last_heartbeat < HEARTBEAT_EVERY:
            return
        WorkerHeartbeat.objects.update_or_create(
            name=self.name, defaults={"last_seen_at": now, "sent_total": self.sent_total}
        )
        self._last_heartbeat = now

    def drain(self):
        """Deliver due e-mails batch by batch until none is due (or stop is asked)."""
        total = 0
        while not self.stop_event.is_set():
            rows = self.claim()
            if not rows:
                break
            total += self.deliver(rows)
        return total

    def run_once(self):
        """One pass: heartbeat, due scheduled jobs, then every due e-mail. Returns e-mails sent."""
        self.heartbeat()
        scheduler.tick(self.name)
        return self.drain()

    def run_forever(self, sleep=5.0):
        """Loop until :meth:`stop` (SIGTERM/SIGINT); the current message is always finished."""
        self.heartbeat(force=True)
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:
                # A database hiccup must not kill the worker; try again after the pause.
                logger.exception("worker pass failed")
            self.stop_event.wait(sleep)
        WorkerHeartbeat.objects.filter(name=self.name).delete()

    def stop(self, *args):
        self.stop_event.set()
