"""URLs of the orders benchmark's web server: QCare's own plus the minimal views.

``/_bench/orders-minimal/`` is the lower bound of the order-list measurements: authenticate the
bearer token, ``restrict()``, the same status / customer filter and order as the list, count
plus one page of ``.values()`` as plain JSON — no framework, no schema, no template.
``/_bench/trace-minimal/<lot>/`` is the same for the lot trace (count + one page of the
selector's rows). The HTML pages are reached through the customer benchmark's
``BearerLoginMiddleware`` (see ``benchmarks/orders_settings.py``).
"""

from django.http import JsonResponse
from django.urls import path

from benchmarks.customers_urls import _token_user
from qcare.urls import urlpatterns as qcare_urlpatterns

PAGE_SIZE = 50
#: The list row when the API does not publish its own field list.
DEFAULT_LIST_FIELDS = (
    "id",
    "number",
    "status",
    "order_class",
    "order_date",
    "customer",
    "owner",
    "total_amount",
    "currency",
)


def list_fields():
    """The API's list row: ``qcare.orders.api.LIST_FIELDS`` plus the annotated customer name."""
    try:
        from qcare.orders.api import LIST_FIELDS
    except ImportError:
        LIST_FIELDS = DEFAULT_LIST_FIELDS  # noqa: N806
    return (*LIST_FIELDS, "customer_name")


def minimal_queryset(user, *, status=None, customer=None):
    """The order list's rows before paging: scope and the status / customer filter."""
    from qcare.orders.models import Order

    qs = Order.objects.restrict(user, "view")
    if status:
        qs = qs.filter(status=status)
    if customer:
        qs = qs.filter(customer_id=customer)
    return qs


def minimal_page(qs):
    """One page of the API's row (its fields plus the customer's name), newest first."""
    from django.db.models import F

    page = qs.order_by("-order_date", "-id").annotate(customer_name=F("customer__name"))[:PAGE_SIZE]
    return page.values(*list_fields())


def orders_minimal(request):
    """First page of the caller's orders (``?status=`` / ``?customer=``), as plain JSON.

    The count is taken on the filtered rows alone (no join), the page joins the customer for its
    name: the least any correct list must do.
    """
    user = _token_user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    qs = minimal_queryset(user, status=request.GET.get("status"), customer=request.GET.get("customer"))
    return JsonResponse({"count": qs.count(), "results": list(minimal_page(qs))})


def trace_minimal(request, lot):
    """First page of the trace of ``lot`` (the selector's rows), as plain JSON."""
    from qcare.orders.selectors import trace_lot

    user = _token_user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    qs = trace_lot(user, lot)
    return JsonResponse({"count": qs.count(), "results": list(qs[:PAGE_SIZE])})


urlpatterns = [
    path("_bench/orders-minimal/", orders_minimal),
    path("_bench/trace-minimal/<str:lot>/", trace_minimal),
    *qcare_urlpatterns,
]
