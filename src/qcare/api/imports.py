"""What every import endpoint shares (R-IF-4): the report schemas and the upload reader.

``POST /api/<resource>/import/`` takes a multipart ``file`` and ``mode`` (validate / commit /
commit_valid) and answers with :class:`ImportOut` (or :class:`ImportRefused`, status 400,
when a commit is refused because of bad rows).
"""

from django.utils.translation import gettext as _
from ninja import Schema

from qcare.core.errors import ValidationFailed

#: Uploads larger than this are refused before parsing (about 50,000 rows of xlsx).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class RowErrorOut(Schema):
    row: int
    column: str
    message: str


class ImportOut(Schema):
    """The validation report and, after a commit, the ids of the created records."""

    total_rows: int
    valid_rows: int
    invalid_rows: int
    errors: list[RowErrorOut]
    warnings: list[str]
    created: list[int]
    committed: bool


class ImportRefused(ImportOut):
    """``mode=commit`` with bad rows: nothing was written; the report says why."""

    detail: str
    code: str


def read_upload(upload):
    """The uploaded bytes, refusing oversized files with a field error."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            _("The file is larger than %(mb)d MB; split it.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
            errors={"file": [_("File too large.")]},
        )
    return upload.read()
