"""Who is acting, in which request, and why: read by the audit trail and services.

The request middleware binds the current request; services and jobs bind an explicit
actor and reason with :func:`audit_context`. Values are context-local (threads and async
tasks each see their own).
"""

from contextlib import contextmanager
from contextvars import ContextVar

_request = ContextVar("qcare_request", default=None)
_actor = ContextVar("qcare_actor", default=None)
_reason = ContextVar("qcare_reason", default=None)
_request_id = ContextVar("qcare_request_id", default=None)

_UNSET = object()


@contextmanager
def audit_context(*, actor=_UNSET, reason=_UNSET, request_id=_UNSET, request=_UNSET):
    """Bind actor / reason / request id for the audit trail inside the ``with`` block."""
    tokens = []
    for var, value in ((_actor, actor), (_reason, reason), (_request_id, request_id), (_request, request)):
        if value is not _UNSET:
            tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def get_request():
    return _request.get()


def get_actor():
    """The explicit actor, else the authenticated user of the current request, else None."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def get_reason():
    reason = _reason.get()
    return reason.strip() if isinstance(reason, str) and reason.strip() else None


def get_request_id():
    rid = _request_id.get()
    if rid:
        return rid
    request = _request.get()
    return getattr(request, "request_id", None) if request is not None else None
