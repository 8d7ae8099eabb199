"""Outbox / inbox records, scheduled job runs and worker heartbeats (R-NT-1..3).

One :class:`Notification` row is one message to one recipient on one channel. It is the
outbox (e-mail rows wait for the worker) and the inbox (in-app rows) at once, and it stays
as the record of what was sent to whom, when, with which content (R-NT-3).
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel


class Channel(models.TextChoices):
    INBOX = "inbox", _("In-app inbox")
    EMAIL = "email", _("E-mail")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed, will retry")
    DEAD = "dead", _("Undeliverable")


class Notification(QModel):
    """One message to one recipient on one channel; the outbox row and the delivery record.

    Subject and body are rendered when the row is queued, in the recipient's language, so
    the row holds exactly the content that was (or will be) delivered.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    recipient_email = models.EmailField(_("recipient e-mail"), max_length=254, blank=True)
    recipient_name = models.CharField(_("recipient name"), max_length=150, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    template = models.CharField(_("template"), max_length=100)
    context = models.JSONField(_("context"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), null=True, blank=True, on_delete=models.SET_NULL
    )
    object_pk = models.CharField(_("object id"), max_length=64, blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now, db_index=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=255, null=True, blank=True, unique=True)

    # The row is itself the record of the notice (R-NT-3); auditing its delivery
    # bookkeeping (claims, attempts) would double every write for no evidence gained.
    audited = False
    permission_module = "notifications"
    scope_owner_field = "recipient"

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            # The unread badge on every page: one COUNT on this index.
            models.Index(fields=["recipient", "channel", "read_at"], name="notif_inbox_unread"),
            # The worker's "due e-mail" scan.
            models.Index(fields=["channel", "status", "next_attempt_at"], name="notif_due"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} → {self.recipient_name or self.recipient_email}: {self.subject}"

    @property
    def is_read(self):
        return self.read_at is not None


class JobStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Succeeded")
    FAILED = "failed", _("Failed")


class JobRun(QModel):
    """One run of a scheduled job for one slot; the unique (job, slot) makes each slot run once."""

    job_name = models.CharField(_("job"), max_length=100)
    slot = models.DateTimeField(_("scheduled time"))
    worker = models.CharField(_("worker"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.RUNNING
    )
    error = models.TextField(_("error"), blank=True)

    audited = False
    permission_module = "notifications"

    class Meta:
        verbose_name = _("scheduled job run")
        verbose_name_plural = _("scheduled job runs")
        ordering = ["-slot"]
        constraints = [models.UniqueConstraint(fields=["job_name", "slot"], name="uniq_jobrun_slot")]

    def __str__(self):
        return f"{self.job_name} @ {self.slot:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(QModel):
    """Last sign of life of each worker process, shown to administrators."""

    name = models.CharField(_("worker"), max_length=100, unique=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    sent_total = models.PositiveIntegerField(_("messages sent"), default=0)

    audited = False
    permission_module = "notifications"

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-last_seen_at"]

    def __str__(self):
        return self.name
