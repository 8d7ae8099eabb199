"""The audit trail (P3): an append-only, hash-chained log of changes and business events.

Each :class:`AuditEntry` stores who, when (UTC), which object, what changed (old and new
value per field) and why, plus ``prev_hash`` / ``hash`` linking it to the entry before it
(see :mod:`qcare.audit.chain`). Writers serialise on the single :class:`ChainHead` row so
the chain never forks, even with many writers on PostgreSQL.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyViolation(RuntimeError):
    """Someone tried to change or delete an audit entry through the ORM."""


class Action(models.TextChoices):
    """What an entry records: a field-level change or a business event."""

    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    M2M = "m2m", _("Links changed")
    SIGNATURE = "signature", _("Signed")
    SIGNATURE_FAILED = "signature_failed", _("Signature refused")
    EXPORT = "export", _("Exported")
    VIEW = "view", _("Viewed")
    LOGIN = "login", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Sign-in failed")
    LOGOUT = "logout", _("Signed out")
    STATE = "state", _("State changed")
    OTHER = "other", _("Other event")


#: Actions that are field changes (the rest are business events).
CHANGE_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE, Action.M2M})


class AuditEntryQuerySet(models.QuerySet):
    """Read-only queryset: bulk update and delete are refused."""

    def update(self, **kwargs):
        raise AppendOnlyViolation("audit entries are append-only")

    def delete(self):
        raise AppendOnlyViolation("audit entries are append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation("audit entries are append-only")

    def _raw_delete(self, *args, **kwargs):
        raise AppendOnlyViolation("audit entries are append-only")


class AuditEntry(models.Model):
    """One entry of the append-only audit trail (a change or a business event)."""

    seq = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    at = models.DateTimeField(_("time"), editable=False)
    # No database constraint and DO_NOTHING: deleting a user or a content type must never
    # touch the trail; actor_name keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("record type"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_pk = models.CharField(_("record id"), max_length=64, blank=True)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["content_type", "object_pk", "seq"], name="audit_object_history"),
            models.Index(fields=["at"], name="audit_at"),
            models.Index(fields=["actor", "seq"], name="audit_actor_seq"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("audit entries are append-only")

    @property
    def is_change(self):
        return self.action in CHANGE_ACTIONS


class ChainHead(models.Model):
    """The single row (pk=1) holding the last sequence number and hash of the chain.

    Writers lock it (``SELECT … FOR UPDATE``) so concurrent transactions append one after
    the other; the verifier compares it with the last entry to detect removed tail entries.
    """

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self):
        return f"{self.last_seq} {self.last_hash[:12]}"
