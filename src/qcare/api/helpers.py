"""Helpers the domain APIs share beyond :mod:`qcare.api.crud`: documentation of generated
operations, field errors, paging of hand-written lists, 201 responses, version handling of
actions (If-Match → 412, body version → 409) and signature rows."""

from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.api.crud import expected_version, json_response
from qcare.core.errors import PreconditionFailed, StaleVersion, ValidationFailed
from qcare.core.signatures import signatures_for


def describe(resource, texts):
    """Summary and description of the operations :class:`~qcare.api.crud.Resource` generates
    (list, retrieve, history), keyed by operation id: every operation is documented."""
    for path_view in resource.router.path_operations.values():
        for operation in path_view.operations:
            if operation.operation_id in texts:
                operation.summary, operation.description = texts[operation.operation_id]


def invalid(field, message):
    """A 400 naming one field."""
    return ValidationFailed(_("Please correct the errors below."), errors={field: [message]})


def user_name(user):
    return (user.get_full_name() or user.username) if user is not None else ""


def _page_url(request, page):
    params = request.GET.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def page(request, queryset, page, page_size, rows, *, count=None):
    """A page dict; ``rows(slice)`` turns the sliced queryset (or list) into result dicts.

    ``count`` may be given when a cheaper query counts the same rows (no joins)."""
    if count is None:
        count = queryset.count() if hasattr(queryset, "query") else len(queryset)
    start = (page - 1) * page_size
    results = rows(queryset[start : start + page_size]) if start < count else []
    return {
        "count": count,
        "page": page,
        "page_size": page_size,
        "next": _page_url(request, page + 1) if start + page_size < count else None,
        "previous": _page_url(request, page - 1) if page > 1 and count else None,
        "results": results,
    }


def created(request, data, obj, path=None):
    """201 with the record and its Location."""
    response = json_response(data, status=201, obj=obj)
    response["Location"] = f"{path or request.path}{obj.pk}/"
    return response


def action_version(request, obj, body_version):
    """Actions may name the version they were based on: If-Match (412 here when stale) or
    ``version`` in the body (409 from the service when stale); neither → not checked."""
    if request.headers.get("If-Match"):
        return expected_version(request, obj, body_version)
    return body_version


def versioned_call(request, call):
    """Run a service call; a stale write under If-Match answers 412 instead of 409."""
    try:
        return call()
    except StaleVersion as exc:
        if request.headers.get("If-Match") and not isinstance(exc, PreconditionFailed):
            raise PreconditionFailed() from exc
        raise


def signature_row(sig):
    return {
        "signer": sig.signer_id,
        "signer_name": sig.signer_full_name,
        "meaning": sig.meaning,
        "meaning_display": str(sig.get_meaning_display()),
        "signed_at": timezone.localtime(sig.signed_at, timezone.get_default_timezone()),
        "comment": sig.comment,
        "is_valid": bool(sig.is_valid),
    }


def signatures(record):
    """Every signature of ``record`` as rows (signer, meaning, time, validity)."""
    return [signature_row(s) for s in signatures_for(record)]
