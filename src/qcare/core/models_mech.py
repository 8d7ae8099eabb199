"""Models of the core mechanisms: numbering (P2), policies (P1) and e-signatures (P4).

Imported at the end of ``qcare/core/models.py`` so Django finds them in the ``core`` app.
The behaviour lives in :mod:`qcare.core.numbering`, :mod:`qcare.core.policies` and
:mod:`qcare.core.signatures`; these classes only hold data and invariants.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel, VersionedModel

__all__ = ["NumberCounter", "NumberPattern", "PolicyValue", "Signature", "SignatureMeaning"]


class NumberPattern(VersionedModel):
    """The numbering pattern of one record type, overriding the default in code.

    Controlled: administrators change it with a reason, and the audit trail keeps every
    earlier pattern.
    """

    record_type = models.SlugField(_("record type"), max_length=60, unique=True)
    pattern = models.CharField(_("pattern"), max_length=80)
    description = models.CharField(_("description"), max_length=200, blank=True)

    controlled = True
    permission_module = "numbering"

    class Meta:
        verbose_name = _("numbering pattern")
        verbose_name_plural = _("numbering patterns")
        ordering = ["record_type"]

    def __str__(self):
        return f"{self.record_type}: {self.pattern}"


class NumberCounter(QModel):
    """The last number issued for one record type in one period (e.g. "complaint", "2026-11").

    The row is locked while a number is taken, inside the caller's transaction, so numbers
    are gap-free and never reused (DESIGN rule 6). Not audited: every numbered record's
    own creation is, and the counter would only repeat it.
    """

    record_type = models.SlugField(_("record type"), max_length=60)
    period = models.CharField(_("period"), max_length=10, blank=True)
    last_value = models.PositiveBigIntegerField(_("last value"), default=0)

    audited = False
    permission_module = "numbering"

    class Meta:
        verbose_name = _("number counter")
        verbose_name_plural = _("number counters")
        constraints = [
            models.UniqueConstraint(fields=["record_type", "period"], name="uniq_number_counter_period")
        ]

    def __str__(self):
        return f"{self.record_type}/{self.period or '-'}: {self.last_value}"


class PolicyValue(VersionedModel):
    """An administrator's override of one registered policy (the default lives in code).

    Controlled: each change needs a reason, so the audit trail is the value's history.
    """

    key = models.CharField(_("policy"), max_length=100, unique=True)
    value = models.JSONField(_("value"))

    controlled = True
    permission_module = "policies"

    class Meta:
        verbose_name = _("policy value")
        verbose_name_plural = _("policy values")
        ordering = ["key"]

    def __str__(self):
        return self.key


class SignatureMeaning(models.TextChoices):
    """What the signer declares by signing (P4)."""

    REVIEWED = "reviewed", _("Reviewed")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    VERIFIED = "verified", _("Verified")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


class Signature(QModel):
    """An electronic signature bound to the exact content of a record (P4).

    ``content_hash`` is SHA-256 over the canonical JSON of the record's ``signed_fields``
    when it was signed; if the record's content no longer hashes the same, the signature
    is invalid. Signatures are never edited: a new one is written for each act.
    """

    content_type = models.ForeignKey(ContentType, verbose_name=_("record type"), on_delete=models.PROTECT)
    object_pk = models.CharField(_("record"), max_length=64)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    signer_full_name = models.CharField(_("signer's full name"), max_length=150)
    signed_at = models.DateTimeField(_("signed at"))
    meaning = models.CharField(_("meaning"), max_length=20, choices=SignatureMeaning.choices)
    comment = models.TextField(_("comment"), blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    record_version = models.PositiveIntegerField(_("record version"), null=True, blank=True)

    permission_module = "signatures"

    class Meta:
        verbose_name = _("electronic signature")
        verbose_name_plural = _("electronic signatures")
        ordering = ["signed_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_pk", "signed_at"], name="signature_record")]

    @property
    def is_valid(self):
        """True while the record's signed content still hashes as when it was signed."""
        if not hasattr(self, "_is_valid"):
            from qcare.core.signatures import content_hash

            record = self.content_type.model_class()._base_manager.get(pk=self.object_pk)
            self._is_valid = self.content_hash == content_hash(record)
        return self._is_valid

    def __str__(self):
        # In the company's time zone, like every other time on screen (P3).
        signed_at = timezone.localtime(self.signed_at, timezone.get_default_timezone())
        return f"{self.signer_full_name} {self.get_meaning_display()} {signed_at:%Y-%m-%d %H:%M}"
