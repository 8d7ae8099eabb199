"""DomainError → form errors / HTTP answers (the helper every view uses)."""

import pytest
from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404

from qcare.core.errors import Conflict, NotFound, NotPermitted, StaleVersion, ValidationFailed
from qcare.core.forms import BootstrapFormMixin, domain_errors_to_http, run_service


class TitleForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField()
    amount = forms.IntegerField(required=False)


def _bound():
    form = TitleForm({"title": "我的输入", "amount": "5"})
    assert form.is_valid()
    return form


def _raise(error):
    def service(*args, **kwargs):
        raise error

    return service


def test_validation_failed_goes_to_fields_and_top():
    form = _bound()
    ok, result = run_service(
        form, _raise(ValidationFailed("Please fix", errors={"title": ["Too short"], "other": ["Odd"]}))
    )
    assert ok is False and result is None
    assert form.errors["title"] == ["Too short"]
    assert "Odd" in form.non_field_errors() and "Please fix" in form.non_field_errors()
    assert "is-invalid" in form.fields["title"].widget.attrs["class"]
    assert 'value="我的输入"' in str(form["title"])  # the user's input is kept


def test_stale_version_keeps_input_and_shows_message():
    form = _bound()
    ok, _result = run_service(form, _raise(StaleVersion()))
    assert not ok
    assert form.non_field_errors() == [str(StaleVersion().message)]
    assert form.data["title"] == "我的输入"


def test_conflict_is_a_form_error():
    form = _bound()
    run_service(form, _raise(Conflict("Already approved")))
    assert form.non_field_errors() == ["Already approved"]


def test_not_found_is_404_and_not_permitted_is_403():
    with pytest.raises(Http404):
        run_service(_bound(), _raise(NotFound()))
    with pytest.raises(PermissionDenied):
        run_service(_bound(), _raise(NotPermitted()))


def test_success_returns_the_result():
    assert run_service(_bound(), lambda: 42) == (True, 42)


def test_decorator_maps_errors_for_views_without_forms():
    @domain_errors_to_http
    def view(request, error):
        raise error

    with pytest.raises(Http404):
        view(None, NotFound())
    with pytest.raises(PermissionDenied):
        view(None, NotPermitted())
