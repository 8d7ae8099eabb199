"""Notification services. TO BE IMPLEMENTED (helper "notifications")."""


def notify(recipients, *, template, context=None, dedupe_key=None, channels=("inbox", "email"), obj=None):
    """Queue a notification in the outbox, in the caller's transaction."""
    raise NotImplementedError
