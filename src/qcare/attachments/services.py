"""Attachment services: upload, remove (with reason) and open for download.

Permission follows the parent record: uploading and removing need ``change`` on the
parent (``Model.objects.restrict(user, "change")``), downloading needs ``view``. A parent
the user cannot see answers NotFound (404), as everywhere (DESIGN rule 4).
"""

import hashlib
import os
import unicodedata
import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.attachments import detection
from qcare.attachments.models import Attachment
from qcare.core.context import audit_context
from qcare.core.errors import NotFound, NotPermitted, ReasonRequired, ValidationFailed


def parent_allows(user, parent, action):
    """True if ``user`` may ``action`` the parent record (its model's ``restrict``)."""
    model = type(parent)
    if not getattr(model, "permission_module", None):
        return False
    return model.objects.restrict(user, action).filter(pk=parent.pk).exists()


def require_parent(user, parent, action):
    """NotFound if the parent is outside the user's view scope, NotPermitted if only ``action`` is missing."""
    if parent is None or not parent_allows(user, parent, "view"):
        raise NotFound()
    if action != "view" and not parent_allows(user, parent, action):
        raise NotPermitted()


def clean_name(name):
    """The user's file name without any path, control characters or surrounding blanks."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name or "file"


def _check_file(uploaded):
    """Size and content checks; returns the detected MIME type."""
    name = clean_name(uploaded.name)
    if uploaded.size == 0:
        raise ValidationFailed(_("The file is empty."), errors={"file": [_("The file is empty.")]})
    if uploaded.size > settings.MAX_UPLOAD_BYTES:
        message = _("The file is too large (%(size)s); the limit is %(limit)s.") % {
            "size": filesizeformat(uploaded.size),
            "limit": filesizeformat(settings.MAX_UPLOAD_BYTES),
        }
        raise ValidationFailed(message, errors={"file": [message]})
    uploaded.seek(0)
    head = uploaded.read(detection.HEAD_BYTES)
    mime = detection.detect(head, name, uploaded)
    if mime is None:
        message = _(
            "This kind of file is not accepted. Allowed: PDF, images, Office documents, ZIP, text and CSV."
        )
        raise ValidationFailed(message, errors={"file": [message]})
    if not detection.extension_matches(mime, name):
        message = _("The file's content (%(type)s) does not match its name extension “%(ext)s”.") % {
            "type": mime,
            "ext": detection.extension_of(name) or "-",
        }
        raise ValidationFailed(message, errors={"file": [message]})
    return name, mime


def _store(uploaded):
    """Write the file under a generated name; return (stored_name, sha256)."""
    now = timezone.now()
    stored_name = f"attachments/{now:%Y}/{now:%m}/{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    saved = default_storage.save(stored_name, uploaded)
    return saved, digest.hexdigest()


def upload_attachment(actor, parent, uploaded):
    """Attach ``uploaded`` (an UploadedFile) to ``parent`` after permission, size and type checks."""
    require_parent(actor, parent, "change")
    name, mime = _check_file(uploaded)
    # The file is written before the transaction and removed again if the row fails, so a
    # rollback never leaves a row without a file (and rarely a file without a row).
    stored_name, sha256 = _store(uploaded)
    try:
        with transaction.atomic(), audit_context(actor=actor):
            return Attachment.objects.create(
                content_type=ContentType.objects.get_for_model(type(parent)),
                object_pk=str(parent.pk),
                original_name=name,
                stored_name=stored_name,
                size=uploaded.size,
                mime_type=mime,
                sha256=sha256,
                uploaded_by=actor,
            )
    except Exception:
        default_storage.delete(stored_name)
        raise


def remove_attachment(actor, attachment, *, reason):
    """Take an attachment off its record (kept on disk and in the trail, see the model)."""
    require_parent(actor, attachment.parent, "change")
    if not (reason or "").strip():
        raise ReasonRequired()
    if attachment.removed_at:
        raise NotFound()
    with transaction.atomic(), audit_context(actor=actor, reason=reason.strip()):
        attachment.removed_at = timezone.now()
        attachment.removed_by = actor
        attachment.save(update_fields=["removed_at", "removed_by", "updated_at"])
    return attachment


def get_for_download(actor, pk):
    """The live attachment ``pk`` if ``actor`` may view its parent; NotFound otherwise."""
    attachment = Attachment.objects.filter(pk=pk, removed_at__isnull=True).first()
    if attachment is None:
        raise NotFound()
    require_parent(actor, attachment.parent, "view")
    return attachment


def open_file(attachment):
    return default_storage.open(attachment.stored_name, "rb")
