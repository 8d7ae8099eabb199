"""Upload, download and removal of attachments; access follows the parent record."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from qcare.attachments import services
from qcare.attachments.forms import RemoveForm, UploadForm
from qcare.attachments.models import Attachment
from qcare.core.forms import domain_errors_to_http, run_service


def _safe_next(request, value):
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return value
    return reverse("core:dashboard")


def _parent(content_type_id, object_pk):
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        return model._default_manager.get(pk=object_pk) if model else None
    except (ContentType.DoesNotExist, ValueError, TypeError) as error:
        raise Http404() from error
    except Exception as error:  # DoesNotExist of the parent model
        if error.__class__.__name__ == "DoesNotExist":
            raise Http404() from error
        raise


@login_required
@require_POST
@domain_errors_to_http
def upload(request, content_type_id, object_pk):
    """Attach a file; errors go back to the record page (or the htmx panel) as messages."""
    parent = _parent(content_type_id, object_pk)
    services.require_parent(request.user, parent, "change")
    form = UploadForm(request.POST, request.FILES)
    ok = False
    if form.is_valid():
        ok, attachment = run_service(
            form, services.upload_attachment, request.user, parent, form.cleaned_data["file"]
        )
    if request.htmx:
        return render(
            request,
            "attachments/_panel.html",
            _panel_context(request, parent, form if not ok else None, uploaded=ok),
        )
    if ok:
        messages.success(request, _("“%(name)s” was attached.") % {"name": attachment.original_name})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(_safe_next(request, request.POST.get("next")))


def _panel_context(request, parent, form=None, uploaded=False):
    can_change = services.parent_allows(request.user, parent, "change")
    return {
        "parent": parent,
        "attachments": Attachment.objects.for_object(parent).select_related("uploaded_by"),
        "can_change": can_change,
        "form": form or UploadForm(initial={"next": request.POST.get("next") or request.get_full_path()}),
        "upload_url": reverse(
            "attachments:upload", args=[ContentType.objects.get_for_model(type(parent)).pk, parent.pk]
        ),
        "uploaded": uploaded,
        "max_upload": settings.MAX_UPLOAD_BYTES,
        "next": request.POST.get("next") or request.get_full_path(),
    }


@login_required
@domain_errors_to_http
def download(request, pk):
    """The file as a download (never rendered inline), only if the parent is visible."""
    attachment = services.get_for_download(request.user, pk)
    try:
        handle = services.open_file(attachment)
    except FileNotFoundError as error:
        raise Http404() from error
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.mime_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def remove(request, pk):
    """Confirmation page with a reason (also the no-JavaScript path), then removal."""
    attachment = services.get_for_download(request.user, pk)
    services.require_parent(request.user, attachment.parent, "change")
    form = RemoveForm(request.POST or None, initial={"next": request.GET.get("next", "")})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form, services.remove_attachment, request.user, attachment, reason=form.cleaned_data["reason"]
        )
        if ok:
            messages.success(
                request, _("“%(name)s” was removed from the record.") % {"name": attachment.original_name}
            )
            return redirect(_safe_next(request, form.cleaned_data.get("next")))
    return render(
        request,
        "attachments/remove.html",
        {
            "attachment": attachment,
            "form": form,
            "cancel_url": _safe_next(request, request.GET.get("next") or request.POST.get("next")),
        },
    )
