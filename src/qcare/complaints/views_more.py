"""Screens of the feedback register (R-CO-1), CAPA (R-CO-6), returns and settlements (R-CO-7),
advisory notices and recalls (R-CO-10), statistics (R-CO-11), the monthly responsibility
reports and penalties (R-CO-8). The complaint screens themselves are in views.py.

Views only parse input, call a service, selector or report and choose the response (DESIGN
rule 1). A missing permission is a 403; a record outside the user's scope is a 404
(``get_restricted_or_404``). Every page works without JavaScript: destructive actions go to a
confirmation page whose form also carries ``data-confirm``; charts are inline SVG drawn here.
"""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qcare.accounts.permissions import has_perm
from qcare.complaints import exports, reports
from qcare.complaints import forms_more as f
from qcare.complaints import services_capa as capa_services
from qcare.complaints import services_feedback as feedback_services
from qcare.complaints import services_notices as notice_services
from qcare.complaints import services_penalties as penalty_services
from qcare.complaints import services_returns as returns_services
from qcare.complaints.choices import (
    ActionStatus,
    CapaSource,
    CapaStatus,
    CauseCategory,
    Channel,
    FeedbackKind,
    FeedbackStatus,
    Fishbone,
    NoticeKind,
    NoticeStatus,
    ReturnStatus,
    SettlementKind,
    SettlementStatus,
)
from qcare.complaints.models import (
    AdvisoryNotice,
    Capa,
    CapaAction,
    Complaint,
    Feedback,
    NoticeRecipient,
    Penalty,
    ResponsibilityReport,
    ReturnNote,
    Settlement,
)
from qcare.core import policies, signatures
from qcare.core.decorators import permission_required
from qcare.core.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from qcare.core.forms import apply_domain_error, domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, DateRangeFilter, Listing
from qcare.core.models import get_restricted_or_404
from qcare.orders.views_after import bar_chart

NAV = {"nav_active": "complaints"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- shared helpers ---------------------------------------------------------------------------
def service_view(view):
    """Sign-in required, GET/POST only, NotFound → 404 and NotPermitted → 403."""
    return login_required(require_http_methods(["GET", "POST"])(domain_errors_to_http(view)))


def post_view(view):
    return login_required(require_POST(domain_errors_to_http(view)))


def _require(user, perm):
    """403 unless ``user`` holds ``perm`` in some scope (the record's scope is checked by the fetch)."""
    if not has_perm(user, perm):
        raise PermissionDenied


def _can(user, perm, obj):
    """Does ``user`` hold ``perm`` ("module.action") on ``obj`` (its scope included)?"""
    if not has_perm(user, perm):
        return False
    return type(obj).objects.restrict(user, perm.split(".", 1)[1]).filter(pk=obj.pk).exists()


def _posted(request):
    """The POST data, or None on GET (an empty POST — a bare button — is still a submission)."""
    return request.POST if request.method == "POST" else None


def _flash_error(request, error):
    """A refused action without a form: the service's message (and field messages) on the page."""
    texts = [str(error.message)] + [str(m) for msgs in error.errors.values() for m in msgs]
    messages.error(request, " ".join(dict.fromkeys(texts)))


def _call_flash(request, service, *args, **kwargs):
    """Call a service for a button without a form: ``(True, result)`` or ``(False, None)`` + message."""
    try:
        return True, service(*args, **kwargs)
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        _flash_error(request, error)
        return False, None


def _saved(request, form, service, *args, success):
    """A submitted, valid ``form`` run through ``service(*args, **values)`` — the values are the
    form's ``service_kwargs()`` when it has them, else its cleaned data; True with ``success``
    flashed when it went through, False when the form or the service refused (errors on the form)."""
    if request.method != "POST" or not form.is_valid():
        return False
    values = form.service_kwargs() if hasattr(form, "service_kwargs") else form.cleaned_data
    ok, _result = run_service(form, service, *args, **values)
    if ok:
        messages.success(request, success)
    return ok


def _signature_form(form_class, request):
    return form_class(_posted(request), require_username=signatures.session_needs_username(request))


def _signed(request, form, service, *args, **kwargs):
    """Run a signing service; on success remember that this session has signed."""
    ok, result = run_service(form, service, *args, **form.signer_kwargs(), **kwargs)
    if ok:
        signatures.note_session_signed(request)
    return ok, result


def _form_page(
    request, form, *, title, back_url, record=None, summary=None, danger=False, intro="", confirm=""
):
    """The generic confirmation / action page: a summary of the record and one form."""
    context = {
        "form": form,
        "page_heading": title,
        "back_url": back_url,
        "record": record,
        "summary": summary,
        "danger": danger,
        "intro": intro,
        "confirm": confirm,
        "is_signature": "password" in form.fields,
    }
    return render(request, "complaints/more/form_page.html", context | NAV)


def _xlsx_response(content, stem):
    if isinstance(content, tuple):  # (content, count) like orders.exports
        content = content[0]
    response = HttpResponse(content, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.xlsx"'
    return response


class _TextFilter:
    """Free text over one or more fields (any may contain it)."""

    def __init__(self, name, label, fields):
        self.name, self.label, self.fields = name, label, fields

    def form_fields(self):
        from django import forms

        return {self.name: forms.CharField(label=self.label, required=False, max_length=100)}

    def apply(self, qs, data):
        value = (data.get(self.name) or "").strip()
        if not value:
            return qs
        condition = Q()
        for field in self.fields:
            condition |= Q(**{f"{field}__icontains": value})
        return qs.filter(condition)


class _FlagFilter:
    """A yes/no select applying ``condition`` on "yes"."""

    def __init__(self, name, label, condition):
        self.name, self.label, self.condition = name, label, condition

    def form_fields(self):
        from django import forms

        from qcare.core.forms import FastSelect

        choices = [("", _("All")), ("yes", _("Yes"))]
        return {
            self.name: forms.ChoiceField(label=self.label, required=False, choices=choices, widget=FastSelect)
        }

    def apply(self, qs, data):
        return qs.filter(self.condition()) if data.get(self.name) == "yes" else qs


def _due_state(due_at, done_at=None, now=None):
    """``"done" | "overdue" | "soon" | "open"`` of a deadline (the due badge)."""
    if done_at is not None:
        return "done"
    if due_at is None:
        return "open"
    now = now or timezone.now()
    if due_at < now:
        return "overdue"
    if (due_at - now).total_seconds() < 4 * 3600:
        return "soon"
    return "open"


def _complaints_of(user, qs):
    """The complaints of ``qs`` the user may see (linked records never reveal hidden cases)."""
    return Complaint.objects.restrict(user, "view").filter(pk__in=qs.values("pk")).select_related("customer")


# --- feedback register (R-CO-1) ---------------------------------------------------------------
def _feedback(request, pk):
    qs = Feedback.objects.select_related(
        "customer", "product", "owner", "recorded_by", "answered_by", "department"
    )
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


def _open_feedback(qs):
    return qs.filter(status=FeedbackStatus.OPEN)


@permission_required("feedback.view")
def feedback_list(request):
    """The feedback register: search, status / kind / channel / date filters, overdue flag, due badge."""
    qs = Feedback.objects.restrict(request.user, "view").select_related("customer", "owner")
    now = timezone.now()
    listing = Listing(
        request,
        qs,
        search_fields=("number", "subject", "customer__name", "customer_name", "contact_name", "content"),
        filters=[
            ChoiceFilter("status", _("Status"), FeedbackStatus.choices),
            ChoiceFilter("kind", _("Kind of information"), FeedbackKind.choices),
            ChoiceFilter("channel", _("Channel"), Channel.choices),
            _FlagFilter("overdue", _("Overdue"), lambda: Q(status=FeedbackStatus.OPEN, due_at__lt=now)),
            DateRangeFilter("received", _("Received"), "received_at"),
        ],
        columns=[
            Column("number", _("Feedback number")),
            Column("received", _("Received"), sort="received_at"),
            Column("customer", _("Customer"), sort=None),
            Column("kind", _("Kind of information")),
            Column("subject", _("Subject"), sort=None),
            Column("owner", _("Handled by"), sort=None),
            Column("status", _("Status")),
            Column("due", _("First answer due"), sort="due_at"),
        ],
        default_sort="-received",
        row_template="complaints/more/_feedback_row.html",
        empty_message=_("No feedback matches."),
    )
    context = {
        "page_heading": _("Feedback register"),
        "now": now,
        "can_add": has_perm(request.user, "feedback.add"),
    }
    return listing.render("complaints/more/feedback_list.html", context | NAV)


@service_view
def feedback_create(request):
    """Log feedback from any channel (any user with feedback.add)."""
    _require(request.user, "feedback.add")
    form = f.FeedbackForm(_posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        ok, feedback = run_service(
            form, feedback_services.log_feedback, request.user, **form.service_kwargs()
        )
        if ok:
            messages.success(request, _("Feedback %(number)s was logged.") % {"number": feedback.number})
            return redirect("complaints:feedback_detail", pk=feedback.pk)
    context = {"form": form, "page_heading": _("Log customer feedback")}
    return render(request, "complaints/more/feedback_form.html", context | NAV)


def _converted_url(feedback):
    """The record the feedback was converted into (complaint or CAPA), if any."""
    if not feedback.converted_to_id:
        return ""
    name = {"complaint": "complaints:complaint_detail", "capa": "complaints:capa_detail"}.get(
        feedback.converted_to
    )
    return reverse(name, args=[feedback.converted_to_id]) if name else ""


@service_view
def feedback_detail(request, pk):
    """One feedback entry: what was received, its due badge, the answer or the conversion; actions."""
    _require(request.user, "feedback.view")
    feedback = _feedback(request, pk)
    user = request.user
    is_open = feedback.status == FeedbackStatus.OPEN
    can_change = is_open and _can(user, "feedback.change", feedback)
    context = {
        "feedback": feedback,
        "due_state": _due_state(feedback.due_at, feedback.answered_at),
        "converted_url": _converted_url(feedback),
        "can_answer": can_change,
        "can_close": feedback.status in (FeedbackStatus.OPEN, FeedbackStatus.ANSWERED)
        and _can(user, "feedback.change", feedback),
        "can_convert_complaint": feedback.status in (FeedbackStatus.OPEN, FeedbackStatus.ANSWERED)
        and _can(user, "feedback.change", feedback)
        and has_perm(user, "complaints.add"),
        "can_convert_capa": feedback.status in (FeedbackStatus.OPEN, FeedbackStatus.ANSWERED)
        and _can(user, "feedback.change", feedback)
        and has_perm(user, "capa.add"),
        "answer_form": f.AnswerFeedbackForm(),
        "page_heading": feedback.number,
    }
    return render(request, "complaints/more/feedback_detail.html", context | NAV)


@service_view
def feedback_answer(request, pk):
    """Record the answer given to the customer (closes the first-answer deadline)."""
    _require(request.user, "feedback.change")
    feedback = _feedback(request, pk)
    form = f.AnswerFeedbackForm(_posted(request))
    done = _("The answer was recorded.")
    if _saved(request, form, feedback_services.answer_feedback, request.user, feedback, success=done):
        return redirect("complaints:feedback_detail", pk=feedback.pk)
    title = _("Answer feedback %(number)s") % {"number": feedback.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=feedback.get_absolute_url(),
        record=feedback,
        summary="complaints/more/_feedback_summary.html",
    )


@service_view
def feedback_close(request, pk):
    """Close feedback that needs nothing more (e.g. praise noted) — with a reason, after confirmation."""
    _require(request.user, "feedback.change")
    feedback = _feedback(request, pk)
    form = f.ReasonForm(_posted(request))
    done = _("The feedback was closed.")
    if _saved(request, form, feedback_services.close_feedback, request.user, feedback, success=done):
        return redirect("complaints:feedback_detail", pk=feedback.pk)
    title = _("Close feedback %(number)s") % {"number": feedback.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=feedback.get_absolute_url(),
        record=feedback,
        summary="complaints/more/_feedback_summary.html",
        danger=True,
        confirm=_("Close this feedback?"),
    )


@service_view
def feedback_to_complaint(request, pk):
    """Convert feedback into a complaint (客户投诉处理表) — the complaint's own fields are asked here."""
    _require(request.user, "feedback.change")
    _require(request.user, "complaints.add")
    feedback = _feedback(request, pk)
    initial = {
        "customer": feedback.customer_id,
        "product": feedback.product_id,
        "description": feedback.content,
    }
    form = f.FeedbackToComplaintForm(_posted(request), initial=initial, user=request.user, feedback=feedback)
    if request.method == "POST" and form.is_valid():
        ok, complaint = run_service(
            form,
            feedback_services.convert_feedback_to_complaint,
            request.user,
            feedback,
            **form.service_kwargs(),
        )
        if ok:
            messages.success(
                request,
                _("Feedback %(feedback)s became complaint %(complaint)s.")
                % {"feedback": feedback.number, "complaint": complaint.number},
            )
            return redirect("complaints:complaint_detail", pk=complaint.pk)
    title = _("Convert feedback %(number)s into a complaint") % {"number": feedback.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=feedback.get_absolute_url(),
        record=feedback,
        summary="complaints/more/_feedback_summary.html",
    )


@service_view
def feedback_to_capa(request, pk):
    """Convert feedback into a CAPA (e.g. a quality opinion that needs a corrective action)."""
    _require(request.user, "feedback.change")
    _require(request.user, "capa.add")
    feedback = _feedback(request, pk)
    initial = {"title": feedback.subject, "problem": feedback.content}
    form = f.FeedbackToCapaForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, capa = run_service(
            form, feedback_services.convert_feedback_to_capa, request.user, feedback, **form.cleaned_data
        )
        if ok:
            messages.success(
                request,
                _("Feedback %(feedback)s became CAPA %(capa)s.")
                % {"feedback": feedback.number, "capa": capa.number},
            )
            return redirect("complaints:capa_detail", pk=capa.pk)
    title = _("Convert feedback %(number)s into a CAPA") % {"number": feedback.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=feedback.get_absolute_url(),
        record=feedback,
        summary="complaints/more/_feedback_summary.html",
    )


@service_view
def feedback_from_communication(request, pk):
    """Log feedback from an entry of the customer's communication log (R-CO-1, R-CU-4)."""
    from qcare.customers.models import Communication

    _require(request.user, "feedback.add")
    entry = get_restricted_or_404(
        Communication.objects.select_related("customer", "contact"), request.user, "view", pk=pk
    )
    back_url = reverse("customers:detail", args=[entry.customer_id]) + "?tab=communication"
    form = f.FeedbackFromCommunicationForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        ok, feedback = run_service(
            form,
            feedback_services.feedback_from_communication,
            request.user,
            entry,
            kind=form.cleaned_data["kind"],
        )
        if ok:
            messages.success(request, _("Feedback %(number)s was logged.") % {"number": feedback.number})
            return redirect("complaints:feedback_detail", pk=feedback.pk)
    title = _("Log feedback from the communication “%(subject)s”") % {"subject": entry.subject}
    intro = _("Customer, contact, channel, time, subject and content are copied from the log entry.")
    return _form_page(request, form, title=title, back_url=back_url, intro=intro)


# --- CAPA (R-CO-6) ----------------------------------------------------------------------------
def _capa(request, pk):
    qs = Capa.objects.select_related("owner", "product", "feedback", "opened_by", "verified_by", "department")
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@permission_required("capa.view")
def capa_list(request):
    """Every CAPA the user may see: status / source / cause filters, search, target date."""
    qs = Capa.objects.restrict(request.user, "view").select_related("owner", "product")
    listing = Listing(
        request,
        qs,
        search_fields=("number", "title", "problem", "product__name", "product__code"),
        filters=[
            ChoiceFilter("status", _("Status"), CapaStatus.choices),
            ChoiceFilter("source", _("Source"), CapaSource.choices),
            ChoiceFilter("cause_category", _("Cause category"), CauseCategory.choices),
            DateRangeFilter("opened", _("Opened"), "opened_at"),
        ],
        columns=[
            Column("number", _("CAPA number")),
            Column("title", _("Title"), sort=None),
            Column("product", _("Product"), sort=None),
            Column("owner", _("Owner"), sort=None),
            Column("status", _("Status")),
            Column("opened", _("Opened"), sort="opened_at"),
            Column("due", _("Target date"), sort="due_on"),
        ],
        default_sort="-opened",
        row_template="complaints/more/_capa_row.html",
        empty_message=_("No CAPAs match."),
    )
    context = {
        "page_heading": _("Corrective and preventive actions"),
        "can_add": has_perm(request.user, "capa.add"),
    }
    return listing.render("complaints/more/capa_list.html", context | NAV)


@service_view
def capa_create(request):
    """Open a CAPA; ``?complaint=<id>`` links the complaint and prefills problem and product."""
    _require(request.user, "capa.add")
    complaint = None
    source_pk = request.GET.get("complaint") or request.POST.get("complaint_id")
    if source_pk:
        complaint = get_restricted_or_404(
            Complaint.objects.select_related("product"), request.user, "view", pk=source_pk
        )
    initial = {"owner": request.user.pk}
    if complaint is not None:
        initial |= {
            "title": _("Complaint %(number)s") % {"number": complaint.number},
            "problem": complaint.description,
            "product": complaint.product_id,
            "cause_category": complaint.cause_category,
        }
    form = f.CapaForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        source = CapaSource.COMPLAINT if complaint is not None else CapaSource.OTHER
        ok, capa = run_service(
            form,
            capa_services.open_capa,
            request.user,
            source=source,
            complaints=[complaint] if complaint is not None else (),
            **data,
        )
        if ok:
            messages.success(request, _("CAPA %(number)s was opened.") % {"number": capa.number})
            return redirect("complaints:capa_detail", pk=capa.pk)
    context = {"form": form, "complaint": complaint, "page_heading": _("Open a CAPA")}
    return render(request, "complaints/more/capa_form.html", context | NAV)


@post_view
def capa_from_repeats(request, pk):
    """One click from a repeat flag: a CAPA for the whole group of repeated complaints."""
    _require(request.user, "capa.add")
    complaint = get_restricted_or_404(Complaint, request.user, "view", pk=pk)
    ok, capa = _call_flash(request, capa_services.open_capa_for_repeats, request.user, complaint)
    if not ok:
        return redirect("complaints:complaint_detail", pk=complaint.pk)
    messages.success(
        request, _("CAPA %(number)s was opened for the repeated complaints.") % {"number": capa.number}
    )
    return redirect("complaints:capa_detail", pk=capa.pk)


def _fishbone_rows(capa):
    data = capa.fishbone or {}
    return [{"key": key, "label": label, "text": data.get(key, "")} for key, label in Fishbone.choices]


@service_view
def capa_detail(request, pk):
    """A CAPA: problem, containment, 5-why, fishbone by category, root cause, actions, verification."""
    _require(request.user, "capa.view")
    capa = _capa(request, pk)
    user = request.user
    is_active = capa.status in (CapaStatus.OPEN, CapaStatus.IN_PROGRESS)
    can_change = is_active and _can(user, "capa.change", capa)
    actions = list(capa.actions.select_related("owner").order_by("due_on", "pk"))
    today = timezone.localdate()
    for action in actions:
        action.is_overdue = action.status == ActionStatus.OPEN and action.due_on < today
        action.can_finish = (
            action.status == ActionStatus.OPEN and is_active and (can_change or action.owner_id == user.pk)
        )
    context = {
        "capa": capa,
        "whys": [w for w in (capa.why_analysis or []) if w],
        "fishbone": _fishbone_rows(capa),
        "actions": actions,
        "complaints": _complaints_of(user, capa.complaints.all()),
        "can_change": can_change,
        "can_submit": capa.status == CapaStatus.IN_PROGRESS and _can(user, "capa.change", capa),
        "can_verify": capa.status == CapaStatus.VERIFICATION and has_perm(user, "capa.verify"),
        "can_cancel": is_active and has_perm(user, "capa.add"),
        "action_form": f.ActionForm(),
        "page_heading": capa.number,
    }
    return render(request, "complaints/more/capa_detail.html", context | NAV)


def _capa_summary(request, form, capa, title, **kwargs):
    return _form_page(
        request,
        form,
        title=title,
        back_url=capa.get_absolute_url(),
        record=capa,
        summary="complaints/more/_capa_summary.html",
        **kwargs,
    )


@service_view
def capa_analysis(request, pk):
    """Containment, the 5-why chain, the fishbone (5M1E) and the root cause."""
    _require(request.user, "capa.change")
    capa = _capa(request, pk)
    form = f.AnalysisForm(_posted(request), initial=f.AnalysisForm.initial_from(capa))
    done = _("The analysis was saved.")
    if _saved(request, form, capa_services.update_analysis, request.user, capa, success=done):
        return redirect("complaints:capa_detail", pk=capa.pk)
    context = {
        "form": form,
        "capa": capa,
        "page_heading": _("Root-cause analysis of %(number)s") % {"number": capa.number},
    }
    return render(request, "complaints/more/capa_analysis.html", context | NAV)


@service_view
def capa_action_add(request, pk):
    """Add an action with its owner and due date."""
    _require(request.user, "capa.change")
    capa = _capa(request, pk)
    form = f.ActionForm(_posted(request))
    if _saved(
        request, form, capa_services.add_action, request.user, capa, success=_("The action was added.")
    ):
        return redirect("complaints:capa_detail", pk=capa.pk)
    title = _("Add an action to %(number)s") % {"number": capa.number}
    return _capa_summary(request, form, capa, title)


def _action(request, pk):
    qs = CapaAction.objects.select_related("capa", "owner")
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@service_view
def capa_action_complete(request, pk):
    """The action's owner (or the CAPA's) records the result: the action is done."""
    action = _action(request, pk)
    form = f.CompleteActionForm(_posted(request))
    done = _("The action was marked as done.")
    if _saved(request, form, capa_services.complete_action, request.user, action, success=done):
        return redirect("complaints:capa_detail", pk=action.capa_id)
    title = _("Complete the action: %(action)s") % {"action": action.description[:80]}
    return _capa_summary(request, form, action.capa, title)


@service_view
def capa_action_cancel(request, pk):
    """Cancel an action (with a reason, after confirmation)."""
    action = _action(request, pk)
    form = f.ReasonForm(_posted(request))
    done = _("The action was cancelled.")
    if _saved(request, form, capa_services.cancel_action, request.user, action, success=done):
        return redirect("complaints:capa_detail", pk=action.capa_id)
    title = _("Cancel the action: %(action)s") % {"action": action.description[:80]}
    return _capa_summary(request, form, action.capa, title, danger=True, confirm=_("Cancel this action?"))


@post_view
def capa_submit(request, pk):
    """Every action done or cancelled: submit the CAPA for verification by quality."""
    _require(request.user, "capa.change")
    capa = _capa(request, pk)
    ok, _c = _call_flash(request, capa_services.submit_for_verification, request.user, capa)
    if ok:
        messages.success(request, _("The CAPA was submitted for verification."))
    return redirect("complaints:capa_detail", pk=capa.pk)


@service_view
def capa_verify(request, pk):
    """Quality verifies the effectiveness and signs with the password."""
    _require(request.user, "capa.verify")
    capa = _capa(request, pk)
    form = _signature_form(f.VerifyCapaForm, request)
    if request.method == "POST" and form.is_valid():
        ok, capa_after = _signed(request, form, capa_services.verify_capa, request.user, capa)
        if ok:
            if capa_after.status == CapaStatus.CLOSED:
                messages.success(request, _("The CAPA was verified as effective and closed."))
            else:
                messages.warning(request, _("The CAPA was found not effective; it is back in progress."))
            return redirect("complaints:capa_detail", pk=capa.pk)
    title = _("Verify CAPA %(number)s") % {"number": capa.number}
    return _capa_summary(request, form, capa, title)


@service_view
def capa_cancel(request, pk):
    """Cancel a CAPA that is not needed (its open actions are cancelled, its complaints unlinked)."""
    _require(request.user, "capa.add")
    capa = _capa(request, pk)
    form = f.ReasonForm(_posted(request))
    if _saved(
        request, form, capa_services.cancel_capa, request.user, capa, success=_("The CAPA was cancelled.")
    ):
        return redirect("complaints:capa_detail", pk=capa.pk)
    title = _("Cancel CAPA %(number)s") % {"number": capa.number}
    return _capa_summary(request, form, capa, title, danger=True, confirm=_("Cancel this CAPA?"))


# --- returns and settlements (R-CO-7) ---------------------------------------------------------
def _return(request, pk):
    qs = ReturnNote.objects.select_related(
        "complaint", "customer", "product", "created_by", "received_by", "inspected_by", "posted_by"
    )
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@permission_required("returns.view")
def return_list(request):
    """Return notes (退货单): status filter, search by number, complaint, customer, lot."""
    qs = ReturnNote.objects.restrict(request.user, "view").select_related("complaint", "customer", "product")
    listing = Listing(
        request,
        qs,
        search_fields=("number", "complaint__number", "customer__name", "customer__code", "lot_number"),
        filters=_return_filters(),
        columns=[
            Column("number", _("Return number")),
            Column("complaint", _("Complaint"), sort="complaint__number"),
            Column("customer", _("Customer"), sort="customer__name"),
            Column("product", _("Product"), sort=None),
            Column("approved", _("Approved quantity"), sort=None),
            Column("received", _("Received quantity"), sort=None),
            Column("status", _("Status")),
            Column("created", _("Issued"), sort="created_at"),
        ],
        default_sort="-created",
        row_template="complaints/more/_return_row.html",
        empty_message=_("No return notes match."),
    )
    context = {
        "page_heading": _("Return notes"),
        "can_export": has_perm(request.user, "returns.export"),
        "export_query": request.GET.urlencode(),
    }
    return listing.render("complaints/more/return_list.html", context | NAV)


@permission_required("returns.export")
@require_GET
def return_export(request):
    """The return notes as filtered on the list (status and issue dates), as xlsx."""
    data = return_list_data(request)
    filters = {
        "status": data.get("status") or None,
        "date_from": data.get("created_from"),
        "date_to": data.get("created_to"),
    }
    try:
        content = exports.export_returns(request.user, **filters)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(
            reverse("complaints:return_list") + (f"?{request.GET.urlencode()}" if request.GET else "")
        )
    return _xlsx_response(content, "returns")


def return_list_data(request):
    """The valid GET values of the return list's filter form."""
    from qcare.core.listing import ListingForm

    form = ListingForm(request.GET or None)
    for flt in _return_filters():
        form.fields.update(flt.form_fields())
    if form.is_valid():
        return form.cleaned_data
    return {k: v for k, v in getattr(form, "cleaned_data", {}).items() if k not in form.errors}


def _return_filters():
    return [
        ChoiceFilter("status", _("Status"), ReturnStatus.choices),
        DateRangeFilter("created", _("Issued"), "created_at"),
    ]


@service_view
def return_create(request, pk):
    """Issue a return note from a complaint's approved disposition (return / replace / rework)."""
    _require(request.user, "returns.add")
    complaint = get_restricted_or_404(
        Complaint.objects.select_related("customer", "product"), request.user, "view", pk=pk
    )
    initial = {"approved_quantity": complaint.disposition_quantity or complaint.defective_quantity}
    form = f.IssueReturnForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, note = run_service(
            form, returns_services.issue_return, request.user, complaint, **form.cleaned_data
        )
        if ok:
            messages.success(request, _("Return note %(number)s was issued.") % {"number": note.number})
            return redirect("complaints:return_detail", pk=note.pk)
    title = _("Return note for complaint %(number)s") % {"number": complaint.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=reverse("complaints:complaint_detail", args=[complaint.pk]),
        record=complaint,
        summary="complaints/more/_complaint_summary.html",
    )


@service_view
def return_detail(request, pk):
    """A return note: approved vs received quantity, inspection report, posting or escalation."""
    _require(request.user, "returns.view")
    note = _return(request, pk)
    user = request.user
    # The tolerance applied at posting is stored; before that, the one that would apply now.
    tolerance = (
        note.tolerance_percent if note.tolerance_percent is not None else returns_services.tolerance_for(note)
    )
    context = {
        "note": note,
        "tolerance": tolerance,
        "can_receive": note.status == ReturnStatus.APPROVED and _can(user, "returns.receive", note),
        "can_inspect": note.status == ReturnStatus.RECEIVED and _can(user, "returns.inspect", note),
        "can_post": note.status == ReturnStatus.INSPECTED and _can(user, "returns.post", note),
        "can_resolve": note.status == ReturnStatus.ESCALATED and _can(user, "returns.post", note),
        "comment_form": f.CommentForm(),
        "page_heading": note.number,
    }
    return render(request, "complaints/more/return_detail.html", context | NAV)


def _return_page(request, form, note, title, **kwargs):
    return _form_page(
        request,
        form,
        title=title,
        back_url=note.get_absolute_url(),
        record=note,
        summary="complaints/more/_return_summary.html",
        **kwargs,
    )


@service_view
def return_receive(request, pk):
    """The warehouse records the quantity received and signs with the password."""
    _require(request.user, "returns.receive")
    note = _return(request, pk)
    form = _signature_form(f.ReceiveReturnForm, request)
    if request.method == "POST" and form.is_valid():
        ok, _n = _signed(request, form, returns_services.receive_return, request.user, note)
        if ok:
            messages.success(request, _("The receipt of the returned goods was signed."))
            return redirect("complaints:return_detail", pk=note.pk)
    return _return_page(request, form, note, _("Receive return %(number)s") % {"number": note.number})


@service_view
def return_inspect(request, pk):
    """Quality inspects the returned goods and writes the quality abnormality report (品质异常处理报告)."""
    _require(request.user, "returns.inspect")
    note = _return(request, pk)
    form = f.InspectReturnForm(_posted(request), initial={"report": note.inspection_report})
    done = _("The inspection report was saved.")
    if _saved(request, form, returns_services.inspect_return, request.user, note, success=done):
        return redirect("complaints:return_detail", pk=note.pk)
    return _return_page(request, form, note, _("Inspect return %(number)s") % {"number": note.number})


@post_view
def return_post(request, pk):
    """Accounting posts the return: within tolerance it is posted, otherwise escalated (the page says which)."""
    _require(request.user, "returns.post")
    note = _return(request, pk)
    form = f.CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    ok, after = _call_flash(request, returns_services.post_return, request.user, note, comment=comment)
    if ok and after.status == ReturnStatus.POSTED:
        messages.success(request, _("The return was posted."))
    elif ok:
        messages.warning(
            request,
            _(
                "The received quantity differs from the approved one beyond the tolerance: the return was escalated."
            ),
        )
    return redirect("complaints:return_detail", pk=note.pk)


@service_view
def return_resolve(request, pk):
    """Resolve an escalated return: post it anyway or cancel it, with the reason."""
    _require(request.user, "returns.post")
    note = _return(request, pk)
    form = f.ResolveReturnForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        ok, after = run_service(
            form, returns_services.resolve_escalated_return, request.user, note, **form.cleaned_data
        )
        if ok:
            messages.success(
                request,
                _("The escalation was resolved: %(status)s.") % {"status": after.get_status_display()},
            )
            return redirect("complaints:return_detail", pk=note.pk)
    title = _("Resolve the escalation of %(number)s") % {"number": note.number}
    return _return_page(request, form, note, title, confirm=_("Record this decision?"))


def _settlement_listing(request):
    qs = Settlement.objects.restrict(request.user, "view").select_related(
        "complaint", "customer", "settled_by"
    )
    return Listing(
        request,
        qs,
        search_fields=(
            "complaint__number",
            "customer__name",
            "customer__code",
            "finance_reference",
            "description",
        ),
        filters=[
            ChoiceFilter("status", _("Status"), SettlementStatus.choices),
            ChoiceFilter("kind", _("Kind"), SettlementKind.choices),
            DateRangeFilter("created", _("Recorded"), "created_at"),
        ],
        columns=[
            Column("complaint", _("Complaint"), sort="complaint__number"),
            Column("customer", _("Customer"), sort="customer__name"),
            Column("kind", _("Kind")),
            Column("amount", _("Amount")),
            Column("status", _("Status")),
            Column("created", _("Recorded"), sort="created_at"),
            Column("reference", _("Finance reference"), sort=None),
            Column("actions", "", sort=None),
        ],
        default_sort="-created",
        row_template="complaints/more/_settlement_row.html",
        empty_message=_("No allowances or compensations match."),
    )


@permission_required("returns.view")
def settlement_list(request):
    """Allowances (销货折让) and compensations (赔款) for finance: filters, totals, xlsx export."""
    listing = _settlement_listing(request)
    user = request.user
    context = {
        "page_heading": _("Allowances and compensations"),
        "can_export": has_perm(user, "returns.export"),
        "can_settle": has_perm(user, "returns.post"),
        "export_query": request.GET.urlencode(),
    }
    return listing.render("complaints/more/settlement_list.html", context | NAV)


@permission_required("returns.export")
@require_GET
def settlement_export(request):
    """The allowances and compensations as filtered on the list (same GET parameters), as xlsx."""
    data = _settlement_listing(request).data
    # The export takes the status and the dates (what finance books by); the list's other
    # filters narrow the screen only — the page says so next to the button.
    filters = {
        "status": data.get("status") or None,
        "date_from": data.get("created_from"),
        "date_to": data.get("created_to"),
    }
    try:
        content = exports.export_settlements(request.user, **filters)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(
            reverse("complaints:settlement_list") + (f"?{request.GET.urlencode()}" if request.GET else "")
        )
    return _xlsx_response(content, "settlements")


@service_view
def settlement_create(request, pk):
    """Record an allowance or compensation from a complaint's approved disposition."""
    _require(request.user, "returns.add")
    complaint = get_restricted_or_404(
        Complaint.objects.select_related("customer"), request.user, "view", pk=pk
    )
    initial = {
        "amount": complaint.loss_amount,
        "kind": complaint.disposition if complaint.disposition in SettlementKind.values else None,
    }
    form = f.SettlementForm(_posted(request), initial=initial)
    done = _("The settlement was recorded for finance.")
    if _saved(request, form, returns_services.record_settlement, request.user, complaint, success=done):
        return redirect("complaints:complaint_detail", pk=complaint.pk)
    title = _("Allowance or compensation for complaint %(number)s") % {"number": complaint.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=reverse("complaints:complaint_detail", args=[complaint.pk]),
        record=complaint,
        summary="complaints/more/_complaint_summary.html",
    )


def _settlement(request, pk):
    qs = Settlement.objects.select_related("complaint", "customer")
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@service_view
def settlement_settle(request, pk):
    """Finance settles the allowance / compensation with its voucher or credit-note reference."""
    _require(request.user, "returns.post")
    settlement = _settlement(request, pk)
    form = f.SettleForm(_posted(request))
    done = _("The settlement was marked as settled.")
    if _saved(request, form, returns_services.settle, request.user, settlement, success=done):
        return redirect("complaints:settlement_list")
    title = _("Settle %(kind)s of complaint %(number)s") % {
        "kind": settlement.get_kind_display(),
        "number": settlement.complaint.number,
    }
    return _form_page(
        request,
        form,
        title=title,
        back_url=reverse("complaints:settlement_list"),
        record=settlement,
        summary="complaints/more/_settlement_summary.html",
    )


@service_view
def settlement_cancel(request, pk):
    _require(request.user, "returns.post")
    settlement = _settlement(request, pk)
    form = f.ReasonForm(_posted(request))
    done = _("The settlement was cancelled.")
    if _saved(request, form, returns_services.cancel_settlement, request.user, settlement, success=done):
        return redirect("complaints:settlement_list")
    title = _("Cancel %(kind)s of complaint %(number)s") % {
        "kind": settlement.get_kind_display(),
        "number": settlement.complaint.number,
    }
    return _form_page(
        request,
        form,
        title=title,
        back_url=reverse("complaints:settlement_list"),
        record=settlement,
        summary="complaints/more/_settlement_summary.html",
        danger=True,
        confirm=_("Cancel this settlement?"),
    )


# --- advisory notices and recalls (R-CO-10) ---------------------------------------------------
def _notice(request, pk):
    qs = AdvisoryNotice.objects.select_related("created_by", "issued_by", "complaint", "capa")
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@permission_required("notices.view")
def notice_list(request):
    """Advisory notices and recalls (忠告性通知 / 召回)."""
    qs = AdvisoryNotice.objects.restrict(request.user, "view").select_related("issued_by")
    listing = Listing(
        request,
        qs,
        search_fields=("number", "title", "items__lot_number", "items__serial_number"),
        filters=[
            ChoiceFilter("status", _("Status"), NoticeStatus.choices),
            ChoiceFilter("kind", _("Kind"), NoticeKind.choices),
            DateRangeFilter("issued", _("Issued"), "issued_at"),
        ],
        columns=[
            Column("number", _("Notice number")),
            Column("kind", _("Kind")),
            Column("title", _("Title"), sort=None),
            Column("risk", _("Risk")),
            Column("status", _("Status")),
            Column("issued", _("Issued"), sort="issued_at"),
        ],
        default_sort="-number",
        row_template="complaints/more/_notice_row.html",
        empty_message=_("No advisory notices match."),
    )
    context = {
        "page_heading": _("Advisory notices and recalls"),
        "can_add": has_perm(request.user, "notices.add"),
    }
    return listing.render("complaints/more/notice_list.html", context | NAV)


def _notice_forms(request, *, initial, item_initial, current_ids=()):
    data = _posted(request)
    form = f.NoticeForm(data, initial=initial)
    kwargs = {"product_choices": f.notice_product_choices(current_ids)}
    formset = f.NoticeItemFormSet(data, prefix="items", initial=item_initial, form_kwargs=kwargs)
    if data is not None and "add_item" in data:
        formset = formset.add_row()
    return form, formset


def _call_rows(form, formset, rows, service, *args, **kwargs):
    """``run_service`` for the notice form: ``items.<i>.<field>`` errors go to item row ``rows[i]``."""
    try:
        return True, service(*args, **kwargs)
    except NotFound:
        raise Http404()
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        leftover = {}
        for key, msgs in error.errors.items():
            parts = key.split(".")
            if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < len(rows):
                field = parts[2] if len(parts) > 2 else None
                formset.put_error(rows[int(parts[1])], field, msgs)
            else:
                leftover[key] = msgs
        error.errors = leftover
        apply_domain_error(form, error)
        if not form.non_field_errors():
            form.add_error(None, str(error.message))
        return False, None


def _notice_page(request, form, formset, *, notice=None, title):
    context = {"form": form, "formset": formset, "notice": notice, "page_heading": title}
    return render(request, "complaints/more/notice_form.html", context | NAV)


def _no_items(form):
    form.add_error(None, _("Add at least one affected product, lot or serial number."))


@service_view
def notice_create(request):
    """Draft a notice: text, risk, required action and the affected products / lots / serials."""
    _require(request.user, "notices.add")
    complaint = None
    if request.GET.get("complaint"):
        complaint = get_restricted_or_404(Complaint, request.user, "view", pk=request.GET["complaint"])
    item_initial = (
        [
            {
                "product": complaint.product_id,
                "lot_number": complaint.lot_number,
                "serial_number": complaint.serial_number,
            }
        ]
        if complaint and complaint.product_id
        else [{}]
    )
    form, formset = _notice_forms(request, initial={"kind": NoticeKind.ADVISORY}, item_initial=item_initial)
    if request.method == "POST" and "add_item" not in request.POST and form.is_valid() & formset.is_valid():
        items, rows = formset.items()
        if not items:
            _no_items(form)
        else:
            ok, notice = _call_rows(
                form,
                formset,
                rows,
                notice_services.draft_notice,
                request.user,
                items=items,
                complaint=complaint,
                **form.data_kwargs(),
            )
            if ok:
                messages.success(
                    request,
                    _(
                        "Notice %(number)s was saved as a draft. Check the affected customers before issuing it."
                    )
                    % {"number": notice.number},
                )
                return redirect("complaints:notice_detail", pk=notice.pk)
    return _notice_page(request, form, formset, title=_("Draft an advisory notice"))


@service_view
def notice_edit(request, pk):
    """Change a draft notice (text and affected rows)."""
    _require(request.user, "notices.add")
    notice = _notice(request, pk)
    if notice.status != NoticeStatus.DRAFT:
        messages.error(request, _("Only a draft notice can be changed."))
        return redirect("complaints:notice_detail", pk=notice.pk)
    current = list(notice.items.order_by("pk"))
    item_initial = [
        {"product": i.product_id, "lot_number": i.lot_number, "serial_number": i.serial_number}
        for i in current
    ]
    form, formset = _notice_forms(
        request,
        initial=f.NoticeForm.initial_from(notice),
        item_initial=item_initial,
        current_ids=[i.product_id for i in current],
    )
    if request.method == "POST" and "add_item" not in request.POST and form.is_valid() & formset.is_valid():
        items, rows = formset.items()
        if not items:
            _no_items(form)
        else:
            ok, _n = _call_rows(
                form,
                formset,
                rows,
                notice_services.update_notice,
                request.user,
                notice,
                data=form.data_kwargs(),
                items=items,
                expected_version=form.cleaned_data.get("version"),
            )
            if ok:
                messages.success(request, _("Your change was saved."))
                return redirect("complaints:notice_detail", pk=notice.pk)
    title = _("Change notice %(number)s") % {"number": notice.number}
    return _notice_page(request, form, formset, notice=notice, title=title)


def _share_percent(value):
    """A 0–100 share as a string with one decimal (locale-proof, for the bar's width class and text)."""
    if value is None:
        return None
    return f"{Decimal(value):.1f}"


@service_view
def notice_detail(request, pk):
    """The notice; before issuing, every affected customer and shipment from traceability; after,
    the recipients with acknowledgement and action, the effectiveness bar and the authority."""
    _require(request.user, "notices.view")
    notice = _notice(request, pk)
    user = request.user
    items = list(notice.items.select_related("product").order_by("pk"))
    is_draft = notice.status == NoticeStatus.DRAFT
    context = {
        "notice": notice,
        "items": items,
        "page_heading": notice.number,
        "can_edit": is_draft and has_perm(user, "notices.add"),
        "can_issue": is_draft and has_perm(user, "notices.issue"),
        "can_track": notice.status == NoticeStatus.ISSUED and has_perm(user, "notices.track"),
        "can_close": notice.status == NoticeStatus.ISSUED and has_perm(user, "notices.issue"),
        "can_cancel": is_draft and has_perm(user, "notices.add"),
    }
    if is_draft:
        affected = notice_services.affected_customers(notice) if items else []
        context |= {
            "affected": affected,
            "affected_units": sum((Decimal(str(row.get("quantity") or 0)) for row in affected), Decimal("0")),
        }
    else:
        recipients = list(
            NoticeRecipient.objects.restrict(user, "view").filter(notice=notice).select_related("customer")
        )
        effect = notice_services.effectiveness(notice)
        context |= {
            "recipients": recipients,
            "effect": effect,
            "share": _share_percent(effect.get("share_accounted")),
            "share_width": _bar_width(effect.get("share_accounted")),
        }
    return render(request, "complaints/more/notice_detail.html", context | NAV)


def _bar_width(share):
    """The effectiveness bar's width in steps of 5 % (a CSS class: no inline style under the CSP)."""
    if share is None:
        return 0
    return max(0, min(100, int(Decimal(share) / 5) * 5))


@service_view
def notice_issue(request, pk):
    """The management representative issues the notice and signs it with the password."""
    _require(request.user, "notices.issue")
    notice = _notice(request, pk)
    form = _signature_form(f.IssueNoticeForm, request)
    if request.method == "POST" and form.is_valid():
        ok, issued = _signed(request, form, notice_services.issue_notice, request.user, notice)
        if ok:
            count = issued.recipients.count()
            messages.success(
                request,
                _("Notice %(number)s was issued to %(count)d customers.")
                % {"number": notice.number, "count": count},
            )
            return redirect("complaints:notice_detail", pk=notice.pk)
    affected = notice_services.affected_customers(notice)
    title = _("Issue notice %(number)s") % {"number": notice.number}
    intro = _(
        "The notice goes to the %(count)d affected customers listed on the notice; your signature binds its text and the affected lots."
    ) % {"count": len(affected)}
    return _form_page(
        request,
        form,
        title=title,
        back_url=notice.get_absolute_url(),
        record=notice,
        summary="complaints/more/_notice_summary.html",
        intro=intro,
    )


def _recipient(request, pk):
    qs = NoticeRecipient.objects.select_related("notice", "customer", "recorded_by")
    return get_restricted_or_404(qs, request.user, "view", pk=pk)


@service_view
def notice_recipient(request, pk):
    """Record one customer's acknowledgement and the action taken with its units."""
    _require(request.user, "notices.track")
    recipient = _recipient(request, pk)
    initial = {
        "acknowledged_by_name": recipient.acknowledged_by_name,
        "acknowledged_at": timezone.localtime(recipient.acknowledged_at)
        if recipient.acknowledged_at
        else None,
        "action": recipient.action,
        "quantity_accounted": recipient.quantity_accounted or None,
        "comment": recipient.action_comment,
    }
    form = f.AcknowledgementForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, _r = run_service(
            form, notice_services.record_acknowledgement, request.user, recipient, **form.service_kwargs()
        )
        if ok:
            messages.success(
                request,
                _("The acknowledgement of %(customer)s was recorded.")
                % {"customer": recipient.customer.name},
            )
            return redirect("complaints:notice_detail", pk=recipient.notice_id)
    title = _("Acknowledgement of %(customer)s") % {"customer": recipient.customer.name}
    return _form_page(
        request,
        form,
        title=title,
        back_url=recipient.notice.get_absolute_url(),
        record=recipient,
        summary="complaints/more/_recipient_summary.html",
    )


@login_required
@require_GET
@domain_errors_to_http
def notice_letter(request, pk):
    """The printable letter to one customer, in the customer's language (the contact's if set)."""
    _require(request.user, "notices.view")
    recipient = _recipient(request, pk)
    notice = recipient.notice
    language = recipient.customer.preferred_language or translation.get_language()
    if request.GET.get("lang") in ("en", "zh-hans"):
        language = request.GET["lang"]
    with translation.override(language):
        context = notice_services.letter_context(
            notice, recipient=recipient, customer=recipient.customer, language=language
        )
        return render(request, "complaints/more/notice_letter.html", context)


@service_view
def notice_authority(request, pk):
    """Record that (and when) the regulatory authority was notified."""
    _require(request.user, "notices.track")
    notice = _notice(request, pk)
    form = f.AuthorityForm(_posted(request))
    if _saved(
        request,
        form,
        notice_services.record_authority_notification,
        request.user,
        notice,
        success=_("The notification of the authority was recorded."),
    ):
        return redirect("complaints:notice_detail", pk=notice.pk)
    title = _("Authority notified of %(number)s") % {"number": notice.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=notice.get_absolute_url(),
        record=notice,
        summary="complaints/more/_notice_summary.html",
    )


@service_view
def notice_close(request, pk):
    """Close the notice (a comment explains any recipient still incomplete)."""
    _require(request.user, "notices.issue")
    notice = _notice(request, pk)
    form = f.CommentForm(_posted(request))
    if _saved(
        request, form, notice_services.close_notice, request.user, notice, success=_("The notice was closed.")
    ):
        return redirect("complaints:notice_detail", pk=notice.pk)
    title = _("Close notice %(number)s") % {"number": notice.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=notice.get_absolute_url(),
        record=notice,
        summary="complaints/more/_notice_summary.html",
        danger=True,
        confirm=_("Close this notice?"),
    )


@service_view
def notice_cancel(request, pk):
    """Cancel a draft notice (never issued)."""
    _require(request.user, "notices.add")
    notice = _notice(request, pk)
    form = f.ReasonForm(_posted(request))
    done = _("The draft notice was cancelled.")
    if _saved(request, form, notice_services.cancel_notice, request.user, notice, success=done):
        return redirect("complaints:notice_detail", pk=notice.pk)
    title = _("Cancel notice %(number)s") % {"number": notice.number}
    return _form_page(
        request,
        form,
        title=title,
        back_url=notice.get_absolute_url(),
        record=notice,
        summary="complaints/more/_notice_summary.html",
        danger=True,
        confirm=_("Cancel this draft notice?"),
    )


# --- statistics (R-CO-11) ---------------------------------------------------------------------
CHART_HEIGHT = 180
CHART_TOP = 16
CHART_LEFT = 40
COLUMN_STEP = 46
COLUMN_WIDTH = 30


def _num(value):
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def column_chart(items, *, line=None):
    """A vertical bar chart (and optionally a cumulative % line: the Pareto) for an inline SVG.

    ``items`` ``[(label, value)]``; ``line`` the cumulative percentages (0–100) of the same items,
    drawn on a 0–100 % scale on the right. Drawn on the server (no JavaScript, no CDN): the
    template writes only <rect>, <text> and one <polyline>. Coordinates are strings so the
    locale never changes a decimal point.
    """
    values = [_num(value) for _label, value in items]
    top = max(values, default=0) or 1
    bars, points = [], []
    base = CHART_TOP + CHART_HEIGHT
    for index, ((label, _value), number) in enumerate(zip(items, values, strict=True)):
        height = CHART_HEIGHT * number / top
        x = CHART_LEFT + index * COLUMN_STEP + 8
        bars.append(
            {
                "label": str(label),
                "value": f"{number:,.0f}" if number == int(number) else f"{number:,.1f}",
                "x": f"{x:.1f}",
                "y": f"{base - height:.1f}",
                "height": f"{height:.1f}",
                "center": f"{x + COLUMN_WIDTH / 2:.1f}",
                "value_y": f"{base - height - 4:.1f}",
            }
        )
        if line is not None:
            y = base - CHART_HEIGHT * min(_num(line[index]), 100) / 100
            points.append(f"{x + COLUMN_WIDTH / 2:.1f},{y:.1f}")
    width = CHART_LEFT + max(len(items), 1) * COLUMN_STEP + 50
    return {
        "bars": bars,
        "width": str(width),
        "height": str(base + 60),
        "base": str(base),
        "bar_width": str(COLUMN_WIDTH),
        "label_y": str(base + 14),
        "axis_right": str(width - 40),
        "points": " ".join(points),
        "percent_ticks": [
            {"label": f"{p}%", "y": f"{base - CHART_HEIGHT * p / 100:.1f}"} for p in (0, 50, 80, 100)
        ]
        if line is not None
        else [],
        "percent_x": str(width - 36),
    }


def _label(row):
    return str(row.get("label") or row.get("period") or row.get("key") or "—")


def _percent_text(value):
    """A percentage (0–100) as "12.5%", or "—" when there is nothing to measure."""
    return "—" if value is None else f"{_num(value):.1f}%"


def _statistics_data(request, form):
    """``(filters, stats)``; a period the report refuses (e.g. too long) is shown on the form and
    the default period is used instead."""
    filters = form.filters()
    try:
        return filters, reports.complaint_statistics(request.user, **filters)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except ValidationFailed as error:
        apply_domain_error(form, error)
        start, end = f.StatisticsForm.default_period()
        filters |= {"period_from": start, "period_to": end}
        return filters, reports.complaint_statistics(request.user, **filters)


@permission_required("complaints.report")
def statistics(request):
    """Complaint statistics (R-CO-11): filters, charts (inline SVG, no script), tables, key figures."""
    form = f.StatisticsForm(request.GET or None, user=request.user)
    filters, stats = _statistics_data(request, form)
    totals = stats["totals"]
    pareto = stats["pareto"]
    departments = stats["by_department"]
    context = {
        "form": form,
        "filters": filters,
        "stats": stats,
        "totals": totals,
        "by_month": stats["by_month"],
        "pareto": pareto,
        "by_department": departments,
        "month_chart": column_chart([(row["period"], row["received"]) for row in stats["by_month"]]),
        "cost_chart": column_chart([(row["period"], row["cost"]) for row in stats["by_month"]]),
        "pareto_chart": column_chart(
            [(row["label"], row["count"]) for row in pareto], line=[row["cumulative"] for row in pareto]
        ),
        "department_chart": bar_chart([(row["label"], row["ratio"]) for row in departments], " %"),
        "on_time_rate": _percent_text(totals["on_time_rate"]),
        "repeat_rate": _percent_text(totals["repeat_rate"]),
        "export_query": request.GET.urlencode(),
        "can_export": has_perm(request.user, "complaints.export"),
        "page_heading": _("Complaint statistics"),
    }
    return render(request, "complaints/more/statistics.html", context | NAV)


def _statistics_export(request, name, stem, content_type=None):
    if not has_perm(request.user, "complaints.report"):
        raise PermissionDenied
    form = f.StatisticsForm(request.GET or None, user=request.user)
    filters = form.filters()
    try:
        content = getattr(exports, name)(request.user, **filters)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(
            reverse("complaints:statistics") + (f"?{request.GET.urlencode()}" if request.GET else "")
        )
    if content_type is None:
        return _xlsx_response(content, stem)
    if isinstance(content, tuple):
        content = content[0]
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (
        f'inline; filename="{stem}-{filters["period_from"]}-{filters["period_to"]}.pdf"'
    )
    return response


@permission_required("complaints.export")
@require_GET
def statistics_export(request):
    """The statistics of the chosen period and filters as xlsx."""
    return _statistics_export(request, "export_statistics", "complaint-statistics")


@permission_required("complaints.export")
@require_GET
def statistics_pdf(request):
    """The statistics of the chosen period and filters as PDF (Chinese font)."""
    return _statistics_export(request, "export_statistics_pdf", "complaint-statistics", "application/pdf")


# --- monthly responsibility reports and penalties (R-CO-8) ------------------------------------
@permission_required("complaints.report")
def responsibility_reports(request):
    """The monthly responsibility reports (责任报告), newest first."""
    rows = ResponsibilityReport.objects.restrict(request.user, "view").select_related("acknowledged_by")
    from django.core.paginator import Paginator

    page = Paginator(rows.order_by("-period"), 24).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "page_heading": _("Monthly responsibility reports"),
        "penalties_visible": _penalties_visible(request.user),
    }
    return render(request, "complaints/more/report_list.html", context | NAV)


@permission_required("complaints.report")
def responsibility_report_detail(request, period):
    """One month: closed cases, responsibility ratios and cost by department, timeliness."""
    report = ResponsibilityReport.objects.restrict(request.user, "view").filter(period=period).first()
    if report is None:
        raise Http404()
    data = report.data or {}
    english = translation.get_language() == "en"
    departments = [
        row | {"label": (row.get("label_en") if english else None) or row.get("label", "—")}
        for row in data.get("by_department") or []
    ]
    context = {
        "report": report,
        "totals": data.get("totals") or {},
        "cases": data.get("cases") or [],
        "departments": departments,
        "department_chart": bar_chart([(row["label"], _num(row.get("amount"))) for row in departments]),
        "page_heading": _("Responsibility report %(period)s") % {"period": report.period},
    }
    return render(request, "complaints/more/report_detail.html", context | NAV)


def _penalties_visible(user):
    return bool(policies.get("complaints.penalties_enabled")) and has_perm(user, "penalties.view")


def _penalties_guard(user, perm="penalties.view"):
    """404 while the feature is off (the pages do not exist for the company); 403 without the role."""
    if not policies.get("complaints.penalties_enabled"):
        raise Http404()
    _require(user, perm)


@login_required
def penalty_list(request):
    """Penalties (warnings, demerits, bonus deductions with their monthly instalments)."""
    _penalties_guard(request.user)
    rows = (
        Penalty.objects.restrict(request.user, "view")
        .select_related("person", "complaint", "recorded_by")
        .prefetch_related("instalments")
        .order_by("-created_at", "-pk")
    )
    from django.core.paginator import Paginator

    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "can_add": has_perm(request.user, "penalties.change"),
        "page_heading": _("Penalties"),
    }
    return render(request, "complaints/more/penalty_list.html", context | NAV)


@service_view
def penalty_create(request):
    """Record a penalty (the service applies the 50 % cap and the carry-over)."""
    _penalties_guard(request.user, "penalties.change")
    complaint = None
    if request.GET.get("complaint"):
        complaint = get_restricted_or_404(Complaint, request.user, "view", pk=request.GET["complaint"])
    form = f.PenaltyForm(_posted(request), initial={"start_period": timezone.localdate().strftime("%Y-%m")})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["amount"] = data.get("amount") or Decimal("0")
        ok, _p = run_service(form, penalty_services.record_penalty, request.user, complaint=complaint, **data)
        if ok:
            messages.success(request, _("The penalty was recorded."))
            return redirect("complaints:penalty_list")
    return _form_page(
        request,
        form,
        title=_("Record a penalty"),
        back_url=reverse("complaints:penalty_list"),
        record=complaint,
        summary="complaints/more/_complaint_summary.html" if complaint else None,
    )


# --- dashboard task providers (ui-a's register_ui may register them) --------------------------
def feedback_due(user):
    """Task provider: open feedback I handle, by first-answer due time."""
    if not has_perm(user, "feedback.view"):
        return []
    now = timezone.now()
    qs = (
        Feedback.objects.restrict(user, "view")
        .filter(status=FeedbackStatus.OPEN, owner=user)
        .order_by("due_at", "pk")[:20]
    )
    return [
        {
            "title": f"{fb.number} {fb.subject}",
            "url": fb.get_absolute_url(),
            "due_at": fb.due_at,
            "overdue": bool(fb.due_at and fb.due_at < now),
            "kind": "complaints.feedback",
        }
        for fb in qs
    ]
