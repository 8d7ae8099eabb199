"""The REST API (django-ninja): one NinjaAPI mounted at /api/ (owned by api).

* OpenAPI 3 at ``/api/schema/``, Swagger UI at ``/api/docs/`` from ninja's bundled static
  files (no CDN; the page's only script is a static file, so the CSP holds).
* Auth: ``Authorization: Bearer <token>`` or the browser session (CSRF on unsafe methods).
* Errors: one format, see :mod:`qcare.api.errors`.
* Resources: each installed ``qcare.<app>`` with an ``api`` module that defines ``router``
  is mounted here automatically (see docs/api.md, "Adding a resource").
"""

from functools import wraps
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.http import HttpResponseNotAllowed
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.openapi.docs import Swagger

from qcare.api import errors
from qcare.api.auth import API_AUTH
from qcare.api.rendering import FastJSONRenderer, StrictJSONParser
from qcare.core.context import audit_context

DESCRIPTION = """QCare REST API. 质量管理系统接口。

Authenticate with `Authorization: Bearer <token>` (create one with `qcare token create USERNAME`)
or, in the browser, with your session (send `X-CSRFToken` on POST/PATCH/DELETE).
Errors always have the shape `{"detail", "code", "errors": {field: [messages]}}`, in the
language of `Accept-Language` (zh-hans by default, en). Input errors answer 400.
"""


class QCareAPI(NinjaAPI):
    """NinjaAPI whose 405 answers (ninja builds them outside its exception handlers) use our
    format, and which serves the benchmark's minimal view when enabled."""

    def _get_urls(self):
        from qcare.api import bench_views

        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = self._json_405(pattern.callback)
        # Plain Django views (no ninja in the path), before the catch-all 404 route.
        return bench_views.urlpatterns() + patterns

    def _json_405(self, view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if isinstance(response, HttpResponseNotAllowed):
                allowed = response["Allow"]
                response = errors.on_http_error(self, request, HttpError(405, "Method not allowed"))
                response["Allow"] = allowed
            return response

        return wrapper


api = QCareAPI(
    title="QCare API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    openapi_url="/schema/",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs/",
    auth=API_AUTH,
    renderer=FastJSONRenderer(),
    parser=StrictJSONParser(),
)
errors.install(api)


def bind_actor(view_func):
    """Run each operation with the authenticated user bound as the audit actor."""

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        with audit_context(actor=getattr(request, "auth", None)):
            return view_func(request, *args, **kwargs)

    return wrapper


api.add_decorator(bind_actor, mode="operation")


def _mount_app_routers():
    """Mount ``qcare.<app>.api.router`` of every installed QCare app (admin-style autodiscovery)."""
    for config in apps.get_app_configs():
        if not config.name.startswith("qcare.") or config.name == "qcare.api":
            continue
        module_name = f"{config.name}.api"
        if find_spec(module_name) is None:
            continue
        router = getattr(import_module(module_name), "router", None)
        if router is not None:
            api.add_router("", router)


def _mount_fallback():
    """``/api/`` itself, and unknown paths under /api/ answering 404 in the API's error format
    (not the HTML 404 page). Mounted last, so every real route matches first."""
    from ninja import Router

    fallback = Router()

    @fallback.get("/", include_in_schema=False, auth=None)
    def index(request):
        """``GET /api/``: where the schema and the docs are (instead of an HTML 404)."""
        return {"schema": request.build_absolute_uri("schema/"), "docs": request.build_absolute_uri("docs/")}

    @fallback.api_operation(
        ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False, auth=None
    )
    def not_found(request, rest: str):
        from qcare.core.errors import NotFound

        raise NotFound()

    api.add_router("", fallback)


_mount_app_routers()
_mount_fallback()
