"""Top-level URL map. Each app owns its ``urls.py``; the API is mounted at /api/."""

from django.contrib import admin
from django.urls import include, path

from qcare.api.router import api

handler400 = "qcare.core.views.bad_request"
handler403 = "qcare.core.views.permission_denied"
handler404 = "qcare.core.views.page_not_found"
handler500 = "qcare.core.views.server_error"

urlpatterns = [
    path("", include("qcare.core.urls")),
    path("accounts/", include("qcare.accounts.urls")),
    path("audit/", include("qcare.audit.urls")),
    path("notifications/", include("qcare.notifications.urls")),
    path("calendar/", include("qcare.workcalendar.urls")),
    path("attachments/", include("qcare.attachments.urls")),
    path("customers/", include("qcare.customers.urls")),
    path("catalog/", include("qcare.catalog.urls")),
    path("orders/", include("qcare.orders.urls")),
    path("complaints/", include("qcare.complaints.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("django-admin/", admin.site.urls),
]

try:  # the sample app is only installed for tests and benchmarks
    from django.apps import apps

    if apps.is_installed("qcare.sample"):
        urlpatterns.append(path("sample/", include("qcare.sample.urls")))
except Exception:  # pragma: no cover  # noqa: S110
    pass
