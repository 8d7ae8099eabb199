"""Screens after approval (R-OR-7…12): change requests (合同变更), order versions, production
notices (生产通知单), shipments (出货单), the sales record (销售记录), traceability (追溯),
metrics, and the contract review record (合同评审表) as printable HTML and PDF.

Views only parse input, call a service or selector and choose the response (DESIGN rule 1).
Records are fetched through ``restrict(user, action)``: outside the user's scope is a 404,
a missing permission a 403. Every page works without JavaScript.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qcare.accounts.permissions import has_perm
from qcare.attachments.models import Attachment
from qcare.audit.services import log_event
from qcare.catalog.models import Product
from qcare.core import signatures
from qcare.core.decorators import permission_required
from qcare.core.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from qcare.core.forms import apply_domain_error, domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, DateRangeFilter, Listing, ListingForm
from qcare.core.models import get_restricted_or_404
from qcare.core.pdf import render_pdf
from qcare.customers.models import Customer
from qcare.orders import authority, exports, review_record, selectors, services_change, services_fulfil
from qcare.orders import forms_after as f
from qcare.orders.choices import (
    APPROVED_STATUSES,
    OPEN_CHANGE_STATUSES,
    ChangeStatus,
    NoticeStatus,
    ReviewStatus,
)
from qcare.orders.content import HEADER_FIELDS, LINE_FIELDS, diff_data, order_data
from qcare.orders.models import (
    ChangeAcknowledgement,
    ChangeRequest,
    Order,
    OrderReview,
    OrderVersion,
    ProductionNotice,
    Shipment,
    ShipmentLine,
)

NAV = {"nav_active": "orders"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRODUCTION = "production"


def service_view(view):
    """Sign-in required, GET/POST only, NotFound → 404 and NotPermitted → 403."""
    return login_required(require_http_methods(["GET", "POST"])(domain_errors_to_http(view)))


def post_view(view):
    return login_required(require_POST(domain_errors_to_http(view)))


def _order(request, pk, action="view"):
    qs = Order.objects.select_related("customer", "owner", "department")
    return get_restricted_or_404(qs, request.user, action, pk=pk)


def _change(request, pk, action="view"):
    qs = ChangeRequest.objects.select_related("order__customer", "requested_by", "decided_by")
    return get_restricted_or_404(qs, request.user, action, pk=pk)


def _can(user, perm, obj):
    """Does ``user`` hold ``perm`` ("orders.x") on ``obj`` (its scope included)?"""
    if not has_perm(user, perm):
        return False
    return type(obj).objects.restrict(user, perm.split(".", 1)[1]).filter(pk=obj.pk).exists()


def _order_url(order):
    return reverse("orders:detail", args=[order.pk])


def _call(form, formset, rows, service, *args, field_of=None, **kwargs):
    """``run_service`` for a form with rows: ``lines.<i>.<field>`` errors go to row ``rows[i]``."""
    try:
        return True, service(*args, **kwargs)
    except NotFound:
        raise Http404()
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        leftover = {}
        for key, msgs in error.errors.items():
            index, field = _row_key(key)
            row = rows[index] if index is not None and index < len(rows) else None
            field = (field_of or {}).get(field, field)
            if row is None or not formset.put_error(row, field, msgs):
                leftover[key.removeprefix("header.")] = msgs
        error.errors = leftover
        apply_domain_error(form, error)
        if not form.non_field_errors():
            form.add_error(None, str(error.message))
        return False, None


def _row_key(key):
    """``"lines.3.quantity"`` → ``(3, "quantity")``; anything else → ``(None, None)``."""
    parts = key.split(".")
    if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
        return int(parts[1]), (parts[2] if len(parts) > 2 else None)
    return None, None


# --- change requests (R-OR-8) -----------------------------------------------------------------
def _product_choices(*datas):
    """Active products plus those already on the lines (a retired product stays selectable)."""
    used = {line.get("product") for data in datas for line in data["lines"]}
    rows = Product.objects.filter(Q(is_active=True) | Q(pk__in=used)).order_by("code")
    return [(pk, f"{code} {name}") for pk, code, name in rows.values_list("pk", "code", "name")]


def _change_forms(request, base, *, initial, change=None):
    """The change form and its line formset (bound on POST); "add a line" grows the formset."""
    data = request.POST if request.method == "POST" else None
    documents = Attachment.objects.for_object(change) if change is not None else None
    form = f.ChangeForm(data, initial=initial, documents=documents)
    kwargs = {"product_choices": _product_choices(base)}
    formset = f.ChangeLineFormSet(data, prefix="lines", initial=f.line_initial(base), form_kwargs=kwargs)
    if data is not None and "add_line" in data:
        formset = formset.add_row()
    return form, formset


def _save_change(request, form, formset, base, service, *args, **kwargs):
    """Build the proposal from the forms and call the change service; errors land on the rows."""
    proposed, rows = f.proposed_data(form, formset, base)
    data = form.cleaned_data
    if "agreement_document" in form.fields:
        kwargs["customer_agreement_attachment"] = data.get("agreement_document")
    return _call(
        form,
        formset,
        rows,
        service,
        *args,
        proposed=proposed,
        reason=data["reason"],
        customer_agreed=data["customer_agreed"],
        customer_agreement=data["customer_agreement"],
        **kwargs,
    )


def _change_page(request, form, formset, *, order, change=None):
    context = {
        "form": form,
        "formset": formset,
        "order": order,
        "change": change,
        "order_url": _order_url(order),
    }
    shipped = {line.line_no: line.shipped_quantity for line in order.lines.all()}
    context["rows"] = [(row, shipped.get(_int(row["line_no"].value()))) for row in formset.forms]
    return render(request, "orders/after/change_form.html", context | NAV)


@service_view
def change_create(request, pk):
    """A change request on an approved order, prefilled with the order's current content."""
    order = _order(request, pk, "change")
    if order.status not in APPROVED_STATUSES:
        messages.error(request, _("Only an approved order can be changed through a change request."))
        return redirect(_order_url(order))
    open_change = order.change_requests.filter(status__in=OPEN_CHANGE_STATUSES).first()
    if open_change is not None:
        messages.info(
            request, _("This order already has an open change request: %(n)s.") % {"n": open_change}
        )
        return redirect("orders:change_detail", pk=open_change.pk)
    base = order_data(order)
    initial = f.ChangeForm.initial_from(base) | {"version": order.version}
    form, formset = _change_forms(request, base, initial=initial)
    if request.method == "POST" and "add_line" not in request.POST and form.is_valid() & formset.is_valid():
        ok, change = _save_change(
            request,
            form,
            formset,
            base,
            services_change.create_change_request,
            request.user,
            order,
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(
                request,
                _(
                    "Change request %(number)s was saved. Check the changes, attach the customer's "
                    "agreement and submit it."
                )
                % {"number": change.number},
            )
            return redirect("orders:change_detail", pk=change.pk)
    return _change_page(request, form, formset, order=order)


@service_view
def change_edit(request, pk):
    """Edit a draft change request (the proposal, reason and customer agreement)."""
    change = _change(request, pk, "change")
    if change.status != ChangeStatus.DRAFT:
        messages.error(request, _("Only a draft change request can be edited."))
        return redirect("orders:change_detail", pk=change.pk)
    base = change.proposed
    initial = f.ChangeForm.initial_from(base, change)
    form, formset = _change_forms(request, base, initial=initial, change=change)
    if request.method == "POST" and "add_line" not in request.POST and form.is_valid() & formset.is_valid():
        ok, _c = _save_change(
            request,
            form,
            formset,
            base,
            services_change.update_change_request,
            request.user,
            change,
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("orders:change_detail", pk=change.pk)
    return _change_page(request, form, formset, order=change.order, change=change)


def _change_reviews(change):
    return list(
        OrderReview.objects.filter(change_request=change)
        .select_related("department", "signature", "reviewer")
        .order_by("department__code", "round")
    )


def _sign_url(review):
    """The sign form of a review (the order screens' ``orders:review_sign``)."""
    return reverse("orders:review_sign", args=[review.pk])


@service_view
def change_detail(request, pk):
    """The change: diff (old struck through, new), status, reviews, decision, acknowledgements."""
    change = _change(request, pk)
    user = request.user
    order = change.order
    reviews = _change_reviews(change)
    is_open = change.status in OPEN_CHANGE_STATUSES
    can_change = is_open and _can(user, "orders.change", change)
    my_dept = user.department_id
    for review in reviews:
        review.sign_url = ""
        if review.status == ReviewStatus.PENDING and review.department_id == my_dept:
            review.sign_url = _sign_url(review) if has_perm(user, "orders.review") else ""
    acks = list(
        change.acknowledgements.select_related("department", "acknowledged_by").order_by("department__code")
    )
    can_ack = has_perm(user, "orders.acknowledge")
    for ack in acks:
        ack.mine = can_ack and ack.acknowledged_at is None and ack.department_id == my_dept
    context = {
        "change": change,
        "order": order,
        "order_url": _order_url(order),
        "diff": review_record.diff_rows(change.diff),
        "reviews": reviews,
        "acks": acks,
        "can_edit": can_change and change.status == ChangeStatus.DRAFT,
        "can_submit": can_change and change.status == ChangeStatus.DRAFT,
        "can_withdraw": can_change,
        "can_decide": change.status == ChangeStatus.AWAITING_APPROVAL
        and _can(user, "orders.approve", change),
        "now": timezone.now(),
    }
    return render(request, "orders/after/change_detail.html", context | NAV)


@post_view
def change_submit(request, pk):
    """Submit a draft change for re-review (customer agreement required by the service)."""
    change = _change(request, pk, "change")
    try:
        services_change.submit_change_request(request.user, change)
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        _flash_error(request, error)
    else:
        messages.success(request, _("The change request was submitted."))
    return redirect("orders:change_detail", pk=change.pk)


def _flash_error(request, error):
    """A refused action without a form: the service's message (and field messages) on the page."""
    texts = [str(error.message)] + [str(m) for msgs in error.errors.values() for m in msgs]
    messages.error(request, " ".join(dict.fromkeys(texts)))


def _decision_page(request, change, form, *, title, danger=False, intro="", problems=()):
    context = {
        "problems": problems,
        "change": change,
        "order": change.order,
        "form": form,
        "page_heading": title,
        "danger": danger,
        "intro": intro,
        "back_url": reverse("orders:change_detail", args=[change.pk]),
        "order_url": _order_url(change.order),
        "diff": review_record.diff_rows(change.diff),
    }
    return render(request, "orders/after/decision.html", context | NAV)


def _posted(request):
    """The POST data, or None on GET (an empty POST — a bare button — is still a submission)."""
    return request.POST if request.method == "POST" else None


def _require(user, perm):
    if not has_perm(user, perm):
        raise PermissionDenied


@service_view
def change_approve(request, pk):
    """The approver signs the change (authority rule checked by the service); it is applied."""
    _require(request.user, "orders.approve")
    change = _change(request, pk)
    form = f.DecisionForm(_posted(request), require_username=signatures.session_needs_username(request))
    if request.method == "POST" and form.is_valid():
        ok, _c = run_service(
            form, services_change.approve_change_request, request.user, change, **form.signer_kwargs()
        )
        if ok:
            signatures.note_session_signed(request)
            messages.success(request, _("The change was approved and applied to the order."))
            return redirect("orders:change_detail", pk=change.pk)
    title = _("Approve change %(number)s") % {"number": change.number}
    problems = services_change.approval_problems(change) + _authority_problems(request.user, change)
    return _decision_page(request, change, form, title=title, problems=problems)


def _authority_problems(user, change):
    """Whether the approval authority of the order *as changed* names ``user`` (shown before signing)."""
    try:
        order = services_change.order_as_changed(change.order, change.proposed)
        authority.require_approver(user, authority.rule_for(order))
    except DomainError as error:
        return [str(error.message)]
    return []


@service_view
def change_reject(request, pk):
    """The approver rejects the change with a reason and a signature; the order stays as it is."""
    _require(request.user, "orders.approve")
    change = _change(request, pk)
    form = f.RejectForm(_posted(request), require_username=signatures.session_needs_username(request))
    if request.method == "POST" and form.is_valid():
        ok, _c = run_service(
            form, services_change.reject_change_request, request.user, change, **form.signer_kwargs()
        )
        if ok:
            signatures.note_session_signed(request)
            messages.success(request, _("The change request was rejected."))
            return redirect("orders:change_detail", pk=change.pk)
    title = _("Reject change %(number)s") % {"number": change.number}
    return _decision_page(request, change, form, title=title, danger=True)


@service_view
def change_withdraw(request, pk):
    """Sales withdraws an open change request with a reason."""
    change = _change(request, pk, "change")
    form = f.ReasonForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        ok, _c = run_service(
            form,
            services_change.withdraw_change_request,
            request.user,
            change,
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The change request was withdrawn."))
            return redirect("orders:change_detail", pk=change.pk)
    title = _("Withdraw change %(number)s") % {"number": change.number}
    return _decision_page(request, change, form, title=title, danger=True)


@service_view
def change_acknowledge(request, pk):
    """My department takes note of an applied change (a comment is optional)."""
    ack = get_restricted_or_404(
        ChangeAcknowledgement.objects.select_related("change_request__order", "department"),
        request.user,
        "view",
        pk=pk,
    )
    change = ack.change_request
    form = f.CommentForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        ok, _a = run_service(
            form, services_change.acknowledge_change, request.user, ack, comment=form.cleaned_data["comment"]
        )
        if ok:
            messages.success(request, _("Your department's acknowledgement was recorded."))
            return redirect("orders:change_detail", pk=change.pk)
    title = _("Acknowledge change %(number)s for %(department)s") % {
        "number": change.number,
        "department": ack.department.display_name,
    }
    return _decision_page(request, change, form, title=title)


@permission_required("orders.view")
def change_list(request):
    """Every change request the user may see, with status, date and text filters."""
    qs = ChangeRequest.objects.restrict(request.user, "view").select_related(
        "order__customer", "requested_by"
    )
    listing = Listing(
        request,
        qs,
        search_fields=("number", "order__number", "order__customer__name", "reason"),
        filters=[
            ChoiceFilter("status", _("Status"), ChangeStatus.choices),
            DateRangeFilter("created", _("Created"), "created_at"),
        ],
        columns=[
            Column("number", _("Change number")),
            Column("order", _("Order number"), sort="order__number"),
            Column("customer", _("Customer"), sort=None),
            Column("reason", _("Reason"), sort=None),
            Column("status", _("Status")),
            Column("created", _("Created"), sort="created_at"),
        ],
        default_sort="-number",
        row_template="orders/after/_change_row.html",
        empty_message=_("No change requests match."),
    )
    return listing.render("orders/after/list.html", {"page_heading": _("Change requests")} | NAV)


# --- versions (R-OR-8: old and new remain viewable) -------------------------------------------
def version_data(content):
    """The data shape of a stored version (``{"header", "lines"}``, possibly under "data")."""
    if isinstance(content, dict) and "data" in content and isinstance(content["data"], dict):
        content = content["data"]
    if isinstance(content, dict) and isinstance(content.get("lines"), list):
        return {"header": content.get("header") or {}, "lines": content["lines"]}
    return {"header": {}, "lines": []}


def _pick(versions, value, default):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return next((v for v in versions if v.number == number), default)


def _compare(old, new):
    """Header rows and line rows of two versions side by side, differences flagged."""
    products = review_record.products_of(old["lines"] + new["lines"])
    header = []
    for name in HEADER_FIELDS:
        a, b = old["header"].get(name), new["header"].get(name)
        header.append(
            {
                "label": review_record.field_label(name),
                "old": review_record.value_text(name, a, products),
                "new": review_record.value_text(name, b, products),
                "changed": a != b,
            }
        )
    old_lines = {line["line_no"]: line for line in old["lines"]}
    new_lines = {line["line_no"]: line for line in new["lines"]}
    lines = []
    for line_no in sorted(set(old_lines) | set(new_lines)):
        a, b = old_lines.get(line_no), new_lines.get(line_no)
        cells = []
        for name in LINE_FIELDS:
            va, vb = (a or {}).get(name), (b or {}).get(name)
            cells.append(
                {
                    "label": review_record.field_label(name, line=True),
                    "old": review_record.value_text(name, va, products) if a else "",
                    "new": review_record.value_text(name, vb, products) if b else "",
                    "changed": a is not None and b is not None and va != vb,
                }
            )
        lines.append({"line_no": line_no, "added": a is None, "removed": b is None, "cells": cells})
    return header, lines


@service_view
def versions(request, pk):
    """The order's frozen versions (approval = 1, each applied change +1), two side by side."""
    order = _order(request, pk)
    rows = list(
        OrderVersion.objects.filter(order=order)
        .select_related("created_by", "change_request")
        .order_by("number")
    )
    context = {"order": order, "order_url": _order_url(order), "versions": rows}
    if rows:
        new = _pick(rows, request.GET.get("b"), rows[-1])
        old = _pick(rows, request.GET.get("a"), rows[-2] if len(rows) > 1 else rows[-1])
        old_data, new_data = version_data(old.content), version_data(new.content)
        header, lines = _compare(old_data, new_data)
        context |= {
            "old": old,
            "new": new,
            "header_rows": header,
            "line_rows": lines,
            "diff": review_record.diff_rows(diff_data(old_data, new_data)),
        }
    return render(request, "orders/after/versions.html", context | NAV)


# --- production notices (R-OR-9) --------------------------------------------------------------
def _open_lines(order):
    return [
        line for line in order.lines.select_related("product").order_by("line_no") if line.open_quantity > 0
    ]


def _default_plan(line, today):
    planned = line.planned_date or line.requested_date
    return planned if planned and planned >= today else None


@service_view
def notice_create(request, pk):
    """Issue a production notice: the open lines, quantity and planned date each (交货计划)."""
    order = _order(request, pk, "issue_notice")
    lines = _open_lines(order)
    today = timezone.localdate()
    initial = [
        {"order_line": line.pk, "quantity": line.open_quantity, "planned_date": _default_plan(line, today)}
        for line in lines
    ]
    data = request.POST if request.method == "POST" else None
    form = f.NoticeForm(data)
    formset = f.NoticeLineFormSet(data, prefix="lines", initial=initial)
    if data is not None and form.is_valid() & formset.is_valid():
        service_lines, rows = f.notice_lines(formset)
        ok, notice = _call(
            form,
            formset,
            rows,
            services_fulfil.issue_production_notice,
            request.user,
            order,
            lines=service_lines,
            notes=form.cleaned_data["notes"],
        )
        if ok:
            messages.success(
                request, _("Production notice %(number)s was issued.") % {"number": notice.number}
            )
            return redirect("orders:notice_detail", pk=notice.pk)
    by_pk = {line.pk: line for line in lines}
    rows = [(row, by_pk.get(_int(row["order_line"].value()))) for row in formset.forms]
    context = {"form": form, "formset": formset, "rows": rows, "order": order, "order_url": _order_url(order)}
    return render(request, "orders/after/notice_form.html", context | NAV)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@service_view
def notice_detail(request, pk):
    """A production notice with its lines; production acknowledges it here."""
    notice = get_restricted_or_404(
        ProductionNotice.objects.select_related("order__customer", "issued_by", "acknowledged_by"),
        request.user,
        "view",
        pk=pk,
    )
    user = request.user
    can_ack = (
        notice.status == NoticeStatus.ISSUED
        and getattr(user.department, "code", None) == PRODUCTION
        and _can(user, "orders.acknowledge", notice)
    )
    context = {
        "notice": notice,
        "order": notice.order,
        "order_url": _order_url(notice.order),
        "lines": notice.lines.select_related("order_line__product").order_by("order_line__line_no"),
        "can_ack": can_ack,
        "form": f.CommentForm(),
    }
    return render(request, "orders/after/notice_detail.html", context | NAV)


@post_view
def notice_acknowledge(request, pk):
    """Production confirms it has received and planned the notice."""
    notice = get_restricted_or_404(ProductionNotice, request.user, "view", pk=pk)
    form = f.CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        services_fulfil.acknowledge_production_notice(request.user, notice, comment=comment)
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        _flash_error(request, error)
    else:
        messages.success(request, _("The production notice was acknowledged."))
    return redirect("orders:notice_detail", pk=notice.pk)


@permission_required("orders.view")
def notice_list(request):
    """Every production notice the user may see, with status, date and text filters."""
    qs = ProductionNotice.objects.restrict(request.user, "view").select_related(
        "order__customer", "issued_by"
    )
    listing = Listing(
        request,
        qs,
        search_fields=("number", "order__number", "order__customer__name"),
        filters=[
            ChoiceFilter("status", _("Status"), NoticeStatus.choices),
            DateRangeFilter("issued", _("Issued"), "issued_at"),
        ],
        columns=[
            Column("number", _("Notice number")),
            Column("order", _("Order number"), sort="order__number"),
            Column("customer", _("Customer"), sort=None),
            Column("status", _("Status")),
            Column("issued", _("Issued"), sort="issued_at"),
            Column("acknowledged", _("Acknowledged"), sort="acknowledged_at"),
        ],
        default_sort="-number",
        row_template="orders/after/_notice_row.html",
        empty_message=_("No production notices match."),
    )
    return listing.render("orders/after/list.html", {"page_heading": _("Production notices")} | NAV)


# --- shipments (R-OR-9) -----------------------------------------------------------------------
def _line_choices(lines):
    return [
        (
            line.pk,
            _("Line %(no)s · %(product)s · open %(open)s %(unit)s")
            % {
                "no": line.line_no,
                "product": line.product,
                "open": review_record.quantity(line.open_quantity),
                "unit": line.unit,
            },
        )
        for line in lines
    ]


@service_view
def shipment_create(request, pk):
    """Record a shipment: per open line a quantity or serial numbers, lot, production and expiry dates."""
    order = _order(request, pk, "ship")
    lines = _open_lines(order)
    if order.status not in APPROVED_STATUSES or not lines:
        messages.error(request, _("This order has nothing left to ship."))
        return redirect(_order_url(order))
    data = request.POST if request.method == "POST" else None
    form = f.ShipmentForm(data, initial={"shipped_on": timezone.localdate()})
    formset = f.ShipmentLineFormSet(
        data,
        prefix="lines",
        initial=[{"order_line": line.pk} for line in lines],
        form_kwargs={"line_choices": _line_choices(lines)},
    )
    if data is not None and "add_line" in data:
        formset = formset.add_row()
    elif data is not None and form.is_valid() & formset.is_valid():
        service_lines, rows = f.shipment_lines(formset)
        ok, shipment = _call(
            form,
            formset,
            rows,
            services_fulfil.create_shipment,
            request.user,
            order,
            field_of=f.SHIPMENT_FIELD_OF,
            lines=service_lines,
            **form.cleaned_data,
        )
        if ok:
            messages.success(request, _("Shipment %(number)s was recorded.") % {"number": shipment.number})
            return redirect("orders:shipment_detail", pk=shipment.pk)
    open_change = order.change_requests.filter(status__in=OPEN_CHANGE_STATUSES).first()
    context = {
        "form": form,
        "formset": formset,
        "order": order,
        "order_url": _order_url(order),
        "lines": lines,
        "open_change": open_change,
    }
    return render(request, "orders/after/shipment_form.html", context | NAV)


@service_view
def shipment_detail(request, pk):
    """A shipment with its lines, lot and serial numbers (each links to the trace)."""
    shipment = get_restricted_or_404(
        Shipment.objects.select_related("order", "customer", "shipped_by"), request.user, "view", pk=pk
    )
    lines = shipment.lines.select_related("order_line", "product").order_by("order_line__line_no", "pk")
    context = {
        "shipment": shipment,
        "order": shipment.order,
        "order_url": _order_url(shipment.order),
        "lines": lines,
    }
    return render(request, "orders/after/shipment_detail.html", context | NAV)


class _TextFilter:
    """Free text over one or more fields (any may contain it); ``exact`` for lot numbers."""

    def __init__(self, name, label, fields, exact=False):
        self.name, self.label, self.fields, self.exact = name, label, fields, exact

    def form_fields(self):
        return {self.name: forms.CharField(label=self.label, required=False, max_length=100)}

    def apply(self, qs, data):
        value = (data.get(self.name) or "").strip()
        if not value:
            return qs
        lookup = "exact" if self.exact else "icontains"
        condition = Q()
        for field in self.fields:
            condition |= Q(**{f"{field}__{lookup}": value})
        return qs.filter(condition)


@permission_required("orders.view")
def shipment_list(request):
    """Every shipment the user may see, by shipping date and customer."""
    qs = Shipment.objects.restrict(request.user, "view").select_related("order", "customer", "shipped_by")
    listing = Listing(
        request,
        qs,
        search_fields=("number", "order__number", "delivery_note_number", "waybill_number"),
        filters=[
            DateRangeFilter("shipped", _("Shipping date"), "shipped_on"),
            _TextFilter("customer", _("Customer"), ("customer__name", "customer__code")),
        ],
        columns=[
            Column("number", _("Shipment number")),
            Column("order", _("Order number"), sort="order__number"),
            Column("customer", _("Customer"), sort="customer__name"),
            Column("shipped", _("Shipping date"), sort="shipped_on"),
            Column("delivery_note", _("Delivery note number"), sort=None),
            Column("carrier", _("Carrier / waybill"), sort=None),
        ],
        default_sort="-shipped",
        row_template="orders/after/_shipment_row.html",
        empty_message=_("No shipments match."),
    )
    return listing.render("orders/after/list.html", {"page_heading": _("Shipments")} | NAV)


# --- sales records (R-OR-10) ------------------------------------------------------------------
class _FormOnlyFilter:
    """A field on the list's filter form whose filtering is done by the selector (not the Listing)."""

    def __init__(self, name, field):
        self.name, self.field = name, field

    def form_fields(self):
        return {self.name: self.field}

    def apply(self, qs, data):
        return qs


def _sales_record_filters():
    date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    text = {"required": False, "max_length": 100}
    return [
        _FormOnlyFilter("date_from", forms.DateField(label=_("Sale date from"), required=False, widget=date)),
        _FormOnlyFilter("date_to", forms.DateField(label=_("Sale date to"), required=False, widget=date)),
        _FormOnlyFilter("customer", forms.CharField(label=_("Customer (code or name)"), **text)),
        _FormOnlyFilter("product", forms.CharField(label=_("Product (code or name)"), **text)),
        _FormOnlyFilter("lot", forms.CharField(label=_("Lot number"), **text)),
        _FormOnlyFilter("serial", forms.CharField(label=_("Serial number"), **text)),
    ]


def _one_match(model, text, what):
    """The id of the one ``model`` row whose code is ``text`` or whose name contains it."""
    exact = list(model.objects.filter(code__iexact=text).values_list("pk", flat=True)[:2])
    if len(exact) == 1:
        return exact[0], None
    found = list(model.objects.filter(name__icontains=text).values_list("pk", flat=True)[:2])
    if len(found) == 1:
        return found[0], None
    if not found:
        return -1, _("No %(what)s matches “%(text)s”.") % {"what": what, "text": text}
    return -1, _("Several %(what)s match “%(text)s”; enter the code.") % {"what": what, "text": text}


def _filter_data(request, filters):
    """``(cleaned GET values, any invalid?)`` of a filter form (invalid values are left out)."""
    form = ListingForm(request.GET or None)
    for flt in filters:
        form.fields.update(flt.form_fields())
    if form.is_valid() or not request.GET:
        return getattr(form, "cleaned_data", {}), False
    return {k: v for k, v in form.cleaned_data.items() if k not in form.errors}, True


def sales_record_filters(data):
    """``(filters for selectors.sales_records, problems)`` from the list's cleaned GET data."""
    filters, problems = {}, []
    for name in ("date_from", "date_to"):
        if data.get(name):
            filters[name] = data[name]
    for name, model, what in (("customer", Customer, _("customer")), ("product", Product, _("product"))):
        text = (data.get(name) or "").strip()
        if text:
            filters[name], problem = _one_match(model, text, what)
            if problem:
                problems.append(problem)
    for name in ("lot", "serial"):
        text = (data.get(name) or "").strip()
        if text:
            filters[name] = text
    return filters, problems


@permission_required("orders.view")
def sales_records(request):
    """The medical-device sales record (销售记录): every field of R-OR-10, filterable, exportable."""
    form_filters = _sales_record_filters()
    data, _invalid = _filter_data(request, form_filters)
    filters, problems = sales_record_filters(data)
    qs = selectors.sales_records(request.user, **filters).select_related("shipment", "order")
    listing = Listing(
        request,
        qs,
        filters=form_filters,
        columns=[
            Column("sale", _("Sale date"), sort="sale_date"),
            Column("device", _("Device name"), sort="device_name"),
            Column("specification", _("Model / specification"), sort=None),
            Column("registration", _("Registration / filing number"), sort=None),
            Column("quantity", _("Quantity"), sort=None),
            Column("price", _("Unit price / amount"), sort=None),
            Column("lot", _("Lot / serial number"), sort="lot_number"),
            Column("expiry", _("Expiry date"), sort="expiry_date"),
            Column("manufacturer", _("Manufacturer and licence"), sort=None),
            Column("buyer", _("Buyer and licence"), sort="buyer_name"),
            Column("contact", _("Contact, phone, address"), sort=None),
            Column("documents", _("Shipment / order"), sort=None),
        ],
        default_sort="-sale",
        row_template="orders/after/_sales_record_row.html",
        empty_message=_("No sales records match."),
    )
    context = {
        "can_export": has_perm(request.user, "orders.export"),
        "page_heading": _("Sales records"),
        "problems": problems,
    }
    return listing.render("orders/after/sales_records.html", context | NAV)


def _xlsx_response(content, stem):
    response = HttpResponse(content, content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.xlsx"'
    return response


@permission_required("orders.export")
@require_GET
def sales_records_export(request):
    """The sales records as filtered on the list page (same GET parameters), as xlsx."""
    data, invalid = _filter_data(request, _sales_record_filters())
    filters, problems = sales_record_filters(data)
    back = reverse("orders:sales_records") + (f"?{request.GET.urlencode()}" if request.GET else "")
    if problems or invalid:  # never export more than the user asked for
        messages.error(request, " ".join(problems) or _("The export filters are not valid."))
        return redirect(back)
    try:
        content, _count = exports.export_sales_records(request.user, **filters)
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except ValidationFailed as error:
        messages.error(request, str(error.message))
        return redirect(back)
    return _xlsx_response(content, "sales-records")


# --- traceability (R-OR-11) -------------------------------------------------------------------
TRACE_PAGE_SIZE = 100


def _page(request, rows):
    return Paginator(rows, TRACE_PAGE_SIZE).get_page(request.GET.get("page"))


@permission_required("orders.view")
def trace(request):
    """From a lot or serial number to every shipment, customer, order and contract that has it."""
    form = f.TraceForm(request.GET or None)
    page = None
    if request.GET and form.is_valid():
        number, code = form.cleaned_data["number"], form.cleaned_data["product"]
        product = Product.objects.filter(code__iexact=code).first() if code else None
        if code and product is None:
            form.add_error("product", _("No product has this code."))
        elif form.cleaned_data["kind"] == "serial":
            page = _page(request, selectors.trace_serial(request.user, number, product=product))
        else:
            page = _page(request, selectors.trace_lot(request.user, number, product=product))
    context = {"form": form, "page": page, "page_heading": _("Traceability")}
    return render(request, "orders/after/trace.html", context | NAV)


@permission_required("orders.view")
def customer_lots(request, pk):
    """Every lot and serial number a customer received (for recalls and advisory notices).

    Shown to whoever may see the customer or any of its shipments; anyone else gets a 404.
    """
    user = request.user
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None or not (
        Customer.objects.restrict(user, "view").filter(pk=pk).exists()
        or ShipmentLine.objects.restrict(user, "view").filter(customer_id=pk).exists()
    ):
        raise Http404()
    page = _page(request, selectors.customer_lots(user, customer))
    context = {"customer": customer, "page": page, "page_heading": _("Lots and serial numbers received")}
    return render(request, "orders/after/customer_lots.html", context | NAV)


# --- metrics (R-OR-12) ------------------------------------------------------------------------
BAR_HEIGHT = 22
BAR_WIDTH = 420
LABEL_WIDTH = 190


def bar_chart(items, unit=""):
    """A horizontal bar chart for an inline SVG: ``[(label, value)]`` → bars with their geometry.

    Drawn on the server (no JavaScript library, no CDN): the template only writes <rect> and
    <text> elements. Coordinates are strings, so the locale never changes a decimal point.
    """
    values = [float(value or 0) for _label, value in items]
    top = max(values, default=0) or 1
    step = BAR_HEIGHT + 6
    bars = []
    for index, ((label, value), number) in enumerate(zip(items, values, strict=True)):
        width = BAR_WIDTH * number / top
        bars.append(
            {
                "label": str(label),
                "value": "—" if value is None else f"{number:,.1f}{unit}",
                "y": f"{index * step:.1f}",
                "text_y": f"{index * step + BAR_HEIGHT * 0.7:.1f}",
                "width": f"{width:.1f}",
                "value_x": f"{LABEL_WIDTH + width + 6:.1f}",
            }
        )
    return {
        "bars": bars,
        "height": str(max(len(bars) * step, step)),
        "width": str(LABEL_WIDTH + BAR_WIDTH + 90),
        "bar_x": str(LABEL_WIDTH),
        "bar_height": str(BAR_HEIGHT),
        "label_x": str(LABEL_WIDTH - 8),
    }


@permission_required("orders.view")
def metrics(request):
    """Review cycle time by class and department (working hours), changes after approval, on-time delivery."""
    form = f.YearForm(request.GET or None)
    year = form.chosen_year()
    report = selectors.review_cycle_report(request.user, year)
    changed, delivery = report["changed_after_approval"], report["on_time_delivery"]
    for row in (changed, *changed["by_class"], delivery):
        row["percent"] = _percent(row["share"])
    context = {
        "form": form,
        "year": year,
        "report": report,
        "page_heading": _("Contract review metrics"),
        "class_chart": bar_chart(_chart_items(report["review_cycle"]["by_class"]), " h"),
        "department_chart": bar_chart(_chart_items(report["review_cycle"]["by_department"]), " h"),
        "can_export": has_perm(request.user, "orders.export"),
    }
    return render(request, "orders/after/metrics.html", context | NAV)


def _percent(share):
    return "—" if share is None else f"{share * 100:.1f}%"


def _chart_items(rows):
    """``[(label, mean working hours)]`` of the report's rows that have something measured."""
    return [(row["label"], row["mean"]) for row in rows if row.get("count")]


@permission_required("orders.export")
@require_GET
def metrics_export(request):
    """The metrics of the chosen year as xlsx (``exports.export_metrics``, logged as an export)."""

    form = f.YearForm(request.GET or None)
    try:
        content = exports.export_metrics(request.user, form.chosen_year())
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    return _xlsx_response(content, f"review-metrics-{form.chosen_year()}")


# --- the review record (R-OR-7) ---------------------------------------------------------------
def _record_language(request):
    """``?lang=en`` / ``?lang=zh-hans`` prints in that language; otherwise the page's language."""
    wanted = (request.GET.get("lang") or "").lower()
    return wanted if wanted in ("en", "zh-hans") else translation.get_language()


@login_required
@require_GET
@domain_errors_to_http
def review_record_print(request, pk):
    """The 合同评审表 as a printable page (same content as the PDF); logged as a printout."""
    order = _order(request, pk)
    language = _record_language(request)
    with translation.override(language):  # the whole page in the language of the record
        document = review_record.build_document(order, request.user)
        log_event(
            "export", obj=order, actor=request.user, data={"format": "print", "record": "review_record"}
        )
        context = {
            "order": order,
            "document": document,
            "sections": review_record.section_kinds(document),
            "language": language,
            "order_url": _order_url(order),
        }
        return render(request, "orders/after/review_record.html", context)


@login_required
@require_GET
@domain_errors_to_http
def review_record_pdf(request, pk):
    """The 合同评审表 as a PDF (Chinese or English); logged as an export."""
    order = _order(request, pk)
    language = _record_language(request)
    with translation.override(language):
        document = review_record.build_document(order, request.user)
        try:
            content = render_pdf(document)
        except DomainError as error:  # no Chinese font: say so instead of a broken file
            return HttpResponse(
                str(error.message), status=getattr(error, "status", 503), content_type="text/plain"
            )
    log_event("export", obj=order, actor=request.user, data={"format": "pdf", "record": "review_record"})
    response = HttpResponse(content, content_type="application/pdf")
    name = order.review_number or order.number
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# --- dashboard task (for ui.tasks: ``register_ui`` of views.py may register it) ----------------
def my_production_notices(user):
    """Task provider: production notices waiting for production's acknowledgement."""
    if getattr(user.department, "code", None) != PRODUCTION or not has_perm(user, "orders.acknowledge"):
        return []
    qs = (
        ProductionNotice.objects.restrict(user, "view")
        .filter(status=NoticeStatus.ISSUED)
        .select_related("order")
        .order_by("issued_at", "pk")[:20]
    )
    return [
        {
            "title": _("Production notice %(notice)s of order %(order)s")
            % {"notice": notice.number, "order": notice.order.number},
            "url": reverse("orders:notice_detail", args=[notice.pk]),
            "due_at": None,
            "overdue": False,
            "kind": "orders.production_notices",
        }
        for notice in qs
    ]
