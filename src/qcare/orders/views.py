"""Screens of orders and contract review (合同/订单评审, R-OR-1…7): the order list, entering
and editing an order with its lines, requirement capture, the written confirmation, the
submit page, the order page (合同评审: reviews, open points, approval, cancel), the signing
pages, the routing matrix and approval rules, and the dashboard tasks.

Views only parse input, call a service and choose the response (DESIGN rule 1). Orders are
fetched through ``restrict(user, action)``: an order outside the user's scope is a 404.
Every page works without JavaScript; each action has its own page (GET) that the order page
embeds as a form, so a refused POST re-renders that page with the user's input intact.
After-approval screens (changes, notices, shipments, versions, review record PDF) are in
``views_after``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.utils import ErrorDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from qcare.accounts.permissions import has_perm
from qcare.attachments import services as attachment_services
from qcare.attachments.models import Attachment
from qcare.core import signatures, ui
from qcare.core.decorators import permission_required
from qcare.core.errors import Conflict, DomainError, ValidationFailed
from qcare.core.forms import domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, DateRangeFilter, Listing
from qcare.core.models import get_restricted_or_404
from qcare.orders import authority, review_record, selectors, services, services_config, views_after
from qcare.orders import forms as f
from qcare.orders.choices import (
    APPROVED_STATUSES,
    EDITABLE_STATUSES,
    REQUIREMENT_ITEMS,
    REVIEWABLE_STATUSES,
    ChangeStatus,
    Opinion,
    OrderClass,
    OrderStatus,
    QuestionStatus,
    RequirementCategory,
    ReviewAspect,
    ReviewStatus,
    Subject,
)
from qcare.orders.models import (
    ApprovalRule,
    ChangeAcknowledgement,
    Order,
    OrderQuestion,
    OrderReview,
    ReviewRoute,
)

NAV = {"nav_active": "orders"}
#: States from which an order can still be cancelled on screen (the service has the last word).
CANCELLABLE = (
    OrderStatus.DRAFT,
    OrderStatus.UNDER_REVIEW,
    OrderStatus.CLARIFICATION,
    OrderStatus.AWAITING_APPROVAL,
    OrderStatus.APPROVED,
)
#: States in which the class can be overridden (before the decision).
CLASSIFIABLE = (
    OrderStatus.DRAFT,
    OrderStatus.UNDER_REVIEW,
    OrderStatus.CLARIFICATION,
    OrderStatus.AWAITING_APPROVAL,
)
TASK_LIMIT = 20
#: Up to this many customers in scope the list offers a customer select; beyond it the search box
#: finds customers (a select of thousands costs more to render than the page itself) and the
#: filter is only taken from links (?customer=<id>).
CUSTOMER_FILTER_LIMIT = 200


def service_view(view):
    """Sign-in required, GET/POST only, NotFound → 404 and NotPermitted → 403."""
    return login_required(require_http_methods(["GET", "POST"])(domain_errors_to_http(view)))


# --- fetching -------------------------------------------------------------------------------
def _order(request, pk, action="view"):
    """The order ``pk`` if the user may ``action`` it, else 404 (never 403: P7)."""
    qs = Order.objects.select_related("customer", "owner", "department", "confirmation_attachment")
    return get_restricted_or_404(qs, request.user, action, pk=pk)


def _allowed(user, order, action):
    if not has_perm(user, f"orders.{action}"):  # cached: spares a query per missing right
        return False
    return Order.objects.restrict(user, action).filter(pk=order.pk).exists()


def _detail_url(order, anchor=""):
    return reverse("orders:detail", args=[order.pk]) + (f"#{anchor}" if anchor else "")


def _quiet(*forms_or_formsets):
    """Rebound forms that are not a submission ("add lines"): show the input, no errors yet."""
    for item in forms_or_formsets:
        if hasattr(item, "forms"):  # a formset
            for form in item.forms:
                form._errors = ErrorDict()
            item._errors = [ErrorDict() for _form in item.forms]
            item._non_form_errors = item.error_class()
        else:
            item._errors = ErrorDict()


def _page(request, template, context, status=200):
    return render(request, template, context | NAV, status=status)


# --- list (R-OR-1) ----------------------------------------------------------------------------
class OrderListing(Listing):
    """Search by order number, customer reference or customer (the customer search index)."""

    def _filtered(self, qs):
        qs = selectors.search_orders(qs, self.data.get("q"))
        return super()._filtered(qs)


class CustomerFilter:
    """Filter by customer: a select of the user's customers; any visible id also works (links)."""

    name = "customer"
    label = gettext_lazy("Customer")

    def __init__(self, user, requested=None):
        from django import forms

        self.forms = forms
        choices = f.customer_choices(user, limit=CUSTOMER_FILTER_LIMIT + 1)
        self.as_select = len(choices) <= CUSTOMER_FILTER_LIMIT
        if requested and requested.isdigit() and requested not in {pk for pk, _label in choices}:
            choices.insert(0, (requested, f"#{requested}"))
        self.choices = choices

    def form_fields(self):
        from qcare.core.forms import FastSelect

        if not self.as_select:
            return {self.name: self.forms.CharField(required=False, widget=self.forms.HiddenInput)}
        return {
            self.name: self.forms.ChoiceField(
                label=self.label,
                required=False,
                choices=[("", _("All"))] + self.choices,
                widget=FastSelect,
            )
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        return qs.filter(customer_id=value) if value else qs


@permission_required("orders.view")
def order_list(request):
    """Orders in the user's scope: filters (status, class, customer, owner, dates), sort, pages."""
    user = request.user
    qs = Order.objects.restrict(user, "view").select_related("customer", "owner")
    owners = [(str(pk), full_name or username) for pk, full_name, username in f.sales_people()]
    filters = [
        ChoiceFilter("status", _("Status"), OrderStatus.choices),
        ChoiceFilter("order_class", _("Class"), OrderClass.choices),
        CustomerFilter(user, request.GET.get("customer")),
        ChoiceFilter("owner", _("Sales person"), owners),
        DateRangeFilter("date", _("Order date"), "order_date"),
    ]
    columns = [
        Column("number", _("Order number")),
        Column("date", _("Order date"), sort="order_date"),
        Column("customer", _("Customer"), sort="customer__code"),
        Column("reference", _("Customer's order / contract number"), sort=None),
        Column("amount", _("Amount (CNY)"), sort="total_amount_cny"),
        Column("class", _("Class"), sort="order_class"),
        Column("status", _("Status")),
        Column("owner", _("Sales person"), sort="owner__username"),
    ]
    listing = OrderListing(
        request,
        qs,
        filters=filters,
        columns=columns,
        default_sort="-date",
        row_template="orders/_row.html",
        empty_message=_("No orders match. Change the search or filters, or enter a new order."),
    )
    context = {"can_add": has_perm(user, "orders.add"), "can_configure": has_perm(user, "orders.configure")}
    return listing.render("orders/list.html", context | NAV)


# --- enter / edit an order (R-OR-1) ------------------------------------------------------------
def _more_rows(post, formset_builder):
    """The posted formset with ADD_ROWS more blank rows ("add lines" without JavaScript)."""
    data = post.copy()
    total = int(data.get("lines-TOTAL_FORMS") or 0)
    data["lines-TOTAL_FORMS"] = str(min(total + f.ADD_ROWS, f.MAX_LINES))
    return formset_builder(data)


def _with_line_errors(service, formset):
    """Call ``service``; put its ``lines.<i>.<field>`` errors on the formset's rows."""
    try:
        return service()
    except ValidationFailed as error:
        error.errors = formset.put_errors(error.errors)
        raise


def _create(actor, header, formset):
    data = header.header()
    return _with_line_errors(
        lambda: services.create_order(
            actor,
            customer=header.cleaned_data["customer"],
            source=header.cleaned_data["source"],
            lines=formset.lines(),
            **data,
        ),
        formset,
    )


def _update(actor, order, header, formset):
    data = header.header() | {"source": header.cleaned_data["source"]}
    if header.cleaned_data["customer"].pk != order.customer_id:
        data["customer"] = header.cleaned_data["customer"]
    return _with_line_errors(
        lambda: services.update_order(
            actor,
            order,
            data=data,
            lines=formset.lines(),
            expected_version=header.cleaned_data.get("version"),
        ),
        formset,
    )


def _order_form_page(request, header, formset, order=None, status=200):
    context = {"form": header, "formset": formset, "order": order}
    return _page(request, "orders/order_form.html", context, status=status)


@permission_required("orders.add")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def order_create(request):
    """A new order: header and lines; then the requirement checklist."""
    products = f.product_choices()
    post = request.POST if request.method == "POST" else None
    header = f.OrderHeaderForm(post, user=request.user, initial={"customer": request.GET.get("customer", "")})
    formset = f.line_formset(post, products=products)
    if post is not None and "add_lines" in post:
        formset = _more_rows(post, lambda data: f.line_formset(data, products=products))
        _quiet(header, formset)
    elif post is not None:
        valid = header.is_valid()
        valid = formset.is_valid() and valid
        if valid:
            ok, order = run_service(header, _create, request.user, header, formset)
            if ok:
                messages.success(
                    request,
                    _("Order %(number)s was saved. Now capture the customer's requirements.")
                    % {"number": order.number},
                )
                return redirect("orders:requirements", pk=order.pk)
    refused = post is not None and "add_lines" not in post
    return _order_form_page(request, header, formset, status=400 if refused else 200)


def _not_editable(request, order):
    messages.error(
        request,
        _(
            "Order %(number)s can no longer be edited directly (%(status)s). "
            "After approval, changes go through a change request."
        )
        % {"number": order.number, "status": order.get_status_display()},
    )
    return redirect(_detail_url(order))


@service_view
def order_edit(request, pk):
    """Edit a draft (or an order in clarification): header and lines, with the version on screen."""
    order = _order(request, pk, "change")
    if order.status not in EDITABLE_STATUSES:
        return _not_editable(request, order)
    lines = list(order.lines.all())
    products = f.product_choices({line.product_id for line in lines})
    initial_rows = f.line_initial(order)
    post = request.POST if request.method == "POST" else None

    def build(data, extra=1):
        return f.line_formset(data, initial=initial_rows, extra=extra, products=products)

    header = f.OrderHeaderForm(
        post, user=request.user, order=order, initial=f.OrderHeaderForm.initial_for(order)
    )
    formset = build(post)
    if post is not None and "add_lines" in post:
        formset = _more_rows(post, build)
        _quiet(header, formset)
    elif post is not None:
        valid = header.is_valid()
        valid = formset.is_valid() and valid
        if valid:
            ok, _result = run_service(header, _update, request.user, order, header, formset)
            if ok:
                messages.success(request, _("Your change was saved."))
                return redirect(_detail_url(order))
    refused = post is not None and "add_lines" not in post
    return _order_form_page(request, header, formset, order, status=400 if refused else 200)


# --- requirement capture (R-OR-2) ---------------------------------------------------------------
def _special_rows(request, order):
    """Special-requirement rows on the form: the saved ones plus one blank; "add one" adds a row."""
    if request.method != "POST":
        return min(len(order.special_requirements or []) + 1, f.MAX_SPECIAL_ROWS)
    try:
        rows = int(request.POST.get("rows") or 1)
    except ValueError:
        rows = 1
    if "add_row" in request.POST:
        rows += 1
    return max(1, min(rows, f.MAX_SPECIAL_ROWS))


def _set_requirements(actor, order, form):
    try:
        return services.set_requirements(
            actor,
            order,
            form.requirements(),
            special_requirements=form.special_requirements(),
            expected_version=form.cleaned_data.get("version"),
        )
    except ValidationFailed as error:
        errors = {}
        for name, messages_ in error.errors.items():
            errors.setdefault(form.error_field(name), []).extend(messages_)
        error.errors = errors
        raise


@service_view
def order_requirements(request, pk):
    """The four ISO categories as checklists with text, and the special requirements to confirm."""
    order = _order(request, pk, "change")
    if order.status not in EDITABLE_STATUSES:
        return _not_editable(request, order)
    rows = _special_rows(request, order)
    initial = f.RequirementsForm.initial_for(order) | {"rows": rows}
    form = f.RequirementsForm(request.POST or None, rows=rows, initial=initial)
    if request.method == "POST" and "add_row" in request.POST:
        form.data = form.data.copy()
        form.data["rows"] = rows
        _quiet(form)
    elif request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _set_requirements, request.user, order, form)
        if ok:
            messages.success(request, _("The requirements were saved."))
            if order.is_oral and not order.confirmation_attachment_id:
                return redirect("orders:confirmation", pk=order.pk)
            return redirect(_detail_url(order))
    return _page(request, "orders/requirements.html", {"form": form, "order": order})


# --- written confirmation (R-OR-3) -------------------------------------------------------------
def _record_confirmation(actor, order, form):
    """Upload the document (if a file was given) onto the order, then record the confirmation."""
    attachment = form.chosen_attachment()
    upload = form.cleaned_data.get("file")
    if upload:
        attachment = attachment_services.upload_attachment(actor, order, upload)
        form.uploaded = attachment  # kept on the order even if the next step is refused
    return services.record_confirmation(
        actor,
        order,
        kind=form.cleaned_data["kind"],
        received_on=form.cleaned_data["received_on"],
        attachment=attachment,
    )


@service_view
def order_confirmation(request, pk):
    """Record the customer's written confirmation of an oral order (or a new customer's contract)."""
    order = _order(request, pk, "change")
    attachments = list(Attachment.objects.for_object(order))
    initial = {"kind": order.confirmation_kind or None, "attachment": order.confirmation_attachment_id}
    form = f.ConfirmationForm(
        request.POST or None, request.FILES or None, attachments=attachments, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _record_confirmation, request.user, order, form)
        if ok:
            messages.success(request, _("The written confirmation was recorded."))
            return redirect(_detail_url(order))
        uploaded = getattr(form, "uploaded", None)
        if uploaded is not None:  # the file is on the order now: offer it instead of asking again
            errors = form.errors
            data = request.POST.copy()
            data["attachment"] = str(uploaded.pk)
            form = f.ConfirmationForm(data, attachments=Attachment.objects.for_object(order))
            form.is_valid()
            for field, field_errors in errors.items():
                for error in field_errors:
                    form.add_error(None if field == "__all__" else field, error)
    return _page(request, "orders/confirmation.html", {"form": form, "order": order})


# --- submit (R-OR-4, R-OR-5) -------------------------------------------------------------------
def _preview(order):
    """What submitting would do: the class with reasons, the routes, the problems that block it."""
    order_class, reasons = services.classify(order)
    routes = [route for route in authority.routes_for(order_class) if not route.is_optional]
    return {
        "preview_class": OrderClass(order_class).label,
        "preview_reasons": services.reason_texts(reasons),
        "routes": routes,
        "optional_routes": authority.optional_routes(order_class),
        "problems": services.submission_problems(order),
    }


@service_view
def order_submit(request, pk):
    """Preview the classification and routing, list what blocks it, and submit for review."""
    order = _order(request, pk, "change")
    if order.status != OrderStatus.DRAFT:
        messages.info(request, _("Order %(number)s was already submitted.") % {"number": order.number})
        return redirect(_detail_url(order))
    preview = _preview(order)
    form = f.SubmitForm(
        request.POST or None, optional_routes=preview["optional_routes"], initial={"version": order.version}
    )
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.submit_order,
            request.user,
            order,
            optional_departments=form.departments(),
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(
                request,
                _("Order %(number)s was submitted for review.") % {"number": order.number},
            )
            return redirect(_detail_url(order, "reviews"))
        preview = _preview(order)
    return _page(request, "orders/submit.html", {"form": form, "order": order} | preview)


# --- the order page (合同评审) -----------------------------------------------------------------
def requirement_rows(order):
    """``[(category label, [item labels], text)]`` of the captured checklist, in category order."""
    rows = []
    for category in RequirementCategory:
        captured = (order.requirements or {}).get(str(category)) or {}
        items = REQUIREMENT_ITEMS[category]
        labels = [str(items.get(code, code)) for code in captured.get("items", [])]
        rows.append((category.label, labels, captured.get("text", ""), bool(captured)))
    return rows


def _labels(codes, enum):
    values = set(enum.values)
    return [str(enum(code).label) if code in values else code for code in codes or ()]


def _decorate(reviews, now):
    """Add what the table shows: labels, signature validity, overdue flag."""
    for review in reviews:
        review.aspect_labels = _labels(review.aspects, ReviewAspect)
        review.subject_labels = _labels(review.subjects, Subject)
        review.signature_valid = services.review_signature_valid(review) if review.signature_id else None
        review.is_overdue = (
            review.status == ReviewStatus.PENDING and review.due_at is not None and review.due_at < now
        )
    return reviews


def review_groups(order, now=None):
    """The reviews of the order page: current ones, those of open change requests, superseded ones."""
    now = now or timezone.now()
    qs = order.reviews.select_related("department", "reviewer", "signature", "change_request")
    current_ids = set(services.current_reviews(order).values_list("pk", flat=True))
    current, changes, superseded = [], [], []
    for review in qs.order_by("department__code", "round", "pk"):
        if review.pk in current_ids:
            current.append(review)
        elif review.status == ReviewStatus.SUPERSEDED:
            superseded.append(review)
        elif review.change_request_id and review.change_request.status in (
            ChangeStatus.UNDER_REVIEW,
            ChangeStatus.AWAITING_APPROVAL,
            ChangeStatus.DRAFT,
        ):
            changes.append(review)
        else:
            superseded.append(review)  # reviews of a rejected or withdrawn change: history
    return _decorate(current, now), _decorate(changes, now), _decorate(superseded, now)


def _may_sign(user, review):
    return (
        review.status == ReviewStatus.PENDING
        and user.department_id is not None
        and review.department_id == user.department_id
        and has_perm(user, "orders.review")
    )


def _sign_forms(request, reviews):
    """``[(review, sign form, question form)]`` for the user's department's pending reviews."""
    needs_username = signatures.session_needs_username(request)
    result = []
    for review in reviews:
        if not _may_sign(request.user, review):
            continue
        if review.change_request_id is None and review.order.status not in REVIEWABLE_STATUSES:
            continue
        if review.change_request_id and review.change_request.status != ChangeStatus.UNDER_REVIEW:
            continue
        review.diff = (
            review_record.diff_rows(review.change_request.diff) if review.change_request_id else None
        )
        sign_form = f.ReviewSignForm(prefix=f"r{review.pk}", require_username=needs_username)
        result.append((review, sign_form, f.QuestionForm(prefix=f"q{review.pk}")))
    return result


def _approval_panel(request, order):
    """Approval problems, the rule that decides, and whether this user may approve or reject."""
    if order.status not in (
        OrderStatus.UNDER_REVIEW,
        OrderStatus.CLARIFICATION,
        OrderStatus.AWAITING_APPROVAL,
    ):
        return {}
    panel = {"approval_problems": services.approval_problems(order)}
    try:
        rule = authority.rule_for(order)
    except Conflict as error:
        return panel | {"rule_error": str(error.message)}
    user = request.user
    may = authority.may_approve(user, rule) and _allowed(user, order, "approve")
    panel |= {"rule": rule, "rule_roles": list(rule.approver_roles.all()), "may_approve": may}
    if may and order.status == OrderStatus.AWAITING_APPROVAL:
        needs_username = signatures.session_needs_username(request)
        panel["approve_form"] = f.ApproveForm(
            prefix="approve", require_username=needs_username, initial={"version": order.version}
        )
        panel["reject_form"] = f.RejectForm(
            prefix="reject", require_username=needs_username, initial={"version": order.version}
        )
    return panel


def _detail_context(request, order):
    user = request.user
    current, change_reviews, superseded = review_groups(order)
    order_in_review = order.status in REVIEWABLE_STATUSES
    can_change = _allowed(user, order, "change")
    questions = list(
        order.questions.select_related("department", "raised_by", "answered_by").order_by("raised_at", "pk")
    )
    open_questions = [q for q in questions if q.status == QuestionStatus.OPEN]
    context = {
        "order": order,
        "lines": list(order.lines.select_related("product").order_by("line_no")),
        "requirement_rows": requirement_rows(order),
        "class_reasons": services.reason_texts(order.class_reasons or []),
        "current_reviews": current,
        "change_reviews": change_reviews,
        "superseded_reviews": superseded,
        "sign_forms": _sign_forms(request, current + change_reviews),
        "questions": questions,
        "open_questions": open_questions,
        "can_edit": can_change and order.status in EDITABLE_STATUSES,
        "can_submit": can_change and order.status == OrderStatus.DRAFT,
        "can_resubmit": can_change and order.status == OrderStatus.CLARIFICATION and not open_questions,
        "can_confirm": can_change
        and order.approved_at is None
        and order.status not in (OrderStatus.CANCELLED, OrderStatus.REJECTED),
        "can_cancel": order.status in CANCELLABLE and _allowed(user, order, "cancel"),
        "can_classify": order.status in CLASSIFIABLE and _allowed(user, order, "classify"),
        "order_in_review": order_in_review,
        "transitions": list(order.transitions.select_related("actor").order_by("at", "pk")),
        "change_requests": list(order.change_requests.order_by("-pk")),
        "notices": list(order.production_notices.order_by("-pk")),
        "shipments": list(order.shipments.order_by("-shipped_on", "-pk")),
        "now": timezone.now(),
    }
    approved = order.status in APPROVED_STATUSES
    context |= {
        "can_request_change": approved and _allowed(user, order, "change"),
        "can_issue_notice": approved and _allowed(user, order, "issue_notice"),
        "can_ship": approved and _allowed(user, order, "ship"),
    }
    for question in open_questions:
        question.answer_form = f.AnswerForm(prefix=f"a{question.pk}") if can_change else None
    if context["can_classify"]:
        context["classify_form"] = f.ClassOverrideForm(initial={"order_class": order.order_class})
    return context | _approval_panel(request, order)


@login_required
@domain_errors_to_http
def order_detail(request, pk):
    """The order page: header, lines, requirements, class, reviews, open points, approval, history."""
    order = _order(request, pk)
    return _page(request, "orders/detail.html", _detail_context(request, order))


@service_view
def order_classify(request, pk):
    """Override the computed class with a reason (orders.classify); reviews are re-routed."""
    order = _order(request, pk, "classify")
    form = f.ClassOverrideForm(request.POST or None, initial={"order_class": order.order_class})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.override_class,
            request.user,
            order,
            order_class=form.cleaned_data["order_class"],
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The class was changed and the reviews re-routed."))
            return redirect(_detail_url(order, "classification"))
    title = _("Override the class of %(number)s") % {"number": order.number}
    context = {
        "form": form,
        "order": order,
        "page_heading": title,
        "class_reasons": services.reason_texts(order.class_reasons or []),
    }
    return _page(request, "orders/classify.html", context)


# --- reviewing: sign, ask (R-OR-5) -------------------------------------------------------------
def _review(request, pk):
    qs = OrderReview.objects.select_related("order", "order__customer", "department", "change_request")
    review = get_restricted_or_404(qs, request.user, "review", pk=pk)
    if review.department_id != request.user.department_id:
        raise PermissionDenied(
            _("Only %(department)s can sign this review.") % {"department": review.department}
        )
    return review


def _after_review_url(review):
    if review.change_request_id:
        return reverse("orders:change_detail", args=[review.change_request_id])
    return _detail_url(review.order, "reviews")


def _review_page(request, review, sign_form=None, question_form=None, status=200):
    needs_username = signatures.session_needs_username(request)
    order = review.order
    context = {
        "review": review,
        "order": order,
        "lines": list(order.lines.select_related("product").order_by("line_no")),
        "requirement_rows": requirement_rows(order),
        "aspect_labels": _labels(review.aspects, ReviewAspect),
        "subject_labels": _labels(review.subjects, Subject),
        "sign_form": sign_form or f.ReviewSignForm(prefix=f"r{review.pk}", require_username=needs_username),
        "question_form": question_form or f.QuestionForm(prefix=f"q{review.pk}"),
        "diff": review_record.diff_rows(review.change_request.diff) if review.change_request_id else None,
        "change_url": reverse("orders:change_detail", args=[review.change_request_id])
        if review.change_request_id
        else None,
        "open_questions": order.questions.filter(status=QuestionStatus.OPEN, department=review.department),
    }
    return _page(request, "orders/review_sign.html", context, status=status)


@service_view
def review_sign(request, pk):
    """A department's review: opinion, comments, proposed date, signed with the password (P4)."""
    review = _review(request, pk)
    if review.status != ReviewStatus.PENDING:
        messages.info(
            request, _("This review is already %(status)s.") % {"status": review.get_status_display()}
        )
        return redirect(_after_review_url(review))
    if request.method != "POST":
        return _review_page(request, review)
    form = f.ReviewSignForm(
        request.POST, prefix=f"r{review.pk}", require_username=signatures.session_needs_username(request)
    )
    if form.is_valid():
        ok, signed = run_service(form, services.sign_review, request.user, review, **form.service_kwargs())
        if ok:
            signatures.note_session_signed(request)
            messages.success(
                request,
                _("Your review of %(number)s was signed: %(opinion)s.")
                % {"number": review.order.number, "opinion": Opinion(signed.opinion).label},
            )
            return redirect(_after_review_url(review))
    return _review_page(request, review, sign_form=form, status=400)


@service_view
def review_question(request, pk):
    """Raise a question / open point for sales to clarify with the customer (order → clarification)."""
    review = _review(request, pk)
    if request.method != "POST":
        return redirect("orders:review_sign", pk=review.pk)
    form = f.QuestionForm(request.POST, prefix=f"q{review.pk}")
    if form.is_valid():
        ok, _question = run_service(
            form, services.raise_question, request.user, review, text=form.cleaned_data["text"]
        )
        if ok:
            messages.success(
                request, _("Your question was sent to sales; the order waits for the customer's answer.")
            )
            return redirect(_detail_url(review.order, "questions"))
    return _review_page(request, review, question_form=form, status=400)


# --- clarification: answer, resubmit -----------------------------------------------------------
def _answer(actor, question, form):
    """Attach the customer's written answer (if a file was given), then record the answer."""
    upload = form.cleaned_data.get("file")
    if upload:
        form.uploaded = attachment_services.upload_attachment(actor, question, upload)
    return services.answer_question(actor, question, answer=form.cleaned_data["answer"])


@service_view
def question_answer(request, pk):
    """Sales records the customer's written answer to an open point."""
    qs = OrderQuestion.objects.select_related("order", "order__customer", "department", "raised_by")
    question = get_restricted_or_404(qs, request.user, "change", pk=pk)
    order = question.order
    if question.status != QuestionStatus.OPEN:
        messages.info(request, _("This question was already answered."))
        return redirect(_detail_url(order, "questions"))
    form = f.AnswerForm(request.POST or None, request.FILES or None, prefix=f"a{question.pk}")
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _answer, request.user, question, form)
        if ok:
            messages.success(request, _("The customer's answer was recorded."))
            return redirect(_detail_url(order, "questions"))
        if getattr(form, "uploaded", None) is not None:
            form.add_error(
                None,
                _("The file %(name)s is attached to the question.") % {"name": form.uploaded.original_name},
            )
    context = {
        "form": form,
        "order": order,
        "question": question,
        "attachments": Attachment.objects.for_object(question),
        "page_heading": _("Answer an open point of %(number)s") % {"number": order.number},
    }
    return _page(request, "orders/answer.html", context)


def restarting_reviews(order):
    """Current reviews that a resubmission restarts: invalid signature or "cannot meet"."""
    return [
        review
        for review in _decorate(
            list(services.current_reviews(order).select_related("department", "signature")), timezone.now()
        )
        if review.status == ReviewStatus.SIGNED
        and (review.signature_valid is False or review.opinion == Opinion.CANNOT_MEET)
    ]


@service_view
def order_resubmit(request, pk):
    """After clarification: send the order back to review; only reviews whose content changed restart."""
    order = _order(request, pk, "change")
    form = f.VersionForm(request.POST or None, initial={"version": order.version})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.resubmit_order,
            request.user,
            order,
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(
                request, _("Order %(number)s was sent back to review.") % {"number": order.number}
            )
            return redirect(_detail_url(order, "reviews"))
    context = {
        "form": form,
        "order": order,
        "restarting": restarting_reviews(order),
        "open_questions": order.questions.filter(status=QuestionStatus.OPEN),
    }
    return _page(request, "orders/resubmit.html", context)


# --- approval (R-OR-6), rejection, cancelling ---------------------------------------------------
def _decision_page(request, order, form, *, decision, status=200):
    panel = _approval_panel(request, order)
    current, _changes, _superseded = review_groups(order)
    context = panel | {
        "form": form,
        "order": order,
        "decision": decision,
        "current_reviews": current,
        "lines": list(order.lines.select_related("product").order_by("line_no")),
    }
    return _page(request, "orders/decide.html", context, status=status)


def _decide(request, pk, *, decision):
    order = _order(request, pk, "approve")
    form_class, service, prefix = {
        "approve": (f.ApproveForm, services.approve_order, "approve"),
        "reject": (f.RejectForm, services.reject_order, "reject"),
    }[decision]
    needs_username = signatures.session_needs_username(request)
    if request.method != "POST":
        form = form_class(prefix=prefix, require_username=needs_username, initial={"version": order.version})
        return _decision_page(request, order, form, decision=decision)
    form = form_class(request.POST, prefix=prefix, require_username=needs_username)
    if form.is_valid():
        ok, _result = run_service(form, service, request.user, order, **form.service_kwargs())
        if ok:
            signatures.note_session_signed(request)
            text = (
                _("Order %(number)s was approved and signed.")
                if decision == "approve"
                else _("Order %(number)s was rejected.")
            )
            messages.success(request, text % {"number": order.number})
            return redirect(_detail_url(order, "approval"))
    return _decision_page(request, order, form, decision=decision, status=400)


@service_view
def order_approve(request, pk):
    """Approve with an e-signature (only approvers the rule names; impossible with review problems)."""
    return _decide(request, pk, decision="approve")


@service_view
def order_reject(request, pk):
    """Reject with a reason and an e-signature."""
    return _decide(request, pk, decision="reject")


@service_view
def order_cancel(request, pk):
    """The confirmation step of cancelling: reason and an explicit tick."""
    order = _order(request, pk, "cancel")
    form = f.CancelForm(request.POST or None, initial={"version": order.version})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.cancel_order,
            request.user,
            order,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Order %(number)s was cancelled.") % {"number": order.number})
            return redirect(_detail_url(order))
    return _page(request, "orders/cancel.html", {"form": form, "order": order})


# --- configuration: routing matrix and approval rules (orders.configure) ------------------------
@permission_required("orders.configure")
def route_list(request):
    """The review routing matrix, one table per order class (R-OR-5)."""
    routes = list(
        ReviewRoute.objects.select_related("department").order_by("order_class", "sort_order", "pk")
    )
    for route in routes:
        route.aspect_labels = _labels(route.aspects, ReviewAspect)
        route.subject_labels = _labels(route.subjects, Subject)
    groups = [
        (value, label, [r for r in routes if r.order_class == value]) for value, label in OrderClass.choices
    ]
    return _page(request, "orders/config/routes.html", {"groups": groups})


@permission_required("orders.configure")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def route_add(request):
    form = f.RouteForm(request.POST or None, initial={"order_class": request.GET.get("order_class")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, _route = run_service(
            form,
            services_config.create_route,
            request.user,
            order_class=data["order_class"],
            department=data["department"],
            reason=data["reason"],
            **form.data_for_service(),
        )
        if ok:
            messages.success(request, _("The department was added to the routing matrix."))
            return redirect("orders:routes")
    return _page(request, "orders/config/form.html", {"form": form, "kind": "route"})


@permission_required("orders.configure")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def route_edit(request, pk):
    route = get_restricted_or_404(
        ReviewRoute.objects.select_related("department"), request.user, "configure", pk=pk
    )
    form = f.RouteForm(request.POST or None, route=route, initial=f.RouteForm.initial_for(route))
    if request.method == "POST" and form.is_valid():
        ok, _route = run_service(
            form,
            services_config.update_route,
            request.user,
            route,
            data=form.data_for_service(),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("orders:routes")
    return _page(request, "orders/config/form.html", {"form": form, "kind": "route", "entry": route})


@permission_required("orders.configure")
def rule_list(request):
    """The approval authority (核决权限): rules in priority order (R-OR-6)."""
    rules = ApprovalRule.objects.prefetch_related("approver_roles").order_by("priority", "pk")
    return _page(request, "orders/config/rules.html", {"rules": rules})


@permission_required("orders.configure")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def rule_add(request):
    form = f.RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, _rule = run_service(
            form,
            services_config.create_rule,
            request.user,
            data=form.data_for_service(),
            approver_roles=list(form.cleaned_data["approver_roles"]),
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The approval rule was added."))
            return redirect("orders:rules")
    return _page(request, "orders/config/form.html", {"form": form, "kind": "rule"})


@permission_required("orders.configure")
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def rule_edit(request, pk):
    rule = get_restricted_or_404(ApprovalRule, request.user, "configure", pk=pk)
    form = f.RuleForm(request.POST or None, initial=f.RuleForm.initial_for(rule))
    if request.method == "POST" and form.is_valid():
        ok, _rule = run_service(
            form,
            services_config.update_rule,
            request.user,
            rule,
            data=form.data_for_service(),
            approver_roles=list(form.cleaned_data["approver_roles"]),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("orders:rules")
    return _page(request, "orders/config/form.html", {"form": form, "kind": "rule", "entry": rule})


# --- dashboard tasks and navigation ---------------------------------------------------------------
def _order_title(order):
    customer = order.customer
    return f"{order.number} {customer.short_name or customer.name}"


def reviews_to_sign(user):
    """Task provider: pending current reviews of my department on orders (or changes) under review."""
    if not user.department_id or not has_perm(user, "orders.review"):
        return []
    now = timezone.now()
    qs = (
        OrderReview.objects.restrict(user, "review")
        .filter(department_id=user.department_id, status=ReviewStatus.PENDING)
        .filter(
            Q(change_request__isnull=True, order__status__in=REVIEWABLE_STATUSES)
            | Q(change_request__status=ChangeStatus.UNDER_REVIEW)
        )
        .select_related("order", "order__customer", "change_request")
        .order_by("due_at", "pk")[:TASK_LIMIT]
    )
    return [
        {
            "title": _order_title(r.order) + (f" · {r.change_request.number}" if r.change_request_id else ""),
            "url": reverse("orders:review_sign", args=[r.pk]),
            "due_at": r.due_at,
            "overdue": r.due_at is not None and r.due_at < now,
            "kind": "orders.reviews",
        }
        for r in qs
    ]


def approvals_waiting(user):
    """Task provider: orders awaiting approval whose approval rule names one of my roles."""
    if not has_perm(user, "orders.approve"):
        return []
    qs = (
        Order.objects.restrict(user, "approve")
        .filter(status=OrderStatus.AWAITING_APPROVAL)
        .select_related("customer")
        .order_by("reviews_completed_at", "pk")
    )
    tasks = []
    for order in qs[:200]:  # the rule is decided per order (amount, class, tender, export)
        try:
            rule = authority.rule_for(order)
        except DomainError:
            continue
        if authority.may_approve(user, rule):
            tasks.append(
                {
                    "title": _order_title(order),
                    "url": _detail_url(order, "approval"),
                    "due_at": None,
                    "overdue": False,
                    "kind": "orders.approvals",
                }
            )
        if len(tasks) >= TASK_LIMIT:
            break
    return tasks


def changes_to_acknowledge(user):
    """Task provider: applied changes my department has not acknowledged yet."""
    if not user.department_id or not has_perm(user, "orders.acknowledge"):
        return []
    now = timezone.now()
    # The department is the scope here: a department that only received a production notice
    # or a shipment acknowledges changes of orders outside its review scope.
    qs = (
        ChangeAcknowledgement.objects.filter(department_id=user.department_id, acknowledged_at__isnull=True)
        .select_related("change_request", "order", "order__customer")
        .order_by("due_at", "pk")[:TASK_LIMIT]
    )
    return [
        {
            "title": f"{ack.change_request.number} · {_order_title(ack.order)}",
            "url": reverse("orders:change_detail", args=[ack.change_request_id]),
            "due_at": ack.due_at,
            "overdue": ack.due_at is not None and ack.due_at < now,
            "kind": "orders.acknowledgements",
        }
        for ack in qs
    ]


def overdue_reviews(user):
    """Task provider for order owners and sales managers: reviews past their due time."""
    if not has_perm(user, "orders.change"):
        return []
    mine = Order.objects.restrict(user, "change").values("pk")
    qs = (
        OrderReview.objects.filter(
            order__in=mine,
            status=ReviewStatus.PENDING,
            due_at__lt=timezone.now(),
        )
        .filter(
            Q(change_request__isnull=True, order__status__in=REVIEWABLE_STATUSES)
            | Q(change_request__status=ChangeStatus.UNDER_REVIEW)
        )
        .select_related("order", "order__customer", "department")
        .order_by("due_at", "pk")[:TASK_LIMIT]
    )
    return [
        {
            "title": f"{_order_title(r.order)} · {r.department}",
            "url": _detail_url(r.order, "reviews"),
            "due_at": r.due_at,
            "overdue": True,
            "kind": "orders.overdue",
        }
        for r in qs
    ]


def register_ui():
    """Navigation entry and task providers (called from OrdersConfig.ready())."""
    ui.nav.register("orders", gettext_lazy("Orders"), "orders:list", permission="orders.view", order=120)
    ui.tasks.register(
        "orders.reviews", gettext_lazy("Order reviews waiting for my signature"), reviews_to_sign
    )
    ui.tasks.register("orders.approvals", gettext_lazy("Orders waiting for my approval"), approvals_waiting)
    ui.tasks.register(
        "orders.acknowledgements", gettext_lazy("Order changes to acknowledge"), changes_to_acknowledge
    )
    ui.tasks.register("orders.overdue", gettext_lazy("Overdue order reviews"), overdue_reviews)
    ui.tasks.register(
        "orders.notices", gettext_lazy("Production notices to acknowledge"), views_after.my_production_notices
    )
