"""Errors raised by services. Views and the API turn them into messages / JSON errors.

Every message is translated (``gettext``) at the place it is raised.
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A business rule refused the change. Nothing was saved.

    ``errors`` maps field names to lists of messages (``"__all__"`` for the whole record).
    """

    status = 400
    code = "invalid"

    def __init__(self, message=None, *, errors=None, code=None):
        self.message = message if message is not None else _("The request could not be processed.")
        self.errors = {
            k: [str(m) for m in (v if isinstance(v, list | tuple) else [v])]
            for k, v in (errors or {}).items()
        }
        if code:
            self.code = code
        super().__init__(str(self.message))

    def as_dict(self):
        return {"detail": str(self.message), "code": self.code, "errors": self.errors}


class ValidationFailed(DomainError):
    """Input is invalid (field errors)."""

    status = 400
    code = "invalid"


class ReasonRequired(ValidationFailed):
    """A controlled record was changed without a reason."""

    code = "reason_required"

    def __init__(self, message=None, **kwargs):
        message = message or _("This is a controlled record: a reason for the change is required.")
        super().__init__(message, errors={"reason": [message]}, **kwargs)


class NotPermitted(DomainError):
    """The actor lacks the permission for this action."""

    status = 403
    code = "permission_denied"

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("You do not have permission to do this."), **kwargs)


class NotFound(DomainError):
    """The object does not exist or is outside the actor's scope (both answer 404)."""

    status = 404
    code = "not_found"

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("Not found."), **kwargs)


class Conflict(DomainError):
    """The record is not in a state that allows this change."""

    status = 409
    code = "conflict"


class StaleVersion(Conflict):
    """Optimistic locking: someone else saved the record since it was loaded."""

    code = "stale_version"

    def __init__(self, message=None, **kwargs):
        super().__init__(
            message
            or _(
                "Someone else changed this record after you opened it. Reload it and apply your change again."
            ),
            **kwargs,
        )


class PreconditionFailed(StaleVersion):
    """``If-Match`` did not match the current version (HTTP 412)."""

    status = 412
    code = "precondition_failed"
