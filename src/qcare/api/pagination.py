"""Page-number pagination: ``page`` and ``page_size`` (default 50, max 200).

Parameter validation happens in :class:`qcare.api.schemas.ListQuery` (bad values → 400 with
field errors); here the page is cut and the neighbours' URLs are built.
"""


def _page_url(request, page):
    params = request.GET.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def paginate(request, queryset, fields, page, page_size):
    """The page dict for ``queryset``: ``.values(*fields)`` of one slice plus the total count."""
    count = queryset.count()
    start = (page - 1) * page_size
    rows = list(queryset[start : start + page_size].values(*fields)) if start < count else []
    return {
        "count": count,
        "page": page,
        "page_size": page_size,
        "next": _page_url(request, page + 1) if start + page_size < count else None,
        "previous": _page_url(request, page - 1) if page > 1 and count else None,
        "results": rows,
    }
