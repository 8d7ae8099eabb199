"""A small builder for the usual endpoints of a resource, so each app writes little.

::

    samples = Resource(
        SampleRecord, "samples",
        out=SampleOut, list_fields=("id", "number", ...), detail=sample_detail,
        create_in=SampleCreate, create=services.create_sample,
        update_in=SampleUpdate, update=services.update_sample,
        delete=services.delete_sample,
        search_fields=("number", "title"), list_query=SampleListQuery, filters={"status": "status"},
    )
    router = samples.router  # mounted by qcare.api.router (autodiscovered)

    @samples.action("approve", ApproveIn)
    def approve(request, record, payload): ...

Every endpoint reads through ``Model.objects.restrict(user, action)`` (outside scope → 404)
and writes only through the app's services. The list path stays lean: ``.values()`` of the
declared fields serialised straight to JSON, no per-row Python.
"""

import json

from django.db import models
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router

from qcare.api.pagination import paginate
from qcare.api.rendering import dumps
from qcare.api.schemas import MAX_ID, ErrorOut, ListQuery, Page
from qcare.core.errors import (
    NotFound,
    NotPermitted,
    PreconditionFailed,
    ReasonRequired,
    StaleVersion,
    ValidationFailed,
)
from qcare.core.models import get_restricted_or_404

JSON = "application/json; charset=utf-8"
READ_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
WRITE_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 415: ErrorOut}


def json_response(data, status=200, obj=None):
    """A JSON response; with a versioned ``obj``, also its ETag."""
    response = HttpResponse(dumps(data), status=status, content_type=JSON)
    version = getattr(obj, "version", None)
    if version is not None:
        response["ETag"] = f'W/"{version}"'
    return response


def row_of(obj, fields):
    """``{field: value}`` of ``obj`` as ``.values(*fields)`` would give it (foreign keys as ids)."""
    opts = type(obj)._meta
    return {name: getattr(obj, opts.get_field(name).attname) for name in fields}


def parse_if_match(header):
    """The versions listed in an ``If-Match`` header (``W/"3"``, ``"3"``, ``*``); None if absent."""
    if not header:
        return None
    versions = set()
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        versions.add(tag)
    return versions


def expected_version(request, obj, body_version):
    """The version the client claims to have loaded; If-Match wins over the body.

    A stale If-Match answers 412 here, before anything is done; a stale body version is
    passed on and refused by the service (409). Neither given → 400: a blind overwrite is
    exactly what optimistic locking exists to prevent.
    """
    tags = parse_if_match(request.headers.get("If-Match"))
    if tags is not None:
        if "*" in tags:
            return obj.version
        if str(obj.version) not in tags:
            raise PreconditionFailed()
        return obj.version
    if body_version is None:
        message = _('Send the version you loaded (field "version" or an If-Match header).')
        raise ValidationFailed(message, errors={"version": [message]}, code="version_required")
    return body_version


def resolve_relations(model, data):
    """Replace foreign-key ids in client input by instances; unknown ids are field errors."""
    errors = {}
    for name, value in list(data.items()):
        field = model._meta.get_field(name)
        if isinstance(field, models.ForeignKey) and value is not None:
            instance = field.related_model._default_manager.filter(pk=value).first()
            if instance is None:
                errors[name] = [_("Select a valid choice. That choice is not one of the available choices.")]
            data[name] = instance
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)
    return data


def reason_from_body(request):
    """``{"reason": …}`` from a DELETE body, for clients that cannot put it in the query string."""
    if not request.body:
        return None
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        message = _("The request body is not valid JSON.")
        raise ValidationFailed(message, errors={"__all__": [message]}, code="malformed_json")
    reason = data.get("reason") if isinstance(data, dict) else None
    return reason if isinstance(reason, str) else None


def require_reason(model, reason):
    """Controlled records need a reason for update and delete (P3); checked before the service runs."""
    if getattr(model, "controlled", False) and not (reason or "").strip():
        raise ReasonRequired()
    return (reason or "").strip() or None


def _search(queryset, fields, term):
    if not term or not fields:
        return queryset
    condition = models.Q()
    for field in fields:
        condition |= models.Q(**{f"{field}__icontains": term})
    return queryset.filter(condition)


class Resource:
    """The list / retrieve / create / update / delete / action endpoints of one model.

    ``detail(obj)`` returns the dict of one record (defaults to ``row_of(obj, list_fields)``);
    services are called as ``create(actor, **data)``, ``update(actor, obj, data=…, reason=…,
    expected_version=…)`` and ``delete(actor, obj, reason=…)`` — the signatures of the
    services in every QCare app.
    """

    def __init__(
        self,
        model,
        name,
        *,
        out,
        list_fields,
        detail=None,
        detail_out=None,
        list_query=ListQuery,
        search_fields=(),
        filters=None,
        orderings=None,
        create_in=None,
        create=None,
        update_in=None,
        update=None,
        delete=None,
        history=True,
        tags=None,
    ):
        self.model, self.name, self.out = model, name, out
        self.list_fields, self.detail_out = tuple(list_fields), detail_out or out
        self.detail = detail or (lambda obj: row_of(obj, self.list_fields))
        self.list_query, self.search_fields = list_query, tuple(search_fields)
        self.filters, self.orderings = dict(filters or {}), dict(orderings or {})
        self.router = Router(tags=tags or [name])
        self._add_list()
        self._add_retrieve()
        if create:
            self._add_create(create_in, create)
        if update:
            self._add_update(update_in, update)
        if delete:
            self._add_delete(delete)
        if history and getattr(model, "audited", False):
            from qcare.api.history import add_history

            add_history(self)

    # -- reading -------------------------------------------------------------------------
    def get(self, request, pk, action="view"):
        """The record if the caller may ``action`` it; NotFound (404) otherwise."""
        if not 0 < pk <= MAX_ID:  # no such row; and the database would overflow on it
            raise NotFound()
        return get_restricted_or_404(self.model, request.auth, action, pk=pk)

    def fresh(self, obj):
        """``obj`` as stored (after a service wrote it): what the client gets is what was saved."""
        return self.model._default_manager.get(pk=obj.pk)

    def filtered(self, request, query):
        """The restricted, searched, filtered and ordered queryset of a list request.

        No view permission at all is 403 (an empty list would hide a misconfigured role);
        records outside the caller's scope are simply not listed.
        """
        from qcare.accounts.permissions import has_perm

        if not has_perm(request.auth, f"{self.model.permission_module}.view"):
            raise NotPermitted()
        qs = self.model.objects.restrict(request.auth, "view")
        qs = _search(qs, self.search_fields, query.search)
        for param, lookup in self.filters.items():
            value = getattr(query, param, None)
            if value is not None:
                qs = qs.filter(**{lookup: value})
        ordering = getattr(query, "ordering", None)
        if ordering:
            qs = qs.order_by(*self.orderings[ordering])
        return qs

    def _add_list(self):
        query_schema, out = self.list_query, self.out

        @self.router.get(
            f"/{self.name}/",
            response={200: Page[out], 400: ErrorOut, **READ_ERRORS},
            url_name=f"{self.name}-list",
            operation_id=f"{self.name}_list",
        )
        def list_records(request, query: Query[query_schema]):
            page = paginate(
                request, self.filtered(request, query), self.list_fields, query.page, query.page_size
            )
            return json_response(page)

    def _add_retrieve(self):
        @self.router.get(
            f"/{self.name}/{{int:pk}}/",
            response={200: self.detail_out, **READ_ERRORS},
            url_name=f"{self.name}-detail",
            operation_id=f"{self.name}_retrieve",
        )
        def retrieve(request, pk: int):
            obj = self.get(request, pk)
            return json_response(self.detail(obj), obj=obj)

    # -- writing -------------------------------------------------------------------------
    def _add_create(self, schema, service):
        @self.router.post(
            f"/{self.name}/",
            response={201: self.detail_out, **WRITE_ERRORS},
            url_name=f"{self.name}-create",
            operation_id=f"{self.name}_create",
        )
        def create(request, payload: schema):
            data = resolve_relations(self.model, payload.model_dump(exclude_unset=True))
            obj = self.fresh(service(request.auth, **data))
            response = json_response(self.detail(obj), status=201, obj=obj)
            response["Location"] = f"{request.path}{obj.pk}/"
            return response

    def _add_update(self, schema, service):
        @self.router.patch(
            f"/{self.name}/{{int:pk}}/",
            response={200: self.detail_out, 412: ErrorOut, **WRITE_ERRORS},
            url_name=f"{self.name}-update",
            operation_id=f"{self.name}_update",
        )
        def update(request, pk: int, payload: schema):
            obj = self.get(request, pk)
            data = payload.model_dump(exclude_unset=True)
            version = expected_version(request, obj, data.pop("version", None))
            reason = require_reason(self.model, data.pop("reason", None))
            data = resolve_relations(self.model, data)
            if_match = request.headers.get("If-Match")
            try:
                obj = self.fresh(
                    service(request.auth, obj, data=data, reason=reason, expected_version=version)
                )
            except StaleVersion as exc:
                # Someone saved between our read and write: with If-Match that is a failed precondition.
                if if_match and not isinstance(exc, PreconditionFailed):
                    raise PreconditionFailed()
                raise
            return json_response(self.detail(obj), obj=obj)

    def _add_delete(self, service):
        @self.router.delete(
            f"/{self.name}/{{int:pk}}/",
            response={204: None, **WRITE_ERRORS},
            url_name=f"{self.name}-delete",
            operation_id=f"{self.name}_delete",
        )
        def delete(request, pk: int, reason: str | None = None):
            obj = self.get(request, pk)
            reason = reason or reason_from_body(request)
            service(request.auth, obj, reason=require_reason(self.model, reason))
            return HttpResponse(status=204)

    def action(self, name, schema=None, *, response=None, summary=None):
        """Register ``POST /<resource>/{pk}/<name>/`` calling ``func(request, obj, payload)``.

        The object is looked up within the caller's view scope (404 otherwise); the service
        checks the action's own permission. A returned model instance is answered with the
        record's detail; anything else is returned as is (validated against ``response``).
        """

        def register(func):
            out = response or self.detail_out

            def run(request, pk, payload):
                obj = self.get(request, pk)
                result = func(request, obj, payload)
                if isinstance(result, self.model):
                    result = self.fresh(result)
                    return json_response(self.detail(result), obj=result)
                return result

            if schema is None:

                def endpoint(request, pk: int):
                    return run(request, pk, None)

            else:

                def endpoint(request, pk: int, payload: schema):
                    return run(request, pk, payload)

            endpoint.__name__ = f"{self.name}_{name}"
            endpoint.__doc__ = func.__doc__
            self.router.post(
                f"/{self.name}/{{int:pk}}/{name}/",
                response={200: out, 412: ErrorOut, **WRITE_ERRORS},
                url_name=f"{self.name}-{name}",
                operation_id=f"{self.name}_{name}",
                summary=summary,
            )(endpoint)
            return func

        return register
