"""Audit trail services: record changes and business events, bulk paths.

Field changes are written automatically by :mod:`qcare.audit.capture`; services call
:func:`log_event` for what is not a field change (signature, export, view of restricted
data, login, …) and :func:`record_bulk_create` after a ``bulk_create``.
"""

from django.contrib.contenttypes.models import ContentType

from qcare.audit import chain
from qcare.audit.capture import current_values, diff, jsonable
from qcare.audit.models import Action
from qcare.core.context import get_actor, get_reason, get_request_id


def _actor_fields(actor):
    actor = actor if actor is not None else get_actor()
    if actor is None or not getattr(actor, "pk", None):
        return {"actor_id": None, "actor_name": ""}
    name = actor.get_full_name() if hasattr(actor, "get_full_name") else str(actor)
    return {"actor_id": actor.pk, "actor_name": (name or str(actor))[:150]}


def _object_fields(obj, pk=None):
    if obj is None:
        return {"content_type": None, "object_pk": "", "object_repr": ""}
    try:
        text = str(obj)
    except Exception:  # noqa: BLE001 - a broken __str__ must not stop the audit trail
        text = ""
    pk = obj.pk if pk is None else pk
    return {
        "content_type": ContentType.objects.get_for_model(obj, for_concrete_model=True),
        "object_pk": "" if pk is None else str(pk)[:64],
        "object_repr": text[:200],
    }


def _spec(action, obj, *, actor=None, changes=None, reason=None, data=None, pk=None):
    return {
        **_actor_fields(actor),
        **_object_fields(obj, pk),
        "request_id": (get_request_id() or "")[:64],
        "action": action,
        "changes": changes or {},
        "reason": reason if reason is not None else (get_reason() or ""),
        "data": jsonable(data or {}),
    }


def record_change(obj, action, changes, *, pk=None, actor=None):
    """Append a create / update / delete / m2m entry for ``obj`` (called by the receivers)."""
    return chain.append([_spec(action, obj, actor=actor, changes=changes, pk=pk)])[0]


def log_event(event_type, *, obj=None, actor=None, data=None, reason=None):
    """Append a business event (signature, export, view, login, …) to the audit trail.

    ``event_type`` is one of :class:`~qcare.audit.models.Action`'s event values; any other
    name is stored as ``other`` with the name in ``data["event"]``. Returns the entry.
    """
    data = dict(data or {})
    if event_type not in Action.values:
        data["event"] = str(event_type)
        event_type = Action.OTHER
    return chain.append([_spec(event_type, obj, actor=actor, reason=reason, data=data)])[0]


def record_bulk_create(objs, *, actor=None):
    """Write create entries for objects saved with ``bulk_create`` (which sends no signals).

    The objects must have their primary keys (``bulk_create`` sets them on SQLite and
    PostgreSQL). All entries are appended under one lock of the chain head.
    """
    specs = [_spec(Action.CREATE, obj, actor=actor, changes=diff(obj, None), reason="") for obj in objs]
    for obj in objs:
        obj._loaded_values = current_values(obj)
    return chain.append(specs)
