"""Read helpers of the product catalogue for other apps (orders, service)."""

from django.db.models import Q

from qcare.catalog.models import Product

#: Picker answers stay short: the user narrows the search instead of scrolling.
PICKER_LIMIT = 50


def products_for_order(user, search="", limit=PICKER_LIMIT):
    """Active products ``user`` may view, matching ``search`` on code, name or model.

    One indexed query with the category joined; the caller slices nothing further.
    """
    qs = Product.objects.restrict(user, "view").filter(is_active=True).select_related("category")
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(name__icontains=search) | Q(model__icontains=search))
    return list(qs.order_by("code")[:limit])
