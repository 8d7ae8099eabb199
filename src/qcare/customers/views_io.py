"""Screens for importing and exporting customers (R-IF-4, R-CU-6).

Import is upload → validation report → commit. Between the two steps the upload is kept
server-side under ``MEDIA_ROOT/imports/<uuid>.<ext>``; the browser only holds the uuid, and
the session remembers which uuids this user uploaded, so a client can never name a path.
"""

import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qcare.core.decorators import permission_required
from qcare.core.errors import NotPermitted, ValidationFailed
from qcare.core.forms import BootstrapFormMixin
from qcare.customers import importexport

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SESSION_KEY = "customer_imports"
ALLOWED_EXTENSIONS = (".xlsx", ".csv")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class UploadForm(BootstrapFormMixin, forms.Form):
    """The file to import (xlsx or csv)."""

    file = forms.FileField(
        label=gettext_lazy("File (.xlsx or .csv)"),
        help_text=gettext_lazy("Use the template; CSV may be UTF-8 or GBK encoded."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in ALLOWED_EXTENSIONS:
            raise forms.ValidationError(_("Only .xlsx and .csv files can be imported."))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it."))
        return upload


def _import_dir():
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(request, upload):
    """Save the upload under a fresh uuid and remember it in the session; returns the token."""
    token = uuid.uuid4().hex
    ext = Path(upload.name).suffix.lower()
    with open(_import_dir() / f"{token}{ext}", "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    stored = request.session.get(SESSION_KEY, {})
    stored[token] = {"name": Path(upload.name).name[:200], "ext": ext}
    request.session[SESSION_KEY] = stored
    return token


def _load(request, token):
    """(bytes, original name) of a stored upload of THIS session; 404-like error otherwise."""
    try:
        token = uuid.UUID(str(token)).hex
    except ValueError:
        raise ValidationFailed(_("The uploaded file is no longer available; upload it again.")) from None
    entry = request.session.get(SESSION_KEY, {}).get(token)
    path = _import_dir() / f"{token}{entry['ext']}" if entry else None
    if path is None or entry["ext"] not in ALLOWED_EXTENSIONS or not path.exists():
        raise ValidationFailed(_("The uploaded file is no longer available; upload it again."))
    return path.read_bytes(), entry["name"]


def _discard(request, token):
    stored = request.session.get(SESSION_KEY, {})
    entry = stored.pop(token, None)
    request.session[SESSION_KEY] = stored
    if entry and entry["ext"] in ALLOWED_EXTENSIONS:
        (_import_dir() / f"{token}{entry['ext']}").unlink(missing_ok=True)


def _list_url():
    try:
        return reverse("customers:list")
    except NoReverseMatch:
        return reverse("customers:import")


@permission_required("customers.import")
@require_GET
def import_template(request, fmt):
    """The import template (xlsx with an instructions sheet, or CSV UTF-8 with BOM)."""
    if fmt not in ("xlsx", "csv"):
        raise Http404()
    if fmt == "csv":
        response = HttpResponse(importexport.build_template_csv(), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(importexport.build_template_xlsx(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="customer-import-template.{fmt}"'
    return response


@permission_required("customers.import")
@require_http_methods(["GET", "POST"])
def import_upload(request):
    """Upload a file; answer with the validation report (nothing is written yet)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        token = _store(request, upload)
        data, name = _load(request, token)
        try:
            report = importexport.validate_file(request.user, data, name)
        except ValidationFailed as error:
            _discard(request, token)
            form.add_error("file", str(error.message))
        else:
            context = {"report": report, "token": token, "file_name": name, "nav_active": "customers"}
            return render(request, "customers/import_report.html", context)
    return render(request, "customers/import.html", {"form": form, "nav_active": "customers"})


@permission_required("customers.import")
@require_POST
def import_commit(request):
    """Write the stored upload: all rows (only when none is bad) or the valid rows."""
    token = request.POST.get("token", "")
    mode = request.POST.get("mode", "commit")
    if mode not in ("commit", "commit_valid"):
        mode = "commit"
    try:
        data, name = _load(request, token)
        report = importexport.import_file(request.user, data, name, mode=mode)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message)) from None
    except ValidationFailed as error:
        messages.error(request, str(error.message))
        return redirect("customers:import")
    if not report.committed:  # commit refused: show the report again, the file stays stored
        messages.error(request, _("Nothing was imported because some rows have errors."))
        context = {"report": report, "token": token, "file_name": name, "nav_active": "customers"}
        return render(request, "customers/import_report.html", context, status=400)
    _discard(request, uuid.UUID(token).hex)
    messages.success(
        request,
        _("%(customers)d customers were imported from %(rows)d rows.")
        % {"customers": len(report.created), "rows": report.valid_rows},
    )
    return redirect(_list_url())


@permission_required("customers.export")
@require_GET
def export(request):
    """The customer list as filtered on customers:list (same GET parameters), as xlsx."""
    try:
        content, _count = importexport.export_customers(request.user, request.GET)
    except ValidationFailed as error:  # too many rows: say so on the page the user came from
        return render(request, "customers/export_refused.html", {"message": error.message}, status=400)
    response = HttpResponse(content, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.xlsx"'
    return response
