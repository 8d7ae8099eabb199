"""``GET /api/<resource>/{id}/history/``: the audit trail of one record (P3).

Whoever may view the record may read its history (the same rule as the record page's
history tab). Entries are paginated like every list, newest first, with times in UTC
ISO-8601 (clients localise; the record page shows the company's time zone).
"""

from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from ninja import Query, Schema

from qcare.api.pagination import paginate
from qcare.api.schemas import ErrorOut, Page, PageQuery

HISTORY_FIELDS = ("seq", "at", "actor", "actor_name", "action", "changes", "reason", "data", "request_id")


class HistoryEntryOut(Schema):
    """One audit entry: who, when, what (old → new per field), why."""

    seq: int
    at: datetime
    actor: int | None
    actor_name: str
    action: str
    changes: dict[str, Any] | list[Any]
    reason: str
    data: dict[str, Any] | list[Any]
    request_id: str


def add_history(resource):
    """Register the history endpoint on ``resource`` (a :class:`qcare.api.crud.Resource`)."""
    from qcare.api.crud import READ_ERRORS, json_response

    @resource.router.get(
        f"/{resource.name}/{{int:pk}}/history/",
        response={200: Page[HistoryEntryOut], 400: ErrorOut, **READ_ERRORS},
        url_name=f"{resource.name}-history",
        operation_id=f"{resource.name}_history",
    )
    def history(request, pk: int, query: Query[PageQuery]):
        from qcare.audit.models import AuditEntry

        obj = resource.get(request, pk)
        content_type = ContentType.objects.get_for_model(obj)
        entries = AuditEntry.objects.filter(content_type=content_type, object_pk=str(obj.pk)).order_by("-seq")
        return json_response(paginate(request, entries, HISTORY_FIELDS, query.page, query.page_size))
