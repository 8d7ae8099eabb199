"""REST endpoints for importing and exporting customers (R-IF-4, R-CU-6).

``POST /api/customers/import/`` (multipart: ``file``, ``mode``) and ``GET /api/customers/export/``.
Mounted by the customers API router (``router.add_router("", api_io.router)`` in
:mod:`qcare.customers.api`). The work is done by :mod:`qcare.customers.importexport`.
"""

from typing import Literal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from qcare.api.errors import error_body
from qcare.api.imports import ImportOut, ImportRefused, read_upload
from qcare.api.schemas import ErrorOut
from qcare.customers import importexport

router = Router(tags=["customers"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post(
    "/customers/import/",
    # 400 is either the row report of a refused commit or the standard error of a bad upload.
    response={200: ImportOut, 201: ImportOut, 400: ImportRefused | ErrorOut},
    summary="Import customers from xlsx or csv",
)
def import_customers(
    request,
    file: File[UploadedFile],
    mode: Form[Literal["validate", "commit", "commit_valid"]] = "validate",
):
    """Validate an upload and, with ``mode=commit`` (all or nothing) or ``mode=commit_valid``
    (only the customers whose rows are all valid), create the customers, contacts and licences.

    Every error is reported as ``{row, column, message}`` (row 1 is the header row). Needs
    ``customers.import``. The template's columns: see ``GET /customers/import/template/`` in the UI.
    """
    report = importexport.import_file(request.auth, read_upload(file), file.name, mode=mode)
    body = report.as_dict()
    if mode == "commit" and report.has_errors:
        refused = error_body(
            _("Nothing was imported: %(count)d rows have errors.") % {"count": report.invalid_rows},
            "invalid_rows",
        )
        return Status(400, body | {"detail": refused["detail"], "code": refused["code"]})
    return Status(201 if report.created else 200, body)


@router.get("/customers/export/", summary="Export the filtered customer list to xlsx")
def export_customers(request):
    """The customers you may export, filtered with the list's query parameters (``q`` or
    ``search``, ``type``, ``origin``, ``region``, ``relationship``, ``value_class``, ``owner``,
    ``licence``), as an xlsx file. Personal data is masked unless you may see it; every export
    is recorded in the audit trail. Needs ``customers.export``; at most 50,000 customers."""
    content, _count = importexport.export_customers(request.auth, request.GET)
    response = HttpResponse(content, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.xlsx"'
    return response
