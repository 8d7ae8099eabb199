"""A small record type that exercises every foundation mechanism.

Installed only with ``QCARE_ENABLE_SAMPLE_APP=1`` (tests and benchmarks). It is numbered,
audited and controlled (reason required), versioned, restricted by owner/department,
signable, and notifies its owner — the same shape every domain record will have.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from qcare.core.models import VersionedModel


class SampleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")


class SampleRecord(VersionedModel):
    """A numbered, controlled, signable record used to prove the foundation."""

    number = models.CharField(_("number"), max_length=40, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=SampleStatus.choices, default=SampleStatus.DRAFT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT
    )

    controlled = True
    permission_module = "sample"
    scope_owner_field = "owner"
    scope_department_field = "department"
    #: Fields covered by an e-signature: changing any of them invalidates earlier signatures.
    signed_fields = ("title", "description", "amount")

    class Meta:
        verbose_name = _("sample record")
        verbose_name_plural = _("sample records")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="sample_status_id")]

    def __str__(self):
        return f"{self.number} {self.title}"
