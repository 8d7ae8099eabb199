"""Form helpers every screen uses: Bootstrap rendering, controlled-record fields, and
turning service errors (:mod:`qcare.core.errors`) into form errors or HTTP answers.

Pattern (see docs/ui.md)::

    form = SampleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, record = run_service(form, services.create_sample, request.user, **form.cleaned_data)
        if ok:
            return redirect(record)
    return render(request, "sample/form.html", {"form": form})
"""

import functools

from django import forms
from django.core.exceptions import PermissionDenied
from django.forms.utils import flatatt
from django.http import Http404
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from qcare.core.errors import DomainError, NotFound, NotPermitted


class BootstrapFormMixin:
    """Bootstrap 5 widgets and markup; invalid fields get ``is-invalid`` for inline errors."""

    template_name = "core/forms/form.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_fields()

    def style_fields(self):
        """Give each widget its Bootstrap class (call again after adding fields)."""
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            if css not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        # Every error path (clean_*, clean(), services) ends here, so marking here is complete.
        for name in self.errors:
            if name in self.fields and "is-invalid" not in self.fields[name].widget.attrs.get("class", ""):
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


class ControlledChangeMixin(forms.Form):
    """Fields every edit/delete form of a controlled, versioned record carries.

    ``reason`` is required (P3: a controlled record needs a reason for every change);
    ``version`` is the version the user loaded, so a stale write is refused (rule 7).
    """

    reason = forms.CharField(
        label=_("Reason for the change"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        help_text=_("Recorded in the audit trail with your name and the time."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


def apply_domain_error(form, error):
    """Attach a service's DomainError to ``form``: field messages to their fields, the rest on top."""
    attached_to_field = False
    for field, messages in error.errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
        attached_to_field = attached_to_field or target is not None
    if not error.errors or attached_to_field:
        form.add_error(None, str(error.message))


def run_service(form, service, *args, **kwargs):
    """Call ``service``; return ``(True, result)`` or ``(False, None)`` with the error on ``form``.

    ValidationFailed / Conflict / StaleVersion become form errors — the form is re-rendered
    with the user's input intact. NotFound becomes 404 and NotPermitted 403.
    """
    try:
        return True, service(*args, **kwargs)
    except NotFound:
        raise Http404()
    except NotPermitted as error:
        raise PermissionDenied(str(error.message))
    except DomainError as error:
        apply_domain_error(form, error)
        return False, None


def domain_errors_to_http(view):
    """View decorator: NotFound → 404, NotPermitted → 403 for views without a form."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404()
        except NotPermitted as error:
            raise PermissionDenied(str(error.message))

    return wrapper


class FastSelect(forms.Select):
    """A ``<select>`` rendered in Python instead of one template per ``<option>``.

    Django renders every option through ``select_option.html``; on a list page with a few
    filter selects that was a quarter of the page's time (measured on the customer list).
    Same HTML contract: name, id and attributes from the bound field, ``selected`` on the
    current value, labels escaped.
    """

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        final_attrs = self.build_attrs(self.attrs, attrs)
        options = self._options(self.choices, selected)
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final_attrs), options)

    def _options(self, choices, selected):
        parts = []
        for option_value, label in choices:
            if isinstance(label, list | tuple):  # an optgroup
                inner = self._options(label, selected)
                parts.append(format_html('<optgroup label="{}">{}</optgroup>', option_value, inner))
                continue
            value = "" if option_value is None else str(option_value)
            mark = mark_safe(" selected") if value in selected else ""  # noqa: S308 (constant)
            parts.append(format_html('<option value="{}"{}>{}</option>', value, mark, label))
        return mark_safe("".join(parts))  # noqa: S308 (every part built by format_html)
