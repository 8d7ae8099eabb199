"""Screens of the customer file 顾客档案 (R-CU-1…7): list, create/edit, the customer 360 page
with its tabs, the child-record forms, anonymisation and the classification lists.

Views only parse input, call a service and choose the response (DESIGN rule 1). Reading goes
through ``selectors.visible_customers`` / ``customer_360`` (full or service level), writing
through ``restrict(user, action)``: a customer outside the user's scope — or another
company's, for a portal user — is a 404, never a 403.
"""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from qcare.accounts.permissions import has_perm
from qcare.core import signatures, ui
from qcare.core.decorators import permission_required
from qcare.core.errors import NotPermitted, ValidationFailed
from qcare.core.forms import domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, Listing
from qcare.core.models import get_restricted_or_404
from qcare.customers import forms as f
from qcare.customers import search, selectors, services, services_config
from qcare.customers.choices import ActionStatus, ClassificationKind
from qcare.customers.filters import DomesticFilter, LicenceStatusFilter, TextFilter, annotate_licence_status
from qcare.customers.models import (
    Classification,
    Communication,
    Contact,
    Customer,
    CustomerProperty,
    FollowUpAction,
    Licence,
    PropertyIncident,
)

NAV = {"nav_active": "customers"}
TABS = (
    ("overview", gettext_lazy("Overview")),
    ("contacts", gettext_lazy("Contacts")),
    ("licences", gettext_lazy("Licences")),
    ("communication", gettext_lazy("Communication")),
    ("actions", gettext_lazy("Follow-up actions")),
    ("property", gettext_lazy("Customer property")),
    ("history", gettext_lazy("History")),
    ("related", gettext_lazy("Related records")),
)
#: Tabs a service-level user (customers.view_service, e.g. a technician) may open.
SERVICE_TABS = ("overview", "contacts")
CLOSED_ACTIONS_SHOWN = 50
INCIDENTS_SHOWN = 50


# --- fetching ------------------------------------------------------------------------------
def _visible(user):
    """``(queryset, level)`` from the selector; NotPermitted → 403."""
    try:
        return selectors.visible_customers(user)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))


def _customer(request, pk, action):
    """The customer ``pk`` if the user may ``action`` it, else 404 (never 403: P7)."""
    return get_restricted_or_404(
        Customer.objects.select_related("owner", "customer_type"), request.user, action, pk=pk
    )


def _child(request, model, pk, action="change"):
    """A child record (contact, licence, …) within the user's scope for ``action``."""
    return get_restricted_or_404(model.objects.select_related("customer"), request.user, action, pk=pk)


def _saved(request, form, call, *, success, back):
    """The shape every child form shares: on a valid POST run ``call(cleaned_data)`` through
    ``run_service``; when it succeeds flash ``success`` and return the redirect to ``back``
    (a URL, or a function of the service's result). None means: show the form (again)."""
    if request.method != "POST" or not form.is_valid():
        return None
    ok, result = run_service(form, call, form.cleaned_data)
    if not ok:
        return None
    messages.success(request, success)
    return redirect(back(result) if callable(back) else back)


def _correction(form):
    """The keyword arguments of a controlled change: the reason and the version the form showed."""
    return {"reason": form.cleaned_data["reason"], "expected_version": form.cleaned_data.get("version")}


def _action(request, pk):
    """A follow-up action the user may close: their own, or one they may change (else 404)."""
    user = request.user
    changeable = FollowUpAction.objects.restrict(user, "change").values("pk")
    action = (
        FollowUpAction.objects.select_related("customer", "owner")
        .filter(Q(owner=user) | Q(pk__in=changeable), pk=pk)
        .first()
    )
    if action is None:
        raise Http404()
    return action


def _allowed(user, customer, action):
    if not has_perm(user, f"customers.{action}"):  # cached: spares a query per missing right
        return False
    return Customer.objects.restrict(user, action).filter(pk=customer.pk).exists()


def _back(customer, tab):
    return reverse("customers:detail", args=[customer.pk]) + f"?tab={tab}"


def _form_page(request, form, *, customer, title, tab, template="customers/form.html", **extra):
    context = {"form": form, "customer": customer, "page_heading": title, "back_url": _back(customer, tab)}
    return render(request, template, context | NAV | extra)


def service_view(view):
    """Sign-in required, GET/POST only, NotFound → 404 and NotPermitted → 403."""
    return login_required(require_http_methods(["GET", "POST"])(domain_errors_to_http(view)))


# --- list ----------------------------------------------------------------------------------
class CustomerListing(Listing):
    """The Listing with the customer search (Chinese and Latin) instead of plain icontains."""

    def _filtered(self, qs):
        term = (self.data.get("q") or "").strip()
        if term:
            qs = search.search_customers(qs, term)
        return super()._filtered(qs)


def _class_choices():
    """``{kind: [(pk, label)]}`` of the classification lists in one query (list-page filters).

    Plain choices instead of model choice fields: no model instances per option (measured
    on the customer list, where the filter selects were a large part of the page time).
    """
    english = get_language() == "en"
    choices = {kind: [] for kind in ClassificationKind.values}
    rows = Classification.objects.order_by("sort_order", "code").values_list("pk", "kind", "name", "name_en")
    for pk, kind, name, name_en in rows:
        choices[kind].append((str(pk), name_en if english and name_en else name))
    return choices


def _owner_choices():
    rows = f.active_users().values_list("pk", "full_name", "username")
    return [(str(pk), full_name or username) for pk, full_name, username in rows]


@login_required
def customer_list(request):
    """Search, filter (type, origin, region, classes, owner, licence status), sort, paginate."""
    qs, level = _visible(request.user)
    service_level = level == "service"
    qs = qs.select_related("owner", "customer_type", "relationship", "value_class")
    filters = [TextFilter("region", _("Region"), "region")]
    columns = [
        Column("code", _("Customer code")),
        Column("name", _("Customer name")),
        Column("region", _("Region")),
    ]
    if service_level:  # only the fields a service visit needs (selectors.SERVICE_FIELDS)
        columns.append(Column("address", _("Address"), sort=None))
    else:
        qs = annotate_licence_status(qs)
        classes = _class_choices()
        filters = [
            ChoiceFilter("type", _("Customer type"), classes[ClassificationKind.TYPE], field="customer_type"),
            DomesticFilter(),
            *filters,
            ChoiceFilter("relationship", _("Relationship class"), classes[ClassificationKind.RELATIONSHIP]),
            ChoiceFilter("value", _("Value class"), classes[ClassificationKind.VALUE], field="value_class"),
            ChoiceFilter("owner", _("Owner"), _owner_choices()),
            LicenceStatusFilter(),
        ]
        columns += [
            Column("type", _("Customer type"), sort=None),
            Column("owner", _("Owner"), sort="owner__username"),
            Column("licence", _("Licence"), sort=None),
            Column("classes", _("Relationship / value class"), sort=None),
            Column("created", _("Created"), sort="created_at"),
        ]
    listing = CustomerListing(
        request,
        qs,
        filters=filters,
        columns=columns,
        default_sort="code",
        row_template="customers/_row.html",
        empty_message=_("No customers match. Change the search or filters, or create a customer."),
    )
    user = request.user
    context = {
        "service_level": service_level,
        "can_add": has_perm(user, "customers.add"),
        "can_import": has_perm(user, "customers.import"),
        "can_export": has_perm(user, "customers.export"),
    }
    return listing.render("customers/list.html", context | NAV)


# --- create / edit / reassign / deactivate -------------------------------------------------
@permission_required("customers.add")
@require_http_methods(["GET", "POST"])
def customer_create(request):
    form = f.CustomerCreateForm(request.POST or None)
    if not has_perm(request.user, "customers.reassign"):
        del form.fields["owner"]  # creating for someone else is a reassignment
    if request.method == "POST" and form.is_valid():
        data = form.model_data()
        if form.cleaned_data.get("owner"):
            data["owner"] = form.cleaned_data["owner"]
        ok, customer = run_service(form, _create, request.user, data, form.first_contacts())
        if ok:
            messages.success(request, _("Customer %(code)s was created.") % {"code": customer.code})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form} | NAV)


def _create(actor, data, contacts):
    """create_customer, with the first contact's errors ("contacts.0.phone") put on our fields."""
    try:
        return services.create_customer(actor, data=data, contacts=contacts)
    except ValidationFailed as error:
        error.errors = {_contact_field(name): messages for name, messages in error.errors.items()}
        raise


def _contact_field(name):
    prefix, _dot, field = name.rpartition(".")
    if prefix == "contacts.0":
        return f.CONTACT_FORM_FIELDS.get(field, name)
    return name


@service_view
def customer_edit(request, pk):
    """Edit with a reason; the version on the form detects a concurrent change."""
    customer = _customer(request, pk, "change")
    initial = {name: getattr(customer, name) for name in f.CUSTOMER_FIELDS} | {"version": customer.version}
    form = f.CustomerEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.update_customer,
            request.user,
            customer,
            data=form.model_data(),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer} | NAV)


@service_view
def customer_reassign(request, pk):
    customer = _customer(request, pk, "reassign")
    form = f.ReassignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.reassign_customer,
            request.user,
            customer,
            new_owner=form.cleaned_data["new_owner"],
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The customer was reassigned."))
            return redirect("customers:detail", pk=customer.pk)
    title = _("Reassign %(code)s") % {"code": customer.code}
    return _form_page(request, form, customer=customer, title=title, tab="overview")


@service_view
def customer_deactivate(request, pk):
    """Confirmation page with reason (what the [data-confirm] dialog falls back to)."""
    customer = _customer(request, pk, "delete")
    form = f.ReasonVersionForm(request.POST or None, initial={"version": customer.version})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _deactivate_checked, request.user, customer, form.cleaned_data)
        if ok:
            messages.success(request, _("Customer %(code)s was deactivated.") % {"code": customer.code})
            return redirect("customers:detail", pk=customer.pk)
    title = _("Deactivate %(code)s") % {"code": customer.code}
    warning = _(
        "The customer no longer appears in new orders and selections. Its records are kept; "
        "the deactivation is recorded in the audit trail with your reason."
    )
    return _form_page(
        request, form, customer=customer, title=title, tab="overview", warning=warning, danger=True
    )


def _deactivate_checked(actor, customer, data):
    customer.check_version(data.get("version"))
    return services.deactivate_customer(actor, customer, reason=data["reason"])


@service_view
def customer_anonymise(request, pk):
    """Signed anonymisation on the customer's request (R-CU-6); cannot be undone."""
    customer = _customer(request, pk, "anonymise")
    form = f.AnonymiseForm(request.POST or None, require_username=signatures.session_needs_username(request))
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form, services.anonymise_customer, request.user, customer, **form.service_kwargs()
        )
        if ok:
            signatures.note_session_signed(request)
            messages.success(request, _("Customer %(code)s was anonymised.") % {"code": customer.code})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/anonymise.html", {"form": form, "customer": customer} | NAV)


# --- the 360 page --------------------------------------------------------------------------
@login_required
@domain_errors_to_http
def customer_detail(request, pk):
    """The customer 360 page; ``?tab=`` picks the tab, htmx requests get only the panel."""
    user = request.user
    data = selectors.customer_360(user, pk)  # scope-checked: NotFound → 404
    customer = data["customer"]
    service_level = data["level"] == selectors.SERVICE
    tabs = [t for t in TABS if not service_level or t[0] in SERVICE_TABS]
    tab = request.GET.get("tab", "overview")
    if tab not in dict(tabs):
        tab = "overview"
    context = {
        "customer": customer,
        "data": data,
        "tab": tab,
        "tabs": tabs,
        "service_level": service_level,
        "today": timezone.localdate(),
    }
    if not service_level:
        context.update(_permissions(user, customer))
        context.update(_tab_extras(customer, tab))
    if request.htmx and request.htmx.target == "qc-tab-panel":
        return render(request, "customers/_tab.html", context)
    return render(request, "customers/detail.html", context | NAV)


def _permissions(user, customer):
    active = customer.is_active and customer.anonymised_at is None
    can_change = active and _allowed(user, customer, "change")
    return {
        "can_change": can_change,
        "can_reassign": active and _allowed(user, customer, "reassign"),
        "can_delete": active and _allowed(user, customer, "delete"),
        "can_anonymise": customer.anonymised_at is None and _allowed(user, customer, "anonymise"),
        "can_log_feedback": has_perm(user, "feedback.add"),
    }


def _tab_extras(customer, tab):
    """What a tab shows beyond the 360 data: closed actions, property incidents (bounded)."""
    if tab == "actions":
        closed = (
            FollowUpAction.objects.filter(customer=customer)
            .exclude(status=ActionStatus.OPEN)
            .select_related("owner")
            .order_by("-done_at", "-pk")[:CLOSED_ACTIONS_SHOWN]
        )
        return {"closed_actions": list(closed)}
    if tab == "property":
        incidents = (
            PropertyIncident.objects.filter(property__customer=customer)
            .select_related("property", "reported_by", "notified_contact")
            .order_by("-occurred_on", "-pk")[:INCIDENTS_SHOWN]
        )
        return {"incidents": list(incidents)}
    return {}


# --- contacts ------------------------------------------------------------------------------
@service_view
def contact_add(request, pk):
    customer = _customer(request, pk, "change")
    form = f.ContactForm(request.POST or None)
    saved = _saved(
        request,
        form,
        lambda data: services.add_contact(request.user, customer, data=form.model_data()),
        success=_("The contact was added."),
        back=_back(customer, "contacts"),
    )
    return saved or _form_page(request, form, customer=customer, title=_("New contact"), tab="contacts")


@service_view
def contact_edit(request, pk):
    contact = _child(request, Contact, pk)
    customer = contact.customer
    initial = {name: getattr(contact, name) for name in f.CONTACT_FIELDS} | {"version": contact.version}
    form = f.ContactEditForm(request.POST or None, initial=initial)
    if not selectors.can_see_personal_data(request.user):
        for name in Contact.personal_fields:  # never send personal data to whom may not see it
            form.fields.pop(name, None)
    saved = _saved(
        request,
        form,
        lambda data: services.update_contact(
            request.user, contact, data=form.model_data(), **_correction(form)
        ),
        success=_("Your change was saved."),
        back=_back(customer, "contacts"),
    )
    title = _("Edit contact %(name)s") % {"name": contact.name}
    return saved or _form_page(request, form, customer=customer, title=title, tab="contacts")


@service_view
def contact_primary(request, pk):
    """Make this contact the primary one (a change of a controlled record: reason)."""
    contact = _child(request, Contact, pk)
    form = f.ReasonVersionForm(request.POST or None, initial={"version": contact.version})
    saved = _saved(
        request,
        form,
        lambda data: services.update_contact(
            request.user, contact, data={"is_primary": True}, **_correction(form)
        ),
        success=_("%(name)s is now the primary contact.") % {"name": contact.name},
        back=_back(contact.customer, "contacts"),
    )
    title = _("Make %(name)s the primary contact") % {"name": contact.name}
    return saved or _form_page(request, form, customer=contact.customer, title=title, tab="contacts")


@service_view
def contact_deactivate(request, pk):
    contact = _child(request, Contact, pk)
    form = f.ReasonVersionForm(request.POST or None, initial={"version": contact.version})
    saved = _saved(
        request,
        form,
        lambda data: services.deactivate_contact(request.user, contact, reason=data["reason"]),
        success=_("The contact was deactivated."),
        back=_back(contact.customer, "contacts"),
    )
    title = _("Deactivate contact %(name)s") % {"name": contact.name}
    return saved or _form_page(
        request, form, customer=contact.customer, title=title, tab="contacts", danger=True
    )


# --- licences ------------------------------------------------------------------------------
@service_view
def licence_add(request, pk):
    customer = _customer(request, pk, "change")
    form = f.LicenceForm(request.POST or None)
    saved = _saved(
        request,
        form,
        lambda data: services.add_licence(
            request.user, customer, data=form.model_data(), categories=list(data["categories"])
        ),
        success=_("The licence was added. Upload the scanned copy below."),
        back=lambda licence: reverse("customers:licence", kwargs={"pk": licence.pk}),
    )
    return saved or _form_page(request, form, customer=customer, title=_("New licence"), tab="licences")


@service_view
def licence_detail(request, pk):
    """One licence with its scope and the scanned copy (attachments)."""
    licence = _child(request, Licence, pk, "view")
    customer = licence.customer
    context = {
        "licence": licence,
        "customer": customer,
        "categories": licence.categories.all(),
        "status": services.licence_status(licence),
        "can_change": _allowed(request.user, customer, "change"),
        "today": timezone.localdate(),
    }
    return render(request, "customers/licence.html", context | NAV)


@service_view
def licence_edit(request, pk):
    licence = _child(request, Licence, pk)
    initial = {name: getattr(licence, name) for name in f.LICENCE_FIELDS} | {
        "version": licence.version,
        "is_active": licence.is_active,
        "categories": list(licence.categories.all()),
    }
    form = f.LicenceEditForm(request.POST or None, initial=initial)
    saved = _saved(
        request,
        form,
        lambda data: services.update_licence(
            request.user,
            licence,
            data=form.model_data(),
            categories=list(data["categories"]),
            **_correction(form),
        ),
        success=_("Your change was saved."),
        back=reverse("customers:licence", kwargs={"pk": licence.pk}),
    )
    title = _("Edit licence %(number)s") % {"number": licence.number}
    return saved or _form_page(request, form, customer=licence.customer, title=title, tab="licences")


# --- communication log and follow-up actions -----------------------------------------------
def _row_count(request):
    """Follow-up rows on the log form; "add another row" posts back with one more (no JS)."""
    try:
        rows = int(request.POST.get("rows") or 1)
    except ValueError:
        rows = 1
    if "add_row" in request.POST:
        rows += 1
    return max(1, min(rows, f.MAX_ACTION_ROWS))


@service_view
def communication_add(request, pk):
    customer = _customer(request, pk, "change")
    rows = _row_count(request) if request.method == "POST" else 1
    initial = {"occurred_at": timezone.localtime().replace(second=0, microsecond=0), "rows": rows}
    initial["kind"] = request.GET.get("kind") or None
    form = f.CommunicationForm(request.POST or None, customer=customer, rows=rows, initial=initial)
    if request.method == "POST" and "add_row" not in request.POST and form.is_valid():
        ok, _entry = run_service(form, _log, request.user, customer, form)
        if ok:
            messages.success(request, _("The entry was added to the communication log."))
            return redirect(_back(customer, "communication"))
    if request.method == "POST" and "add_row" in request.POST:
        form.errors.clear()  # adding a row is not a submission: don't show "required" yet
        form.data = form.data.copy()
        form.data["rows"] = rows
    return _form_page(
        request,
        form,
        customer=customer,
        title=_("New communication log entry"),
        tab="communication",
        template="customers/communication_form.html",
    )


def _log(actor, customer, form):
    """log_communication, with the follow-up rows' errors put on their row's fields."""
    try:
        return services.log_communication(
            actor,
            customer,
            data=form.model_data(),
            notified_departments=list(form.cleaned_data["notified_departments"]),
            follow_ups=form.follow_ups(),
        )
    except ValidationFailed as error:
        error.errors = {form.error_field(name): messages for name, messages in error.errors.items()}
        raise


@service_view
def action_add(request, pk):
    """A follow-up action on its own or from a log entry (``?from=<communication id>``)."""
    customer = _customer(request, pk, "change")
    source = None
    source_id = request.GET.get("from") or request.POST.get("from")
    if source_id:
        source = get_restricted_or_404(Communication, request.user, "view", pk=source_id, customer=customer)
    initial = {"owner": request.user, "description": source.subject if source else ""}
    form = f.FollowUpForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, _a = run_service(
            form,
            services.add_follow_up,
            request.user,
            customer,
            communication=source,
            **form.model_data(),
        )
        if ok:
            messages.success(request, _("The follow-up action was added."))
            return redirect(_back(customer, "actions"))
    title = _("New follow-up action")
    return _form_page(request, form, customer=customer, title=title, tab="actions", source=source)


@service_view
def action_complete(request, pk):
    action = _action(request, pk)
    form = f.CompleteActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, _a = run_service(
            form, services.complete_follow_up, request.user, action, result=form.cleaned_data["result"]
        )
        if ok:
            messages.success(request, _("The action was marked as done."))
            return redirect(_back(action.customer, "actions"))
    title = _("Complete action: %(action)s") % {"action": action}
    return _form_page(
        request, form, customer=action.customer, title=title, tab="actions", intro=action.description
    )


@service_view
def action_cancel(request, pk):
    action = _action(request, pk)
    form = f.ReasonVersionForm(request.POST or None, initial={"version": action.version})
    if request.method == "POST" and form.is_valid():
        ok, _a = run_service(
            form, services.cancel_follow_up, request.user, action, reason=form.cleaned_data["reason"]
        )
        if ok:
            messages.success(request, _("The action was cancelled."))
            return redirect(_back(action.customer, "actions"))
    title = _("Cancel action: %(action)s") % {"action": action}
    return _form_page(
        request,
        form,
        customer=action.customer,
        title=title,
        tab="actions",
        danger=True,
        intro=action.description,
    )


# --- customer property ---------------------------------------------------------------------
@service_view
def property_add(request, pk):
    customer = _customer(request, pk, "change")
    form = f.PropertyForm(request.POST or None)
    saved = _saved(
        request,
        form,
        lambda data: services.register_property(request.user, customer, data=form.model_data()),
        success=_("The customer property was registered."),
        back=_back(customer, "property"),
    )
    return saved or _form_page(
        request, form, customer=customer, title=_("Register customer property"), tab="property"
    )


@service_view
def property_edit(request, pk):
    prop = _child(request, CustomerProperty, pk)
    initial = {name: getattr(prop, name) for name in f.PROPERTY_FIELDS} | {"version": prop.version}
    form = f.PropertyEditForm(request.POST or None, initial=initial)
    saved = _saved(
        request,
        form,
        lambda data: services.update_property(
            request.user, prop, data=form.model_data(), **_correction(form)
        ),
        success=_("Your change was saved."),
        back=_back(prop.customer, "property"),
    )
    title = _("Edit %(name)s") % {"name": prop.name}
    return saved or _form_page(request, form, customer=prop.customer, title=title, tab="property")


@service_view
def property_incident(request, pk):
    """Report loss, damage or unsuitability; the chosen contact is notified (R-CU-5)."""
    prop = _child(request, CustomerProperty, pk)
    form = f.IncidentForm(
        request.POST or None, customer=prop.customer, initial={"occurred_on": timezone.localdate()}
    )
    saved = _saved(
        request,
        form,
        lambda data: services.report_property_incident(
            request.user, prop, notify_contact=data.get("notify_contact"), **form.model_data()
        ),
        success=_("The report was recorded and the customer notified."),
        back=_back(prop.customer, "property"),
    )
    title = _("Report loss, damage or unsuitability: %(name)s") % {"name": prop.name}
    return saved or _form_page(request, form, customer=prop.customer, title=title, tab="property")


# --- classification lists ------------------------------------------------------------------
@permission_required("customers.configure")
def classification_list(request):
    entries = Classification.objects.order_by("kind", "sort_order", "code")
    groups = [
        (kind, label, [e for e in entries if e.kind == kind]) for kind, label in ClassificationKind.choices
    ]
    return render(request, "customers/classifications.html", {"groups": groups} | NAV)


@permission_required("customers.configure")
@require_http_methods(["GET", "POST"])
def classification_add(request):
    form = f.ClassificationForm(request.POST or None, initial={"kind": request.GET.get("kind")})
    if request.method == "POST" and form.is_valid():
        ok, _e = run_service(form, services_config.add_classification, request.user, **form.model_data())
        if ok:
            messages.success(request, _("The entry was added."))
            return redirect("customers:classifications")
    return render(request, "customers/classification_form.html", {"form": form} | NAV)


@permission_required("customers.configure")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def classification_edit(request, pk):
    entry = get_restricted_or_404(Classification, request.user, "configure", pk=pk)
    initial = {name: getattr(entry, name) for name in f.ClassificationEditForm.model_fields}
    form = f.ClassificationEditForm(request.POST or None, initial=initial | {"version": entry.version})
    if request.method == "POST" and form.is_valid():
        ok, _e = run_service(
            form,
            services_config.update_classification,
            request.user,
            entry,
            data=form.model_data(),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("customers:classifications")
    return render(request, "customers/classification_form.html", {"form": form, "entry": entry} | NAV)


# --- dashboard tasks and navigation --------------------------------------------------------
def _end_of(day):
    """A due date as the aware datetime the dashboard expects: the end of that day."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59)))


def my_open_actions(user):
    """Task provider: my open follow-up actions, soonest first."""
    today = timezone.localdate()
    # Assigned to me is my scope here: the responsible person may lack the customer's scope.
    qs = (
        FollowUpAction.objects.filter(owner=user, status=ActionStatus.OPEN)
        .select_related("customer")
        .order_by("due_date", "pk")[:20]
    )
    return [
        {
            "title": f"{a.customer.code} {a.customer.short_name or a.customer.name}: {a}",
            "url": reverse("customers:action_complete", args=[a.pk]),
            "due_at": _end_of(a.due_date),
            "overdue": a.due_date < today,
            "kind": "customers.actions",
        }
        for a in qs
    ]


def my_expiring_licences(user):
    """Task provider: trading licences of my customers expiring within the policy window (or expired)."""
    from qcare.customers.jobs import list_expiring_licences

    today = timezone.localdate()
    visible = Licence.objects.restrict(user, "view").values("pk")
    qs = list_expiring_licences(today).filter(customer__owner=user, pk__in=visible)[:20]
    return [
        {
            "title": f"{lic.customer.code} {lic.customer.short_name or lic.customer.name}: {lic}",
            "url": reverse("customers:licence", args=[lic.pk]),
            "due_at": _end_of(lic.valid_until),
            "overdue": lic.valid_until < today,
            "kind": "customers.licences",
        }
        for lic in qs
    ]


def register_ui():
    """Navigation entry and task providers (the lead calls this from CustomersConfig.ready())."""
    ui.nav.register(
        "customers", gettext_lazy("Customers"), "customers:list", permission="customers.view", order=100
    )
    # The registry takes one permission; service-level users (technicians) get a second
    # entry. A user holding both would see it twice — roles grant one or the other.
    ui.nav.register(
        "customers_service",
        gettext_lazy("Customers"),
        "customers:list",
        permission="customers.view_service",
        order=101,
    )
    ui.tasks.register(
        "customers.actions", gettext_lazy("My open customer follow-up actions"), my_open_actions
    )
    ui.tasks.register(
        "customers.licences", gettext_lazy("Licences of my customers expiring soon"), my_expiring_licences
    )
