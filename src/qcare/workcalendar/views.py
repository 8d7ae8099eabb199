"""Calendar admin screen (/calendar/): sites, working hours, per-site holidays."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qcare.accounts.permissions import has_perm
from qcare.core.errors import DomainError, NotFound, NotPermitted
from qcare.workcalendar import services
from qcare.workcalendar.forms import OverrideForm, RemoveOverrideForm, SiteForm
from qcare.workcalendar.models import CalendarOverride, Site
from qcare.workcalendar.rules import national_calendar


def _require_change(request):
    if not has_perm(request.user, "calendar.change"):
        raise PermissionDenied


def _apply(form, call):
    """Run a service; its DomainError becomes form errors. True when it succeeded."""
    try:
        call()
    except (NotPermitted, NotFound) as exc:
        raise PermissionDenied if isinstance(exc, NotPermitted) else Http404
    except DomainError as exc:
        for field, errors in (exc.errors or {"__all__": [str(exc.message)]}).items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return False
    return True


@login_required
def site_list(request):
    """All sites, and a form to add one."""
    _require_change(request)
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _apply(
            form,
            lambda: services.create_site(
                request.user,
                code=data["code"],
                name=data["name"],
                time_zone=data["time_zone"],
                country=data["country"],
                working_periods=form.working_periods(),
                is_default=data["is_default"],
                reason=data["reason"],
            ),
        ):
            messages.success(request, _("Site added."))
            return redirect("workcalendar:site", code=data["code"])
    sites = Site.objects.all()
    return render(
        request, "workcalendar/site_list.html", {"sites": sites, "form": form, "nav_active": "calendar"}
    )


@login_required
def site_detail(request, code):
    """Edit a site's working hours; list and add its overrides; show the national calendar."""
    _require_change(request)
    site = get_object_or_404(Site, code=code)
    form = SiteForm(request.POST or None, initial=SiteForm.initial_for(site), editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "country": data["country"],
            "working_periods": form.working_periods(),
            "is_default": data["is_default"],
        }
        if _apply(
            form, lambda: services.update_site(request.user, site, data=changes, reason=data["reason"])
        ):
            messages.success(request, _("Site saved."))
            return redirect("workcalendar:site", code=site.code)
        site.refresh_from_db()
    return _render_site(request, site, form=form)


def _render_site(request, site, *, form=None, override_form=None):
    year = _year(request)
    national = national_calendar(site.country, year)
    context = {
        "site": site,
        "form": form or SiteForm(initial=SiteForm.initial_for(site), editing=True),
        "override_form": override_form or OverrideForm(),
        "remove_form": RemoveOverrideForm(),
        "overrides": site.overrides.all(),
        "year": year,
        "national": national,
        "national_holidays": sorted(national.holidays),
        "national_working_days": sorted(national.working_days),
        "nav_active": "calendar",
    }
    return render(request, "workcalendar/site_detail.html", context)


def _year(request):
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        year = timezone.localdate().year
    return min(max(year, 2000), 2100)


@login_required
@require_POST
def add_override(request, code):
    _require_change(request)
    site = get_object_or_404(Site, code=code)
    form = OverrideForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        if _apply(
            form,
            lambda: services.add_override(
                request.user,
                site,
                date=data["date"],
                kind=data["kind"],
                note=data["note"],
                reason=data["reason"],
            ),
        ):
            messages.success(request, _("Override added."))
            return redirect("workcalendar:site", code=site.code)
    return _render_site(request, site, override_form=form)


@login_required
@require_POST
def remove_override(request, code, pk):
    _require_change(request)
    override = get_object_or_404(CalendarOverride, pk=pk, site__code=code)
    form = RemoveOverrideForm(request.POST)
    if form.is_valid() and _apply(
        form, lambda: services.remove_override(request.user, override, reason=form.cleaned_data["reason"])
    ):
        messages.success(request, _("Override removed."))
    else:
        messages.error(request, _("A reason is required to remove an override."))
    return redirect("workcalendar:site", code=code)
