"""URLs of the customer benchmark's web server: QCare's own plus the minimal view.

``minimal`` is the lower bound of the list measurements: authenticate, ``restrict()``, the
same filters, search, licence-status annotation and order as the customer list, count plus
one page of ``.values()`` as plain JSON — no framework, no schema, no template.
``BearerLoginMiddleware`` lets the load generator (which sends only a bearer token) reach
the HTML pages: it stands in for the session lookup a browser's request would cost.
"""

from django.http import JsonResponse
from django.urls import path

from qcare.urls import urlpatterns as qcare_urlpatterns

PAGE_SIZE = 50


def _token_user(request):
    from qcare.accounts.tokens import user_for_token

    header = request.headers.get("Authorization", "")
    return user_for_token(header[7:].strip()) if header[:7].lower() == "bearer " else None


class BearerLoginMiddleware:
    """Benchmark only: a bearer token logs the request in on the HTML pages (not /api/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(("/api/", "/_bench/")) and not request.user.is_authenticated:
            user = _token_user(request)
            if user is not None:
                request.user = user
        return self.get_response(request)


def minimal_queryset(user, distributor, term=None):
    """The list page's rows: scope, type + domestic filters, search, licence status, by code."""
    from benchmarks.customers import SEARCH_TERM
    from qcare.customers.filters import annotate_licence_status
    from qcare.customers.models import Customer
    from qcare.customers.search import search_customers

    qs = Customer.objects.restrict(user, "view").filter(customer_type=distributor, is_foreign=False)
    qs = search_customers(qs, SEARCH_TERM if term is None else term)
    return annotate_licence_status(qs).order_by("code")


def customers_minimal(request):
    """First page of the distributor/domestic customers matching ``search``, as plain JSON."""
    from qcare.customers.api import LIST_FIELDS
    from qcare.customers.models import Classification

    user = _token_user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    distributor = Classification.objects.get(kind="type", code="distributor")
    qs = minimal_queryset(user, distributor, request.GET.get("search", ""))
    rows = list(qs[:PAGE_SIZE].values(*LIST_FIELDS, "licence_status"))
    return JsonResponse({"count": qs.count(), "results": rows})


urlpatterns = [path("_bench/customers-minimal/", customers_minimal), *qcare_urlpatterns]
