"""A printable copy of any record: its fields, e-signatures and change history (P3, P4).

``/print/<app_label>/<model>/<pk>/`` — permission follows the record (``restrict(user,
"view")``; outside the scope → 404). Every printout is written to the business event log
as an export, because a printed copy leaves the system's control.
"""

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import capfirst

from qcare.audit.services import log_event
from qcare.core.errors import NotFound
from qcare.core.models import get_restricted_or_404

#: Bookkeeping fields a paper form does not show.
HIDDEN_FIELDS = {"id", "created_at", "updated_at", "version"}


def _display(obj, field):
    if field.choices:
        return getattr(obj, f"get_{field.name}_display")()
    value = getattr(obj, field.name)
    if value is None or value == "":
        return "—"
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def record_fields(obj):
    """``[(label, value)]`` of the record's own fields, masked fields left out."""
    masked = set(getattr(type(obj), "audit_mask", ()))
    return [
        (capfirst(str(field.verbose_name)), _display(obj, field))
        for field in obj._meta.concrete_fields
        if field.name not in HIDDEN_FIELDS and field.name not in masked
    ]


@login_required
def print_record(request, app_label, model_name, pk):
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise Http404
    if not getattr(model, "permission_module", None):
        raise Http404
    try:
        obj = get_restricted_or_404(model, request.user, "view", pk=pk)
    except NotFound:
        raise Http404
    log_event("export", obj=obj, actor=request.user, data={"format": "print"})
    context = {
        "record": obj,
        "verbose_name": capfirst(str(model._meta.verbose_name)),
        "fields": record_fields(obj),
        "printed_at": timezone.localtime(),
    }
    return render(request, "core/print.html", context)
