"""Audit trail services. TO BE IMPLEMENTED (helper "audit")."""


def log_event(event_type, *, obj=None, actor=None, data=None, reason=None):
    """Append a business event (signature, export, view, login, …) to the audit trail."""
    raise NotImplementedError
