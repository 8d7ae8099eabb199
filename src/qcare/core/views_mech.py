"""Screens of the core mechanisms: policy editor, numbering patterns, signing, unlock."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from qcare.accounts.permissions import has_perm
from qcare.core import numbering, policies, signatures
from qcare.core.errors import NotFound
from qcare.core.forms import run_service
from qcare.core.forms_mech import NumberPatternForm, PolicyValueForm, ReasonForm, SignatureForm
from qcare.core.models import get_restricted_or_404
from qcare.core.models_mech import NumberCounter, NumberPattern, PolicyValue

#: Headings of the policy groups (the first part of a key).
APP_LABELS = {
    "orders": gettext_lazy("Orders and contract review"),
    "feedback": gettext_lazy("Customer feedback"),
    "complaints": gettext_lazy("Complaints"),
    "service": gettext_lazy("After-sales service"),
    "customers": gettext_lazy("Customers"),
    "surveys": gettext_lazy("Satisfaction surveys"),
    "records": gettext_lazy("Records control"),
    "signatures": gettext_lazy("Electronic signatures"),
}


def _require(user, perm):
    if not has_perm(user, perm):
        raise PermissionDenied(_("You do not have permission to do this."))


@login_required
def policy_list(request):
    """Every policy grouped by app: current value, default, and whether it is overridden."""
    _require(request.user, "policies.view")
    groups = {}
    for item in policies.all_policies():
        current = policies.get(item.key)
        groups.setdefault(item.app, []).append(
            {
                "policy": item,
                "current": item.display(current),
                "default": item.display(item.default),
                "overridden": policies.is_overridden(item.key),
            }
        )
    context = {
        "groups": [(APP_LABELS.get(app, app), rows) for app, rows in groups.items()],
        "can_change": has_perm(request.user, "policies.change"),
        "nav_active": "policies",
    }
    return render(request, "core/policies/list.html", context)


@login_required
def policy_edit(request, key):
    """One policy: its value form (with reason) and the history of its value."""
    _require(request.user, "policies.view")
    try:
        item = policies.policy(key)
    except KeyError:
        raise Http404()
    can_change = has_perm(request.user, "policies.change")
    form = PolicyValueForm(
        request.POST if request.method == "POST" else None, policy=item, initial_value=policies.get(key)
    )
    if request.method == "POST":
        _require(request.user, "policies.change")
        if form.is_valid():
            ok, _row = run_service(
                form, policies.set_policy, request.user, key, form.raw_value(), form.cleaned_data["reason"]
            )
            if ok:
                messages.success(request, _("The policy was changed."))
                return redirect("core:policy_edit", key=key)
    context = {
        "policy": item,
        "form": form,
        "can_change": can_change,
        "current": item.display(policies.get(key)),
        "default": item.display(item.default),
        "row": PolicyValue.objects.filter(key=key).first(),
        "nav_active": "policies",
    }
    return render(request, "core/policies/edit.html", context)


@login_required
def numbering_list(request):
    """The numbering pattern of every record type, with a preview and the counters."""
    _require(request.user, "numbering.view")
    stored = {p.record_type: p for p in NumberPattern.objects.all()}
    types = sorted(set(numbering.DEFAULT_PATTERNS) | set(stored))
    rows = []
    for record_type in types:
        text = numbering.pattern_for(record_type)
        rows.append(
            {
                "record_type": record_type,
                "pattern": text,
                "default": numbering.DEFAULT_PATTERNS.get(record_type, ""),
                "preview": numbering.preview(text),
                "row": stored.get(record_type),
            }
        )
    context = {
        "rows": rows,
        "counters": NumberCounter.objects.order_by("record_type", "-period")[:200],
        "can_change": has_perm(request.user, "numbering.change"),
        "nav_active": "policies",
    }
    return render(request, "core/policies/numbering.html", context)


@login_required
def numbering_edit(request, record_type):
    """Change one record type's pattern (reason required)."""
    _require(request.user, "numbering.change")
    if (
        record_type not in numbering.DEFAULT_PATTERNS
        and not NumberPattern.objects.filter(record_type=record_type).exists()
    ):
        raise Http404()
    form = NumberPatternForm(request.POST or None, initial={"pattern": numbering.pattern_for(record_type)})
    if request.method == "POST" and form.is_valid():
        ok, _row = run_service(
            form,
            numbering.set_pattern,
            request.user,
            record_type,
            form.cleaned_data["pattern"],
            reason=form.cleaned_data["reason"],
        )
        if ok:
            messages.success(request, _("The numbering pattern was changed."))
            return redirect("core:numbering")
    row = NumberPattern.objects.filter(record_type=record_type).first()
    context = {"form": form, "record_type": record_type, "row": row, "nav_active": "policies"}
    return render(request, "core/policies/numbering_edit.html", context)


@login_required
def signing_unlock(request, user_id):
    """Let a user whose signing was locked after wrong passwords sign again."""
    _require(request.user, "signatures.unlock")
    target = get_object_or_404(get_user_model(), pk=user_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, _user = run_service(
            form, signatures.unlock_signing, request.user, target, form.cleaned_data["reason"]
        )
        if ok:
            messages.success(request, _("%(name)s can sign again.") % {"name": target.get_full_name()})
            return redirect(request.POST.get("next") or "core:dashboard")
    return render(request, "core/signatures/unlock.html", {"form": form, "target": target})


class SignView(View):
    """Generic "sign this record" page: the signed content, the signatures so far, the form.

    Wire it with the record model and the domain service that signs, e.g.::

        SignView.as_view(model=SampleRecord, service=services.approve_sample,
                         meanings=["approved"], permission_action="approve")

    The service is called as ``service(user, record, password=…, comment=…)`` (plus
    ``username=…`` on the session's first signature and ``meaning=…`` when more than one
    meaning is offered) inside
    :func:`~qcare.core.signatures.signing_atomic`, so wrong passwords are counted even
    though the service's transaction rolls back.
    """

    model = None
    service = None
    meanings = ("approved",)
    permission_action = "approve"
    template_name = "core/signatures/sign.html"
    success_url = None

    def get_record(self, request, pk):
        return get_restricted_or_404(self.model, request.user, self.permission_action, pk=pk)

    def get_success_url(self, record):
        if self.success_url:
            return self.success_url
        return record.get_absolute_url() if hasattr(record, "get_absolute_url") else "core:dashboard"

    def get(self, request, pk):
        record = self._record_or_404(request, pk)
        form = SignatureForm(
            meanings=self.meanings, require_username=signatures.session_needs_username(request)
        )
        return self._render(request, record, form)

    def post(self, request, pk):
        record = self._record_or_404(request, pk)
        form = SignatureForm(
            request.POST, meanings=self.meanings, require_username=signatures.session_needs_username(request)
        )
        if form.is_valid():
            kwargs = form.signer_kwargs()
            if len(self.meanings) > 1:
                kwargs["meaning"] = form.cleaned_data["meaning"]
            with signatures.signing_atomic():
                ok, _result = run_service(form, self._service(), request.user, record, **kwargs)
            if ok:
                signatures.note_session_signed(request)
                messages.success(request, _("Signed."))
                return redirect(self.get_success_url(record))
        return self._render(request, record, form, status=400)

    def _record_or_404(self, request, pk):
        if not request.user.is_authenticated:
            raise PermissionDenied()
        try:
            return self.get_record(request, pk)
        except NotFound:
            raise Http404()

    def _service(self):
        # as_view(service=f) stores a plain function on the instance; a subclass attribute
        # would be bound as a method, so read it from the class then.
        return self.__dict__.get("service") or type(self).service

    def _render(self, request, record, form, status=200):
        context = {
            "record": record,
            "form": form,
            "content": content_summary(record),
            "signatures": signatures.signatures_for(record),
        }
        return render(request, self.template_name, context, status=status)


def content_summary(record):
    """(label, value) pairs of what a signature on ``record`` covers, for the signer to read."""
    content = signatures.signature_content(record)
    rows = []
    for name, value in content.items():
        try:
            label = record._meta.get_field(name).verbose_name
            shown = getattr(record, f"get_{name}_display", None)
            value = shown() if shown else getattr(record, name, value)
        except Exception:  # noqa: BLE001 - signature_content() may use names that are not fields
            label = name
        rows.append((label, value))
    return rows
