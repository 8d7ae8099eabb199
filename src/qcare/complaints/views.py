"""Screens of customer complaints (客户投诉处理表, R-CO-2…5, R-CO-9): the complaint list, the
register form ("from the customer's shipments"), the complaint page with its timeline,
deadlines, findings, responsibility, disposition and approval, replies, the customer's answer,
follow-ups, reportability and attachments, one page per workflow step, the print view of the
客户投诉处理表, the navigation entry and the dashboard tasks.

Views only parse input, call a service and choose the response (DESIGN rule 1). A complaint
outside the user's view scope is a 404; a step the user may not take is a 403 (the services
check again). Every page works without JavaScript: the complaint page embeds each step's form,
which posts to the step's own page, so a refused step re-renders that page with the input kept.
The other screens (feedback, CAPA, returns, notices, statistics) are in ``views_more``.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.forms.utils import ErrorDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from qcare.accounts.permissions import has_perm
from qcare.audit.services import log_event
from qcare.complaints import authority, selectors, services, services_capa
from qcare.complaints import forms as f
from qcare.complaints.choices import (
    FINAL_STATUSES,
    INVESTIGATING_STATUSES,
    OPEN_STATUSES,
    Category,
    ComplaintStatus,
    Demand,
    ReplyKind,
    ReportOutcome,
    ReportQuestion,
    Severity,
)
from qcare.complaints.models import Complaint, ReportabilityDecision
from qcare.core import signatures, ui
from qcare.core.decorators import permission_required
from qcare.core.errors import ValidationFailed
from qcare.core.forms import FastSelect, domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, DateRangeFilter, Listing
from qcare.core.models import get_restricted_or_404

S = ComplaintStatus
NAV = {"nav_active": "complaints"}
TASK_LIMIT = 20
CUSTOMER_FILTER_LIMIT = 200
#: Steps from which a case may be closed as not substantiated (the service has the last word).
NOT_SUBSTANTIATED_FROM = (S.TRIAGED, S.INVESTIGATION, S.RESPONSIBILITY)


def service_view(view):
    """Sign-in required, GET/POST only, NotFound → 404 and NotPermitted → 403."""
    return login_required(require_http_methods(["GET", "POST"])(domain_errors_to_http(view)))


def _page(request, template, context, status=200):
    return render(request, template, context | NAV, status=status)


def _quiet(form):
    """A rebound form that is not a submission (refresh, "add a row"): show the input, no errors."""
    form._errors = ErrorDict()


# --- fetching and rights ---------------------------------------------------------------------
def _complaint(request, pk):
    """The complaint ``pk`` if the user may see it, else 404 (never 403: P7)."""
    qs = Complaint.objects.select_related(
        "customer",
        "contact",
        "product",
        "owner",
        "registered_by",
        "department",
        "order",
        "shipment_line",
        "shipment_line__shipment",
        "parent",
        "capa",
        "proposed_by",
        "approved_by",
        "closed_by",
        "feedback",
    )
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


def may(user, complaint, action):
    """``user`` holds complaints.<action> with ``complaint`` in that permission's scope."""
    if not has_perm(user, f"complaints.{action}"):  # cached: spares a query per missing right
        return False
    # The case page asks for each step: one query per action and request, not per step.
    cache = complaint.__dict__.setdefault("_may_cache", {})
    key = (user.pk, action)
    if key not in cache:
        cache[key] = Complaint.objects.restrict(user, action).filter(pk=complaint.pk).exists()
    return cache[key]


def _detail_url(complaint, anchor=""):
    return reverse("complaints:complaint_detail", args=[complaint.pk]) + (f"#{anchor}" if anchor else "")


def _late(complaint):
    return complaint.due_at is not None and complaint.due_at < timezone.now()


def _reportability(complaint):
    try:
        return complaint.reportability
    except ReportabilityDecision.DoesNotExist:
        return None


# --- list (R-CO-2, R-CO-11 filters) -----------------------------------------------------------
class ComplaintListing(Listing):
    """Search through the complaint search index (number, customer, product, lot, text)."""

    def _filtered(self, qs):
        qs = selectors.search_complaints(qs, self.data.get("q"))
        return super()._filtered(qs)


class StatusFilter(ChoiceFilter):
    """A status, or all open / all finished cases."""

    def __init__(self):
        choices = [("open", _("All open")), ("finished", _("All finished"))] + list(ComplaintStatus.choices)
        super().__init__("status", _("Status"), choices)

    def apply(self, qs, data):
        value = data.get(self.name)
        if value == "open":
            return qs.filter(status__in=OPEN_STATUSES)
        if value == "finished":
            return qs.filter(status__in=FINAL_STATUSES)
        return qs.filter(status=value) if value else qs


class FlagFilter(ChoiceFilter):
    """Overdue / major / repeated / regulated cases."""

    def __init__(self):
        choices = [
            ("overdue", _("Overdue")),
            ("major", _("Major complaints")),
            ("repeat", _("Repeated complaints")),
            ("regulated", _("Regulated products")),
        ]
        super().__init__("flag", _("Flag"), choices)

    def apply(self, qs, data):
        value = data.get(self.name)
        if value == "overdue":
            return qs.filter(status__in=OPEN_STATUSES, due_at__lt=timezone.now())
        if value in ("major", "repeat", "regulated"):
            return qs.filter(**{f"is_{value}": True})
        return qs


class CustomerFilter:
    """Filter by customer: a select of the user's customers (up to a limit); any id works in links."""

    name = "customer"
    label = gettext_lazy("Customer")

    def __init__(self, user, requested=None):
        from qcare.orders.forms import customer_choices

        choices = customer_choices(user, limit=CUSTOMER_FILTER_LIMIT + 1)
        self.as_select = len(choices) <= CUSTOMER_FILTER_LIMIT
        if requested and requested.isdigit() and requested not in {pk for pk, _label in choices}:
            choices.insert(0, (requested, f"#{requested}"))
        self.choices = choices

    def form_fields(self):
        from django import forms

        if not self.as_select:
            return {self.name: forms.CharField(required=False, widget=forms.HiddenInput)}
        return {
            self.name: forms.ChoiceField(
                label=self.label, required=False, choices=[("", _("All"))] + self.choices, widget=FastSelect
            )
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        return qs.filter(customer_id=value) if value and str(value).isdigit() else qs


@permission_required("complaints.view")
def complaint_list(request):
    """Complaints in the user's scope: search (Chinese too), filters, sort, pages."""
    user = request.user
    qs = Complaint.objects.restrict(user, "view").select_related("customer", "product", "owner")
    filters = [
        StatusFilter(),
        FlagFilter(),
        ChoiceFilter("severity", _("Severity"), Severity.choices),
        ChoiceFilter("category", _("Category"), Category.choices),
        CustomerFilter(user, request.GET.get("customer")),
        ChoiceFilter("owner", _("Owner"), f.owner_choices()),
        DateRangeFilter("received", _("Received"), "received_at"),
    ]
    columns = [
        Column("number", _("Complaint number")),
        Column("received", _("Received"), sort="received_at"),
        Column("customer", _("Customer"), sort="customer__code"),
        Column("product", _("Product / lot"), sort=None),
        Column("description", _("Problem"), sort=None),
        Column("status", _("Status")),
        Column("owner", _("Owner"), sort="owner__username"),
        Column("due", _("Close by"), sort="due_at"),
    ]
    listing = ComplaintListing(
        request,
        qs,
        filters=filters,
        columns=columns,
        default_sort="-received",
        row_template="complaints/_row.html",
        empty_message=_("No complaints match. Change the search or filters, or register a complaint."),
    )
    context = {"can_add": has_perm(user, "complaints.add"), "now": timezone.now()}
    return listing.render("complaints/list.html", context | NAV)


# --- register / edit (R-CO-2) ------------------------------------------------------------------
def _register(actor, form):
    return services.register_complaint(actor, **form.service_kwargs())


@permission_required("complaints.add")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def complaint_create(request):
    """Register a complaint; the customer's shipments fill the delivery fields. Photos next."""
    refresh_url = reverse("complaints:complaint_create")
    post = request.POST if request.method == "POST" else None
    initial = {"customer": request.GET.get("customer", "")}
    form = f.ComplaintForm(post, user=request.user, initial=initial, refresh_url=refresh_url)
    status = 200
    if post is not None and "refresh" in post:
        _quiet(form)  # "show the customer's shipments" without JavaScript
    elif post is not None:
        if form.is_valid():
            ok, complaint = run_service(form, _register, request.user, form)
            if ok:
                messages.success(
                    request,
                    _("Complaint %(number)s was registered. Attach photos or documents of the samples below.")
                    % {"number": complaint.number},
                )
                return redirect(_detail_url(complaint, "attachments"))
        status = 400
    return _page(request, "complaints/form.html", {"form": form}, status=status)


def _update(actor, complaint, form):
    return services.update_complaint(
        actor,
        complaint,
        data=form.update_data(),
        reason=form.cleaned_data["reason"],
        expected_version=form.cleaned_data.get("version"),
    )


@service_view
def complaint_edit(request, pk):
    """Correct the registration of an open case (the reason goes to the audit trail)."""
    complaint = _complaint(request, pk)
    if not may(request.user, complaint, "change"):
        raise PermissionDenied(_("You may not edit this complaint."))
    if not complaint.is_open:
        messages.error(request, _("A finished complaint can no longer be corrected."))
        return redirect(_detail_url(complaint))
    post = request.POST if request.method == "POST" else None
    initial = f.ComplaintForm.initial_for(complaint) | {"version": complaint.version}
    form = f.ComplaintEditForm(
        post,
        user=request.user,
        complaint=complaint,
        initial=initial,
    )
    status = 200
    if post is not None:
        if form.is_valid():
            ok, _result = run_service(form, _update, request.user, complaint, form)
            if ok:
                messages.success(request, _("Your change was saved."))
                return redirect(_detail_url(complaint))
        status = 400
    return _page(request, "complaints/form.html", {"form": form, "complaint": complaint}, status=status)


# --- workflow steps (R-CO-3, R-CO-5, R-CO-9) ----------------------------------------------------
@dataclass
class Step:
    """One workflow step: who may take it in which state, its form, and the service it calls."""

    name: str
    title: Any
    button: Any
    allowed: Any  # (user, complaint) -> bool
    form: Any  # (request, complaint, data) -> form
    call: Any  # (actor, complaint, form) -> result
    done: Any  # message text with %(number)s
    anchor: str = ""
    signs: bool = False
    danger: bool = False
    kwargs: dict = field(default_factory=dict)


def _remap(form, call):
    """Call ``call()``; put ValidationFailed keys like "parties.1.share" on the form's own fields."""
    try:
        return call()
    except ValidationFailed as error:
        if hasattr(form, "error_field"):
            errors = {}
            for key, texts in error.errors.items():
                errors.setdefault(form.error_field(key), []).extend(texts)
            error.errors = errors
        raise


def _needs_username(request):
    return signatures.session_needs_username(request)


def _party_rows(request, complaint):
    if request.method != "POST":
        return max(complaint.responsible_parties.count() + 1, f.PARTY_ROWS)
    try:
        rows = int(request.POST.get("responsibility-rows") or f.PARTY_ROWS)
    except ValueError:
        rows = f.PARTY_ROWS
    if "add_row" in request.POST:
        rows += 1
    return max(1, min(rows, f.MAX_PARTY_ROWS))


def _reply_kinds(complaint):
    kinds = [ReplyKind.FIRST_ANSWER, ReplyKind.OTHER]
    if complaint.status == S.APPROVED:
        kinds.insert(0, ReplyKind.FINAL)
    return kinds


def _can_approve(user, complaint):
    return (
        complaint.status == S.AWAITING_APPROVAL
        and may(user, complaint, "approve")
        and authority.can_approve(user, complaint.loss_amount)
    )


def _has_report(complaint):
    return bool(complaint.investigation_reported_at or complaint.investigation_report)


def _can_open_capa(user, complaint):
    return (
        (complaint.is_repeat or complaint.is_major)
        and complaint.capa_id is None
        and has_perm(user, "capa.add")
    )


def _open_capa(actor, complaint):
    """One click from the repeat (or major) flag: a CAPA for the repeat group or this complaint."""
    if complaint.is_repeat:
        return services_capa.open_capa_for_repeats(actor, complaint)
    from qcare.complaints.choices import CapaSource

    return services_capa.open_capa(
        actor,
        source=CapaSource.COMPLAINT,
        title=_("Major complaint %(number)s") % {"number": complaint.number},
        problem=complaint.description,
        owner=complaint.owner or actor,
        complaints=[complaint],
        product=complaint.product,
        cause_category=complaint.cause_category,
    )


STEPS = {
    step.name: step
    for step in (
        Step(
            "triage",
            gettext_lazy("Triage"),
            gettext_lazy("Save the triage"),
            lambda user, c: c.status == S.REGISTERED and may(user, c, "triage"),
            lambda request, c, data: f.TriageForm(
                data,
                prefix="triage",
                initial={
                    "severity": c.severity,
                    "category": c.category or "quality",
                    "owner": str(c.owner_id or ""),
                    "human_error": c.human_error,
                    "version": c.version,
                },
            ),
            lambda actor, c, form: services.triage_complaint(actor, c, **form.service_kwargs()),
            gettext_lazy("Complaint %(number)s was triaged."),
            anchor="workflow",
        ),
        Step(
            "investigate",
            gettext_lazy("Start the investigation"),
            gettext_lazy("Start the investigation"),
            lambda user, c: c.status == S.TRIAGED and may(user, c, "investigate"),
            lambda request, c, data: f.DepartmentsForm(data, prefix="investigate"),
            lambda actor, c, form: services.start_investigation(actor, c, departments=form.chosen()),
            gettext_lazy("The investigation of %(number)s has started."),
            anchor="findings",
        ),
        Step(
            "request_findings",
            gettext_lazy("Ask more departments for findings"),
            gettext_lazy("Ask for findings"),
            lambda user, c: (
                c.status in INVESTIGATING_STATUSES and c.status != S.TRIAGED and may(user, c, "investigate")
            ),
            lambda request, c, data: f.DepartmentsForm(data, prefix="request_findings", required=True),
            lambda actor, c, form: services.request_findings(actor, c, departments=form.chosen()),
            gettext_lazy("The departments were asked for their findings on %(number)s."),
            anchor="findings",
        ),
        Step(
            "finding",
            gettext_lazy("Add your department's findings"),
            gettext_lazy("Save the findings"),
            lambda user, c: c.status in INVESTIGATING_STATUSES and may(user, c, "investigate"),
            lambda request, c, data: f.FindingForm(data, prefix="finding"),
            lambda actor, c, form: services.add_finding(actor, c, text=form.cleaned_data["text"].strip()),
            gettext_lazy("Your findings on %(number)s were saved."),
            anchor="findings",
        ),
        Step(
            "report",
            gettext_lazy("Investigation report"),
            gettext_lazy("Submit the investigation report"),
            lambda user, c: c.status == S.INVESTIGATION and may(user, c, "investigate"),
            lambda request, c, data: f.InvestigationReportForm(
                data, prefix="report", initial={"report": c.investigation_report}
            ),
            lambda actor, c, form: services.submit_investigation_report(
                actor, c, report=form.cleaned_data["report"].strip()
            ),
            gettext_lazy("The investigation report of %(number)s was submitted."),
            anchor="findings",
        ),
        Step(
            "responsibility",
            gettext_lazy("Root cause and responsibility"),
            gettext_lazy("Save the responsibility"),
            lambda user, c: (
                ((c.status == S.INVESTIGATION and _has_report(c)) or c.status == S.RESPONSIBILITY)
                and may(user, c, "investigate")
            ),
            lambda request, c, data: f.ResponsibilityForm(
                data,
                prefix="responsibility",
                rows=_party_rows(request, c),
                initial=f.ResponsibilityForm.initial_for(c) | {"rows": _party_rows(request, c)},
            ),
            lambda actor, c, form: _remap(
                form, lambda: services.set_responsibility(actor, c, **form.service_kwargs())
            ),
            gettext_lazy("The root cause and responsibility of %(number)s were saved."),
            anchor="responsibility",
        ),
        Step(
            "disposition",
            gettext_lazy("Propose the disposition"),
            gettext_lazy("Propose for approval"),
            lambda user, c: c.status == S.RESPONSIBILITY and may(user, c, "investigate"),
            lambda request, c, data: f.DispositionForm(
                data,
                prefix="disposition",
                initial={
                    "disposition": c.disposition,
                    "details": c.disposition_details,
                    "quantity": c.disposition_quantity
                    if c.disposition_quantity is not None
                    else c.defective_quantity,
                    "loss_amount": c.loss_amount if c.disposition else None,
                },
            ),
            lambda actor, c, form: services.propose_disposition(actor, c, **form.service_kwargs()),
            gettext_lazy("The disposition of %(number)s was sent for approval."),
            anchor="disposition",
        ),
        Step(
            "approve",
            gettext_lazy("Approve the disposition"),
            gettext_lazy("Approve and sign"),
            _can_approve,
            lambda request, c, data: f.ApproveForm(
                data, prefix="approve", require_username=_needs_username(request)
            ),
            lambda actor, c, form: services.approve_disposition(actor, c, **form.service_kwargs()),
            gettext_lazy("The disposition of %(number)s was approved and signed."),
            anchor="disposition",
            signs=True,
        ),
        Step(
            "reject",
            gettext_lazy("Reject the disposition"),
            gettext_lazy("Reject and sign"),
            _can_approve,
            lambda request, c, data: f.RejectForm(
                data, prefix="reject", require_username=_needs_username(request)
            ),
            lambda actor, c, form: services.reject_disposition(actor, c, **form.service_kwargs()),
            gettext_lazy("The disposition of %(number)s was sent back to the owner."),
            anchor="disposition",
            signs=True,
            danger=True,
        ),
        Step(
            "reply",
            gettext_lazy("Record a reply to the customer"),
            gettext_lazy("Record the reply"),
            lambda user, c: c.is_open and c.status != S.REPLIED and may(user, c, "change"),
            lambda request, c, data: f.ReplyForm(
                data, prefix="reply", kinds=_reply_kinds(c), initial={"kind": _reply_kinds(c)[0]}
            ),
            lambda actor, c, form: services.record_reply(actor, c, **form.service_kwargs()),
            gettext_lazy("The reply to the customer on %(number)s was recorded."),
            anchor="replies",
        ),
        Step(
            "response",
            gettext_lazy("The customer's answer"),
            gettext_lazy("Record the customer's answer"),
            lambda user, c: c.status == S.REPLIED and may(user, c, "change"),
            lambda request, c, data: f.CustomerResponseForm(data, prefix="response", late=_late(c)),
            lambda actor, c, form: services.record_customer_response(actor, c, **form.service_kwargs()),
            gettext_lazy("The customer's answer on %(number)s was recorded."),
            anchor="replies",
        ),
        Step(
            "follow_up",
            gettext_lazy("Open a follow-up complaint"),
            gettext_lazy("Open the follow-up"),
            lambda user, c: not c.is_open and has_perm(user, "complaints.add") and may(user, c, "view"),
            lambda request, c, data: f.FollowUpForm(data, prefix="follow_up"),
            lambda actor, c, form: services.open_follow_up(actor, c, **form.service_kwargs()),
            gettext_lazy("Follow-up complaint %(number)s was opened."),
            anchor="links",
        ),
        Step(
            "not_substantiated",
            gettext_lazy("Close as not substantiated"),
            gettext_lazy("Close as not substantiated"),
            lambda user, c: c.status in NOT_SUBSTANTIATED_FROM and may(user, c, "close"),
            lambda request, c, data: f.NotSubstantiatedForm(data, prefix="not_substantiated", late=_late(c)),
            lambda actor, c, form: services.close_not_substantiated(actor, c, **form.service_kwargs()),
            gettext_lazy("Complaint %(number)s was closed as not substantiated."),
            anchor="workflow",
            danger=True,
        ),
        Step(
            "reportability",
            gettext_lazy("Reportability decision"),
            gettext_lazy("Sign the decision"),
            lambda user, c: c.is_regulated and c.is_open and may(user, c, "close"),
            lambda request, c, data: f.ReportabilityForm(
                data,
                prefix="reportability",
                require_username=_needs_username(request),
                initial=_reportability_initial(c),
            ),
            lambda actor, c, form: _remap(
                form, lambda: services.decide_reportability(actor, c, **form.service_kwargs())
            ),
            gettext_lazy("The reportability decision on %(number)s was signed."),
            anchor="reportability",
            signs=True,
        ),
        Step(
            "authority_report",
            gettext_lazy("Report sent to the authority"),
            gettext_lazy("Record the report"),
            lambda user, c: (
                _reportability(c) is not None
                and _reportability(c).outcome == ReportOutcome.REPORTABLE
                and not _reportability(c).report_sent_at
                and may(user, c, "close")
            ),
            lambda request, c, data: f.AuthorityReportForm(data, prefix="authority_report"),
            lambda actor, c, form: services.record_authority_report(
                actor,
                c,
                sent_at=form.cleaned_data["sent_at"],
                reference=form.cleaned_data["reference"].strip(),
            ),
            gettext_lazy("The report to the authority on %(number)s was recorded."),
            anchor="reportability",
        ),
    )
}


def _reportability_initial(complaint):
    decision = _reportability(complaint)
    if decision is None:
        return {}
    initial = {
        "outcome": decision.outcome,
        "basis": decision.basis,
        "authority": decision.authority,
        "rationale": decision.rationale,
    }
    for question in ReportQuestion:
        answer = (decision.answers or {}).get(question.value)
        if answer is not None:
            initial[f"q_{question.value}"] = "yes" if answer else "no"
    return initial


def _after_step(request, step, complaint, result):
    """Where a finished step leads: a new complaint (follow-up, rejection) or back to the case."""
    number = complaint.number
    if isinstance(result, Complaint) and result.pk != complaint.pk:
        if step.name == "response":
            messages.warning(
                request,
                _(
                    "The customer rejected the disposition of %(number)s; follow-up complaint "
                    "%(follow_up)s was opened with the original attached."
                )
                % {"number": number, "follow_up": result.number},
            )
        else:
            messages.success(request, str(step.done) % {"number": result.number})
        return redirect(_detail_url(result))
    messages.success(request, str(step.done) % {"number": number})
    return redirect(_detail_url(complaint, step.anchor))


@service_view
def complaint_step(request, pk, step):
    """One workflow step on its own page (GET) and its submission (POST, from here or the case page)."""
    step = STEPS[step]
    complaint = _complaint(request, pk)
    if not step.allowed(request.user, complaint):
        if (
            request.method == "GET"
            and may(request.user, complaint, "view")
            and _any_right(request.user, step)
        ):
            messages.info(
                request,
                _("“%(step)s” is not possible now: the complaint is “%(status)s”.")
                % {"step": step.title, "status": complaint.get_status_display()},
            )
            return redirect(_detail_url(complaint))
        raise PermissionDenied(_("You may not take this step on this complaint."))
    data = request.POST if request.method == "POST" else None
    form = step.form(request, complaint, data)
    status = 200
    if data is not None and "add_row" in data:
        _quiet(form)
    elif data is not None:
        if form.is_valid():
            ok, result = run_service(form, step.call, request.user, complaint, form)
            if ok:
                if step.signs:
                    signatures.note_session_signed(request)
                return _after_step(request, step, complaint, result)
        status = 400
    context = {"complaint": complaint, "step": step, "form": form, "page_heading": step.title}
    return _page(request, "complaints/step.html", context, status=status)


def _any_right(user, step):
    """Whether the user holds the permission a step needs at all (refused by state vs. by right)."""
    perm = {
        "triage": "triage",
        "approve": "approve",
        "reject": "approve",
        "reply": "change",
        "response": "change",
        "follow_up": "add",
        "not_substantiated": "close",
        "reportability": "close",
        "authority_report": "close",
    }.get(step.name, "investigate")
    return has_perm(user, f"complaints.{perm}")


@service_view
def complaint_capa(request, pk):
    """One click from the repeat / major flag: open the CAPA (POST; GET shows the confirmation)."""
    complaint = _complaint(request, pk)
    if not _can_open_capa(request.user, complaint):
        if complaint.capa_id and has_perm(request.user, "capa.view"):
            return redirect(complaint.capa.get_absolute_url())
        raise PermissionDenied(_("You may not open a CAPA for this complaint."))
    if request.method == "POST":
        from django import forms as django_forms

        form = django_forms.Form()
        ok, capa = run_service(form, _open_capa, request.user, complaint)
        if ok:
            messages.success(request, _("CAPA %(number)s was opened.") % {"number": capa.number})
            return redirect(capa.get_absolute_url())
        for error in form.non_field_errors():
            messages.error(request, error)
        return redirect(_detail_url(complaint))
    return _page(request, "complaints/capa_confirm.html", {"complaint": complaint})


# --- the complaint page -------------------------------------------------------------------------
def deadline_rows(complaint, now=None):
    """The stored deadlines with their state: met, met late, overdue, due soon or open."""
    now = now or timezone.now()
    rows = list(complaint.deadlines.order_by("due_at", "pk"))
    for row in rows:
        if row.met_at:
            row.state = "late" if row.was_late or row.met_at > row.due_at else "met"
        elif row.due_at < now:
            row.state = "overdue"
        elif row.warn_at and row.warn_at <= now:
            row.state = "soon"
        else:
            row.state = "open"
    return rows


def _labels(codes, enum):
    values = set(enum.values)
    return [str(enum(code).label) if code in values else code for code in codes or ()]


def _major_reasons(complaint):
    return services.major_reason_texts(complaint) if complaint.major_reasons else []


def _step_forms(request, complaint):
    """``{name: (step, form)}`` of the steps this user may take now (embedded on the case page)."""
    forms = {}
    for name, step in STEPS.items():
        if step.allowed(request.user, complaint):
            forms[name] = (step, step.form(request, complaint, None))
    return forms


_DISPOSITION_APPROVED = (S.APPROVED, S.REPLIED, S.CLOSED, S.REJECTED)


def _follow_on_links(user, complaint):
    """Records the user may start from this complaint: (label, url) for the page's action bar."""
    from qcare.core import policies

    links = []
    query = f"?complaint={complaint.pk}"
    approved = complaint.status in _DISPOSITION_APPROVED
    if approved and has_perm(user, "returns.add"):
        if complaint.disposition in ("return", "replace", "rework"):
            links.append((_("Issue a return note"), reverse("complaints:return_create", args=[complaint.pk])))
        if complaint.disposition in ("allowance", "compensation"):
            links.append(
                (
                    _("Record the allowance / compensation"),
                    reverse("complaints:settlement_create", args=[complaint.pk]),
                )
            )
    if has_perm(user, "capa.add") and not complaint.capa_id:
        links.append((_("Open a CAPA"), reverse("complaints:capa_create") + query))
    if has_perm(user, "notices.add") and complaint.product_id:
        links.append((_("Draft an advisory notice"), reverse("complaints:notice_create") + query))
    if (
        policies.get("complaints.penalties_enabled")
        and has_perm(user, "penalties.change")
        and not complaint.is_open
    ):
        links.append((_("Record a penalty"), reverse("complaints:penalty_create") + query))
    return links


def _detail_context(request, complaint):
    user = request.user
    now = timezone.now()
    decision = _reportability(complaint)
    steps = _step_forms(request, complaint)
    context = {
        "complaint": complaint,
        "now": now,
        "late": _late(complaint),
        "deadlines": deadline_rows(complaint, now),
        "transitions": list(complaint.transitions.select_related("actor").order_by("at", "pk")),
        "findings": list(
            complaint.findings.select_related("department", "author", "requested_by").order_by("pk")
        ),
        "parties": list(complaint.responsible_parties.select_related("department", "person")),
        "replies": list(complaint.replies.select_related("recorded_by").order_by("recorded_at", "pk")),
        "follow_ups": list(complaint.follow_ups.order_by("pk")),
        "decision": decision,
        "decision_answers": [
            (question.label, (decision.answers or {}).get(question.value)) for question in ReportQuestion
        ]
        if decision
        else [],
        "demand_labels": _labels(complaint.demands, Demand),
        "major_reasons": _major_reasons(complaint),
        "band_label": authority.band_label(complaint.approval_band) if complaint.approval_band else "",
        "steps": steps,
        "can_edit": complaint.is_open and may(user, complaint, "change"),
        "can_open_capa": _can_open_capa(user, complaint),
        "returns": list(complaint.returns.order_by("pk")),
        "settlements": list(complaint.settlements.order_by("pk")),
        "history_url": reverse("audit:history", args=["complaints", "complaint", complaint.pk]),
        "can_see_history": has_perm(user, "audit.view"),
        "follow_on": _follow_on_links(user, complaint),
    }
    if complaint.status == S.REPLIED or "not_substantiated" in steps:
        context["closure_problems"] = services.closure_problems(complaint)
    if complaint.status == S.AWAITING_APPROVAL and "approve" not in steps:
        context["approver_note"] = _("Waiting for the approval of the %(band)s (or a higher role).") % {
            "band": context["band_label"] or authority.band_label(authority.band_for(complaint.loss_amount))
        }
    return context


@login_required
@require_GET
@domain_errors_to_http
def complaint_detail(request, pk):
    """The complaint page: the case, its deadlines and timeline, and the steps the user may take."""
    complaint = _complaint(request, pk)
    return _page(request, "complaints/detail.html", _detail_context(request, complaint))


@login_required
@require_GET
@domain_errors_to_http
def complaint_print(request, pk):
    """The 客户投诉处理表 (internal form) as a printable page; logged as a printout. Never sent out."""
    complaint = _complaint(request, pk)
    log_event(
        "export", obj=complaint, actor=request.user, data={"format": "print", "record": "complaint_form"}
    )
    context = _detail_context(request, complaint) | {"printed_at": timezone.localtime()}
    return render(request, "complaints/print.html", context)


# --- dashboard tasks and navigation -------------------------------------------------------------
def _task(title, url, due_at, kind, now):
    return {
        "title": title,
        "url": url,
        "due_at": due_at,
        "overdue": bool(due_at and due_at < now),
        "kind": kind,
    }


def _as_task(row, kind, now):
    """A task dict from what a selector returns: a dict already, a complaint, a CAPA action,
    a notice recipient / notice, or a reportability decision."""
    from qcare.complaints.models import AdvisoryNotice, CapaAction, NoticeRecipient

    if isinstance(row, dict):
        return {"kind": kind, "due_at": None, "overdue": False} | row
    if isinstance(row, Complaint):
        title = f"{row.number} {row.customer.short_name or row.customer.name}"
        return _task(title, _detail_url(row), row.due_at, kind, now)
    if isinstance(row, CapaAction):
        due = timezone.make_aware(datetime.datetime.combine(row.due_on, datetime.time.max))
        title = f"{row.capa.number} · {row.description[:60]}"
        return _task(title, row.capa.get_absolute_url(), due, kind, now)
    if isinstance(row, NoticeRecipient):
        title = f"{row.notice.number} · {row.customer.short_name or row.customer.name}"
        return _task(title, row.notice.get_absolute_url(), row.remind_at, kind, now)
    if isinstance(row, AdvisoryNotice):
        return _task(str(row), row.get_absolute_url(), None, kind, now)
    if isinstance(row, ReportabilityDecision):
        complaint = row.complaint
        return _task(
            f"{complaint.number} · {row.authority}",
            _detail_url(complaint, "reportability"),
            row.report_due_at,
            kind,
            now,
        )
    return _task(str(row), getattr(row, "get_absolute_url", lambda: "")(), None, kind, now)


def _provider(selector_name, kind):
    """A dashboard task provider over ``selectors.<selector_name>(user)`` (at most TASK_LIMIT rows)."""

    def provide(user):
        result = getattr(selectors, selector_name)(user)
        if isinstance(result, dict):  # {"count": n, "url": …}
            return result
        now = timezone.now()
        return [_as_task(row, kind, now) for row in list(result[:TASK_LIMIT])]

    provide.__name__ = f"tasks_{selector_name}"
    provide.__doc__ = f"Dashboard tasks from complaints.selectors.{selector_name}."
    return provide


TASKS = (
    ("complaints.mine", gettext_lazy("Complaints I own, by due date"), "my_complaints"),
    ("complaints.overdue", gettext_lazy("Overdue complaints"), "overdue_complaints"),
    (
        "complaints.approval",
        gettext_lazy("Complaint dispositions awaiting my approval"),
        "awaiting_my_approval",
    ),
    ("complaints.capa_actions", gettext_lazy("CAPA actions due"), "capa_actions_due"),
    ("complaints.notices", gettext_lazy("Advisory notices awaiting acknowledgement"), "notices_awaiting_ack"),
    (
        "complaints.reportability",
        gettext_lazy("Reportability decisions and reports pending"),
        "reportability_pending",
    ),
)


def register_ui():
    """Navigation entry and dashboard task providers (called from ComplaintsConfig.ready())."""
    ui.nav.register(
        "complaints",
        gettext_lazy("Complaints"),
        "complaints:complaint_list",
        permission="complaints.view",
        order=200,
    )
    for key, label, selector_name in TASKS:
        ui.tasks.register(key, label, _provider(selector_name, key))
