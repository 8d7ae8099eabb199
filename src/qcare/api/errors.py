"""One error format for every API response that is not a success.

``{"detail": "<translated sentence>", "code": "<stable machine code>", "errors": {field: [messages]}}``

Input validation (pydantic, bad query parameters, unknown or server-owned fields, malformed
JSON, wrong content type) always answers **400** — never 422 — so clients handle one status
for "fix your input". Business refusals use the status of the :class:`DomainError` raised by
the service (400/403/404/409/412). Unexpected exceptions answer 500 in the same format,
without internals; the traceback goes to the log.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from qcare.core.errors import DomainError

logger = logging.getLogger("qcare.api")

#: Translated messages for pydantic error types; anything else gets GENERIC_INVALID.
PYDANTIC_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "extra_forbidden": gettext_lazy("This field cannot be set by clients."),
    "int_parsing": gettext_lazy("Enter a whole number."),
    "int_type": gettext_lazy("Enter a whole number."),
    "int_from_float": gettext_lazy("Enter a whole number."),
    "float_parsing": gettext_lazy("Enter a number."),
    "float_type": gettext_lazy("Enter a number."),
    "decimal_parsing": gettext_lazy("Enter a number."),
    "decimal_type": gettext_lazy("Enter a number."),
    "decimal_max_digits": gettext_lazy("Ensure that there are no more than %(max_digits)s digits in total."),
    "decimal_max_places": gettext_lazy(
        "Ensure that there are no more than %(decimal_places)s decimal places."
    ),
    "decimal_whole_digits": gettext_lazy("The number has too many digits before the decimal point."),
    "finite_number": gettext_lazy("Enter a finite number."),
    "string_type": gettext_lazy("Enter a text value."),
    "string_too_long": gettext_lazy("Ensure this value has at most %(max_length)s characters."),
    "string_too_short": gettext_lazy("Ensure this value has at least %(min_length)s characters."),
    "string_pattern_mismatch": gettext_lazy("Enter a valid value."),
    "string_unicode": gettext_lazy("Enter a text value."),
    "greater_than_equal": gettext_lazy("Ensure this value is greater than or equal to %(ge)s."),
    "greater_than": gettext_lazy("Ensure this value is greater than %(gt)s."),
    "less_than_equal": gettext_lazy("Ensure this value is less than or equal to %(le)s."),
    "less_than": gettext_lazy("Ensure this value is less than %(lt)s."),
    "bool_parsing": gettext_lazy("Enter true or false."),
    "bool_type": gettext_lazy("Enter true or false."),
    "literal_error": gettext_lazy("Select a valid choice: %(expected)s."),
    "enum": gettext_lazy("Select a valid choice: %(expected)s."),
    "datetime_parsing": gettext_lazy("Enter a valid date and time."),
    "datetime_from_date_parsing": gettext_lazy("Enter a valid date and time."),
    "date_parsing": gettext_lazy("Enter a valid date."),
    "date_from_datetime_parsing": gettext_lazy("Enter a valid date."),
    "model_attributes_type": gettext_lazy("Expected a JSON object."),
    "model_type": gettext_lazy("Expected a JSON object."),
    "dict_type": gettext_lazy("Expected a JSON object."),
    "list_type": gettext_lazy("Expected a list."),
    "json_invalid": gettext_lazy("The request body is not valid JSON."),
}
GENERIC_INVALID = gettext_lazy("Enter a valid value.")

#: Parameter sources ninja puts first in an error location; they are not part of the field name.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def error_body(detail, code, errors=None):
    return {"detail": str(detail), "code": code, "errors": errors or {}}


def _field_name(loc, body_params):
    """``("body", "payload", "title")`` → ``"title"``; ``("query", "page")`` → ``"page"``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    if parts and parts[0] in body_params:
        parts = parts[1:]
    return ".".join(parts) or "__all__"


def _message(error):
    template = PYDANTIC_MESSAGES.get(error.get("type"), GENERIC_INVALID)
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    if isinstance(ctx.get("expected"), str):  # pydantic joins choices with an English "or"
        ctx["expected"] = ctx["expected"].replace(" or ", ", ")
    try:
        return str(template) % ctx if "%(" in str(template) else str(template)
    except (KeyError, ValueError, TypeError):
        return str(GENERIC_INVALID)


def validation_errors(errors, body_params=("payload", "body")):
    """pydantic/ninja error list → ``{field: [translated messages]}``."""
    fields = {}
    for error in errors:
        name = _field_name(error.get("loc", ()), body_params)
        fields.setdefault(name, []).append(_message(error))
    return fields


def _respond(api, request, status, body):
    return api.create_response(request, body, status=status)


def on_validation_error(api, request, exc):
    errors = validation_errors(exc.errors)
    return _respond(api, request, 400, error_body(_("Please correct the errors below."), "invalid", errors))


def on_domain_error(api, request, exc):
    return _respond(api, request, exc.status, exc.as_dict())


def on_http_error(api, request, exc):
    """ninja's own HttpErrors: 401 from auth, 400 from an unparsable body, 405, …"""
    status = exc.status_code
    if isinstance(exc, AuthenticationError) or status == 401:
        response = _respond(
            api,
            request,
            401,
            error_body(
                _("Authentication credentials were not provided or are invalid."), "not_authenticated"
            ),
        )
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    cause = exc.__cause__
    if isinstance(cause, DomainError):  # raised by our parser (content type)
        return on_domain_error(api, request, cause)
    if status == 400:
        message = _("The request body is not valid JSON.")
        return _respond(api, request, 400, error_body(message, "malformed_json", {"__all__": [message]}))
    if status == 403:
        return _respond(
            api, request, 403, error_body(_("You do not have permission to do this."), "permission_denied")
        )
    if status == 404:
        return on_not_found(api, request, exc)
    if status == 405:
        return _respond(
            api, request, 405, error_body(_("This method is not allowed here."), "method_not_allowed")
        )
    return _respond(api, request, status, error_body(_("The request could not be processed."), "error"))


def on_not_found(api, request, exc):
    return _respond(api, request, 404, error_body(_("Not found."), "not_found"))


def on_permission_denied(api, request, exc):
    return _respond(
        api, request, 403, error_body(_("You do not have permission to do this."), "permission_denied")
    )


def on_django_validation_error(api, request, exc):
    """A model's ``full_clean()`` refused the data (raised under a service)."""
    errors = (
        {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
        if hasattr(exc, "error_dict")
        else {"__all__": [str(m) for m in exc.messages]}
    )
    return _respond(api, request, 400, error_body(_("Please correct the errors below."), "invalid", errors))


def on_integrity_error(api, request, exc):
    """A database constraint refused the write (e.g. a unique value taken concurrently).

    Services validate first, so this is rare; it is the client's data colliding with stored
    data, hence 409 rather than 500. Logged, because it can also reveal a missing validation.
    """
    logger.warning("Integrity error on %s %s: %s", request.method, request.path, exc.__class__.__name__)
    message = _("The change conflicts with data already stored. Reload and try again.")
    return _respond(api, request, 409, error_body(message, "integrity_error"))


def on_overflow(api, request, exc):
    """A number too large for the database slipped past a schema bound: bad input, not our crash."""
    logger.warning("Overflow on %s %s (add a bound to the schema)", request.method, request.path)
    message = _("A number in the request is too large.")
    return _respond(api, request, 400, error_body(message, "invalid", {"__all__": [message]}))


def on_data_error(api, request, exc):
    """The database refused a value (a NUL character in text, a string too long…): bad input."""
    logger.warning("Data error on %s %s (add a bound to the schema)", request.method, request.path)
    message = _("The request contains a value the database cannot store (e.g. a control character).")
    return _respond(api, request, 400, error_body(message, "invalid", {"__all__": [message]}))


def on_unexpected(api, request, exc):
    """Log the traceback; the client only learns that it was our fault and the request id."""
    logger.exception("Unhandled API error on %s %s", request.method, request.path)
    body = error_body(_("An unexpected error occurred. It has been logged."), "server_error")
    rid = getattr(request, "request_id", None)
    if rid:
        body["request_id"] = rid
    return _respond(api, request, 500, body)


def install(api):
    """Register the handlers on ``api`` (most specific class wins: ninja walks the MRO)."""
    from functools import partial

    for exc_class, handler in (
        (NinjaValidationError, on_validation_error),
        (DomainError, on_domain_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (PermissionDenied, on_permission_denied),
        (DjangoValidationError, on_django_validation_error),
        (IntegrityError, on_integrity_error),
        (OverflowError, on_overflow),
        (DataError, on_data_error),
        (Exception, on_unexpected),
    ):
        api.add_exception_handler(exc_class, partial(handler, api))
