"""Lenient parsing of submitted values shared by the order services (forms, API, demo, import).

Each returns None for an empty or invalid value, so the caller reports a translated field error.
"""

from datetime import date
from decimal import Decimal, InvalidOperation


def as_decimal(value):
    """``value`` as a finite Decimal, or None when it is empty or not a number."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def as_date(value):
    """A date from a date or an ISO string; None when empty or invalid."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None
