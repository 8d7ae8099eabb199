"""History of one record and the audit log screen."""

from datetime import datetime, time, timedelta

from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.accounts.permissions import has_perm
from qcare.audit import timeline
from qcare.audit.capture import is_audited
from qcare.audit.models import Action, AuditEntry

HISTORY_PAGE_SIZE = 20
LOG_PAGE_SIZE = 50


def _history_target(user, app_label, model_name, pk):
    """The (content type, object or None) whose history ``user`` may read; 404 otherwise.

    Users who hold ``audit.view`` may read the history of any record, also a deleted one;
    everybody else needs the record itself within their "view" scope.
    """
    try:
        model = apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        raise Http404
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=True)
    if has_perm(user, "audit.view"):
        return content_type, model._base_manager.filter(pk=pk).first() if _valid_pk(model, pk) else None
    manager = getattr(model, "objects", None)
    if manager is None or not hasattr(manager, "restrict") or not getattr(model, "permission_module", None):
        raise Http404
    try:
        obj = manager.restrict(user, "view").filter(pk=pk).first()
    except (ValueError, TypeError):
        obj = None
    if obj is None:
        raise Http404
    return content_type, obj


def _valid_pk(model, pk):
    try:
        model._meta.pk.to_python(pk)
    except Exception:  # noqa: BLE001 - a malformed id simply matches nothing
        return False
    return True


@login_required
def history(request, app_label, model, pk):
    """Timeline of one record: field changes (old struck through, new) and business events."""
    content_type, obj = _history_target(request.user, app_label, model, pk)
    entries = (
        AuditEntry.objects.filter(content_type=content_type, object_pk=str(pk))
        .select_related("content_type")
        .order_by("-seq")
    )
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    title = str(obj) if obj is not None else f"{content_type.name} #{pk}"
    return render(
        request,
        "audit/history.html",
        {
            "obj": obj,
            "record_title": title,
            "record_type": content_type.name,
            "page_obj": page,
            "rows": timeline.build(page.object_list),
        },
    )


def _model_choices():
    choices = []
    for model in apps.get_models():
        if is_audited(model):
            choices.append((model._meta.label_lower, str(model._meta.verbose_name)))
    return [("", _("All record types")), *sorted(choices, key=lambda c: c[1])]


class LogFilterForm(forms.Form):
    """Filters of the audit log screen."""

    actor = forms.ModelChoiceField(
        label=_("Who"), queryset=get_user_model().objects.order_by("username"), required=False
    )
    model = forms.ChoiceField(label=_("Record type"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = _model_choices()
        self.fields["action"].choices = [("", _("All actions")), *Action.choices]
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            )

    def apply(self, qs):
        data = self.cleaned_data
        if data.get("actor"):
            qs = qs.filter(actor_id=data["actor"].pk)
        if data.get("model"):
            app_label, _dot, model = data["model"].partition(".")
            qs = qs.filter(content_type__app_label=app_label, content_type__model=model)
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("date_from"):
            qs = qs.filter(at__gte=_start_of(data["date_from"]))
        if data.get("date_to"):
            qs = qs.filter(at__lt=_start_of(data["date_to"] + timedelta(days=1)))
        return qs


def _start_of(day):
    """Midnight of ``day`` in the company's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
def log(request):
    """The whole trail, filtered, for auditors, administrators and the management representative."""
    if not has_perm(request.user, "audit.view"):
        raise PermissionDenied
    form = LogFilterForm(request.GET or None)
    entries = AuditEntry.objects.select_related("content_type").order_by("-seq")
    if form.is_bound and form.is_valid():
        entries = form.apply(entries)
    page = Paginator(entries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "page_obj": page,
            "rows": timeline.build(page.object_list),
            "query": query.urlencode(),
        },
    )
