"""Typed policy registry (P1): thresholds and deadlines are data, not constants.

Apps register their policies in code (key, kind, default, label, bounds)::

    policies.register("complaints.close.domestic", "duration", Duration(13, "calendar_days"),
                      _("Complaint closed (domestic)"))

and read them with ``policies.get("complaints.close.domestic")`` → the typed value: the
administrator's override (a controlled :class:`~qcare.core.models_mech.PolicyValue` row,
changed with :func:`set_policy` and a reason, so the audit trail is its history) or the
default. Kinds: ``int``, ``decimal``, ``money`` (:class:`Money`, CNY), ``duration``
(:class:`~qcare.workcalendar.durations.Duration`), ``choice``, ``bool``.

Caching: overrides are kept per process and re-read when the table's stamp (row count,
latest ``updated_at``) changes; the stamp is checked at most every
``settings.QCARE_POLICY_CACHE_SECONDS`` (default 1 s). See docs/decisions/0302-policy-cache.md.
"""

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils.translation import gettext as _

from qcare.core.errors import NotPermitted, ReasonRequired, ValidationFailed
from qcare.workcalendar.durations import Duration, DurationUnit

KINDS = ("int", "decimal", "money", "duration", "choice", "bool")


@dataclass(frozen=True)
class Money:
    """An amount of money; policies hold CNY amounts."""

    amount: Decimal
    currency: str = "CNY"

    def __str__(self):
        return f"{self.amount:,.2f} {self.currency}"


@dataclass
class Policy:
    """One registered policy: its key ("app.name"), kind, default, label and bounds."""

    key: str
    kind: str
    default: object
    label: object
    help: object = ""
    choices: tuple = ()
    min: object = None
    max: object = None
    unit: object = field(default="")

    @property
    def app(self):
        return self.key.split(".", 1)[0]

    # --- conversion ---------------------------------------------------------------------
    def parse(self, raw):
        """Turn user input (form text, API JSON, or a typed value) into the typed value."""
        parser = getattr(self, f"_parse_{self.kind}")
        value = parser(raw)
        self._check_bounds(value)
        return value

    def to_json(self, value):
        if self.kind == "decimal":
            return str(value)
        if self.kind == "money":
            return {"amount": str(value.amount), "currency": value.currency}
        if self.kind == "duration":
            return value.as_dict()
        return value

    def from_json(self, data):
        if self.kind == "decimal":
            return Decimal(data)
        if self.kind == "money":
            return Money(Decimal(data["amount"]), data.get("currency", "CNY"))
        if self.kind == "duration":
            return Duration.from_dict(data)
        return data

    def display(self, value):
        """The value as people read it ("200,000.00 CNY", "8 working hours", "80 %")."""
        if self.kind == "bool":
            return _("Yes") if value else _("No")
        if self.kind == "choice":
            return str(dict(self.choices).get(value, value))
        text = str(value)
        return f"{text} {self.unit}" if self.unit else text

    # --- parsers ------------------------------------------------------------------------
    def _invalid(self, message):
        return ValidationFailed(_("The policy value is not valid."), errors={"value": [message]})

    def _parse_int(self, raw):
        try:
            if isinstance(raw, bool) or (isinstance(raw, float | Decimal) and raw != int(raw)):
                raise ValueError
            return int(str(raw).strip())
        except (TypeError, ValueError):
            raise self._invalid(_("Enter a whole number."))

    def _parse_decimal(self, raw):
        try:
            value = Decimal(str(raw).strip())
        except (InvalidOperation, TypeError):
            raise self._invalid(_("Enter a number."))
        if not value.is_finite():
            raise self._invalid(_("Enter a number."))
        return value

    def _parse_money(self, raw):
        if isinstance(raw, Money):
            raw = raw.amount
        elif isinstance(raw, dict):
            if raw.get("currency", "CNY") != "CNY":
                raise self._invalid(_("Amounts are in CNY."))
            raw = raw.get("amount")
        text = str(raw).replace(",", "").replace("CNY", "").strip()
        return Money(self._parse_decimal(text).quantize(Decimal("0.01")))

    def _parse_duration(self, raw):
        if isinstance(raw, Duration):
            return raw
        if isinstance(raw, str):
            amount, _sep, unit = raw.strip().partition(" ")
            raw = {"amount": amount, "unit": unit.strip()}
        try:
            amount = Decimal(str(raw["amount"]).strip())
            unit = raw["unit"]
            if unit not in DurationUnit.values:
                raise ValueError
            return Duration(amount=float(amount), unit=unit)
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise self._invalid(
                _("Enter an amount and a unit (working hours, working days or calendar days).")
            )

    def _parse_choice(self, raw):
        if raw not in dict(self.choices):
            raise self._invalid(_("Select one of the offered choices."))
        return raw

    def _parse_bool(self, raw):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise self._invalid(_("Enter yes or no."))

    def _check_bounds(self, value):
        number = {"money": lambda v: v.amount, "duration": lambda v: v.amount}.get(self.kind, lambda v: v)
        if self.kind in ("choice", "bool"):
            return
        if self.min is not None and number(value) < self.min:
            raise self._invalid(_("The value must be at least %(min)s.") % {"min": self.min})
        if self.max is not None and number(value) > self.max:
            raise self._invalid(_("The value must be at most %(max)s.") % {"max": self.max})


_registry: dict[str, Policy] = {}


def register(key, kind, default, label, help="", choices=None, min=None, max=None, unit=""):  # noqa: A002
    """Declare a policy. Keys are namespaced "app.name"; the default must satisfy the type."""
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}")
    if "." not in key:
        raise ValueError(f"policy key {key!r} must be namespaced as 'app.name'")
    policy = Policy(key, kind, None, label, help, tuple(choices or ()), min, max, unit)
    policy.default = policy.parse(default)
    _registry[key] = policy
    return policy


def _ensure_defaults():
    from qcare.core import policies_defaults  # noqa: F401  (registers the SPEC defaults)


def policy(key):
    """The registered :class:`Policy` for ``key``; KeyError if unknown."""
    _ensure_defaults()
    return _registry[key]


def all_policies():
    """Every registered policy, sorted by key."""
    _ensure_defaults()
    return [_registry[k] for k in sorted(_registry)]


class _Cache:
    """Per-process copy of the override table, refreshed when the table's stamp changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values = None
        self.stamp = None
        self.checked_at = 0.0
        #: True after a change whose commit we have not seen (it may be rolled back).
        self.dirty = False

    def clear(self):
        with self.lock:
            self.values, self.stamp, self.checked_at = None, None, 0.0


_cache = _Cache()


def clear_cache():
    """Forget the cached overrides (tests; after editing PolicyValue rows by hand)."""
    _cache.clear()


def _stamp():
    from qcare.core.models_mech import PolicyValue

    row = PolicyValue.objects.aggregate(n=Count("id"), latest=Max("updated_at"), versions=Max("version"))
    return (row["n"], row["latest"], row["versions"])


def _load_overrides():
    from qcare.core.models_mech import PolicyValue

    return dict(PolicyValue.objects.values_list("key", "value"))


def _overrides():
    """The raw JSON overrides by key, from the cache when it is still current."""
    if _cache.dirty:
        # An uncommitted (or rolled-back) change: read the table as this transaction sees it.
        return _load_overrides()
    interval = getattr(settings, "QCARE_POLICY_CACHE_SECONDS", 1.0)
    now = time.monotonic()
    with _cache.lock:
        if _cache.values is not None and now - _cache.checked_at < interval:
            return _cache.values
    stamp = _stamp()
    with _cache.lock:
        if _cache.values is None or stamp != _cache.stamp:
            _cache.values = _load_overrides()
            _cache.stamp = stamp
        _cache.checked_at = now
        return _cache.values


def get(key):
    """The typed value of policy ``key``: the administrator's override, else the default."""
    definition = policy(key)
    raw = _overrides().get(key)
    if raw is None:
        return definition.default
    try:
        return definition.from_json(raw)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        # A stored value the current code cannot read must not stop the plant: use the default.
        return definition.default


def is_overridden(key):
    return key in _overrides()


def _mark_committed():
    _cache.dirty = False
    _cache.clear()


def set_policy(actor, key, raw_value, reason):
    """Set policy ``key`` to ``raw_value`` (validated against its kind and bounds).

    Needs ``policies.change`` and a reason; the change is audited (PolicyValue is
    controlled) and every process sees it once committed.
    """
    from qcare.accounts.permissions import has_perm
    from qcare.core.context import audit_context
    from qcare.core.models_mech import PolicyValue

    if not has_perm(actor, "policies.change"):
        raise NotPermitted()
    try:
        definition = policy(key)
    except KeyError:
        raise ValidationFailed(errors={"key": [_("Unknown policy.")]})
    value = definition.parse(raw_value)
    if not (reason or "").strip():
        raise ReasonRequired()
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        row = PolicyValue.objects.select_for_update().filter(key=key).first()
        if row is None:
            row = PolicyValue(key=key)
        row.value = definition.to_json(value)
        row.save()
        _cache.dirty = True
        _cache.clear()
        transaction.on_commit(_mark_committed)
    return row
