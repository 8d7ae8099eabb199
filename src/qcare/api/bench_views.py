"""The benchmark's lower bound: a minimal JsonResponse view of the sample list (issue section 12).

It does the work any correct list must do — authenticate, ``restrict()``, count, one page
of ``.values()`` in the same order — and nothing else: no framework, no schema, no query
parameter parsing. The benchmark compares ``GET /api/samples/`` against it (budget ≥ 60 %).

Served at ``/api/_bench/samples-minimal/`` only when the sample app is installed and
``DEBUG`` or ``QCARE_BENCH_VIEWS=1``; never listed in the OpenAPI document.
"""

import os

from django.apps import apps
from django.conf import settings
from django.http import JsonResponse
from django.urls import path


def bench_enabled():
    flag = os.environ.get("QCARE_BENCH_VIEWS", "").strip().lower() in {"1", "true", "yes", "on"}
    return apps.is_installed("qcare.sample") and (settings.DEBUG or flag)


def _user(request):
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        from qcare.accounts.tokens import user_for_token

        return user_for_token(header[7:].strip())
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def samples_minimal(request):
    """First page (50 rows) of the caller's sample records, newest first, as plain JSON."""
    from qcare.sample.api import LIST_FIELDS
    from qcare.sample.models import SampleRecord

    user = _user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    qs = SampleRecord.objects.restrict(user, "view")
    return JsonResponse({"count": qs.count(), "results": list(qs[:50].values(*LIST_FIELDS))})


def urlpatterns():
    """The bench URL patterns (empty unless enabled), prepended to the API's own."""
    if not bench_enabled():
        return []
    return [path("_bench/samples-minimal/", samples_minimal, name="bench-samples-minimal")]
