"""Inbox and dead-letter screens. Both work without JavaScript; htmx swaps fragments."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qcare.accounts.permissions import has_perm
from qcare.core.errors import NotFound
from qcare.notifications import services
from qcare.notifications.models import WorkerHeartbeat

PAGE_SIZE = 25


@login_required
def inbox(request):
    """My notifications, unread first, 25 per page."""
    page = Paginator(services.inbox_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "notifications/_inbox_list.html" if request.htmx else "notifications/inbox.html"
    return render(request, template, {"page": page, "nav_active": "notifications"})


@login_required
@require_POST
def mark_read(request, pk):
    """Mark one notification read; htmx gets the updated row, others are redirected back."""
    try:
        notification = services.mark_read(request.user, pk)
    except NotFound:
        raise Http404
    if request.htmx:
        response = render(request, "notifications/_inbox_row.html", {"n": notification})
        response["HX-Trigger"] = "qcare:inbox-changed"
        return response
    return _back(request)


@login_required
@require_POST
def mark_all_read(request):
    count = services.mark_all_read(request.user)
    messages.success(request, _("%(count)d notification(s) marked as read.") % {"count": count})
    if request.htmx:
        response = inbox(request)
        response["HX-Trigger"] = "qcare:inbox-changed"
        return response
    return _back(request)


@login_required
def open_notification(request, pk):
    """Mark read and go to the record the notification is about (a GET link in the list)."""
    try:
        notification = services.mark_read(request.user, pk)
    except NotFound:
        raise Http404
    if notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect(notification.url)
    return redirect("notifications:inbox")


def _require_admin(request):
    if not has_perm(request.user, "notifications.admin"):
        raise PermissionDenied


@login_required
def dead_letters(request):
    """Failed and dead e-mails with their last error, and the workers' last sign of life."""
    _require_admin(request)
    page = Paginator(services.undelivered().select_related("recipient"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "workers": WorkerHeartbeat.objects.all()[:20],
        "nav_active": "notifications.dead",
    }
    return render(request, "notifications/dead.html", context)


@login_required
@require_POST
def retry(request, pk=None):
    """Put one (or, without ``pk``, every) undelivered e-mail back in the queue."""
    _require_admin(request)
    count = services.retry(request.user, None if pk is None else [pk])
    messages.success(request, _("%(count)d e-mail(s) queued again.") % {"count": count})
    return redirect("notifications:dead")


def _back(request):
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notifications:inbox")
