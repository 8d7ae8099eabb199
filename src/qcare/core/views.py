"""Shell views: the "my tasks" dashboard and the error pages (400/403/404/500)."""

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from qcare.core import ui

logger = logging.getLogger(__name__)


@login_required
def dashboard(request):
    """Everything waiting for the current user, from every app's task provider."""
    groups = ui.tasks.for_user(request.user)
    return render(request, "core/dashboard.html", {"task_groups": groups, "nav_active": "dashboard"})


def _error_page(request, template, status):
    return render(request, template, status=status)


def bad_request(request, exception=None):
    return _error_page(request, "400.html", 400)


def permission_denied(request, exception=None):
    # A translated message from NotPermitted/PermissionDenied is shown; Django's own default is not.
    message = str(exception) if exception and str(exception) else ""
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request, exception=None):
    return _error_page(request, "404.html", 404)


def server_error(request):
    """500 without a database or request context: the database may be what failed."""
    try:
        body = loader.get_template("500.html").render({})
    except Exception:  # the template engine itself failed: last resort is plain text
        logger.exception("500 template failed")
        body = "Server error / 服务器错误 (500)"
    return HttpResponseServerError(body)
