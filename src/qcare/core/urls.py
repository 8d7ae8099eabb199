from django.urls import include, path

from qcare.core import views, views_print

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("", include("qcare.core.urls_mechanisms")),
    path("print/<str:app_label>/<str:model_name>/<int:pk>/", views_print.print_record, name="print"),
]
