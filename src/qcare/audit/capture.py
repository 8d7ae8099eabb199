"""Capture by construction: signal receivers that write every change of an audited model.

Connected in ``AuditConfig.ready()`` for each concrete subclass of ``QModel`` whose
``audited`` is true (opt-out). ``pre_save`` / ``pre_delete`` compute the diff and refuse a
controlled change without a reason *before* any SQL runs; ``post_save`` / ``post_delete``
append the entry. Old values come from the ``_loaded_values`` snapshot taken when the row
was loaded (or from the database when the instance was built by hand).
"""

import base64
import datetime
import decimal
import enum
import uuid

from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from qcare.core.context import get_reason
from qcare.core.errors import ReasonRequired

#: Stored instead of the value of a masked field (``audit_mask``), e.g. a password hash.
MASKED = "***changed***"
#: Fields never diffed: bookkeeping that changes on every save.
ALWAYS_EXCLUDED = frozenset({"version", "updated_at"})


def jsonable(value):
    """A JSON-safe, hash-stable form of a field value (floats become strings: jsonb reformats them)."""
    if value is None or isinstance(value, bool | int | str) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value.total_seconds())
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


def is_audited(model):
    from qcare.core.models import QModel

    return (
        issubclass(model, QModel)
        and getattr(model, "audited", False)
        and not model._meta.abstract
        and not model._meta.proxy
    )


def audited_fields(model):
    """Concrete, non-excluded fields of ``model`` (cached on the model)."""
    cached = model.__dict__.get("_audit_fields")
    if cached is None:
        excluded = ALWAYS_EXCLUDED | set(getattr(model, "audit_exclude", ()))
        cached = tuple(
            f for f in model._meta.concrete_fields if f.name not in excluded and f.attname not in excluded
        )
        model._audit_fields = cached
    return cached


def _masked(model, field):
    mask = getattr(model, "audit_mask", ())
    return field.name in mask or field.attname in mask


def current_values(instance):
    return {f.attname: f.value_from_object(instance) for f in audited_fields(type(instance))}


def _old_values(instance):
    """Values as stored in the database, or None when the row does not exist yet."""
    loaded = getattr(instance, "_loaded_values", None)
    expected = getattr(instance, "_expected_version", None)
    if loaded is not None and expected is not None and loaded.get("version", expected) != expected:
        loaded = None  # refresh_from_db() updated the fields but not the snapshot: re-read
    if not instance._state.adding and loaded is not None:
        return loaded
    if instance.pk is None:
        return None
    # Built by hand with a pk, or loaded with .only(): ask the database.
    attnames = [f.attname for f in audited_fields(type(instance))]
    row = type(instance)._base_manager.using(instance._state.db or "default").filter(pk=instance.pk)
    return row.values(*attnames).first()


def diff(instance, old, update_fields=None):
    """``{field name: [old, new]}`` for the fields whose value changed."""
    model = type(instance)
    changes = {}
    for field in audited_fields(model):
        if (
            update_fields is not None
            and field.name not in update_fields
            and field.attname not in update_fields
        ):
            continue
        new = field.value_from_object(instance)
        if old is None:
            if new in (None, "") or field.primary_key:
                continue
            before = None
        else:
            if field.attname not in old:
                continue
            before = old[field.attname]
            if field.to_python(before) == field.to_python(new) if _comparable(field) else before == new:
                continue
        changes[field.name] = MASKED if _masked(model, field) else [jsonable(before), jsonable(new)]
    return changes


def _comparable(field):
    # Normalise both sides through the field where types differ (e.g. "1.50" vs Decimal("1.5")).
    return isinstance(field, models.DecimalField | models.DateTimeField | models.DateField)


#: Fields a workflow service changes (state transitions are rows with their own reason, and
#: approvals are signatures), so a controlled record needs no correction reason for them.
DEFAULT_REASON_EXEMPT = ("status",)


def needs_reason(model, changes):
    """A controlled model needs a reason when a field outside ``audit_reason_exempt`` changes."""
    if not getattr(model, "controlled", False):
        return False
    exempt = set(getattr(model, "audit_reason_exempt", DEFAULT_REASON_EXEMPT))
    return any(name not in exempt for name in changes)


def on_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    old = _old_values(instance)
    fields = set(update_fields) if update_fields is not None else None
    changes = diff(instance, old, fields)
    if old is not None and changes and needs_reason(sender, changes) and not get_reason():
        raise ReasonRequired()
    instance._audit_pending = (old is None, changes)


def on_post_save(sender, instance, created, raw=False, **kwargs):
    from qcare.audit.services import record_change

    pending = instance.__dict__.pop("_audit_pending", None)
    if raw or pending is None:
        return
    was_new, changes = pending
    if created or was_new:
        record_change(instance, "create", diff(instance, None))
    elif changes:
        record_change(instance, "update", changes)
    # Refresh the snapshot so the next save of this same instance diffs against what is stored.
    instance._loaded_values = current_values(instance)


def require_delete_reason(instance):
    """Raise ReasonRequired if ``instance`` is controlled and no reason is bound.

    Also callable from ``QModel.delete()`` *before* Django's delete collector opens its own
    transaction, so that a refusal leaves the caller's transaction usable.
    """
    if getattr(type(instance), "controlled", False) and not get_reason():
        raise ReasonRequired()


def on_pre_delete(sender, instance, **kwargs):
    require_delete_reason(instance)
    old = current_values(instance)
    instance._audit_deleted = {
        f.name: (MASKED if _masked(sender, f) else [jsonable(old[f.attname]), None])
        for f in audited_fields(sender)
        if old[f.attname] not in (None, "")
    }
    instance._audit_deleted_pk = instance.pk


def on_post_delete(sender, instance, **kwargs):
    from qcare.audit.services import record_change

    changes = instance.__dict__.pop("_audit_deleted", {})
    record_change(instance, "delete", changes, pk=instance.__dict__.pop("_audit_deleted_pk", instance.pk))


def _m2m_name(instance, through):
    """The name of the relation as seen from ``instance`` (forward field or reverse accessor)."""
    for field in type(instance)._meta.get_fields():
        if not field.many_to_many:
            continue
        if field.concrete and field.remote_field.through is through:
            return field.name
        if not field.concrete and getattr(field, "through", None) is through:
            return field.get_accessor_name()
    return through._meta.model_name


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    from qcare.audit.services import record_change

    if not is_audited(type(instance)):
        return
    name = _m2m_name(instance, sender)
    if action.startswith("pre_"):
        if getattr(type(instance), "controlled", False) and not get_reason():
            raise ReasonRequired()
        if action == "pre_clear":
            instance._audit_m2m_before = sorted(_related_pks(instance, name), key=str)
        return
    after = sorted(_related_pks(instance, name), key=str)
    if action == "post_clear":
        before = instance.__dict__.pop("_audit_m2m_before", [])
    elif action == "post_add":
        before = sorted(set(after) - set(pk_set or ()), key=str)
    else:
        before = sorted(set(after) | set(pk_set or ()), key=str)
    if before != after:
        record_change(instance, "m2m", {name: [jsonable(before), jsonable(after)]})


def _related_pks(instance, name):
    return list(getattr(instance, name).values_list("pk", flat=True))


def connect(model):
    """Connect the receivers for one audited model (and its many-to-many through tables)."""
    uid = f"qcare-audit-{model._meta.label_lower}"
    pre_save.connect(on_pre_save, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(on_post_save, sender=model, weak=False, dispatch_uid=uid)
    pre_delete.connect(on_pre_delete, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(on_post_delete, sender=model, weak=False, dispatch_uid=uid)
    for field in model._meta.many_to_many:
        through = field.remote_field.through
        m2m_changed.connect(
            on_m2m_changed,
            sender=through,
            weak=False,
            dispatch_uid=f"qcare-audit-m2m-{through._meta.label_lower}",
        )


def connect_all():
    """Connect every audited model of every installed app; returns the models connected."""
    from django.apps import apps

    connected = [m for m in apps.get_models() if is_audited(m)]
    for model in connected:
        connect(model)
    return connected
