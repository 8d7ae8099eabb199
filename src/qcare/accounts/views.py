"""Screens: sign-in, my account, API tokens, and the administration of users, departments, roles.

Views only parse input and call :mod:`qcare.accounts.services`; a DomainError becomes form
errors (400-class messages), NotPermitted a 403 and NotFound a 404.
"""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qcare.accounts import forms, services
from qcare.accounts.models import ApiToken, Department, Role, User
from qcare.accounts.permissions import all_permissions, has_perm, require_perm
from qcare.accounts.signals import SIGNED_OUT_REASON_KEY
from qcare.core.errors import DomainError, NotFound, NotPermitted
from qcare.core.models import Scope, get_restricted_or_404

PAGE_SIZE = 25


def domain_errors(view):
    """NotPermitted → 403, NotFound → 404 for the whole view."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotPermitted as exc:
            raise PermissionDenied(str(exc.message))
        except NotFound:
            raise Http404()

    return login_required(wrapper)


def _posted(request):
    """The POST data for a form on POST (even when empty, so an all-optional form validates), else None."""
    return request.POST if request.method == "POST" else None


def _form_error(form, exc):
    """Show a service's DomainError on the form (field errors where the field exists)."""
    if isinstance(exc, NotPermitted | NotFound):
        raise exc
    placed = False
    for field, msgs in exc.errors.items():
        for msg in msgs:
            form.add_error(field if field in form.fields else None, msg)
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))


# --- Sign-in ----------------------------------------------------------------------------

SIGNED_OUT_MESSAGES = {
    "idle": lambda: (
        _("You were signed out after %(minutes)d minutes of inactivity.")
        % {"minutes": settings.SESSION_IDLE_TIMEOUT // 60}
    ),
    "epoch": lambda: _("You were signed out because your password changed or all your sessions were ended."),
    "inactive": lambda: _("You were signed out because your account is no longer active."),
}


class LoginView(auth_views.LoginView):
    """Sign-in page; explains why the previous session ended and applies the user's language."""

    template_name = "accounts/login.html"
    authentication_form = forms.LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        reason = self.request.session.pop(SIGNED_OUT_REASON_KEY, None)
        if reason in SIGNED_OUT_MESSAGES:
            context["signed_out_message"] = SIGNED_OUT_MESSAGES[reason]()
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        language = getattr(self.request, "_qcare_set_language", None)
        if language:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        return response


class LogoutView(auth_views.LogoutView):
    """Sign-out (POST only, Django's default since 5.0)."""


@login_required
def password_change(request):
    form = forms.PasswordChangeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.change_own_password(
                request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                request=request,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Your password was changed. Your other sessions were signed out."))
            return redirect("accounts:profile")
    return render(
        request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200
    )


# --- My account -------------------------------------------------------------------------


@login_required
def profile(request):
    form = forms.ProfileForm(_posted(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_profile(request.user, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Your profile was saved."))
            response = redirect("accounts:profile")
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, request.user.language, samesite="Lax")
            return response
    return render(request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@login_required
def sign_out_other_sessions(request):
    """End every other session of the current user; this one continues."""
    from qcare.accounts.signals import SESSION_EPOCH_KEY

    user = services.sign_out_everywhere(request.user, request.user)
    request.session[SESSION_EPOCH_KEY] = user.session_epoch
    messages.success(request, _("All your other sessions were signed out."))
    return redirect("accounts:profile")


@login_required
def my_tokens(request):
    form = forms.TokenForm(_posted(request))
    raw = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, raw = services.create_api_token(request.user, request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            form = forms.TokenForm()
    tokens = request.user.api_tokens.all()
    context = {"form": form, "tokens": tokens, "raw_token": raw, "admin_view": False}
    return render(request, "accounts/tokens.html", context, status=400 if form.errors else 200)


@require_POST
@domain_errors
def token_revoke(request, pk):
    token = ApiToken.objects.filter(pk=pk).first()
    if token is None or (token.user_id != request.user.pk and not has_perm(request.user, "accounts.change")):
        raise Http404()
    services.revoke_api_token(request.user, token)
    messages.success(request, _("The token was revoked."))
    return redirect("accounts:tokens_admin" if request.POST.get("next") == "admin" else "accounts:tokens")


@domain_errors
def tokens_admin(request):
    require_perm(request.user, "accounts.view")
    page = Paginator(services.tokens_visible_to(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/tokens.html", {"tokens": page, "page": page, "admin_view": True})


# --- Users ------------------------------------------------------------------------------


def _filtered_users(request):
    users = User.objects.restrict(request.user, "view").select_related("department").prefetch_related("roles")
    filters = forms.UserFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"]
            users = users.filter(
                Q(username__icontains=q)
                | Q(full_name__icontains=q)
                | Q(email__icontains=q)
                | Q(phone__icontains=q)
            )
        if data["department"]:
            users = users.filter(department=data["department"])
        if data["role"]:
            users = users.filter(roles=data["role"])
        if data["active"] in ("0", "1"):
            users = users.filter(is_active=data["active"] == "1")
    return filters, users.order_by("username")


@domain_errors
def user_list(request):
    require_perm(request.user, "accounts.view")
    filters, users = _filtered_users(request)
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "can_add": has_perm(request.user, "accounts.add"),
    }
    return render(request, "accounts/user_list.html", context)


def _user_form_data(form):
    data = {k: v for k, v in form.cleaned_data.items() if k in services.USER_FIELDS}
    return data, form.cleaned_data.get("roles", []), form.cleaned_data.get("reason") or None


@domain_errors
def user_create(request):
    require_perm(request.user, "accounts.add")
    form = forms.NewUserForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        data, roles, reason = _user_form_data(form)
        try:
            user = services.create_user(
                request.user, data=data, password=form.cleaned_data["password"], roles=roles, reason=reason
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("User %(name)s was created.") % {"name": user})
            return redirect("accounts:user_edit", pk=user.pk)
    context = {"form": form, "title": _("New user")}
    return render(request, "accounts/user_form.html", context, status=400 if form.errors else 200)


@domain_errors
def user_edit(request, pk):
    user = get_restricted_or_404(User, request.user, "view", pk=pk)
    form = forms.UserForm(_posted(request), instance=user)
    if request.method == "POST" and form.is_valid():
        data, roles, reason = _user_form_data(form)
        try:
            services.update_user(request.user, user, data=data, roles=roles, reason=reason)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The user was saved."))
            return redirect("accounts:user_edit", pk=user.pk)
    context = {
        "form": form,
        "title": str(user),
        "target": user,
        "can_change": has_perm(request.user, "accounts.change"),
    }
    return render(request, "accounts/user_form.html", context, status=400 if form.errors else 200)


def _confirm(request, user, *, action, template_title, question, success, call, form_class=forms.ConfirmForm):
    """Shared GET-confirm / POST-act flow for the destructive user actions."""
    form = form_class(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            call(form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, success)
            return redirect("accounts:user_edit", pk=user.pk)
    context = {"form": form, "target": user, "title": template_title, "question": question, "action": action}
    return render(request, "accounts/confirm.html", context, status=400 if form.errors else 200)


@domain_errors
def user_deactivate(request, pk):
    user = get_restricted_or_404(User, request.user, "change", pk=pk)
    return _confirm(
        request,
        user,
        action="deactivate",
        template_title=_("Deactivate user"),
        question=_("Deactivate %(name)s? They will be signed out and can no longer sign in.")
        % {"name": user},
        success=_("The user was deactivated."),
        call=lambda d: services.deactivate_user(request.user, user, reason=d.get("reason") or None),
    )


@domain_errors
def user_reset_password(request, pk):
    user = get_restricted_or_404(User, request.user, "change", pk=pk)
    return _confirm(
        request,
        user,
        action="password",
        template_title=_("Reset password"),
        question=_("Set a temporary password for %(name)s. They must change it at their next sign-in.")
        % {"name": user},
        success=_("The temporary password was set and the user's sessions were ended."),
        call=lambda d: services.reset_password(
            request.user, user, password=d["password1"], reason=d.get("reason")
        ),
        form_class=forms.SetPasswordForm,
    )


@domain_errors
def user_sign_out(request, pk):
    user = get_restricted_or_404(User, request.user, "change", pk=pk)
    return _confirm(
        request,
        user,
        action="signout",
        template_title=_("Sign out all sessions"),
        question=_("End every session of %(name)s now?") % {"name": user},
        success=_("All sessions of the user were ended."),
        call=lambda d: services.sign_out_everywhere(request.user, user, reason=d.get("reason") or None),
    )


# --- Departments ------------------------------------------------------------------------


@domain_errors
def department_list(request):
    departments = Department.objects.restrict(request.user, "view").select_related("manager", "parent")
    require_perm(request.user, "accounts.view")
    context = {"departments": departments, "can_add": has_perm(request.user, "accounts.add")}
    return render(request, "accounts/department_list.html", context)


@domain_errors
def department_edit(request, pk=None):
    department = get_restricted_or_404(Department, request.user, "view", pk=pk) if pk else None
    require_perm(request.user, "accounts.change" if department else "accounts.add")
    form = forms.DepartmentForm(_posted(request), instance=department)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in services.DEPARTMENT_FIELDS}
        try:
            services.save_department(request.user, department, data=data, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The department was saved."))
            return redirect("accounts:department_list")
    title = str(department) if department else _("New department")
    return render(
        request,
        "accounts/simple_form.html",
        {"form": form, "title": title},
        status=400 if form.errors else 200,
    )


# --- Roles ------------------------------------------------------------------------------


@domain_errors
def role_list(request):
    require_perm(request.user, "accounts.view")
    roles = Role.objects.restrict(request.user, "view").prefetch_related("grants")
    return render(
        request,
        "accounts/role_list.html",
        {"roles": roles, "can_add": has_perm(request.user, "accounts.add")},
    )


def _grant_rows(role, post=None):
    """Rows of the grant table: (perm, label, field name, selected scope)."""
    current = {g.permission: g.scope for g in role.grants.all()} if role else {}
    rows = []
    for module, module_label, perms in all_permissions():
        for perm, label in [(f"{module}.*", _("All actions of this module")), *perms]:
            name = f"scope__{perm}"
            selected = post.get(name, "") if post is not None else current.get(perm, "")
            rows.append(
                {"module": module_label, "perm": perm, "label": label, "name": name, "selected": selected}
            )
    return rows


def _grants_from_post(post):
    return {k.removeprefix("scope__"): v for k, v in post.items() if k.startswith("scope__") and v}


@domain_errors
def role_edit(request, pk=None):
    role = get_restricted_or_404(Role, request.user, "view", pk=pk) if pk else None
    require_perm(request.user, "accounts.change" if role else "accounts.add")
    form = forms.RoleForm(_posted(request), instance=role)
    post = request.POST if request.method == "POST" else None
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in services.ROLE_FIELDS}
        reason = form.cleaned_data["reason"]
        try:
            services.save_role(
                request.user, role, data=data, grants=_grants_from_post(request.POST), reason=reason
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The role was saved."))
            return redirect("accounts:role_list")
    context = {
        "form": form,
        "title": str(role) if role else _("New role"),
        "rows": _grant_rows(role, post),
        "scopes": Scope.choices,
    }
    return render(request, "accounts/role_form.html", context, status=400 if form.errors else 200)
