"""Small helpers every service module needs: field errors, reasons, row locks, lenient parsing
of submitted numbers and dates into translated field errors."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.core.errors import ReasonRequired, ValidationFailed


def required():
    """The error list of a missing required field."""
    return [_("This field is required.")]


def fail(errors, message=None):
    """Refuse with field errors (nothing is changed: raise before writing or inside the atomic block)."""
    raise ValidationFailed(message or _("Please correct the errors below."), errors=errors)


def require_reason(reason):
    """The stripped reason; ReasonRequired (error on "reason") when it is blank."""
    if not (reason or "").strip():
        raise ReasonRequired(_("Please give a reason."))
    return reason.strip()


def lock(record, expected_version=None):
    """Lock ``record``'s row until commit and reload it; check the client's version.

    Reloading after the lock means state checks see what a concurrent writer committed, so of
    two simultaneous decisions the second is refused (wrong state or stale version). SQLite's
    IMMEDIATE transactions already serialise writers; ``select_for_update`` is for PostgreSQL.
    """
    record.refresh_from_db(from_queryset=type(record).objects.select_for_update())
    record.check_version(expected_version)
    return record


def decimal_value(value, errors, name, *, digits=14, places=3, required=False):
    """``value`` as a Decimal fitting a column of ``digits``/``places``; None when blank/invalid
    (with a field error in ``errors[name]`` when invalid, or blank and ``required``)."""
    if value in (None, ""):
        if required:
            errors[name] = [_("This field is required.")]
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors[name] = [_("Enter a number.")]
        return None
    if number.as_tuple().exponent < -places:
        errors[name] = [_("Enter at most %(places)s decimal places.") % {"places": places}]
        return None
    if abs(number) >= Decimal(10) ** (digits - places):
        errors[name] = [_("This number is too large.")]
        return None
    return number


def date_value(value, errors, name):
    """A date from a date, an aware/naive datetime (local date) or an ISO string; None when blank;
    a field error when invalid."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors[name] = [_("Enter a valid date.")]
        return None
