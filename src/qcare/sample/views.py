"""Screens of the sample record: the exemplar of list / form / record-with-tabs pages.

Views only parse input, call a service and choose the response (DESIGN rule 1); the
queryset always comes from ``restrict()`` (rule 4).
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from qcare.accounts.permissions import has_perm
from qcare.core import signatures, ui
from qcare.core.decorators import permission_required
from qcare.core.forms import domain_errors_to_http, run_service
from qcare.core.forms_mech import SignatureForm
from qcare.core.listing import ChoiceFilter, Column, DateRangeFilter, Listing, ModelFilter
from qcare.core.models import get_restricted_or_404
from qcare.sample import services
from qcare.sample.forms import SampleDeleteForm, SampleEditForm, SampleForm
from qcare.sample.models import SampleRecord, SampleStatus

TABS = (
    ("details", gettext_lazy("Details")),
    ("history", gettext_lazy("History")),
    ("signatures", gettext_lazy("Signatures")),
    ("attachments", gettext_lazy("Attachments")),
    ("related", gettext_lazy("Related")),
)
EDIT_FIELDS = ("title", "description", "amount", "department")


def _record(request, pk, action="view"):
    return get_restricted_or_404(
        SampleRecord.objects.select_related("owner", "department"), request.user, action, pk=pk
    )


@permission_required("sample.view")
def sample_list(request):
    """Search by number/title, filter by status/owner/date, sort, paginate."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    listing = Listing(
        request,
        SampleRecord.objects.restrict(request.user, "view").select_related("owner", "department"),
        search_fields=("number", "title"),
        filters=[
            ChoiceFilter("status", _("Status"), SampleStatus.choices),
            ModelFilter("owner", _("Owner"), users),
            DateRangeFilter("created", _("Created"), "created_at"),
        ],
        columns=[
            Column("number", _("Number")),
            Column("title", _("Title")),
            Column("status", _("Status")),
            Column("owner", _("Owner"), sort="owner__username"),
            Column("amount", _("Amount")),
            Column("created", _("Created"), sort="created_at"),
        ],
        default_sort="-number",
        row_template="sample/_row.html",
        empty_message=_("No sample records match. Change the search or filters, or create a record."),
    )
    can_add = has_perm(request.user, "sample.add")
    return listing.render("sample/list.html", {"can_add": can_add, "nav_active": "sample"})


@permission_required("sample.add")
@require_http_methods(["GET", "POST"])
def sample_create(request):
    form = SampleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, record = run_service(form, services.create_sample, request.user, **form.cleaned_data)
        if ok:
            messages.success(request, _("Sample record %(number)s was created.") % {"number": record.number})
            return redirect("sample:detail", pk=record.pk)
    return render(request, "sample/form.html", {"form": form, "nav_active": "sample"})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def sample_edit(request, pk):
    """Edit with a reason; the version on the form detects a concurrent change."""
    record = _record(request, pk, "change")
    initial = {name: getattr(record, name) for name in EDIT_FIELDS} | {"version": record.version}
    form = SampleEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in EDIT_FIELDS}
        ok, _result = run_service(
            form,
            services.update_sample,
            request.user,
            record,
            data=data,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("sample:detail", pk=record.pk)
    return render(request, "sample/form.html", {"form": form, "record": record, "nav_active": "sample"})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def sample_delete(request, pk):
    """Confirmation page with reason (what the [data-confirm] dialog falls back to)."""
    record = _record(request, pk, "delete")
    form = SampleDeleteForm(request.POST or None, initial={"version": record.version})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _delete_checked, request.user, record, form.cleaned_data)
        if ok:
            messages.success(request, _("Sample record %(number)s was deleted.") % {"number": record.number})
            return redirect("sample:list")
    return render(request, "sample/delete.html", {"form": form, "record": record, "nav_active": "sample"})


def _delete_checked(actor, record, data):
    record.check_version(data.get("version"))
    services.delete_sample(actor, record, reason=data["reason"])


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def sample_approve(request, pk):
    """Approve by e-signature: password re-entry; a wrong password is refused (and counted)."""
    record = _record(request, pk, "approve")
    # core-mechanisms' signature form; the meaning is fixed to "approved" by the service.
    form = SignatureForm(
        request.POST or None,
        meanings=["approved"],
        require_username=signatures.session_needs_username(request),
    )
    if request.method == "POST" and form.is_valid():
        ok, _signature = run_service(
            form, services.approve_sample, request.user, record, **form.signer_kwargs()
        )
        if ok:
            signatures.note_session_signed(request)
            messages.success(
                request, _("Sample record %(number)s was approved and signed.") % {"number": record.number}
            )
            return redirect(reverse("sample:detail", args=[record.pk]) + "?tab=signatures")
    return render(request, "sample/approve.html", {"form": form, "record": record, "nav_active": "sample"})


@login_required
@domain_errors_to_http
def sample_detail(request, pk):
    """The record page; ``?tab=`` picks the tab, htmx requests get only the tab panel."""
    record = _record(request, pk)
    tab = request.GET.get("tab", "details")
    if tab not in dict(TABS):
        tab = "details"
    user = request.user
    context = {
        "record": record,
        "tab": tab,
        "tabs": TABS,
        "nav_active": "sample",
        "can_change": record.status != SampleStatus.APPROVED and _allowed(user, record, "change"),
        "can_delete": record.status != SampleStatus.APPROVED and _allowed(user, record, "delete"),
        "can_approve": record.status != SampleStatus.APPROVED and _allowed(user, record, "approve"),
    }
    if request.htmx and request.htmx.target == "qc-tab-panel":
        return render(request, "sample/_tab.html", context)
    return render(request, "sample/detail.html", context)


def _allowed(user, record, action):
    return SampleRecord.objects.restrict(user, action).filter(pk=record.pk).exists()


def awaiting_my_approval(user):
    """Task provider: submitted or draft records the user may approve (restricted)."""
    qs = (
        SampleRecord.objects.restrict(user, "approve")
        .exclude(status=SampleStatus.APPROVED)
        .order_by("-id")[:20]
    )
    return [
        {
            "title": f"{r.number} {r.title}",
            "url": reverse("sample:detail", args=[r.pk]),
            "due_at": None,
            "overdue": False,
            "kind": "sample.approve",
        }
        for r in qs
    ]


def register_ui():
    """Navigation entry and task provider of the sample app (call from SampleConfig.ready())."""
    ui.nav.register(
        "sample", gettext_lazy("Sample records"), "sample:list", permission="sample.view", order=900
    )
    ui.tasks.register(
        "sample.approve", gettext_lazy("Sample records awaiting my approval"), awaiting_my_approval
    )
