"""Record numbering (P2): configurable patterns, a locked counter row per (type, period).

A pattern is text with tokens: ``{YYYY}`` ``{YY}`` ``{MM}`` ``{DD}`` (the date in the company
time zone) and one ``{N…}`` (the sequence, zero-padded to the number of N; more digits
when it outgrows them). The date tokens present decide the period the sequence restarts
in: ``C{NNNNN}`` never restarts, ``KS-{YY}{MM}-{NNN}`` restarts monthly,
``FW-{YYYY}{MM}{DD}-{NNN}`` daily.

The counter is incremented with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
statement inside the caller's transaction: the row stays locked until the caller commits
or rolls back, so two creators never get the same number and a rolled-back create gives
its number back (no gaps). See docs/decisions/0301-numbering-upsert-counter.md.
"""

import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.core.errors import NotPermitted, ValidationFailed

#: The SPEC's "Default numbering patterns" (plus the sample record of the test app).
DEFAULT_PATTERNS = {
    "customer": "C{NNNNN}",
    "order": "SO-{YYYY}{MM}-{NNNN}",
    "contract_review": "HP-{YYYY}-{NNNN}",
    "change_request": "BG-{YYYY}-{NNNN}",
    "production_notice": "SC-{YYYY}{MM}-{NNNN}",
    "shipment": "CH-{YYYY}{MM}-{NNNN}",
    "feedback": "FK-{YYYY}{MM}-{NNNN}",
    "complaint": "KS-{YY}{MM}-{NNN}",
    "capa": "CA-{YYYY}-{NNNN}",
    "return": "TH-{YYYY}{MM}-{NNNN}",
    "advisory_notice": "AN-{YYYY}-{NNN}",
    "service_call": "FW-{YYYY}{MM}{DD}-{NNN}",
    "maintenance_contract": "BY-{YYYY}-{NNNN}",
    "requirement": "TS-{YYYY}-{NNNN}",
    "survey": "MY-{YYYY}-{NN}",
    "sample": "SMP-{YYYY}-{NNNN}",
}

_TOKEN = re.compile(r"\{([^{}]*)\}")
_DATE_TOKENS = {"YYYY": "year", "YY": "year", "MM": "month", "DD": "day"}
_GRANULARITY = ("year", "month", "day")


@dataclass(frozen=True)
class Pattern:
    """A parsed, validated numbering pattern."""

    text: str
    width: int
    granularity: str | None  # None: never restarts; else "year" / "month" / "day"

    def period_key(self, day):
        """The counter's period for the local date ``day`` ("" when the pattern never restarts)."""
        if self.granularity is None:
            return ""
        return day.strftime({"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}[self.granularity])

    def render(self, day, value):
        """The number for sequence ``value`` on local date ``day``."""
        values = {"YYYY": f"{day.year:04d}", "YY": f"{day.year % 100:02d}", "MM": f"{day.month:02d}"}
        values["DD"] = f"{day.day:02d}"

        def token(match):
            name = match.group(1)
            return values[name] if name in values else str(value).zfill(self.width)

        return _TOKEN.sub(token, self.text)


def parse_pattern(text):
    """Validate ``text`` and return a :class:`Pattern`; ValidationFailed with translated errors."""
    errors = []
    text = (text or "").strip()
    stripped = _TOKEN.sub("", text)
    if "{" in stripped or "}" in stripped:
        errors.append(_("Every “{” must be closed by a “}”, and tokens cannot be nested."))
    names = _TOKEN.findall(text)
    for name in names:
        if name not in _DATE_TOKENS and not re.fullmatch(r"N+", name):
            errors.append(
                _("Unknown token {%(token)s}. Use {YYYY}, {YY}, {MM}, {DD} and one {N…}.") % {"token": name}
            )
    sequence = [n for n in names if re.fullmatch(r"N+", n)]
    if len(sequence) != 1:
        errors.append(_("The pattern needs exactly one sequence token such as {NNNN}."))
    present = {_DATE_TOKENS[n] for n in names if n in _DATE_TOKENS}
    # A finer period without the coarser ones would repeat numbers (e.g. "{MM}" every year).
    for finer, coarser in (("month", "year"), ("day", "month")):
        if finer in present and coarser not in present:
            errors.append(_("A pattern with {MM} needs a year token; one with {DD} needs {MM}."))
            break
    if errors:
        raise ValidationFailed(_("The numbering pattern is not valid."), errors={"pattern": errors})
    granularity = max(present, key=_GRANULARITY.index) if present else None
    return Pattern(text=text, width=len(sequence[0]), granularity=granularity)


def pattern_for(record_type):
    """The pattern text in force for ``record_type``: the administrator's, else the default."""
    from qcare.core.models_mech import NumberPattern

    stored = NumberPattern.objects.filter(record_type=record_type).values_list("pattern", flat=True).first()
    if stored:
        return stored
    try:
        return DEFAULT_PATTERNS[record_type]
    except KeyError:
        raise LookupError(f"no numbering pattern for record type {record_type!r}") from None


def _increment(record_type, period):
    """Take the next value of the (type, period) counter; the row stays locked until commit.

    One statement on both engines: PostgreSQL locks the conflicting row for the update (a
    concurrent creator waits, then sees the committed value); SQLite already holds the
    database write lock from ``BEGIN IMMEDIATE``.
    """
    from qcare.core.models_mech import NumberCounter

    table = connection.ops.quote_name(NumberCounter._meta.db_table)
    now = timezone.now()
    sql = (
        f"INSERT INTO {table} (record_type, period, last_value, created_at, updated_at) "  # noqa: S608
        "VALUES (%s, %s, 1, %s, %s) "
        "ON CONFLICT (record_type, period) "
        f"DO UPDATE SET last_value = {table}.last_value + 1, updated_at = excluded.updated_at "
        "RETURNING last_value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [record_type, period, now, now])
        return cursor.fetchone()[0]


def next_number(record_type, *, when=None):
    """Return the next number for ``record_type`` (e.g. "customer" → "C00001").

    Must be called inside the caller's ``transaction.atomic()``: the counter row stays
    locked until the caller commits, so numbers are gap-free and never reused. ``when``
    (default now) picks the period; its date is taken in the company time zone.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number() must run inside the caller's transaction.atomic() block")
    pattern = parse_pattern(pattern_for(record_type))
    day = timezone.localtime(when or timezone.now()).date()
    value = _increment(record_type, pattern.period_key(day))
    return pattern.render(day, value)


def preview(pattern_text, *, when=None, value=1):
    """How a number of ``pattern_text`` looks (for the pattern editor); validates it."""
    pattern = parse_pattern(pattern_text)
    return pattern.render(timezone.localtime(when or timezone.now()).date(), value)


def set_pattern(actor, record_type, pattern_text, *, reason, description=""):
    """Change the numbering pattern of ``record_type`` (administrators; reason required).

    Counters are kept: a new pattern with the same period continues the sequence, so a
    number is never issued twice.
    """
    from qcare.accounts.permissions import has_perm
    from qcare.core.context import audit_context
    from qcare.core.errors import ReasonRequired
    from qcare.core.models_mech import NumberPattern

    if not has_perm(actor, "numbering.change"):
        raise NotPermitted()
    if not (reason or "").strip():
        raise ReasonRequired()
    if (
        record_type not in DEFAULT_PATTERNS
        and not NumberPattern.objects.filter(record_type=record_type).exists()
    ):
        raise ValidationFailed(errors={"record_type": [_("Unknown record type.")]})
    parsed = parse_pattern(pattern_text)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        row = NumberPattern.objects.select_for_update().filter(record_type=record_type).first()
        if row is None:
            row = NumberPattern(record_type=record_type)
        row.pattern = parsed.text
        row.description = description or row.description
        row.save()
    return row
