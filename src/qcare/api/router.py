"""The REST API (django-ninja): one NinjaAPI mounted at /api/ (owned by api)."""

from ninja import NinjaAPI

api = NinjaAPI(title="QCare API", version="1", urls_namespace="api")
