"""Files attached to any record (complaint photos, signed PDFs, test reports…)."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel


class AttachmentQuerySet(models.QuerySet):
    def for_object(self, obj):
        """Live (not removed) attachments of ``obj``, newest first."""
        ct = ContentType.objects.get_for_model(type(obj))
        return self.filter(content_type=ct, object_pk=str(obj.pk), removed_at__isnull=True)


class Attachment(QModel):
    """A file attached to a record; access follows the parent record's permissions.

    The file is stored under a generated name (``stored_name``), never under a path the
    user chose. "Delete" removes it from the record but keeps the file and the row with
    who/when/why, because ISO 9001 §7.5.3 records must not disappear without a trace.
    """

    content_type = models.ForeignKey(ContentType, verbose_name=_("record type"), on_delete=models.PROTECT)
    object_pk = models.CharField(_("record id"), max_length=64)
    parent = GenericForeignKey("content_type", "object_pk")
    original_name = models.CharField(_("file name"), max_length=255)
    stored_name = models.CharField(_("stored name"), max_length=200, unique=True, editable=False)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    mime_type = models.CharField(_("detected type"), max_length=120)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("removed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    #: Removing an attachment needs a reason (it is evidence on a controlled record).
    controlled = True

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_pk"], name="attachment_parent")]

    def __str__(self):
        return self.original_name
