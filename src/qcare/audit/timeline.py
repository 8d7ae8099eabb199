"""Turn audit entries into display rows: field labels, readable old/new values, events."""

from datetime import UTC

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qcare.audit.capture import MASKED

EMPTY = "—"

#: Labels of the event details that QCare's own services write (others show their key).
DETAIL_LABELS = {
    "ip": gettext_lazy("IP address"),
    "user_agent": gettext_lazy("Browser"),
    "username": gettext_lazy("User name"),
    "meaning": gettext_lazy("Meaning"),
    "signature": gettext_lazy("Signature"),
    "content_hash": gettext_lazy("Content hash"),
    "event": gettext_lazy("Event"),
    "failures": gettext_lazy("Failed attempts"),
    "format": gettext_lazy("Format"),
    "rows": gettext_lazy("Rows"),
}


class _Resolver:
    """Maps stored values to text: choice labels, related objects' names, yes/no."""

    def __init__(self):
        self.cache = {}

    def related_names(self, model, pks):
        """``{str(pk): str(obj)}`` for related objects that still exist (one query per model)."""
        key = model._meta.label_lower
        known = self.cache.setdefault(key, {})
        missing = {str(pk) for pk in pks if pk is not None and str(pk) not in known}
        if missing:
            try:
                for obj in model._base_manager.filter(pk__in=list(missing)):
                    known[str(obj.pk)] = str(obj)
            except (ValueError, TypeError):  # stored ids of another type: show them as they are
                pass
        return known

    def text(self, field, value):
        if value is None or value == "":
            return EMPTY
        if field is None:
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if field.many_to_many or field.one_to_many:
            names = self.related_names(field.related_model, value or [])
            return ", ".join(names.get(str(pk), f"#{pk}") for pk in value) or EMPTY
        if field.is_relation and field.related_model is not None:
            return self.related_names(field.related_model, [value]).get(str(value), f"#{value}")
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(field, models.BooleanField):
            return _("Yes") if value else _("No")
        if isinstance(field, models.DateTimeField) and isinstance(value, str):
            return _local_time(value)
        return str(value)


def _local_time(text):
    """A stored ISO timestamp shown in the company's time zone, like the entry times."""
    moment = parse_datetime(text)
    if moment is None:
        return text
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s")


def _field(model, name):
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - the field may have been removed since
        return None


def _label(field, name):
    if field is None:
        return name
    label = getattr(field, "verbose_name", None) or getattr(field, "related_name", None) or name
    return capfirst(str(label))


def build(entries):
    """Display dicts for ``entries``: who, when, action, why, field changes, event details."""
    resolver = _Resolver()
    rows = []
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        changes = []
        for name, value in (entry.changes or {}).items():
            field = _field(model, name)
            if value == MASKED or not isinstance(value, list) or len(value) != 2:
                changes.append({"label": _label(field, name), "masked": True})
                continue
            old, new = value
            changes.append(
                {
                    "label": _label(field, name),
                    "old": resolver.text(field, old) if old is not None else None,
                    "new": resolver.text(field, new) if new is not None else None,
                }
            )
        details = [
            {"key": str(DETAIL_LABELS.get(k, k)), "value": str(v)}
            for k, v in sorted((entry.data or {}).items())
        ]
        rows.append({"entry": entry, "changes": changes, "details": details})
    return rows
