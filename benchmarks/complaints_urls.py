"""URLs of the complaints benchmark: QCare's own plus the minimal list view.

``/_bench/complaints-minimal/`` is the lower bound of the complaint-list measurements:
authenticate the bearer token, ``restrict()``, the list's filters (``status``, ``period_from``,
``period_to``, ``customer``, ``q`` through ``selectors.filter_complaints`` and so the search
index), count plus one page of ``.values()`` as plain JSON — no framework, no schema, no template.
"""

from django.http import JsonResponse
from django.urls import path

from benchmarks.customers_urls import _token_user
from qcare.urls import urlpatterns as qcare_urlpatterns

PAGE_SIZE = 50
#: The columns of a list row (what the list page shows), plus the customer's name.
LIST_FIELDS = (
    "id",
    "number",
    "status",
    "received_at",
    "due_at",
    "severity",
    "is_major",
    "lot_number",
    "customer_id",
    "customer_name",
    "product_id",
)
FILTER_KEYS = ("status", "period_from", "period_to", "customer", "q")


def minimal_queryset(user, params):
    """The list's rows before paging: scope and the list filters (search included)."""
    from qcare.complaints.models import Complaint
    from qcare.complaints.selectors import filter_complaints

    return filter_complaints(Complaint.objects.restrict(user, "view"), params)


def minimal_page(qs):
    """One page of list rows (newest first), the customer's name joined after the slice."""
    from django.db.models import F

    page = qs.order_by("-received_at", "-id")[:PAGE_SIZE]
    return page.annotate(customer_name=F("customer__name")).values(*LIST_FIELDS)


def complaints_minimal(request):
    """First page of the caller's complaints with the list filters, as plain JSON."""
    user = _token_user(request)
    if user is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    params = {k: request.GET[k] for k in FILTER_KEYS if request.GET.get(k)}
    qs = minimal_queryset(user, params)
    return JsonResponse({"count": qs.count(), "results": list(minimal_page(qs))})


urlpatterns = [path("_bench/complaints-minimal/", complaints_minimal), *qcare_urlpatterns]
